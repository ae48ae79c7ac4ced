#include "fetch_gdc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bio/gdc.h"
#include "runner.h"
#include "steps/fetch.h"
#include "store/store.h"
#include "util/fs.h"

enum { SLOT_MSG = SL_ERR_MSG_MAX };

/* What a worker reports back, in memory shared with the parent. */
typedef struct slot {
    int done; /* the worker got as far as filling this slot */
    int rc;
    int cached;
    char msg[SLOT_MSG];
} slot;

static int fetch_one(const sl_bio_gdc_file *f, const sl_cli_gdc_opts *o, const sl_cli_common *c, slot *out) {
    sl_err err;
    sl_err_clear(&err);
    int rc = 0;
    char *url = sl_bio_gdc_data_url(o->api, f->id), *dest = sl_fs_join(o->outdir, f->filename);
    json_t *params =
        url ? json_pack("{s:s, s:s, s:I}", "url", url, "md5", f->md5, "size", (json_int_t)f->size) : NULL;
    if (!url || !dest || !params) rc = sl_err_set(&err, SL_ENOMEM, "out of memory");
    sl_run_result res = {0};
    if (!rc) {
        sl_run_output outs[1] = {{"file", dest}};
        sl_run_opts ro = {.store_dir = c->store, .no_cache = c->no_cache, .threads = 1, .quiet = 1};
        rc = sl_runner_run(&sl_step_fetch, params, NULL, 0, outs, 1, &ro, &res, &err);
        if (res.record) json_decref(res.record);
    }
    out->rc = rc;
    out->cached = res.cached;
    memcpy(out->msg, err.msg, sizeof out->msg);
    out->done = 1;
    json_decref(params);
    free(url);
    free(dest);
    return rc;
}

typedef struct tally {
    size_t fetched, cached, failed, first_fail;
    int worst;
} tally;

/* Count and print the outcome of file i as soon as it is known. */
static void report(const sl_bio_gdc_manifest *m, size_t i, const slot *sl, const sl_cli_gdc_opts *o,
                   const sl_cli_common *c, tally *t) {
    const char *name = m->files[i].filename;
    if (sl->done && sl->rc == 0) {
        if (sl->cached)
            t->cached++;
        else
            t->fetched++;
        if (!c->quiet) fprintf(stderr, "%s: %s\n", sl->cached ? "cached" : "fetched", name);
        return;
    }
    t->failed++;
    if (t->first_fail == m->n || i < t->first_fail) t->first_fail = i;
    if (sl->rc == SL_EINTEGRITY || !t->worst) t->worst = sl->rc ? sl->rc : SL_EINTERNAL;
    fprintf(stderr, "failed: %s (%s:%d): %s\n", name, o->manifest, m->files[i].line, sl->msg);
}

int sl_cli_fetch_gdc(const sl_cli_gdc_opts *o, const sl_cli_common *c, sl_err *err) {
    sl_bio_gdc_manifest m;
    int rc = sl_bio_gdc_manifest_read(o->manifest, &m, err);
    if (rc) return rc;
    if ((rc = sl_fs_mkdirs(o->outdir, err))) {
        sl_bio_gdc_manifest_free(&m);
        return rc;
    }
    /* Create the store once here, so the workers do not race to initialise it. */
    sl_store *s = NULL;
    if ((rc = sl_store_open(c->store ? c->store : sl_runner_default_store(), &s, err))) {
        sl_bio_gdc_manifest_free(&m);
        return rc;
    }
    sl_store_close(s);

    size_t n = m.n;
    slot *slots = mmap(NULL, n * sizeof *slots, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t *pids = calloc(n, sizeof *pids);
    if (slots == MAP_FAILED || !pids) {
        if (slots != MAP_FAILED) munmap(slots, n * sizeof *slots);
        free(pids);
        sl_bio_gdc_manifest_free(&m);
        return sl_err_set(err, SL_ENOMEM, "cannot set up %zu downloads", n);
    }
    memset(slots, 0, n * sizeof *slots);
    size_t next = 0, running = 0;
    tally t = {0, 0, 0, n, 0};
    char *reported = calloc(n, 1);
    if (!reported) {
        munmap(slots, n * sizeof *slots);
        free(pids);
        sl_bio_gdc_manifest_free(&m);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int jobs = o->jobs > 0 ? o->jobs : 1;
    while (next < n || running) {
        while (next < n && running < (size_t)jobs) {
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid < 0) {
                if (running) break; /* wait for one to finish, then try again */
                slots[next].rc = sl_err_errno(err, SL_EIO, errno, "cannot start a download worker");
                memcpy(slots[next].msg, err->msg, SLOT_MSG);
                pids[next] = -1;
                report(&m, next, &slots[next], o, c, &t);
                reported[next++] = 1;
                continue;
            }
            if (pid == 0) _exit(fetch_one(&m.files[next], o, c, &slots[next]) ? 1 : 0);
            pids[next++] = pid;
            running++;
        }
        if (!running) continue;
        int status = 0;
        pid_t done = waitpid(-1, &status, 0);
        if (done < 0) {
            if (errno == EINTR) continue;
            break;
        }
        size_t i = 0;
        while (i < next && pids[i] != done) i++;
        if (i == next) continue;
        running--;
        slot *sl = &slots[i];
        if (!sl->done) {
            sl->rc = SL_EINTERNAL;
            if (WIFSIGNALED(status))
                snprintf(sl->msg, SLOT_MSG, "the download worker was killed by signal %d", WTERMSIG(status));
            else
                snprintf(sl->msg, SLOT_MSG, "the download worker exited with status %d", WEXITSTATUS(status));
        }
        report(&m, i, sl, o, c, &t);
        reported[i] = 1;
    }
    for (size_t i = 0; i < n; i++) /* only when waiting failed: workers we lost track of */
        if (!reported[i]) {
            if (!slots[i].done && !slots[i].rc) {
                slots[i].rc = SL_EINTERNAL;
                snprintf(slots[i].msg, SLOT_MSG, "lost track of the download worker");
            }
            report(&m, i, &slots[i], o, c, &t);
        }
    free(reported);
    if (!c->quiet)
        fprintf(stderr, "gdc: %zu fetched, %zu cached, %zu failed (of %zu files) into %s\n", t.fetched,
                t.cached, t.failed, n, o->outdir);
    rc = 0;
    if (t.failed)
        rc = sl_err_set(err, t.worst, "%zu of %zu GDC files failed (first in the manifest: %s: %s)", t.failed,
                        n, m.files[t.first_fail].filename, slots[t.first_fail].msg);
    munmap(slots, n * sizeof *slots);
    free(pids);
    sl_bio_gdc_manifest_free(&m);
    return rc;
}
