/* Directory trees: a canonical JSON manifest blob lists every regular file (relative path, digest, size,
 * mode); the manifest's digest names the tree. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

enum { MAX_DEPTH = 64 };

static int entry_cmp(const void *a, const void *b) {
    const char *pa = json_string_value(json_object_get(*(json_t *const *)a, "path"));
    const char *pb = json_string_value(json_object_get(*(json_t *const *)b, "path"));
    return strcmp(pa, pb);
}

static int walk_tree(sl_store *s, const char *abs, const char *rel, int depth, json_t *entries, sl_err *err) {
    if (depth > MAX_DEPTH)
        return sl_err_set(err, SL_EDATA, "%s: folders nested deeper than %d (a symlink loop?)", abs,
                          MAX_DEPTH);
    struct dirent **names = NULL;
    int n = scandir(abs, &names, NULL, alphasort);
    if (n < 0) return sl_err_errno(err, SL_EIO, errno, "cannot list %s", abs);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (rc || !strcmp(name, ".") || !strcmp(name, "..")) continue;
        char *child = sl_fs_join(abs, name);
        char *crel = rel[0] ? sl_fs_join(rel, name) : strdup(name);
        struct stat st;
        if (!child || !crel) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        } else if (stat(child, &st) != 0) {
            rc = sl_err_errno(err, SL_EIO, errno, "cannot stat %s", child);
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk_tree(s, child, crel, depth + 1, entries, err);
        } else if (S_ISREG(st.st_mode)) {
            char hex[65];
            sl_store_blob_info info;
            rc = sl_store_put_file(s, child, hex, &info, err);
            if (!rc) {
                json_t *e = json_pack("{s:s, s:s, s:I, s:s}", "path", crel, "digest", hex, "size",
                                      (json_int_t)info.size, "mode", (st.st_mode & 0111) ? "0755" : "0644");
                if (!e || json_array_append_new(entries, e)) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            }
        } else {
            rc = sl_err_set(err, SL_EDATA,
                            "%s: not a regular file or folder (sockets, devices and fifos cannot be stored)",
                            child);
        }
        free(child);
        free(crel);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int sl_store_put_tree(sl_store *s, const char *dir, char hex[65], sl_err *err) {
    json_t *entries = json_array();
    if (!entries) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = walk_tree(s, dir, "", 0, entries, err);
    if (!rc) {
        /* scandir sorts per folder; the manifest order is the byte order of the whole relative path. */
        size_t n = json_array_size(entries);
        json_t **v = malloc((n ? n : 1) * sizeof *v);
        if (!v) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < n; i++) v[i] = json_incref(json_array_get(entries, i));
        if (!rc) {
            qsort(v, n, sizeof *v, entry_cmp);
            json_array_clear(entries);
            for (size_t i = 0; i < n; i++) json_array_append_new(entries, v[i]);
        }
        free(v);
    }
    if (!rc) {
        json_t *m = json_pack("{s:i, s:O}", "seqlora_tree", 1, "entries", entries);
        char *text = m ? sl_json_canonical(m) : NULL;
        if (!text)
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        else
            rc = sl_store_put_buf(s, text, strlen(text), hex, NULL, err);
        free(text);
        json_decref(m);
    }
    json_decref(entries);
    return rc ? sl_err_prefix(err, "while storing the folder %s", dir) : 0;
}

static int safe_relpath(const char *p) {
    if (!p[0] || p[0] == '/') return 0;
    const char *c = p;
    while (*c) {
        const char *slash = strchr(c, '/');
        size_t len = slash ? (size_t)(slash - c) : strlen(c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) return 0;
        if (!slash) break;
        c = slash + 1;
    }
    return p[strlen(p) - 1] != '/';
}

int sl_store_tree_load(sl_store *s, const char *hex, json_t **manifest, sl_err *err) {
    char *text = NULL;
    size_t len = 0;
    int rc = sl_store_read_blob_mem(s, hex, &text, &len, err);
    if (rc) return rc;
    json_error_t je;
    json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    json_t *entries = m ? json_object_get(m, "entries") : NULL;
    if (!m || json_integer_value(json_object_get(m, "seqlora_tree")) != 1 || !json_is_array(entries)) {
        json_decref(m);
        return sl_err_set(err, SL_EDATA, "artifact %s is not a folder (tree manifest)", hex);
    }
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) {
        const char *p = json_string_value(json_object_get(e, "path"));
        const char *d = json_string_value(json_object_get(e, "digest"));
        if (!p || !safe_relpath(p) || !d || !sl_is_sha256_hex(d) ||
            !json_is_integer(json_object_get(e, "size"))) {
            json_decref(m);
            return sl_err_set(err, SL_EDATA,
                              "tree manifest %s: entry %zu is malformed (needs a relative path "
                              "without '..', a digest and a size)",
                              hex, i);
        }
    }
    *manifest = m;
    return 0;
}

int sl_store_materialise_tree(sl_store *s, const char *hex, const char *dest, sl_err *err) {
    json_t *m = NULL;
    int rc = sl_store_tree_load(s, hex, &m, err);
    if (rc) return rc;
    char *parent = sl_fs_dirname(dest);
    char *tmp = NULL;
    rc = parent ? sl_fs_mkdirs(parent, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc) {
        const char *base = strrchr(dest, '/') ? strrchr(dest, '/') + 1 : dest;
        char prefix[300];
        snprintf(prefix, sizeof prefix, ".%.200s.tmp.", base);
        rc = sl_fs_mkdtemp(parent, prefix, &tmp, err);
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(m, "entries"), i, e) {
        if (rc) break;
        char *path = sl_fs_join(tmp, json_string_value(json_object_get(e, "path")));
        char *dir = path ? sl_fs_dirname(path) : NULL;
        rc = dir ? sl_fs_mkdirs(dir, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
        if (!rc)
            rc = sl_store_materialise_file(s, json_string_value(json_object_get(e, "digest")), path, err);
        if (!rc && !strcmp(json_string_value(json_object_get(e, "mode"))
                               ? json_string_value(json_object_get(e, "mode"))
                               : "",
                           "0755")) {
            chmod(path, 0777 & ~sl_store_umask());
        }
        free(path);
        free(dir);
    }
    if (!rc) {
        struct stat st;
        if (lstat(dest, &st) == 0) {
            char *old = NULL;
            char prefix[] = ".old.";
            rc = sl_fs_mkdtemp(parent, prefix, &old, err);
            if (!rc && S_ISDIR(st.st_mode)) {
                char *inside = sl_fs_join(old, "d");
                if (rename(dest, inside) != 0)
                    rc = sl_err_errno(err, SL_EIO, errno, "cannot move the old %s aside", dest);
                if (!rc && rename(tmp, dest) != 0)
                    rc = sl_err_errno(err, SL_EIO, errno, "cannot rename into %s", dest);
                free(inside);
            } else if (!rc) {
                if (unlink(dest) != 0) rc = sl_err_errno(err, SL_EIO, errno, "cannot replace %s", dest);
                if (!rc && rename(tmp, dest) != 0)
                    rc = sl_err_errno(err, SL_EIO, errno, "cannot rename into %s", dest);
            }
            if (old) sl_fs_remove_tree(old, NULL);
            free(old);
        } else if (rename(tmp, dest) != 0) {
            rc = sl_err_errno(err, SL_EIO, errno, "cannot rename into %s", dest);
        }
    }
    if (rc && tmp) sl_fs_remove_tree(tmp, NULL);
    free(tmp);
    free(parent);
    json_decref(m);
    return rc;
}
