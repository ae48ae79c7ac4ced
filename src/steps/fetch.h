/* The fetch steps: `fetch` (a URL into one verified file) and `fetch_ensembl` (a sequence from the Ensembl
 * REST API as FASTA).
 *
 * fetch        params {"url": str, "sha256"?: hex, "md5"?: hex, "size"?: int}; no inputs; output "file".
 *              The key is the URL plus the expected checksums and size (a fixed-output fetch): give --sha256
 * or
 *              --md5 so that changed content upstream is caught. Bytes land in ctx->workdir/partial first, so
 * a killed run resumes there; nothing reaches ctx->outdir before size and digests match. fetch_ensembl params
 * {"id": str, "type": "genomic"|"cds"|"cdna"|"protein", "url": base}; output "sequence.fa".
 *
 * How the bytes travel (timeouts, retries, the GDC token) is not part of any key: the caller sets it
 * process-wide with sl_step_fetch_set_transport() before running a step. */
#ifndef SEQLORA_STEPS_FETCH_H
#define SEQLORA_STEPS_FETCH_H

#include "bio/download.h"
#include "step.h"

extern const sl_step sl_step_fetch;
extern const sl_step sl_step_fetch_ensembl;

/* Set the transfer settings the fetch steps use from now on (copied; the strings and arrays it points to are
 * borrowed and must stay valid while steps run). NULL restores the defaults. Not thread-safe: call it before
 * running steps. */
void sl_step_fetch_set_transport(const sl_bio_dl_opts *opts);

/* The settings in force (defaults until set). */
const sl_bio_dl_opts *sl_step_fetch_transport(void);

#endif
