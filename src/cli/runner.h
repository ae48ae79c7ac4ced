/* The step runner: the one path every step takes, from the CLI, `seqlora run` and the workflow rules alike,
 * so a step cached by one is a hit for the others.
 *
 *   key = SHA-256(canonical {schema, step, version, params, inputs: {role: [digest...]}})
 *   hit  → verify the recorded outputs exist in the store, materialise them, say "cached: <step> <key12>"
 *   miss → ingest the inputs, run the step in a temp folder under the store, ingest its outputs, write the
 *          action record (outputs, exit status, provenance), materialise. An interrupted or failed run
 *          publishes nothing (the temp folder is discarded; ctx->workdir is kept for a resume).
 *
 * Details (docs/store.md, "Running a step"): one process at a time runs a given action (an flock on
 * work/<key>.lock; a waiter re-checks and usually hits); a hit whose stored output fails its hash
 * quarantines the blob and runs the step again; the run holds the store's shared gc lock throughout.
 * Steps given a file path read the user's file (hashed when ingested); sha256: inputs are materialised
 * into the run folder first. Output files are written beside `dest` and renamed into place.
 */
#ifndef SEQLORA_CLI_RUNNER_H
#define SEQLORA_CLI_RUNNER_H

#include <jansson.h>
#include <stddef.h>

#include "steps/step.h"
#include "util/error.h"

typedef struct sl_run_opts {
    const char *store_dir; /* the store root; NULL = sl_runner_default_store() */
    int no_cache;          /* run even on a hit (the new record replaces the old one) */
    int threads;           /* thread budget handed to the step; not part of the key */
    int quiet;             /* no "cached:"/"ran:" line on stderr */
} sl_run_opts;

typedef struct sl_run_input {
    const char *role;
    const char *path; /* a file or directory, or "sha256:<hex>" naming an artifact already in the store */
} sl_run_input;

typedef struct sl_run_output {
    const char *name; /* a declared output of the step */
    const char *dest; /* where to materialise it (a regular file or a directory); NULL = keep only in store */
} sl_run_output;

typedef struct sl_run_result {
    int cached;     /* 1 when the outputs came from the store */
    char key[65];   /* the action key, hex */
    double seconds; /* wall time of this call */
    json_t *record; /* the action record (a new reference; caller json_decref's it) */
} sl_run_result;

/* The store root: $SEQLORA_STORE, else "./store". */
const char *sl_runner_default_store(void);

/* Run `step` with `params` (a JSON object; the runner canonicalises it) and the given inputs, and
 * materialise the requested outputs. See the file comment for the protocol. */
int sl_runner_run(const sl_step *step, const json_t *params, const sl_run_input *inputs, size_t n_inputs,
                  const sl_run_output *outputs, size_t n_outputs, const sl_run_opts *opts,
                  sl_run_result *result, sl_err *err);

/* Plan the same call without running it: compute the action key exactly as sl_runner_run does (the same
 * preparation: canonical parameters, input digests by role) and say whether sl_runner_run would answer
 * from the store (a record with all its outputs present; never with opts->no_cache). Used by
 * `seqlora run --dry-run`. Input files and folders given as paths are added to the store
 * (content-addressed: adding the same bytes again is a no-op); the step is not run, no record is written
 * or touched. opts may be NULL (the default store); only store_dir and no_cache are read. out->record is
 * the record of a hit (a new reference; caller json_decref's it), else NULL. Errors: SL_EUSAGE for an
 * unknown role or a missing required input, SL_ENOTFOUND for a missing path or a sha256: reference that is
 * not in the store, SL_EIO. Takes the store's shared lock while it works. */
typedef struct sl_run_plan {
    char key[65];   /* the action key, hex */
    int cached;     /* 1 when sl_runner_run would answer from the store */
    json_t *record; /* that record when cached, else NULL */
} sl_run_plan;

int sl_runner_plan(const sl_step *step, const json_t *params, const sl_run_input *inputs, size_t n_inputs,
                   const sl_run_opts *opts, sl_run_plan *out, sl_err *err);

/* The digest of the output `name` in an action record (NULL when the record has no such output). The
 * string belongs to the record. */
const char *sl_runner_output_digest(const json_t *record, const char *name);

#endif
