/* A test driver for the download library and the fetch steps, used by the HTTP tests before/besides the CLI.
 *
 *   fetch_probe get URL PART [--sha256 H] [--md5 H] [--size N] [--retries N] [--delay S] [--header H]
 *                            [--secret NAME VALUE] [--stall S]
 *   fetch_probe mem URL [--header H] [--retries N] [--delay S] [--max N]
 *   fetch_probe step NAME PARAMS_JSON OUTDIR WORKDIR [--retries N] [--delay S] [--secret NAME VALUE]
 *
 * Prints one JSON object on stdout ({"rc", "code", "msg", ...}) and exits with the library's exit status. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bio/download.h"
#include "steps/fetch.h"
#include "util/fs.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: see the file comment\n");
        return 2;
    }
    const char *mode = argv[1];
    sl_bio_dl_opts opts;
    sl_bio_dl_opts_init(&opts);
    opts.retry_delay_s = 0.01;
    sl_bio_dl_expect ex = {NULL, NULL, -1};
    const char *headers[8] = {NULL};
    int nh = 0, first_opt = 0;
    size_t max = 1 << 20;
    if (!strcmp(mode, "get"))
        first_opt = 4;
    else if (!strcmp(mode, "mem"))
        first_opt = 3;
    else if (!strcmp(mode, "step"))
        first_opt = 6;
    else
        return 2;
    if (argc < first_opt) return 2;
    for (int i = first_opt; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return 2;
        if (!strcmp(a, "--sha256"))
            ex.sha256 = argv[++i];
        else if (!strcmp(a, "--md5"))
            ex.md5 = argv[++i];
        else if (!strcmp(a, "--size"))
            ex.size = atoll(argv[++i]);
        else if (!strcmp(a, "--retries"))
            opts.retries = atoi(argv[++i]);
        else if (!strcmp(a, "--delay"))
            opts.retry_delay_s = atof(argv[++i]);
        else if (!strcmp(a, "--stall"))
            opts.stall_timeout_s = atol(argv[++i]);
        else if (!strcmp(a, "--max"))
            max = (size_t)atoll(argv[++i]);
        else if (!strcmp(a, "--header") && nh < 7)
            headers[nh++] = argv[++i];
        else if (!strcmp(a, "--secret") && i + 2 < argc) {
            opts.secret_header = argv[++i];
            opts.secret_value = argv[++i];
        } else
            return 2;
    }
    if (nh) opts.headers = headers;
    sl_err err;
    sl_err_clear(&err);
    json_t *o = json_object();
    int rc;
    if (!strcmp(mode, "get")) {
        sl_bio_dl_stats st;
        memset(&st, 0, sizeof st);
        rc = sl_bio_download_file(argv[2], argv[3], &ex, &opts, &st, &err);
        if (!rc) {
            json_object_set_new(o, "attempts", json_integer(st.attempts));
            json_object_set_new(o, "resumed", json_integer(st.resumed));
            json_object_set_new(o, "bytes", json_integer((json_int_t)st.bytes_transferred));
            json_object_set_new(o, "size", json_integer((json_int_t)st.size));
            json_object_set_new(o, "sha256", json_string(st.sha256));
            json_object_set_new(o, "md5", json_string(st.md5));
        }
    } else if (!strcmp(mode, "mem")) {
        char *body = NULL;
        size_t len = 0;
        rc = sl_bio_download_mem(argv[2], max, &opts, &body, &len, &err);
        if (!rc) json_object_set_new(o, "body", json_stringn(body, len));
        free(body);
    } else {
        const sl_step *step = sl_step_find(argv[2]);
        json_error_t je;
        json_t *params = json_loads(argv[3], 0, &je);
        if (!step || !params) return 2;
        sl_step_fetch_set_transport(&opts);
        sl_step_ctx ctx = {.params = params,
                           .outdir = argv[4],
                           .workdir = argv[5],
                           .threads = 1,
                           .summary = json_object(),
                           .err = &err};
        rc = step->run(&ctx);
        json_object_set_new(o, "summary", ctx.summary);
        json_decref(params);
    }
    json_object_set_new(o, "rc", json_integer(rc));
    json_object_set_new(o, "code", json_string(sl_err_code_name(rc)));
    json_object_set_new(o, "msg", json_string(err.msg));
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(o);
    return sl_err_exit_status(rc);
}
