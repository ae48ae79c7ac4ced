/* Opening a store: its layout, where its index lives, the gc lock, pins, and rebuilding the index. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

static const char *const layout[] = {"blobs/sha256", "actions",    "pins",  "tmp",
                                     "work",         "quarantine", "locks", NULL};

const char *sl_store_root(const sl_store *s) {
    return s->root;
}

const char *sl_store_index_dir(const sl_store *s) {
    return s->index_dir;
}

char *sl_store_path(const sl_store *s, const char *rel) {
    return sl_fs_join(s->root, rel);
}

int sl_store_fs_is_network(unsigned long f_type, const char **name) {
    static const struct {
        unsigned long magic;
        const char *name;
    } nets[] = {
        {0x6969UL, "nfs"},        {0x0BD00BD0UL, "lustre"}, {0x47504653UL, "gpfs"},  {0x19830326UL, "beegfs"},
        {0x00C36400UL, "cephfs"}, {0xFF534D42UL, "cifs"},   {0x517BUL, "smb"},       {0xFE534D42UL, "smb2"},
        {0x5346414FUL, "afs"},    {0x6B414653UL, "kafs"},   {0x013111A8UL, "ibrix"}, {0x564C0001UL, "panfs"},
        {0xAAD7AAEAUL, "panfs"},
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++)
        if ((f_type & 0xFFFFFFFFUL) == nets[i].magic) {
            if (name) *name = nets[i].name;
            return 1;
        }
    if (name) *name = "local";
    return 0;
}

char *sl_store_index_location(const char *store_abs, int is_network, const char *env_index_dir,
                              const char *tmpdir, unsigned uid) {
    uint8_t d[32];
    char hex[65];
    sl_sha256_buf(store_abs, strlen(store_abs), d);
    sl_sha256_to_hex(d, hex);
    hex[16] = '\0';
    size_t n =
        strlen(store_abs) + (env_index_dir ? strlen(env_index_dir) : 0) + (tmpdir ? strlen(tmpdir) : 0) + 80;
    char *p = malloc(n);
    if (!p) return NULL;
    if (env_index_dir && *env_index_dir)
        snprintf(p, n, "%s/%s", env_index_dir, hex);
    else if (is_network)
        snprintf(p, n, "%s/seqlora-index-%u/%s", tmpdir && *tmpdir ? tmpdir : "/tmp", uid, hex);
    else
        snprintf(p, n, "%s/index", store_abs);
    return p;
}

/* ---- walking the files ---- */
static int walk_rec(const char *dir, int (*fn)(void *, const char *, const char *), void *user, int depth,
                    sl_err *err) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : sl_err_errno(err, SL_EIO, errno, "cannot list %s", dir);
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = sl_fs_join(dir, e->d_name);
        if (!p) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        struct stat st;
        if (lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode) && depth < 8)
                rc = walk_rec(p, fn, user, depth + 1, err);
            else if (S_ISREG(st.st_mode))
                rc = fn(user, p, e->d_name);
        }
        free(p);
    }
    closedir(d);
    return rc;
}

int sl_store_walk(const char *dir, int (*fn)(void *, const char *, const char *), void *user, sl_err *err) {
    return walk_rec(dir, fn, user, 0, err);
}

int sl_store_quarantine(sl_store *s, const char *path, sl_err *err) {
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t n = strlen(s->root) + strlen(base) + 64;
    char *q = malloc(n);
    if (!q) return sl_err_set(err, SL_ENOMEM, "out of memory");
    snprintf(q, n, "%s/quarantine/%s.%ld.%ld", s->root, base, (long)time(NULL), (long)getpid());
    int rc = rename(path, q) == 0 || errno == ENOENT
                 ? 0
                 : sl_err_errno(err, SL_EIO, errno, "cannot move %s to quarantine", path);
    free(q);
    return rc;
}

/* ---- reindex ---- */
static int reindex_blob(void *user, const char *path, const char *name) {
    sl_store *s = user;
    if (!sl_is_sha256_hex(name)) return 0;
    sl_store_blob_info info;
    sl_err e;
    if (sl_store_blob_file_info(path, &info, &e)) return 0; /* verify reports damaged blobs */
    return sl_store_index_put_blob(s, name, &info, &e) ? SL_EIO : 0;
}

static int reindex_action(void *user, const char *path, const char *name) {
    sl_store *s = user;
    size_t n = strlen(name);
    if (n != 69 || strcmp(name + 64, ".json")) return 0;
    char key[65];
    memcpy(key, name, 64);
    key[64] = '\0';
    json_t *r = NULL;
    sl_err e;
    if (sl_store_record_load_file(path, key, &r, &e)) return 0;
    int rc = sl_store_index_put_action(s, r, &e) ? SL_EIO : 0;
    json_decref(r);
    return rc;
}

static int reindex_pin(void *user, const char *hex, char kind) {
    sl_err e;
    return sl_store_index_put_pin(user, hex, kind, &e) ? SL_EIO : 0;
}

static int fill_index(sl_store *s, sl_err *err) {
    mdb_env_set_flags(s->env, MDB_NOSYNC, 1);
    char *b = sl_store_path(s, "blobs/sha256"), *a = sl_store_path(s, "actions");
    int rc = b && a ? 0 : sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc) rc = sl_store_walk(b, reindex_blob, s, err);
    if (!rc) rc = sl_store_walk(a, reindex_action, s, err);
    if (!rc) rc = sl_store_each_pin(s, reindex_pin, s, err);
    if (rc == SL_EIO && !err->msg[0])
        sl_err_set(err, SL_EIO, "cannot write the store index %s", s->index_dir);
    free(b);
    free(a);
    if (!rc) rc = sl_store_index_mark_filled(s, err);
    mdb_env_set_flags(s->env, MDB_NOSYNC, 0);
    mdb_env_sync(s->env, 1);
    return rc;
}

int sl_store_reindex(sl_store *s, sl_err *err) {
    int lk = sl_store_lock(s, 1, 600, err); /* no writer may publish while the index is empty */
    if (lk < 0) return lk;
    int rc = sl_store_index_clear(s, err);
    if (!rc) rc = fill_index(s, err);
    sl_store_unlock(lk);
    return rc;
}

/* ---- open / close ---- */
int sl_store_open(const char *root, sl_store **out, sl_err *err) {
    *out = NULL;
    sl_store_umask(); /* read it now, before the caller starts threads */
    int rc = sl_fs_mkdirs(root, err);
    if (rc) return sl_err_prefix(err, "cannot create the store");
    sl_store *s = calloc(1, sizeof *s);
    if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
    s->pid = getpid();
    s->root = realpath(root, NULL);
    if (!s->root) {
        rc = sl_err_errno(err, SL_EIO, errno, "cannot resolve the store path %s", root);
        free(s);
        return rc;
    }
    for (int i = 0; !rc && layout[i]; i++) {
        char *p = sl_store_path(s, layout[i]);
        rc = p ? sl_fs_mkdirs(p, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
        free(p);
    }
    if (!rc) {
        struct statfs sfs;
        int net = statfs(s->root, &sfs) == 0 && sl_store_fs_is_network((unsigned long)sfs.f_type, NULL);
        s->index_dir =
            sl_store_index_location(s->root, net, getenv("SEQLORA_INDEX_DIR"), getenv("TMPDIR"), getuid());
        if (!s->index_dir) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (!rc) rc = sl_store_index_open(s, err);
    if (!rc && !sl_store_index_is_filled(s)) {
        /* A new (or deleted, or node-local) index: fill it from the files, once, under a lock. */
        char *lp = sl_fs_join(s->index_dir, "fill.lock");
        int fd = lp ? open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0666) : -1;
        free(lp);
        if (fd >= 0) flock(fd, LOCK_EX);
        if (!sl_store_index_is_filled(s)) rc = fill_index(s, err);
        if (fd >= 0) close(fd);
    }
    if (rc) {
        sl_store_close(s);
        return sl_err_prefix(err, "cannot open the store %s", root);
    }
    *out = s;
    return 0;
}

void sl_store_close(sl_store *s) {
    if (!s) return;
    if (s->env && getpid() == s->pid) sl_store_index_close(s);
    free(s->root);
    free(s->index_dir);
    free(s);
}

/* ---- locking ---- */
int sl_store_lock(sl_store *s, int exclusive, double wait_s, sl_err *err) {
    char *p = sl_store_path(s, "locks/gc.lock");
    if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        int rc = sl_err_errno(err, SL_EIO, errno, "cannot open the lock file %s", p);
        free(p);
        return rc;
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int rc = sl_err_errno(err, SL_EIO, errno, "cannot lock %s", p);
            close(fd);
            free(p);
            return rc;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) * 1e-9;
        if (el >= wait_s) {
            close(fd);
            int rc = sl_err_set(err, SL_EIO, "the store is busy (%s is held by %s); try again later", p,
                                exclusive ? "running steps" : "a garbage collection");
            free(p);
            return rc;
        }
        struct timespec d = {0, 20 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
    free(p);
    return fd;
}

void sl_store_unlock(int fd) {
    if (fd >= 0) close(fd);
}

/* ---- pins ---- */
static char *pin_path(const sl_store *s, const char *hex) {
    size_t n = strlen(s->root) + 80;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/pins/%s", s->root, hex);
    return p;
}

int sl_store_pin(sl_store *s, const char *hex, char kind, sl_err *err) {
    if (!sl_is_sha256_hex(hex) || (kind != 'a' && kind != 'b'))
        return sl_err_set(err, SL_EUSAGE, "a pin needs a full digest and kind a|b");
    /* The shared gc lock, as writers take it: a concurrent gc (exclusive) either finished before the target
     * is checked below, or starts after the pin exists and keeps the target. */
    int lk = sl_store_lock(s, 0, 3600, err);
    if (lk < 0) return lk;
    char *target = kind == 'a' ? sl_store_record_path(s, hex) : sl_store_blob_path(s, hex);
    char *p = pin_path(s, hex);
    int rc = 0;
    struct stat st;
    if (!target || !p) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    } else if (lstat(target, &st) != 0) {
        rc = errno == ENOENT
                 ? sl_err_set(err, SL_ENOTFOUND, "cannot pin %s: that %s is not in the store (no %s)", hex,
                              kind == 'a' ? "action" : "blob", target)
                 : sl_err_errno(err, SL_EIO, errno, "cannot pin %s: cannot stat %s", hex, target);
    } else {
        char text[128];
        int n = snprintf(text, sizeof text, "{\"kind\":\"%s\",\"target\":\"%s\"}\n",
                         kind == 'a' ? "action" : "blob", hex);
        rc = sl_store_write_small(s, p, text, (size_t)n, 1, err);
        if (!rc) rc = sl_store_index_put_pin(s, hex, kind, err);
    }
    free(p);
    free(target);
    sl_store_unlock(lk);
    return rc;
}

int sl_store_unpin(sl_store *s, const char *hex, sl_err *err) {
    char *p = pin_path(s, hex);
    if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = 0;
    if (unlink(p) != 0)
        rc = errno == ENOENT ? sl_err_set(err, SL_ENOTFOUND, "%s is not pinned", hex)
                             : sl_err_errno(err, SL_EIO, errno, "cannot remove %s", p);
    free(p);
    if (!rc) rc = sl_store_index_del_pin(s, hex, err);
    return rc;
}

int sl_store_each_pin(sl_store *s, int (*fn)(void *, const char *, char), void *user, sl_err *err) {
    char *dir = sl_store_path(s, "pins");
    if (!dir) return sl_err_set(err, SL_ENOMEM, "out of memory");
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return 0;
    }
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (!sl_is_sha256_hex(e->d_name)) continue;
        char *p = sl_fs_join(dir, e->d_name);
        char *text = NULL;
        sl_err e2;
        char kind = 'b';
        if (p && sl_fs_read_all(p, &text, NULL, &e2) == 0 && strstr(text, "\"action\"")) kind = 'a';
        free(text);
        free(p);
        rc = fn(user, e->d_name, kind);
    }
    closedir(d);
    free(dir);
    return rc;
}
