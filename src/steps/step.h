/* A pipeline step: data plus one pure function. The runner (src/cli/runner.h) does everything else:
 * the action key, cache lookup, temp folders, ingesting outputs, the action record, materialising,
 * provenance. A step never opens the store.
 *
 * Contract for run():
 *   - read inputs only through sl_step_input()/sl_step_inputs(), parameters only from ctx->params;
 *   - write every declared output (file or directory, as declared) into ctx->outdir, nothing elsewhere
 *     (ctx->workdir excepted);
 *   - the output bytes depend only on (params, input bytes): not on paths, time, thread count or host;
 *   - return 0, or a negative SL_E* code with ctx->err filled (file/line/field and what was expected).
 *     On failure the runner discards ctx->outdir; nothing is published. */
#ifndef SEQLORA_STEPS_STEP_H
#define SEQLORA_STEPS_STEP_H

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

/* Flags of a declared input or output. */
enum {
    SL_IO_FILE = 0,         /* a regular file (the default) */
    SL_IO_DIR = 1 << 0,     /* a directory tree (e.g. a Hugging Face model directory, a PEFT adapter) */
    SL_IO_OPTIONAL = 1 << 1, /* may be absent */
    SL_IO_MULTI = 1 << 2,   /* an input role that takes several paths, in order */
};

typedef struct sl_step_io {
    const char *name; /* input role ("vcf", "base_model") or output name ("out.vcf.gz", "adapter") */
    unsigned flags;
} sl_step_io;

typedef struct sl_step_input {
    const char *role;
    const char *path; /* a readable file or directory holding exactly the artifact's bytes */
} sl_step_input_t;

typedef struct sl_step_ctx {
    const json_t *params;        /* the canonical parameters (a JSON object), read-only */
    const char *outdir;          /* an empty directory for the outputs */
    const char *workdir;         /* survives an interrupted attempt of the same action (same key): for
                                    checkpoints a rerun resumes from; removed once the action succeeds */
    int threads;                 /* the thread budget (BLAS included); must not change the output bytes */
    const sl_step_input_t *inputs; /* all inputs, in declaration order (a multi role repeats, in order) */
    size_t n_inputs;
    json_t *summary;             /* an object the step may fill with facts for people (counts, metrics);
                                    stored in the action record, printed by `seqlora run` */
    sl_err *err;
} sl_step_ctx;

typedef struct sl_step {
    const char *name;          /* "clean" */
    int version;               /* bump when the output for the same inputs and parameters changes */
    const char *summary;       /* one line for --help and docs */
    const sl_step_io *inputs;  /* terminated by {NULL, 0} */
    const sl_step_io *outputs; /* terminated by {NULL, 0} */
    int (*run)(const sl_step_ctx *ctx);
} sl_step;

/* The first path given for `role`, or NULL. */
const char *sl_step_input(const sl_step_ctx *ctx, const char *role);

/* Up to `max` paths for a multi role into `paths`; returns how many there are in all. */
size_t sl_step_inputs(const sl_step_ctx *ctx, const char *role, const char **paths, size_t max);

/* A malloc'd "<outdir>/<name>" (NULL on allocation failure). */
char *sl_step_out_path(const sl_step_ctx *ctx, const char *name);

/* Every built-in step, and lookup by name (NULL when unknown). See registry.c. */
const sl_step *const *sl_step_all(void);
const sl_step *sl_step_find(const char *name);

#endif
