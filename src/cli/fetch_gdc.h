/* `seqlora fetch --gdc-manifest`: every file of a GDC manifest as its own cached `fetch` step, several at a
 * time.
 *
 * Each file is one runner call (key: <api>/data/<id> + md5 + size), so a rerun, or another manifest that
 * lists the same file, takes it from the store; a killed download resumes from its partial file. Files run in
 * worker processes (at most `jobs` at once): the store is built for many processes, and a failure in one file
 * never stops the others. The access token travels in the process-wide transport settings of steps/fetch.h.
 */
#ifndef SEQLORA_CLI_FETCH_GDC_H
#define SEQLORA_CLI_FETCH_GDC_H

#include "cli_common.h"
#include "util/error.h"

typedef struct sl_cli_gdc_opts {
    const char *manifest; /* the manifest file */
    const char *outdir;   /* DIR: gets <filename> for each entry (created when missing) */
    const char *api;      /* e.g. "https://api.gdc.cancer.gov" */
    int jobs;             /* files in flight at once (>= 1) */
} sl_cli_gdc_opts;

/* Fetch every file; one line per file on stderr ("fetched:", "cached:" or "failed: NAME: why", unless quiet)
 * and a summary line. Returns 0 when every file is in place; otherwise the first failure's code
 * (SL_EINTEGRITY when any file failed verification) with a message counting the failures. */
int sl_cli_fetch_gdc(const sl_cli_gdc_opts *o, const sl_cli_common *c, sl_err *err);

#endif
