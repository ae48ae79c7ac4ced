/* export / import: a tar (libarchive, POSIX pax) of blob files (their stored bytes) and record files,
 * with the store's own paths as member names. Import re-hashes every blob before it is published. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

static int add_file(struct archive *a, const char *path, const char *name, sl_err *err) {
    struct stat st;
    if (stat(path, &st) != 0) return sl_err_errno(err, SL_EIO, errno, "cannot read %s", path);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, st.st_size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0444);
    archive_entry_set_mtime(e, st.st_mtim.tv_sec, 0);
    int rc = 0;
    if (archive_write_header(a, e) != ARCHIVE_OK)
        rc = sl_err_set(err, SL_EIO, "export: %s", archive_error_string(a));
    int fd = rc ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (!rc && fd < 0) rc = sl_err_errno(err, SL_EIO, errno, "cannot open %s", path);
    char buf[1 << 16];
    while (!rc) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = sl_err_errno(err, SL_EIO, errno, "cannot read %s", path);
        if (n <= 0) break;
        if (archive_write_data(a, buf, (size_t)n) != n)
            rc = sl_err_set(err, SL_EIO, "export: %s", archive_error_string(a));
    }
    if (fd >= 0) close(fd);
    archive_entry_free(e);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of a set object, sorted (so an export is reproducible). */
static const char **sorted_keys(json_t *set, size_t *n) {
    *n = json_object_size(set);
    const char **v = malloc((*n ? *n : 1) * sizeof *v);
    if (!v) return NULL;
    size_t i = 0;
    const char *k;
    json_t *x;
    json_object_foreach(set, k, x) v[i++] = k;
    qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static int collect_blob(void *user, const char *path, const char *name) {
    (void)path;
    if (sl_is_sha256_hex(name)) json_object_set_new(user, name, json_true());
    return 0;
}

int sl_store_export(sl_store *s, const char *out, char **roots, size_t n_roots, size_t *n_blobs,
                    size_t *n_records, sl_err *err) {
    sl_store_graph g;
    int rc = sl_store_graph_load(s, &g, err);
    if (rc) return rc;
    json_t *recs = json_object(), *blobs = json_object();
    if (n_roots) {
        for (size_t i = 0; i < n_roots; i++) {
            char hex[65], kind;
            rc = sl_store_resolve(s, roots[i], hex, &kind, err);
            if (rc) break;
            json_object_set_new(kind == 'a' ? recs : blobs, hex, json_true());
        }
        if (!rc) rc = sl_store_graph_closure(s, &g, recs, blobs, err);
    } else {
        const char *k;
        json_t *r;
        json_object_foreach(g.records, k, r) json_object_set_new(recs, k, json_true());
        char *b = sl_store_path(s, "blobs/sha256");
        rc = sl_store_walk(b, collect_blob, blobs, err);
        free(b);
    }
    struct archive *a = NULL;
    if (!rc) {
        a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        if (archive_write_open_filename(a, strcmp(out, "-") ? out : NULL) != ARCHIVE_OK)
            rc = sl_err_set(err, SL_EIO, "cannot write %s: %s", out, archive_error_string(a));
    }
    size_t nb = 0, nr = 0;
    if (!rc) {
        size_t n;
        const char **v = sorted_keys(blobs, &n);
        for (size_t i = 0; !rc && v && i < n; i++) {
            if (!sl_store_blob_exists(s, v[i], NULL)) continue; /* verify reports missing blobs */
            char *p = sl_store_blob_path(s, v[i]);
            char name[128];
            snprintf(name, sizeof name, "blobs/sha256/%.2s/%.2s/%s", v[i], v[i] + 2, v[i]);
            rc = add_file(a, p, name, err);
            free(p);
            nb++;
        }
        free(v);
        v = sorted_keys(recs, &n);
        for (size_t i = 0; !rc && v && i < n; i++) {
            if (!json_object_get(g.records, v[i])) continue;
            char *p = sl_store_record_path(s, v[i]);
            char name[128];
            snprintf(name, sizeof name, "actions/%.2s/%s.json", v[i], v[i]);
            rc = add_file(a, p, name, err);
            free(p);
            nr++;
        }
        free(v);
    }
    if (a) {
        if (archive_write_close(a) != ARCHIVE_OK && !rc)
            rc = sl_err_set(err, SL_EIO, "cannot finish %s: %s", out, archive_error_string(a));
        archive_write_free(a);
    }
    if (rc && strcmp(out, "-")) unlink(out);
    json_decref(recs);
    json_decref(blobs);
    sl_store_graph_free(&g);
    if (n_blobs) *n_blobs = nb;
    if (n_records) *n_records = nr;
    return rc;
}

/* Import one blob member: copy to a temp file, check it decodes to its name, publish. */
static int import_blob(sl_store *s, struct archive *a, const char *hex, sl_err *err) {
    char *tmp = NULL;
    int fd = sl_store_tmpfile(s, "import", &tmp, err);
    if (fd < 0) return fd;
    fchmod(fd, sl_store_published_mode());
    int rc = 0;
    char buf[1 << 16];
    for (;;) {
        la_ssize_t n = archive_read_data(a, buf, sizeof buf);
        if (n < 0)
            rc = sl_err_set(err, SL_EDATA, "cannot read the member of %s: %s", hex, archive_error_string(a));
        if (n <= 0) break;
        rc = sl_store_io_write(fd, buf, (size_t)n, tmp, err);
        if (rc) break;
    }
    if (!rc) rc = sl_store_io_fsync(fd, tmp, err);
    close(fd);
    if (!rc) {
        rc = sl_store_read_blob_file(tmp, hex, NULL, NULL, err);
        if (rc) sl_err_prefix(err, "import: member blobs/.../%s", hex);
    }
    char *final = rc ? NULL : sl_store_blob_path(s, hex);
    if (!rc)
        rc = final ? sl_store_publish(tmp, final, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    else
        unlink(tmp);
    if (rc >= 0) {
        sl_store_blob_info info;
        rc = sl_store_blob_file_info(final, &info, err);
        if (!rc) rc = sl_store_index_put_blob(s, hex, &info, err);
    }
    free(final);
    free(tmp);
    return rc;
}

static void need_blob(void *user, const char *hex, int is_tree, int is_output) {
    (void)is_output;
    void **u = user;
    sl_store *s = u[0];
    int *missing = u[1];
    if (!sl_store_blob_exists(s, hex, NULL)) {
        (*missing)++;
        return;
    }
    if (is_tree) {
        json_t *m = NULL;
        sl_err e;
        if (sl_store_tree_load(s, hex, &m, &e)) {
            (*missing)++;
            return;
        }
        size_t i;
        json_t *ent;
        json_array_foreach(json_object_get(m, "entries"), i, ent) {
            if (!sl_store_blob_exists(s, json_string_value(json_object_get(ent, "digest")), NULL))
                (*missing)++;
        }
        json_decref(m);
    }
}

int sl_store_import(sl_store *s, const char *in, size_t *n_blobs, size_t *n_records, sl_err *err) {
    int lk = sl_store_lock(s, 0, 3600, err);
    if (lk < 0) return lk;
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_filter_all(a);
    int rc = 0;
    if (archive_read_open_filename(a, strcmp(in, "-") ? in : NULL, 1 << 16) != ARCHIVE_OK)
        rc = sl_err_set(err, SL_EIO, "cannot open %s: %s", in, archive_error_string(a));
    json_t *records = json_array();
    size_t nb = 0, nr = 0, bad = 0;
    char first_bad[SL_ERR_MSG_MAX] = "";
    struct archive_entry *e;
    while (!rc) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = sl_err_set(err, SL_EDATA, "%s: not a readable tar: %s", in, archive_error_string(a));
            break;
        }
        const char *name = archive_entry_pathname(e);
        if (archive_entry_filetype(e) == AE_IFDIR) continue;
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        sl_err me;
        sl_err_clear(&me);
        int mrc = 0;
        if (!strncmp(name, "blobs/sha256/", 13) && sl_is_sha256_hex(base)) {
            mrc = import_blob(s, a, base, &me);
            if (!mrc) nb++;
        } else if (!strncmp(name, "actions/", 8) && strlen(base) == 69 && !strcmp(base + 64, ".json")) {
            size_t cap = 1 << 16, len = 0;
            char *text = malloc(cap);
            for (;;) {
                if (!text) break;
                if (len == cap) {
                    char *bigger = realloc(text, cap * 2);
                    if (!bigger) {
                        free(text);
                        text = NULL;
                        break;
                    }
                    text = bigger;
                    cap *= 2;
                }
                la_ssize_t n = archive_read_data(a, text + len, cap - len);
                if (n <= 0) break;
                len += (size_t)n;
            }
            char key[65];
            memcpy(key, base, 64);
            key[64] = '\0';
            json_t *rec = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
            free(text);
            if (!rec)
                mrc = sl_err_set(&me, SL_EINTEGRITY, "import: member %s is not valid JSON", name);
            else
                mrc = sl_store_record_check(rec, key, &me);
            if (!mrc)
                json_array_append_new(records, rec);
            else
                json_decref(rec);
        } else {
            mrc = sl_err_set(&me, SL_EDATA, "import: unexpected member '%s' (not a seqlora store export)",
                             name);
        }
        if (mrc) {
            if (mrc != SL_EINTEGRITY && mrc != SL_EDATA) {
                rc = mrc;
                *err = me;
                break;
            }
            if (!bad++) snprintf(first_bad, sizeof first_bad, "%s", me.msg);
        }
    }
    archive_read_free(a);
    /* records last: only when everything they reference is here */
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec) {
        if (rc) break;
        int missing = 0;
        void *u[2] = {s, &missing};
        sl_store_record_each_artifact(rec, need_blob, u);
        const char *key = json_string_value(json_object_get(rec, "key"));
        if (missing) {
            if (!bad++)
                snprintf(first_bad, sizeof first_bad,
                         "import: action %s references %d blob(s) that are neither in "
                         "the archive nor in the store",
                         key, missing);
            continue;
        }
        char *text = sl_json_canonical(rec);
        char *path = sl_store_record_path(s, key);
        size_t n = text ? strlen(text) : 0;
        char *line = text ? realloc(text, n + 2) : NULL;
        if (!line || !path) {
            free(text);
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        } else {
            line[n] = '\n';
            rc = sl_store_write_small(s, path, line, n + 1, 0, err);
            if (!rc) rc = sl_store_index_put_action(s, rec, err);
            free(line);
        }
        free(path);
        if (!rc) nr++;
    }
    json_decref(records);
    sl_store_unlock(lk);
    if (n_blobs) *n_blobs = nb;
    if (n_records) *n_records = nr;
    if (!rc && bad)
        rc = sl_err_set(err, SL_EINTEGRITY, "%zu bad member(s) in %s were not imported; the first: %s", bad,
                        in, first_bad);
    return rc;
}
