/* Two tiny steps for the runner tests (not in the registry); see store_driver.c for what they do. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_steps.h"
#include "util/fs.h"
#include "util/json.h"

static int concat_run(const sl_step_ctx *ctx) {
    const char *sep = NULL;
    int fail_first = 0;
    if (sl_json_get_str(ctx->params, "sep", "", &sep, ctx->err)) return SL_EUSAGE;
    if (sl_json_get_bool(ctx->params, "fail_first", 0, &fail_first, ctx->err)) return SL_EUSAGE;
    char *marker = sl_fs_join(ctx->workdir, "attempt");
    int resumed = sl_fs_exists(marker);
    if (fail_first && !resumed) {
        sl_fs_write_atomic(marker, "1", 1, ctx->err);
        free(marker);
        return sl_err_set(ctx->err, SL_EIO, "failing the first attempt on purpose");
    }
    free(marker);
    const char *paths[16];
    size_t n = sl_step_inputs(ctx, "a", paths, 16);
    const char *b = sl_step_input(ctx, "b");
    size_t total = 0;
    char *out = NULL;
    for (size_t i = 0; i < n + (b ? 1 : 0); i++) {
        char *data = NULL;
        size_t len = 0;
        int rc = sl_fs_read_all(i < n ? paths[i] : b, &data, &len, ctx->err);
        if (rc) {
            free(out);
            return rc;
        }
        size_t sl = i ? strlen(sep) : 0;
        out = realloc(out, total + sl + len + 1);
        memcpy(out + total, sep, sl);
        memcpy(out + total + sl, data, len);
        total += sl + len;
        free(data);
    }
    char *op = sl_step_out_path(ctx, "out.txt");
    int rc = sl_fs_write_atomic(op, out ? out : "", total, ctx->err);
    free(op);
    free(out);
    json_object_set_new(ctx->summary, "bytes", json_integer((json_int_t)total));
    json_object_set_new(ctx->summary, "resumed", json_boolean(resumed));
    return rc;
}

static int reverse_tree(const char *src, const char *dst, int *count, sl_err *err) {
    struct dirent **names = NULL;
    int n = scandir(src, &names, NULL, alphasort);
    if (n < 0) return sl_err_errno(err, SL_EIO, errno, "cannot list %s", src);
    int rc = sl_fs_mkdirs(dst, err);
    for (int i = 0; i < n; i++) {
        if (!rc && strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            char *a = sl_fs_join(src, names[i]->d_name), *b = sl_fs_join(dst, names[i]->d_name);
            if (sl_fs_is_dir(a)) {
                rc = reverse_tree(a, b, count, err);
            } else {
                char *data = NULL;
                size_t len = 0;
                rc = sl_fs_read_all(a, &data, &len, err);
                for (size_t j = 0; !rc && j < len / 2; j++) {
                    char t = data[j];
                    data[j] = data[len - 1 - j];
                    data[len - 1 - j] = t;
                }
                if (!rc) rc = sl_fs_write_atomic(b, data, len, err);
                free(data);
                (*count)++;
            }
            free(a);
            free(b);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static int tree_run(const sl_step_ctx *ctx) {
    char *out = sl_step_out_path(ctx, "adapter");
    int count = 0;
    int rc = reverse_tree(sl_step_input(ctx, "model"), out, &count, ctx->err);
    if (!rc) {
        char *c = sl_fs_join(out, "count");
        char text[32];
        int n = snprintf(text, sizeof text, "%d\n", count);
        rc = sl_fs_write_atomic(c, text, (size_t)n, ctx->err);
        free(c);
    }
    free(out);
    return rc;
}

static const sl_step_io concat_in[] = {{"a", SL_IO_MULTI}, {"b", SL_IO_OPTIONAL}, {NULL, 0}};
static const sl_step_io concat_out[] = {{"out.txt", SL_IO_FILE}, {NULL, 0}};
const sl_step sl_test_concat_step = {"test.concat", 1,          "concatenate files",
                                     concat_in,     concat_out, concat_run};
static const sl_step_io tree_in[] = {{"model", SL_IO_DIR}, {NULL, 0}};
static const sl_step_io tree_out[] = {{"adapter", SL_IO_DIR}, {NULL, 0}};
const sl_step sl_test_tree_step = {"test.tree", 1, "reverse a folder's files", tree_in, tree_out, tree_run};
