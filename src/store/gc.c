/* gc: under the exclusive lock, keep the closure of the roots (pins, records used within the grace
 * period), delete old unreferenced records and blobs, old temp files and old work folders. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"
#include "util/fs.h"
#include "util/sha256.h"

typedef struct gc_ctx {
    sl_store *s;
    json_t *keep;
    json_t *dead; /* blobs to delete: hex -> path */
    double cutoff;
    int dry;
    sl_store_gc_report *rep;
} gc_ctx;

static double mtime_of(const struct stat *st) {
    return (double)st->st_mtim.tv_sec + (double)st->st_mtim.tv_nsec * 1e-9;
}

static int add_pin(void *user, const char *hex, char kind) {
    json_t **sets = user;
    json_object_set_new(sets[kind == 'a' ? 0 : 1], hex, json_true());
    return 0;
}

/* Collect an unreferenced old blob into c->dead (hex -> path); nothing is deleted here. */
static int sweep_blob(void *user, const char *path, const char *name) {
    gc_ctx *c = user;
    if (!sl_is_sha256_hex(name)) return 0;
    if (json_object_get(c->keep, name)) {
        c->rep->blobs_kept++;
        return 0;
    }
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (mtime_of(&st) >= c->cutoff) { /* young: a writer may be about to reference it */
        c->rep->blobs_kept++;
        return 0;
    }
    if (json_object_set_new(c->dead, name, json_string(path))) return SL_ENOMEM;
    c->rep->blobs_removed++;
    c->rep->bytes_freed += (uint64_t)st.st_size;
    return 0;
}

/* Unlink every file of a set (hex -> path); ENOENT is fine. Returns 0 or the first error (all are tried). */
static int unlink_all(const json_t *set, const char *what, sl_err *err) {
    int rc = 0;
    const char *hex;
    json_t *p;
    json_object_foreach((json_t *)set, hex, p) {
        const char *path = json_string_value(p);
        if (path && unlink(path) != 0 && errno != ENOENT && !rc)
            rc =
                sl_err_errno(err, SL_EIO, errno,
                             "gc: cannot remove the %s file %s (its index entry is already dropped; the next "
                             "gc removes it)",
                             what, path);
    }
    return rc;
}

/* Remove old entries directly under tmp/ or work/. */
static void sweep_dir(gc_ctx *c, const char *rel, size_t *count) {
    char *dir = sl_store_path(c->s, rel);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = sl_fs_join(dir, e->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && mtime_of(&st) < c->cutoff) {
            sl_err er;
            if (!c->dry) sl_fs_remove_tree(p, &er);
            (*count)++;
        }
        free(p);
    }
    if (d) closedir(d);
    free(dir);
}

int sl_store_gc(sl_store *s, double grace_s, int dry_run, double wait_s, sl_store_gc_report *rep,
                sl_err *err) {
    memset(rep, 0, sizeof *rep);
    int lk = sl_store_lock(s, 1, wait_s, err);
    if (lk < 0) return lk;
    sl_store_graph g;
    int rc = sl_store_graph_load(s, &g, err);
    if (rc) {
        sl_store_unlock(lk);
        return rc;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double cutoff = (double)now.tv_sec + (double)now.tv_nsec * 1e-9 - grace_s;
    json_t *recs = json_object(), *blobs = json_object();
    json_t *sets[2] = {recs, blobs};
    rc = sl_store_each_pin(s, add_pin, sets, err);
    const char *key;
    json_t *mt;
    json_object_foreach(g.mtimes, key, mt) {
        if (json_real_value(mt) >= cutoff) json_object_set_new(recs, key, json_true());
    }
    if (!rc) rc = sl_store_graph_closure(s, &g, recs, blobs, err);
    /* First decide everything to delete, then drop the index entries in one transaction, and only then
     * delete files: a failed index update deletes nothing, and an interrupted gc leaves files without
     * index entries (the next gc removes them), never index entries without their files. */
    json_t *dead_recs = json_object(), *dead_blobs = json_object();
    gc_ctx c = {s, blobs, dead_blobs, cutoff, dry_run, rep};
    if (!dead_recs || !dead_blobs) rc = rc ? rc : sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc) {
        json_t *r;
        json_object_foreach(g.records, key, r) {
            if (json_object_get(recs, key)) {
                rep->records_kept++;
                continue;
            }
            char *p = sl_store_record_path(s, key);
            if (!p || json_object_set_new(dead_recs, key, json_string(p))) {
                free(p);
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                break;
            }
            free(p);
            rep->records_removed++;
        }
    }
    if (!rc) {
        char *b = sl_store_path(s, "blobs/sha256");
        rc = b ? sl_store_walk(b, sweep_blob, &c, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
        if (rc == SL_ENOMEM) sl_err_set(err, SL_ENOMEM, "out of memory");
        free(b);
    }
    if (!rc && !dry_run && (json_object_size(dead_recs) || json_object_size(dead_blobs))) {
        rc = sl_store_index_del_many(s, dead_recs, dead_blobs, err);
        if (rc) sl_err_prefix(err, "gc: cannot drop the index entries (nothing was deleted)");
        if (!rc) {
            sl_err e2;
            int r1 = unlink_all(dead_recs, "record", err);
            int r2 =
                unlink_all(dead_blobs, "blob", r1 ? &e2 : err); /* both are tried; the first error wins */
            rc = r1 ? r1 : r2;
        }
    }
    json_decref(dead_recs);
    json_decref(dead_blobs);
    if (!rc) {
        sweep_dir(&c, "tmp", &rep->tmp_removed);
        sweep_dir(&c, "work", &rep->tmp_removed);
    }
    json_decref(recs);
    json_decref(blobs);
    sl_store_graph_free(&g);
    sl_store_unlock(lk);
    return rc;
}
