/* A test driver for the store and the runner, with two tiny steps that are not in the registry:
 *
 *   store_driver key STEP VERSION PARAMS_JSON INPUTS_JSON      print the action key
 *   store_driver put STORE FILE                                ingest a file, print its digest
 *   store_driver puttree STORE DIR                             ingest a folder, print the manifest digest
 *   store_driver run STORE STEP PARAMS_JSON [role=path]... [-o name=dest]... [--no-cache] [--quiet]
 *                                                              run test.concat or test.tree through the
 * runner, print the key and "hit"/"miss" store_driver check STORE invariants after kill -9: every index entry
 * has its file and every blob file verifies; prints counts
 *
 * test.concat v1: inputs a (file, multi), b (optional file); params sep (string), fail_first (bool):
 *   out.txt = the a inputs joined by sep, then b. With fail_first the first attempt writes workdir/attempt
 * and fails; the second attempt sees it (resume) and records "resumed": true in the summary. test.tree v1:
 * input model (folder); output adapter (folder) = the model files with their bytes reversed, plus a file
 * "count" with the number of files. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "util/fs.h"
#include "util/json.h"
#include "test_steps.h"
#include "util/sha256.h"

static int fail(sl_err *err) {
    fprintf(stderr, "store_driver: error: %s\n", err->msg);
    return sl_err_exit_status(err->code ? err->code : SL_EINTERNAL);
}

static int cmd_run(int argc, char **argv) {
    sl_err err;
    sl_err_clear(&err);
    const sl_step *step = !strcmp(argv[3], "test.concat") ? &sl_test_concat_step
                          : !strcmp(argv[3], "test.tree") ? &sl_test_tree_step
                                                          : NULL;
    if (!step) return fprintf(stderr, "unknown step %s\n", argv[3]), 2;
    json_error_t je;
    json_t *params = json_loads(argv[4], 0, &je);
    if (!params) return fprintf(stderr, "bad params JSON\n"), 2;
    sl_run_input ins[32];
    sl_run_output outs[8];
    size_t ni = 0, no = 0;
    sl_run_opts opts = {.store_dir = argv[2], .threads = 1};
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--no-cache"))
            opts.no_cache = 1;
        else if (!strcmp(argv[i], "--quiet"))
            opts.quiet = 1;
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            char *eq = strchr(argv[++i], '=');
            if (!eq) return 2;
            *eq = '\0';
            outs[no++] = (sl_run_output){argv[i], eq + 1};
        } else {
            char *eq = strchr(argv[i], '=');
            if (!eq) return 2;
            *eq = '\0';
            ins[ni++] = (sl_run_input){argv[i], eq + 1};
        }
    }
    sl_run_result res;
    int rc = sl_runner_run(step, params, ins, ni, outs, no, &opts, &res, &err);
    json_decref(params);
    if (rc) return fail(&err);
    printf("%s %s\n", res.key, res.cached ? "hit" : "miss");
    json_decref(res.record);
    return 0;
}

typedef struct check_ctx {
    sl_store *s;
    size_t entries, files, actions, bad;
} check_ctx;

static int check_entry(void *user, const char *hex, const sl_store_blob_info *info) {
    (void)info;
    check_ctx *c = user;
    sl_err err;
    c->entries++;
    if (sl_store_read_blob(c->s, hex, NULL, NULL, &err)) {
        fprintf(stderr, "index entry %s: %s\n", hex, err.msg);
        c->bad++;
    }
    return 0;
}

static void check_output(void *user, const char *hex, int is_tree, int is_output) {
    check_ctx *c = user;
    (void)is_tree;
    if (is_output && !sl_store_blob_exists(c->s, hex, NULL)) {
        fprintf(stderr, "an indexed action references the missing output %s\n", hex);
        c->bad++;
    }
}

static int check_action(void *user, const char *key, const json_t *r) {
    check_ctx *c = user;
    sl_err err;
    json_t *rec = NULL;
    (void)r;
    c->actions++;
    if (sl_store_record_get(c->s, key, &rec, &err)) {
        fprintf(stderr, "index action %s: %s\n", key, err.msg);
        c->bad++;
        return 0;
    }
    sl_store_record_each_artifact(rec, check_output, c);
    json_decref(rec);
    return 0;
}

static int check_file(void *user, const char *path, const char *name) {
    check_ctx *c = user;
    sl_err err;
    (void)path;
    c->files++;
    if (!sl_is_sha256_hex(name)) {
        fprintf(stderr, "stray file in blobs/: %s\n", path);
        c->bad++;
    } else if (sl_store_read_blob(c->s, name, NULL, NULL, &err)) {
        fprintf(stderr, "published blob %s: %s\n", name, err.msg);
        c->bad++;
    }
    return 0;
}

int main(int argc, char **argv) {
    sl_err err;
    sl_err_clear(&err);
    if (argc >= 6 && !strcmp(argv[1], "key")) {
        json_t *p = json_loads(argv[4], 0, NULL), *in = json_loads(argv[5], 0, NULL);
        char key[65];
        if (!p || !in || sl_store_action_key(argv[2], atoi(argv[3]), p, in, key, &err)) return fail(&err);
        printf("%s\n", key);
        json_decref(p);
        json_decref(in);
        return 0;
    }
    if (argc >= 5 && !strcmp(argv[1], "run")) return cmd_run(argc, argv);
    if (argc == 4 && (!strcmp(argv[1], "put") || !strcmp(argv[1], "puttree"))) {
        sl_store *s;
        char hex[65];
        if (sl_store_open(argv[2], &s, &err)) return fail(&err);
        int rc = !strcmp(argv[1], "put") ? sl_store_put_file(s, argv[3], hex, NULL, &err)
                                         : sl_store_put_tree(s, argv[3], hex, &err);
        sl_store_close(s);
        if (rc) return fail(&err);
        printf("%s\n", hex);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "check")) {
        check_ctx c = {0};
        if (sl_store_open(argv[2], &c.s, &err)) return fail(&err);
        int rc = sl_store_each_blob(c.s, check_entry, &c, &err);
        char *b = sl_store_path(c.s, "blobs/sha256");
        if (!rc) rc = sl_store_walk(b, check_file, &c, &err);
        if (!rc) rc = sl_store_each_action(c.s, check_action, &c, &err);
        free(b);
        sl_store_close(c.s);
        if (rc) return fail(&err);
        printf("entries=%zu files=%zu actions=%zu bad=%zu\n", c.entries, c.files, c.actions, c.bad);
        return c.bad ? 4 : 0;
    }
    fprintf(stderr, "usage: see the comment at the top of store_driver.c\n");
    return 2;
}
