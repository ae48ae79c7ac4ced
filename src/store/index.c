/* The LMDB index: a rebuildable cache of what blobs/, actions/ and pins/ hold (docs/store.md lists the
 * databases and their encodings). Every write runs through write_txn, which grows the map on MDB_MAP_FULL
 * and adopts a map grown by another process (MDB_MAP_RESIZED). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store_internal.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

static int lmdb_err(sl_err *err, int rc, const char *what, const sl_store *s) {
    return sl_err_set(err, rc == ENOSPC || rc == EIO ? SL_EIO : SL_EIO, "store index %s: %s: %s",
                      s->index_dir, what, mdb_strerror(rc));
}

static size_t initial_mapsize(void) {
    const char *e = getenv("SEQLORA_INDEX_MAPSIZE");
    long long v = e ? atoll(e) : 0;
    return v >= 32768 ? (size_t)v : (size_t)64 << 20;
}

/* Double the map size, serialised between processes by a lock file beside the index. */
static int grow_map(sl_store *s, sl_err *err) {
    char *lp = sl_fs_join(s->index_dir, "grow.lock");
    int fd = lp ? open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0666) : -1;
    free(lp);
    if (fd >= 0) flock(fd, LOCK_EX);
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    int mrc = mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
    if (fd >= 0) close(fd);
    return mrc ? lmdb_err(err, mrc, "cannot grow the map", s) : 0;
}

int sl_store_index_open(sl_store *s, sl_err *err) {
    int rc = sl_fs_mkdirs(s->index_dir, err);
    if (rc) return rc;
    int mrc = mdb_env_create(&s->env);
    if (mrc) return lmdb_err(err, mrc, "cannot create the environment", s);
    mdb_env_set_maxdbs(s->env, 8);
    mdb_env_set_maxreaders(s->env, 512);
    mdb_env_set_mapsize(s->env, initial_mapsize());
    mrc = mdb_env_open(s->env, s->index_dir, MDB_NOMETASYNC, 0666);
    if (mrc) {
        mdb_env_close(s->env);
        s->env = NULL;
        return lmdb_err(err, mrc, "cannot open", s);
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* free the reader slots of killed processes */
    /* Opening the databases is a write transaction (MDB_CREATE, the schema mark), so it can meet a map that
     * other processes filled (MDB_MAP_FULL) or grew (MDB_MAP_RESIZED): grow or adopt and retry, as every
     * other write does. */
    for (int attempt = 0; attempt < 40; attempt++) {
        MDB_txn *txn;
        mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (mrc == MDB_MAP_RESIZED) {
            mdb_env_set_mapsize(s->env, 0);
            continue;
        }
        if (mrc) break;
        mrc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->db_meta);
        if (!mrc) mrc = mdb_dbi_open(txn, "blobs", MDB_CREATE, &s->db_blobs);
        if (!mrc) mrc = mdb_dbi_open(txn, "actions", MDB_CREATE, &s->db_actions);
        if (!mrc) mrc = mdb_dbi_open(txn, "edges", MDB_CREATE | MDB_DUPSORT, &s->db_edges);
        if (!mrc) mrc = mdb_dbi_open(txn, "pins", MDB_CREATE, &s->db_pins);
        if (!mrc) {
            MDB_val k = {6, "schema"}, v = {1, "1"}, have;
            mrc = mdb_get(txn, s->db_meta, &k, &have);
            if (mrc == MDB_NOTFOUND) mrc = mdb_put(txn, s->db_meta, &k, &v, 0);
        }
        if (!mrc)
            mrc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (mrc == MDB_MAP_FULL) {
            if ((rc = grow_map(s, err))) {
                mdb_env_close(s->env);
                s->env = NULL;
                return rc;
            }
            continue;
        }
        if (mrc == MDB_MAP_RESIZED) {
            mdb_env_set_mapsize(s->env, 0);
            continue;
        }
        break;
    }
    if (mrc) {
        mdb_env_close(s->env);
        s->env = NULL;
        return lmdb_err(err, mrc, "cannot open its databases", s);
    }
    return 0;
}

void sl_store_index_close(sl_store *s) {
    if (s->env) mdb_env_close(s->env);
    s->env = NULL;
}

typedef int (*txn_fn)(sl_store *s, MDB_txn *txn, void *user);

static int write_txn(sl_store *s, txn_fn fn, void *user, sl_err *err) {
    if (getpid() != s->pid)
        return sl_err_set(err, SL_EINTERNAL, "the store was opened before fork(); open it again");
    for (int attempt = 0; attempt < 40; attempt++) {
        MDB_txn *txn;
        int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (mrc == MDB_MAP_RESIZED) {
            mdb_env_set_mapsize(s->env, 0);
            continue;
        }
        if (mrc) return lmdb_err(err, mrc, "cannot begin a transaction", s);
        mrc = fn(s, txn, user);
        if (mrc) {
            mdb_txn_abort(txn);
        } else {
            mrc = mdb_txn_commit(txn);
        }
        if (mrc == MDB_MAP_FULL) {
            int rc = grow_map(s, err);
            if (rc) return rc;
            continue;
        }
        if (mrc == MDB_MAP_RESIZED) {
            mdb_env_set_mapsize(s->env, 0);
            continue;
        }
        if (mrc) return lmdb_err(err, mrc, "cannot write", s);
        return 0;
    }
    return sl_err_set(err, SL_EIO, "store index %s: the map kept filling up", s->index_dir);
}

static int read_txn(sl_store *s, MDB_txn **txn, sl_err *err) {
    if (getpid() != s->pid)
        return sl_err_set(err, SL_EINTERNAL, "the store was opened before fork(); open it again");
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    if (mrc == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize(s->env, 0);
        mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    }
    return mrc ? lmdb_err(err, mrc, "cannot begin a read transaction", s) : 0;
}

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* ---- blobs ---- */
typedef struct blob_put {
    uint8_t digest[32];
    unsigned char val[17];
} blob_put;

static int do_put_blob(sl_store *s, MDB_txn *txn, void *user) {
    blob_put *b = user;
    MDB_val k = {32, b->digest}, v = {17, b->val};
    return mdb_put(txn, s->db_blobs, &k, &v, 0);
}

int sl_store_index_put_blob(sl_store *s, const char *hex, const sl_store_blob_info *info, sl_err *err) {
    blob_put b;
    if (sl_sha256_from_hex(hex, b.digest)) return sl_err_set(err, SL_EINTERNAL, "bad digest %s", hex);
    put_u64(b.val, info->size);
    put_u64(b.val + 8, info->stored);
    b.val[16] = (unsigned char)info->codec;
    return write_txn(s, do_put_blob, &b, err);
}

static int do_del_blob(sl_store *s, MDB_txn *txn, void *user) {
    MDB_val k = {32, user};
    int mrc = mdb_del(txn, s->db_blobs, &k, NULL);
    return mrc == MDB_NOTFOUND ? 0 : mrc;
}

int sl_store_index_del_blob(sl_store *s, const char *hex, sl_err *err) {
    uint8_t d[32];
    if (sl_sha256_from_hex(hex, d)) return sl_err_set(err, SL_EINTERNAL, "bad digest %s", hex);
    return write_txn(s, do_del_blob, d, err);
}

/* ---- actions and edges ---- */
typedef struct action_put {
    const json_t *record;
    const char *text;
    int del;
} action_put;

typedef struct edge_ctx {
    sl_store *s;
    MDB_txn *txn;
    uint8_t key[32];
    int del;
    int mrc;
} edge_ctx;

static void edge_fn(void *user, const char *hex, int is_tree, int is_output) {
    (void)is_tree;
    edge_ctx *c = user;
    uint8_t d[32];
    if (c->mrc || sl_sha256_from_hex(hex, d)) return;
    unsigned char val[33];
    val[0] = is_output ? 'o' : 'i';
    memcpy(val + 1, c->key, 32);
    MDB_val k = {32, d}, v = {33, val};
    int mrc = c->del ? mdb_del(c->txn, c->s->db_edges, &k, &v)
                     : mdb_put(c->txn, c->s->db_edges, &k, &v, MDB_NODUPDATA);
    if (mrc && mrc != MDB_KEYEXIST && mrc != MDB_NOTFOUND) c->mrc = mrc;
}

static int do_action(sl_store *s, MDB_txn *txn, void *user) {
    action_put *a = user;
    edge_ctx c = {.s = s, .txn = txn, .del = a->del};
    sl_sha256_from_hex(json_string_value(json_object_get(a->record, "key")), c.key);
    MDB_val k = {32, c.key};
    int mrc;
    if (a->del) {
        mrc = mdb_del(txn, s->db_actions, &k, NULL);
        if (mrc == MDB_NOTFOUND) mrc = 0;
    } else {
        MDB_val v = {strlen(a->text), (void *)a->text};
        mrc = mdb_put(txn, s->db_actions, &k, &v, 0);
    }
    if (!mrc) sl_store_record_each_artifact(a->record, edge_fn, &c);
    return mrc ? mrc : c.mrc;
}

int sl_store_index_put_action(sl_store *s, const json_t *record, sl_err *err) {
    char *text = sl_json_canonical(record);
    if (!text) return sl_err_set(err, SL_ENOMEM, "out of memory");
    action_put a = {record, text, 0};
    int rc = write_txn(s, do_action, &a, err);
    free(text);
    return rc;
}

static int get_action(sl_store *s, const uint8_t key[32], json_t **rec, sl_err *err) {
    MDB_txn *txn;
    int rc = read_txn(s, &txn, err);
    if (rc) return rc;
    MDB_val k = {32, (void *)key}, v;
    int mrc = mdb_get(txn, s->db_actions, &k, &v);
    if (!mrc) {
        *rec = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        if (!*rec) mrc = MDB_CORRUPTED;
    }
    mdb_txn_abort(txn);
    if (mrc == MDB_NOTFOUND) return SL_ENOTFOUND;
    return mrc ? lmdb_err(err, mrc, "cannot read an action", s) : 0;
}

int sl_store_index_del_action(sl_store *s, const char *key, sl_err *err) {
    uint8_t k[32];
    if (sl_sha256_from_hex(key, k)) return sl_err_set(err, SL_EINTERNAL, "bad key %s", key);
    json_t *rec = NULL;
    int rc = get_action(s, k, &rec, err);
    if (rc == SL_ENOTFOUND) return 0;
    if (rc) return rc;
    action_put a = {rec, NULL, 1};
    rc = write_txn(s, do_action, &a, err);
    json_decref(rec);
    return rc;
}

/* ---- gc: many deletions in one transaction ---- */
typedef struct del_many {
    const json_t *actions, *blobs;
} del_many;

static int do_del_many(sl_store *s, MDB_txn *txn, void *user) {
    del_many *d = user;
    const char *hex;
    json_t *unused;
    json_object_foreach((json_t *)d->actions, hex, unused) {
        uint8_t key[32];
        if (sl_sha256_from_hex(hex, key)) continue;
        MDB_val k = {32, key}, v;
        int mrc = mdb_get(txn, s->db_actions, &k, &v);
        if (mrc == MDB_NOTFOUND) continue;
        if (mrc) return mrc;
        json_t *rec = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        if (!rec) return MDB_CORRUPTED;
        action_put a = {rec, NULL, 1};
        mrc = do_action(s, txn, &a);
        json_decref(rec);
        if (mrc) return mrc;
    }
    json_object_foreach((json_t *)d->blobs, hex, unused) {
        uint8_t digest[32];
        if (sl_sha256_from_hex(hex, digest)) continue;
        int mrc = do_del_blob(s, txn, digest);
        if (mrc) return mrc;
    }
    return 0;
}

int sl_store_index_del_many(sl_store *s, const json_t *actions, const json_t *blobs, sl_err *err) {
    del_many d = {actions, blobs};
    return write_txn(s, do_del_many, &d, err);
}

/* ---- pins ---- */
typedef struct pin_put {
    uint8_t d[32];
    char kind;
    int del;
} pin_put;

static int do_pin(sl_store *s, MDB_txn *txn, void *user) {
    pin_put *p = user;
    MDB_val k = {32, p->d}, v = {1, &p->kind};
    int mrc = p->del ? mdb_del(txn, s->db_pins, &k, NULL) : mdb_put(txn, s->db_pins, &k, &v, 0);
    return mrc == MDB_NOTFOUND ? 0 : mrc;
}

int sl_store_index_put_pin(sl_store *s, const char *hex, char kind, sl_err *err) {
    pin_put p = {.kind = kind};
    if (sl_sha256_from_hex(hex, p.d)) return sl_err_set(err, SL_EINTERNAL, "bad digest %s", hex);
    return write_txn(s, do_pin, &p, err);
}

int sl_store_index_del_pin(sl_store *s, const char *hex, sl_err *err) {
    pin_put p = {.del = 1};
    if (sl_sha256_from_hex(hex, p.d)) return sl_err_set(err, SL_EINTERNAL, "bad digest %s", hex);
    return write_txn(s, do_pin, &p, err);
}

/* ---- meta ---- */
int sl_store_index_is_filled(sl_store *s) {
    MDB_txn *txn;
    sl_err e;
    if (read_txn(s, &txn, &e)) return 0;
    MDB_val k = {6, "filled"}, v;
    int ok = mdb_get(txn, s->db_meta, &k, &v) == 0;
    mdb_txn_abort(txn);
    return ok;
}

static int do_mark(sl_store *s, MDB_txn *txn, void *user) {
    (void)user;
    MDB_val k = {6, "filled"}, v = {1, "1"};
    return mdb_put(txn, s->db_meta, &k, &v, 0);
}

int sl_store_index_mark_filled(sl_store *s, sl_err *err) {
    return write_txn(s, do_mark, NULL, err);
}

static int do_clear(sl_store *s, MDB_txn *txn, void *user) {
    (void)user;
    int mrc = mdb_drop(txn, s->db_blobs, 0);
    if (!mrc) mrc = mdb_drop(txn, s->db_actions, 0);
    if (!mrc) mrc = mdb_drop(txn, s->db_edges, 0);
    if (!mrc) mrc = mdb_drop(txn, s->db_pins, 0);
    if (!mrc) {
        MDB_val k = {6, "filled"};
        mrc = mdb_del(txn, s->db_meta, &k, NULL);
        if (mrc == MDB_NOTFOUND) mrc = 0;
    }
    return mrc;
}

int sl_store_index_clear(sl_store *s, sl_err *err) {
    return write_txn(s, do_clear, NULL, err);
}

/* ---- iteration and lookup ---- */
int sl_store_each_action(sl_store *s, int (*fn)(void *, const char *, const json_t *), void *user,
                         sl_err *err) {
    MDB_txn *txn;
    int rc = read_txn(s, &txn, err);
    if (rc) return rc;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->db_actions, &cur);
    if (mrc) {
        mdb_txn_abort(txn);
        return lmdb_err(err, mrc, "cannot list actions", s);
    }
    MDB_val k, v;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !mrc && !rc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char hex[65];
        if (k.mv_size != 32) continue;
        sl_sha256_to_hex(k.mv_data, hex);
        json_t *r = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        if (!r) continue;
        rc = fn(user, hex, r);
        json_decref(r);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

int sl_store_each_blob(sl_store *s, int (*fn)(void *, const char *, const sl_store_blob_info *), void *user,
                       sl_err *err) {
    MDB_txn *txn;
    int rc = read_txn(s, &txn, err);
    if (rc) return rc;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->db_blobs, &cur);
    if (mrc) {
        mdb_txn_abort(txn);
        return lmdb_err(err, mrc, "cannot list blobs", s);
    }
    MDB_val k, v;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !mrc && !rc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 32 || v.mv_size < 17) continue;
        char hex[65];
        sl_sha256_to_hex(k.mv_data, hex);
        const unsigned char *p = v.mv_data;
        sl_store_blob_info info = {get_u64(p), get_u64(p + 8), p[16]};
        rc = fn(user, hex, &info);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

void sl_store_free_strings(char **v, size_t n) {
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

int sl_store_edges(sl_store *s, const char *hex, int outputs, char ***keys, size_t *n, sl_err *err) {
    *keys = NULL;
    *n = 0;
    uint8_t d[32];
    if (sl_sha256_from_hex(hex, d)) return sl_err_set(err, SL_EUSAGE, "'%s' is not a SHA-256 digest", hex);
    MDB_txn *txn;
    int rc = read_txn(s, &txn, err);
    if (rc) return rc;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->db_edges, &cur);
    MDB_val k = {32, d}, v;
    size_t cap = 0;
    for (mrc = mrc ? mrc : mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); !mrc && !rc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
        const unsigned char *p = v.mv_data;
        if (v.mv_size != 33 || p[0] != (outputs ? 'o' : 'i')) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            char **nk = realloc(*keys, cap * sizeof *nk);
            if (!nk) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                break;
            }
            *keys = nk;
        }
        char *h = malloc(65);
        if (!h) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        sl_sha256_to_hex(p + 1, h);
        (*keys)[(*n)++] = h;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc) {
        sl_store_free_strings(*keys, *n);
        *keys = NULL;
        *n = 0;
    }
    return rc;
}

/* First entry in `dbi` whose hex starts with `prefix`; counts matches up to 2. */
static int prefix_lookup(MDB_txn *txn, MDB_dbi dbi, const char *prefix, char out[65], int *count) {
    uint8_t start[32] = {0};
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < plen; i++) {
        int c = prefix[i];
        int v = c <= '9' ? c - '0' : (c | 32) - 'a' + 10;
        start[i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
    }
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur)) return 0;
    MDB_val k = {32, start}, v;
    *count = 0;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (!mrc && *count < 2) {
        char hex[65];
        if (k.mv_size != 32) break;
        sl_sha256_to_hex(k.mv_data, hex);
        if (strncmp(hex, prefix, plen)) break;
        if (!*count) memcpy(out, hex, 65);
        (*count)++;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP);
    }
    mdb_cursor_close(cur);
    return 0;
}

int sl_store_resolve(sl_store *s, const char *prefix, char hex[65], char *kind, sl_err *err) {
    const char *p = prefix;
    if (!strncmp(p, "sha256:", 7)) p += 7;
    size_t plen = strlen(p);
    char low[65];
    if (plen < 4 || plen > 64)
        return sl_err_set(err, SL_EUSAGE, "'%s': give at least 4 hex digits of a digest or action key",
                          prefix);
    for (size_t i = 0; i <= plen; i++) {
        char c = p[i];
        if (i < plen && !((c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'f')))
            return sl_err_set(err, SL_EUSAGE, "'%s' is not a hex digest or action key", prefix);
        low[i] = (char)(i < plen ? (c >= 'A' && c <= 'F' ? c | 32 : c) : 0);
    }
    MDB_txn *txn;
    int rc = read_txn(s, &txn, err);
    if (rc) return rc;
    char a[65] = "", b[65] = "";
    int na = 0, nb = 0;
    prefix_lookup(txn, s->db_actions, low, a, &na);
    prefix_lookup(txn, s->db_blobs, low, b, &nb);
    mdb_txn_abort(txn);
    if (na + nb == 0) {
        /* the index may be missing a fresh entry: a full key can still be checked against the files */
        if (plen == 64) {
            char *rp = sl_store_record_path(s, low);
            int has_rec = rp && access(rp, F_OK) == 0;
            free(rp);
            if (has_rec || sl_store_blob_exists(s, low, NULL)) {
                memcpy(hex, low, 65);
                *kind = has_rec ? 'a' : 'b';
                return 0;
            }
        }
        return sl_err_set(err, SL_ENOTFOUND, "nothing in the store %s matches '%s'", s->root, prefix);
    }
    if (na + nb > 1) return sl_err_set(err, SL_EUSAGE, "'%s' is ambiguous: give more digits", prefix);
    memcpy(hex, na ? a : b, 65);
    *kind = na ? 'a' : 'b';
    return 0;
}
