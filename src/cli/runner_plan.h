/* Planning a step without running it: its action key and whether the store already holds its result.
 * Used by `seqlora run --dry-run` and by `run` to say what it is about to do. The key is computed exactly
 * as sl_runner_run computes it (same canonical parameters, same input digests by role), so "cached" here
 * means sl_runner_run would answer from the store. */
#ifndef SEQLORA_CLI_RUNNER_PLAN_H
#define SEQLORA_CLI_RUNNER_PLAN_H

#include <jansson.h>
#include <stddef.h>

#include "runner.h"

typedef struct sl_run_plan {
    char key[65];   /* the action key, hex */
    int cached;     /* 1 when a record with all its outputs is in the store */
    json_t *record; /* that record when cached (a new reference; caller json_decref's it), else NULL */
} sl_run_plan;

/* Compute the action key of `step` with `params` and `inputs` (paths or "sha256:<hex>" references, as for
 * sl_runner_run) in the store `store_dir` (NULL = sl_runner_default_store()), and look the key up.
 * Input files and folders given as paths are hashed by adding them to the store (content-addressed, so
 * adding the same bytes again is a no-op); the step itself is not run and no record is written.
 * Errors: SL_EUSAGE for an unknown role or a missing required input, SL_ENOTFOUND for a missing path or a
 * sha256: reference that is not in the store, SL_EIO. Takes the store's shared lock while it works. */
int sl_runner_plan(const sl_step *step, const json_t *params, const sl_run_input *inputs, size_t n_inputs,
                   const char *store_dir, sl_run_plan *out, sl_err *err);

/* The digest of the output `name` in an action record (NULL when the record has no such output). The
 * string belongs to the record. */
const char *sl_runner_output_digest(const json_t *record, const char *name);

#endif
