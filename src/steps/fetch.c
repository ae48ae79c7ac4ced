/* The `fetch` step: one URL into one verified file. See fetch.h. */
#include "fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/json.h"
#include "util/progress.h"

static sl_bio_dl_opts transport;
static int transport_set = 0;

void sl_step_fetch_set_transport(const sl_bio_dl_opts *opts) {
    if (opts) {
        transport = *opts;
        transport_set = 1;
    } else {
        transport_set = 0;
    }
}

const sl_bio_dl_opts *sl_step_fetch_transport(void) {
    if (!transport_set) {
        sl_bio_dl_opts_init(&transport);
        transport_set = 1;
    }
    return &transport;
}

static void on_progress(void *user, uint64_t done, uint64_t total) {
    sl_progress *p = user;
    if (total && p->total != total) p->total = total;
    sl_progress_update(p, done, NULL);
}

/* Reject parameters this step does not know (a typo would otherwise silently change nothing but the key). */
static int check_keys(const json_t *params, const char *step, const char *const *known, sl_err *err) {
    if (!json_is_object(params))
        return sl_err_set(err, SL_EUSAGE, "%s: parameters must be a JSON object", step);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, key);
        if (!ok) return sl_err_set(err, SL_EUSAGE, "%s: unknown parameter '%s'", step, key);
    }
    return 0;
}

static int move_into_place(const char *from, const char *to, sl_err *err) {
    if (!rename(from, to)) return 0;
    if (errno != EXDEV) return sl_err_errno(err, SL_EIO, errno, "cannot move %s to %s", from, to);
    int rc = sl_fs_copy_atomic(from, to, err);
    if (!rc) unlink(from);
    return rc;
}

/* Two processes running the same action (two workflow jobs asking for one file) share ctx->workdir: take
 * an exclusive lock there so that they never write the same partial file at once. The second waits, then
 * finds the finished file gone and downloads its own copy. The lock file may be unlinked by the runner's
 * clean-up while we wait, so check that the locked file is still the one at the path. */
static int lock_workdir(const char *dir, int *fd_out, sl_err *err) {
    char *path = sl_fs_join(dir, "fetch.lock");
    if (!path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = 0;
    for (int tries = 0;; tries++) {
        if ((rc = sl_fs_mkdirs(dir, err))) break;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            rc = sl_err_errno(err, SL_EIO, errno, "cannot create %s", path);
            break;
        }
        int l;
        while ((l = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
        }
        if (l != 0) {
            rc = sl_err_errno(err, SL_EIO, errno, "cannot lock %s", path);
            close(fd);
            break;
        }
        struct stat a, b;
        if (!fstat(fd, &a) && !stat(path, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            *fd_out = fd;
            break;
        }
        close(fd);
        if (tries == 100) {
            rc = sl_err_set(err, SL_EIO, "cannot hold a lock on %s (it keeps being removed)", path);
            break;
        }
    }
    free(path);
    return rc;
}

static int run_fetch(const sl_step_ctx *ctx) {
    static const char *const known[] = {"url", "sha256", "md5", "size", NULL};
    sl_err *err = ctx->err;
    int rc = check_keys(ctx->params, "fetch", known, err);
    if (rc) return rc;
    const char *url = NULL, *sha = NULL, *md5 = NULL;
    long long size = -1;
    if ((rc = sl_json_get_str(ctx->params, "url", NULL, &url, err)) ||
        (rc = sl_json_get_str(ctx->params, "sha256", NULL, &sha, err)) ||
        (rc = sl_json_get_str(ctx->params, "md5", NULL, &md5, err)) ||
        (rc = sl_json_get_int(ctx->params, "size", -1, &size, err)))
        return rc;
    if (!url) return sl_err_set(err, SL_EUSAGE, "fetch: parameter 'url' is required");
    if (json_object_get(ctx->params, "size") && size < 0)
        return sl_err_set(err, SL_EUSAGE, "fetch: parameter 'size' must be >= 0, got %lld", size);
    sl_bio_dl_expect expect = {sha, md5, size};

    char *part = sl_fs_join(ctx->workdir ? ctx->workdir : ctx->outdir, ctx->workdir ? "partial" : ".partial");
    char *out = sl_step_out_path(ctx, "file");
    if (!part || !out) {
        free(part);
        free(out);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int lock = -1;
    if (ctx->workdir && (rc = lock_workdir(ctx->workdir, &lock, err))) {
        free(part);
        free(out);
        return rc;
    }
    sl_bio_dl_opts opts = *sl_step_fetch_transport();
    sl_progress bar;
    sl_progress_start(&bar, "fetch", size > 0 ? (uint64_t)size : 0);
    if (!opts.progress && bar.enabled) {
        opts.progress = on_progress;
        opts.progress_user = &bar;
    }
    sl_bio_dl_stats st;
    rc = sl_bio_download_file(url, part, &expect, &opts, &st, err);
    sl_progress_finish(&bar);
    if (!rc) rc = move_into_place(part, out, err);
    if (!rc && ctx->summary) {
        json_object_set_new(ctx->summary, "bytes", json_integer((json_int_t)st.size));
        json_object_set_new(ctx->summary, "sha256", json_string(st.sha256));
        json_object_set_new(ctx->summary, "md5", json_string(st.md5));
        json_object_set_new(ctx->summary, "attempts", json_integer(st.attempts));
        json_object_set_new(ctx->summary, "resumed", json_integer(st.resumed));
    }
    if (lock >= 0) close(lock);
    free(part);
    free(out);
    return rc;
}

static const sl_step_io fetch_inputs[] = {{NULL, 0}};
static const sl_step_io fetch_outputs[] = {{"file", SL_IO_FILE}, {NULL, 0}};

const sl_step sl_step_fetch = {
    .name = "fetch",
    .version = 1,
    .summary = "download a URL (file, http(s), ftp) with retries and resume, verified by size/sha256/md5",
    .inputs = fetch_inputs,
    .outputs = fetch_outputs,
    .run = run_fetch,
};
