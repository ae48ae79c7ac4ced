#include "step.h"

#include <string.h>

#include "util/fs.h"

const char *sl_step_input(const sl_step_ctx *ctx, const char *role) {
    for (size_t i = 0; i < ctx->n_inputs; i++)
        if (!strcmp(ctx->inputs[i].role, role)) return ctx->inputs[i].path;
    return NULL;
}

size_t sl_step_inputs(const sl_step_ctx *ctx, const char *role, const char **paths, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < ctx->n_inputs; i++) {
        if (strcmp(ctx->inputs[i].role, role)) continue;
        if (n < max) paths[n] = ctx->inputs[i].path;
        n++;
    }
    return n;
}

char *sl_step_out_path(const sl_step_ctx *ctx, const char *name) {
    return sl_fs_join(ctx->outdir, name);
}
