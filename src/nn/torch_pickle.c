/* pytorch_model.bin: libarchive for the zip, a restricted unpickler for data.pkl (see torch_pickle.h). */
#include "torch_pickle.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_unicode.h"
#include "util/fs.h"

/* ---- the zip ----------------------------------------------------------------------------------- */

typedef struct {
    char *name; /* entry path */
    unsigned char *data;
    size_t len;
} zentry;

typedef struct {
    zentry *e;
    size_t n, cap;
} zip_entries;

static void zip_free(zip_entries *z) {
    for (size_t i = 0; i < z->n; i++) {
        free(z->e[i].name);
        free(z->e[i].data);
    }
    free(z->e);
}

static int read_zip(const char *path, zip_entries *z, sl_err *err) {
    struct archive *a = archive_read_new();
    if (!a) return sl_err_set(err, SL_ENOMEM, "out of memory");
    archive_read_support_format_zip(a);
    int rc = 0;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        rc = sl_err_set(err, SL_EDATA, "%s: not a PyTorch zip checkpoint: %s", path, archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    struct archive_entry *ent;
    int r;
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
        if (z->n == z->cap) {
            size_t cap = z->cap ? 2 * z->cap : 16;
            zentry *p = realloc(z->e, cap * sizeof *p);
            if (!p) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                break;
            }
            z->e = p;
            z->cap = cap;
        }
        zentry *e = &z->e[z->n];
        memset(e, 0, sizeof *e);
        const char *name = archive_entry_pathname(ent);
        if (!name || !(e->name = strdup(name))) {
            rc = sl_err_set(err, SL_EDATA, "%s: a zip entry without a name", path);
            break;
        }
        z->n++;
        size_t cap = archive_entry_size_is_set(ent) && archive_entry_size(ent) > 0
                         ? (size_t)archive_entry_size(ent)
                         : 4096;
        e->data = malloc(cap);
        if (!e->data) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory reading %s entry %s", path, name);
            break;
        }
        for (;;) {
            if (e->len == cap) {
                unsigned char *p = realloc(e->data, 2 * cap);
                if (!p) {
                    rc = sl_err_set(err, SL_ENOMEM, "out of memory reading %s entry %s", path, name);
                    break;
                }
                e->data = p;
                cap *= 2;
            }
            la_ssize_t got = archive_read_data(a, e->data + e->len, cap - e->len);
            if (got < 0) {
                rc = sl_err_set(err, SL_EDATA, "%s: entry %s: %s", path, name, archive_error_string(a));
                break;
            }
            if (got == 0) break;
            e->len += (size_t)got;
        }
        if (rc) break;
    }
    if (!rc && r != ARCHIVE_EOF)
        rc = sl_err_set(err, SL_EDATA, "%s: not a PyTorch zip checkpoint: %s", path, archive_error_string(a));
    archive_read_free(a);
    return rc;
}

/* ---- the unpickler ----------------------------------------------------------------------------- */

typedef enum {
    PV_NONE,
    PV_BOOL,
    PV_INT,
    PV_FLOAT,
    PV_STR,
    PV_TUPLE,
    PV_LIST,
    PV_DICT,
    PV_GLOBAL,
    PV_PID_STORAGE,
    PV_TENSOR,
    PV_MARK
} pv_kind;

enum { G_ORDERED_DICT = 1, G_REBUILD_TENSOR_V2, G_REBUILD_PARAMETER, G_STORAGE };

typedef struct pv {
    pv_kind k;
    long long i; /* INT, BOOL; GLOBAL: G_*; STORAGE global: dtype */
    double f;
    char *s;           /* STR; PID_STORAGE: key */
    struct pv **items; /* TUPLE, LIST; DICT: key, value pairs */
    size_t n, cap;
    int dtype; /* GLOBAL storage class / PID_STORAGE: sl_nn_st_dtype */
    /* TENSOR */
    struct pv *storage;
    long long offset;
    int ndim;
    long long shape[SL_NN_ST_MAX_DIMS], stride[SL_NN_ST_MAX_DIMS];
} pv;

typedef struct {
    pv **all; /* every object, freed at the end */
    size_t n_all, cap_all;
    pv **stack;
    size_t sp, cap_stack;
    pv **memo;
    size_t n_memo;
    const char *path;
    sl_err *err;
} unpickler;

#define MAX_OBJECTS 50000000u

static pv *new_pv(unpickler *u, pv_kind k) {
    if (u->n_all == u->cap_all) {
        size_t cap = u->cap_all ? 2 * u->cap_all : 1024;
        if (cap > MAX_OBJECTS) return NULL;
        pv **p = realloc(u->all, cap * sizeof *p);
        if (!p) return NULL;
        u->all = p;
        u->cap_all = cap;
    }
    pv *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->k = k;
    u->all[u->n_all++] = v;
    return v;
}

static int push(unpickler *u, pv *v) {
    if (!v) return -1;
    if (u->sp == u->cap_stack) {
        size_t cap = u->cap_stack ? 2 * u->cap_stack : 64;
        pv **p = realloc(u->stack, cap * sizeof *p);
        if (!p) return -1;
        u->stack = p;
        u->cap_stack = cap;
    }
    u->stack[u->sp++] = v;
    return 0;
}

static int add_item(pv *c, pv *v) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 4;
        pv **p = realloc(c->items, cap * sizeof *p);
        if (!p) return -1;
        c->items = p;
        c->cap = cap;
    }
    c->items[c->n++] = v;
    return 0;
}

static void free_unpickler(unpickler *u) {
    for (size_t i = 0; i < u->n_all; i++) {
        free(u->all[i]->s);
        free(u->all[i]->items);
        free(u->all[i]);
    }
    free(u->all);
    free(u->stack);
    free(u->memo);
}

/* The index of the topmost MARK, or -1. */
static long find_mark(const unpickler *u) {
    for (long i = (long)u->sp - 1; i >= 0; i--)
        if (u->stack[i]->k == PV_MARK) return i;
    return -1;
}

static const struct {
    const char *module, *name;
    int id, dtype;
} allowed_globals[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2, 0},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER, 0},
    {"torch", "FloatStorage", G_STORAGE, SL_NN_ST_F32},
    {"torch", "DoubleStorage", G_STORAGE, SL_NN_ST_F64},
    {"torch", "HalfStorage", G_STORAGE, SL_NN_ST_F16},
    {"torch", "BFloat16Storage", G_STORAGE, SL_NN_ST_BF16},
    {"torch", "LongStorage", G_STORAGE, SL_NN_ST_I64},
    {"torch", "IntStorage", G_STORAGE, SL_NN_ST_I32},
    {"torch", "ShortStorage", G_STORAGE, SL_NN_ST_I16},
    {"torch", "CharStorage", G_STORAGE, SL_NN_ST_I8},
    {"torch", "ByteStorage", G_STORAGE, SL_NN_ST_U8},
    {"torch", "BoolStorage", G_STORAGE, SL_NN_ST_BOOL},
};

static int make_global(unpickler *u, const char *module, size_t lm, const char *name, size_t ln) {
    for (size_t i = 0; i < sizeof allowed_globals / sizeof allowed_globals[0]; i++) {
        if (strlen(allowed_globals[i].module) == lm && !memcmp(allowed_globals[i].module, module, lm) &&
            strlen(allowed_globals[i].name) == ln && !memcmp(allowed_globals[i].name, name, ln)) {
            pv *g = new_pv(u, PV_GLOBAL);
            if (!g) return sl_err_set(u->err, SL_ENOMEM, "out of memory");
            g->i = allowed_globals[i].id;
            g->dtype = allowed_globals[i].dtype;
            return push(u, g) ? sl_err_set(u->err, SL_ENOMEM, "out of memory") : 0;
        }
    }
    return sl_err_set(
        u->err, SL_EDATA,
        "%s: the pickle refers to %.*s.%.*s, which a state dict does not use; refused (only tensors, "
        "storages and OrderedDict are allowed, nothing is executed)",
        u->path, (int)(lm > 200 ? 200 : lm), module, (int)(ln > 200 ? 200 : ln), name);
}

static int as_int(const pv *v, long long *out) {
    if (!v || v->k != PV_INT) return -1;
    *out = v->i;
    return 0;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
static pv *rebuild_tensor(unpickler *u, const pv *args) {
    if (args->k != PV_TUPLE || args->n < 6 || args->n > 7) return NULL;
    const pv *st = args->items[0], *size = args->items[2], *stride = args->items[3];
    long long off;
    if (!st || st->k != PV_PID_STORAGE || as_int(args->items[1], &off) || off < 0 || !size ||
        size->k != PV_TUPLE || !stride || stride->k != PV_TUPLE || size->n != stride->n ||
        size->n > SL_NN_ST_MAX_DIMS)
        return NULL;
    pv *t = new_pv(u, PV_TENSOR);
    if (!t) return NULL;
    t->storage = (pv *)st;
    t->offset = off;
    t->ndim = (int)size->n;
    for (int d = 0; d < t->ndim; d++) {
        if (as_int(size->items[d], &t->shape[d]) || t->shape[d] < 0 ||
            as_int(stride->items[d], &t->stride[d]) || t->stride[d] < 0)
            return NULL;
    }
    return t;
}

static int op_error(unpickler *u, size_t pos, const char *what) {
    return sl_err_set(u->err, SL_EDATA, "%s: data.pkl byte %zu: %s", u->path, pos, what);
}

/* Run the pickle program; on success *root is the STOP value. */
static int unpickle(unpickler *u, const unsigned char *p, size_t len, pv **root) {
    size_t i = 0;
#define NEED(n)                                                                                              \
    do {                                                                                                     \
        if (len - i < (size_t)(n)) return op_error(u, i, "truncated pickle");                                \
    } while (0)
#define POP(v)                                                                                               \
    do {                                                                                                     \
        if (!u->sp) return op_error(u, i, "stack underflow");                                                \
        (v) = u->stack[--u->sp];                                                                             \
    } while (0)
#define PUSH(v)                                                                                              \
    do {                                                                                                     \
        if (push(u, (v))) return sl_err_set(u->err, SL_ENOMEM, "out of memory");                             \
    } while (0)
    while (i < len) {
        size_t at = i;
        unsigned char op = p[i++];
        pv *v, *w, *x;
        switch (op) {
            case 0x80: /* PROTO */
                NEED(1);
                if (p[i] < 2 || p[i] > 5) return op_error(u, at, "unsupported pickle protocol");
                i++;
                break;
            case 0x95: /* FRAME */
                NEED(8);
                i += 8;
                break;
            case '.': /* STOP */
                POP(v);
                *root = v;
                return 0;
            case '(':
                PUSH(new_pv(u, PV_MARK));
                break;
            case 'N':
                PUSH(new_pv(u, PV_NONE));
                break;
            case 0x88:
            case 0x89:
                v = new_pv(u, PV_BOOL);
                if (v) v->i = op == 0x88;
                PUSH(v);
                break;
            case 'K':
                NEED(1);
                v = new_pv(u, PV_INT);
                if (v) v->i = p[i];
                i += 1;
                PUSH(v);
                break;
            case 'M':
                NEED(2);
                v = new_pv(u, PV_INT);
                if (v) v->i = p[i] | (p[i + 1] << 8);
                i += 2;
                PUSH(v);
                break;
            case 'J':
                NEED(4);
                v = new_pv(u, PV_INT);
                if (v)
                    v->i = (int32_t)((uint32_t)p[i] | ((uint32_t)p[i + 1] << 8) | ((uint32_t)p[i + 2] << 16) |
                                     ((uint32_t)p[i + 3] << 24));
                i += 4;
                PUSH(v);
                break;
            case 0x8a: { /* LONG1 */
                NEED(1);
                size_t n = p[i++];
                NEED(n);
                if (n > 8) return op_error(u, at, "integer wider than 64 bits");
                unsigned long long val = 0;
                for (size_t k = 0; k < n; k++) val |= (unsigned long long)p[i + k] << (8 * k);
                if (n && n < 8 && (p[i + n - 1] & 0x80)) val |= ~0ULL << (8 * n); /* sign-extend */
                i += n;
                v = new_pv(u, PV_INT);
                if (v) v->i = (long long)val;
                PUSH(v);
                break;
            }
            case 'G': { /* BINFLOAT, big-endian */
                NEED(8);
                unsigned long long bits = 0;
                for (int k = 0; k < 8; k++) bits = (bits << 8) | p[i + k];
                i += 8;
                v = new_pv(u, PV_FLOAT);
                if (v) memcpy(&v->f, &bits, 8);
                PUSH(v);
                break;
            }
            case 'X':
            case 0x8c: { /* BINUNICODE, SHORT_BINUNICODE */
                size_t n;
                if (op == 'X') {
                    NEED(4);
                    n = (size_t)p[i] | ((size_t)p[i + 1] << 8) | ((size_t)p[i + 2] << 16) |
                        ((size_t)p[i + 3] << 24);
                    i += 4;
                } else {
                    NEED(1);
                    n = p[i++];
                }
                NEED(n);
                v = new_pv(u, PV_STR);
                if (!v || !(v->s = strndup((const char *)p + i, n)))
                    return sl_err_set(u->err, SL_ENOMEM, "out of memory");
                if (strlen(v->s) != n) return op_error(u, at, "a string with a NUL byte");
                sl_nn_u32buf tmp = {0};
                long bad = sl_nn_utf8_decode(v->s, n, &tmp);
                sl_nn_u32_free(&tmp);
                if (bad)
                    return bad < 0 ? sl_err_set(u->err, SL_ENOMEM, "out of memory")
                                   : op_error(u, at, "a string that is not UTF-8");
                v->n = n;
                i += n;
                PUSH(v);
                break;
            }
            case 'c': { /* GLOBAL module\nname\n */
                const unsigned char *nl1 = memchr(p + i, '\n', len - i);
                if (!nl1) return op_error(u, at, "truncated GLOBAL");
                const unsigned char *nl2 = memchr(nl1 + 1, '\n', len - (size_t)(nl1 + 1 - p));
                if (!nl2) return op_error(u, at, "truncated GLOBAL");
                int rc = make_global(u, (const char *)p + i, (size_t)(nl1 - (p + i)), (const char *)nl1 + 1,
                                     (size_t)(nl2 - nl1 - 1));
                if (rc) return rc;
                i = (size_t)(nl2 + 1 - p);
                break;
            }
            case 0x93: /* STACK_GLOBAL */
                POP(w);
                POP(v);
                if (v->k != PV_STR || w->k != PV_STR)
                    return op_error(u, at, "STACK_GLOBAL needs two strings");
                {
                    int rc = make_global(u, v->s, v->n, w->s, w->n);
                    if (rc) return rc;
                }
                break;
            case ')':
                PUSH(new_pv(u, PV_TUPLE));
                break;
            case ']':
                PUSH(new_pv(u, PV_LIST));
                break;
            case '}':
                PUSH(new_pv(u, PV_DICT));
                break;
            case 0x85:
            case 0x86:
            case 0x87: { /* TUPLE1..3 */
                size_t n = (size_t)(op - 0x84);
                if (u->sp < n) return op_error(u, at, "stack underflow");
                v = new_pv(u, PV_TUPLE);
                if (!v) return sl_err_set(u->err, SL_ENOMEM, "out of memory");
                for (size_t k = u->sp - n; k < u->sp; k++)
                    if (u->stack[k]->k == PV_MARK || add_item(v, u->stack[k]))
                        return op_error(u, at, "bad tuple");
                u->sp -= n;
                PUSH(v);
                break;
            }
            case 't':
            case 'l':
            case 'd': { /* TUPLE, LIST, DICT from the mark */
                long m = find_mark(u);
                if (m < 0) return op_error(u, at, "no MARK");
                v = new_pv(u, op == 't' ? PV_TUPLE : op == 'l' ? PV_LIST : PV_DICT);
                if (!v) return sl_err_set(u->err, SL_ENOMEM, "out of memory");
                if (op == 'd' && (u->sp - (size_t)m - 1) % 2)
                    return op_error(u, at, "odd number of dict items");
                for (size_t k = (size_t)m + 1; k < u->sp; k++)
                    if (add_item(v, u->stack[k])) return sl_err_set(u->err, SL_ENOMEM, "out of memory");
                u->sp = (size_t)m;
                PUSH(v);
                break;
            }
            case 'a': /* APPEND */
                POP(w);
                if (!u->sp || u->stack[u->sp - 1]->k != PV_LIST)
                    return op_error(u, at, "APPEND to a non-list");
                if (add_item(u->stack[u->sp - 1], w)) return sl_err_set(u->err, SL_ENOMEM, "out of memory");
                break;
            case 'e':
            case 'u': { /* APPENDS, SETITEMS */
                long m = find_mark(u);
                if (m < 1) return op_error(u, at, "no MARK");
                x = u->stack[m - 1];
                if (x->k != (op == 'e' ? PV_LIST : PV_DICT))
                    return op_error(u, at, "APPENDS/SETITEMS on the wrong type");
                if (op == 'u' && (u->sp - (size_t)m - 1) % 2)
                    return op_error(u, at, "odd number of dict items");
                for (size_t k = (size_t)m + 1; k < u->sp; k++)
                    if (add_item(x, u->stack[k])) return sl_err_set(u->err, SL_ENOMEM, "out of memory");
                u->sp = (size_t)m;
                break;
            }
            case 's': /* SETITEM */
                POP(w);
                POP(v);
                if (!u->sp || u->stack[u->sp - 1]->k != PV_DICT)
                    return op_error(u, at, "SETITEM on a non-dict");
                if (add_item(u->stack[u->sp - 1], v) || add_item(u->stack[u->sp - 1], w))
                    return sl_err_set(u->err, SL_ENOMEM, "out of memory");
                break;
            case 'q':
            case 'r':
            case 0x94: { /* BINPUT, LONG_BINPUT, MEMOIZE */
                size_t idx;
                if (op == 'q') {
                    NEED(1);
                    idx = p[i++];
                } else if (op == 'r') {
                    NEED(4);
                    idx = (size_t)p[i] | ((size_t)p[i + 1] << 8) | ((size_t)p[i + 2] << 16) |
                          ((size_t)p[i + 3] << 24);
                    i += 4;
                } else {
                    idx = u->n_memo;
                }
                if (!u->sp) return op_error(u, at, "memo of an empty stack");
                if (idx > MAX_OBJECTS) return op_error(u, at, "memo index out of range");
                if (idx >= u->n_memo) {
                    pv **m = realloc(u->memo, (idx + 1) * sizeof *m);
                    if (!m) return sl_err_set(u->err, SL_ENOMEM, "out of memory");
                    for (size_t k = u->n_memo; k <= idx; k++) m[k] = NULL;
                    u->memo = m;
                    u->n_memo = idx + 1;
                }
                u->memo[idx] = u->stack[u->sp - 1];
                break;
            }
            case 'h':
            case 'j': { /* BINGET, LONG_BINGET */
                size_t idx;
                if (op == 'h') {
                    NEED(1);
                    idx = p[i++];
                } else {
                    NEED(4);
                    idx = (size_t)p[i] | ((size_t)p[i + 1] << 8) | ((size_t)p[i + 2] << 16) |
                          ((size_t)p[i + 3] << 24);
                    i += 4;
                }
                if (idx >= u->n_memo || !u->memo[idx]) return op_error(u, at, "memo index not set");
                PUSH(u->memo[idx]);
                break;
            }
            case '0':
                POP(v);
                break;
            case 'Q': { /* BINPERSID: ('storage', storage_type, key, location, numel) */
                POP(v);
                if (v->k != PV_TUPLE || v->n != 5 || v->items[0]->k != PV_STR ||
                    strcmp(v->items[0]->s, "storage") || v->items[1]->k != PV_GLOBAL ||
                    v->items[1]->i != G_STORAGE || v->items[2]->k != PV_STR || v->items[4]->k != PV_INT ||
                    v->items[4]->i < 0)
                    return op_error(
                        u, at, "a persistent id that is not ('storage', <storage class>, key, location, n)");
                w = new_pv(u, PV_PID_STORAGE);
                if (!w || !(w->s = strdup(v->items[2]->s)))
                    return sl_err_set(u->err, SL_ENOMEM, "out of memory");
                w->dtype = v->items[1]->dtype;
                w->i = v->items[4]->i;
                PUSH(w);
                break;
            }
            case 'R': /* REDUCE */
                POP(w);
                POP(v);
                if (v->k != PV_GLOBAL || w->k != PV_TUPLE) return op_error(u, at, "REDUCE of a non-callable");
                if (v->i == G_ORDERED_DICT) {
                    if (w->n) return op_error(u, at, "OrderedDict called with arguments");
                    x = new_pv(u, PV_DICT);
                } else if (v->i == G_REBUILD_TENSOR_V2) {
                    x = rebuild_tensor(u, w);
                    if (!x) return op_error(u, at, "_rebuild_tensor_v2 with arguments it does not take");
                } else if (v->i == G_REBUILD_PARAMETER) {
                    if (w->n < 1 || w->items[0]->k != PV_TENSOR)
                        return op_error(u, at, "_rebuild_parameter of a non-tensor");
                    x = w->items[0];
                } else {
                    return op_error(u, at, "a storage class called directly");
                }
                PUSH(x);
                break;
            case 'b': /* BUILD: only the _metadata state of a state dict, which is ignored */
                POP(w);
                if (!u->sp || u->stack[u->sp - 1]->k != PV_DICT)
                    return op_error(u, at, "BUILD on something not a dict");
                break;
            default: {
                char what[64];
                snprintf(what, sizeof what, "pickle opcode 0x%02x is not allowed", op);
                return op_error(u, at, what);
            }
        }
    }
#undef NEED
#undef POP
#undef PUSH
    return op_error(u, len, "no STOP opcode");
}

/* ---- the state dict ---------------------------------------------------------------------------- */

struct sl_nn_pt_file {
    sl_nn_st_tensor *t; /* state-dict order */
    size_t n;
    size_t *by_name; /* indices sorted by name */
};

void sl_nn_pt_close(sl_nn_pt_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        free((char *)f->t[i].name);
        free((void *)f->t[i].data);
    }
    free(f->t);
    free(f->by_name);
    free(f);
}

static int cmp_by_name(const void *a, const void *b, void *ctx) {
    const sl_nn_pt_file *f = ctx;
    return strcmp(f->t[*(const size_t *)a].name, f->t[*(const size_t *)b].name);
}

/* Copy the strided view `t` of `blob` into a new contiguous buffer. */
static int copy_view(const pv *t, const zentry *blob, size_t esz, unsigned char **out, size_t *numel_out,
                     const char *path, const char *name, sl_err *err) {
    size_t numel = 1;
    unsigned long long max_index = (unsigned long long)t->offset;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] && numel > SIZE_MAX / (size_t)t->shape[d])
            return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": element count overflows", path, name);
        numel *= (size_t)t->shape[d];
    }
    if (numel) {
        for (int d = 0; d < t->ndim; d++)
            max_index += (unsigned long long)(t->shape[d] - 1) * (unsigned long long)t->stride[d];
        if ((unsigned long long)t->storage->i <= max_index || blob->len / esz <= max_index)
            return sl_err_set(
                err, SL_EDATA,
                "%s: tensor \"%s\": its view reaches element %llu of storage %s, which has %lld (%zu "
                "bytes in the zip)",
                path, name, max_index, t->storage->s, t->storage->i, blob->len);
    }
    unsigned char *dst = malloc(numel ? numel * esz : 1);
    if (!dst) return sl_err_set(err, SL_ENOMEM, "out of memory");
    long long idx[SL_NN_ST_MAX_DIMS] = {0};
    for (size_t k = 0; k < numel; k++) {
        unsigned long long src = (unsigned long long)t->offset;
        for (int d = 0; d < t->ndim; d++)
            src += (unsigned long long)idx[d] * (unsigned long long)t->stride[d];
        memcpy(dst + k * esz, blob->data + src * esz, esz);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    *out = dst;
    *numel_out = numel;
    return 0;
}

int sl_nn_pt_open(const char *path, sl_nn_pt_file **out, sl_err *err) {
    *out = NULL;
    if (!sl_fs_exists(path)) return sl_err_set(err, SL_ENOTFOUND, "%s: no such file", path);
    zip_entries z = {0};
    int rc = read_zip(path, &z, err);
    if (rc) {
        zip_free(&z);
        return rc;
    }
    /* data.pkl and the common prefix ("archive/", "pytorch_model/", ...) */
    const zentry *pkl = NULL;
    size_t prefix = 0;
    for (size_t i = 0; i < z.n; i++) {
        size_t l = strlen(z.e[i].name);
        if (l >= 8 && !strcmp(z.e[i].name + l - 8, "data.pkl") && (l == 8 || z.e[i].name[l - 9] == '/')) {
            pkl = &z.e[i];
            prefix = l - 8;
            break;
        }
    }
    if (!pkl) {
        zip_free(&z);
        return sl_err_set(err, SL_EDATA, "%s: no data.pkl in the zip (not a torch.save file)", path);
    }
    for (size_t i = 0; i < z.n; i++) {
        if (strncmp(z.e[i].name, pkl->name, prefix) || strcmp(z.e[i].name + prefix, "byteorder")) continue;
        if (z.e[i].len < 6 || memcmp(z.e[i].data, "little", 6)) {
            zip_free(&z);
            return sl_err_set(err, SL_EDATA,
                              "%s: the checkpoint is big-endian; only little-endian is supported", path);
        }
    }
    unpickler u = {.path = path, .err = err};
    pv *root = NULL;
    rc = unpickle(&u, pkl->data, pkl->len, &root);
    sl_nn_pt_file *f = NULL;
    if (!rc && root->k != PV_DICT)
        rc = sl_err_set(err, SL_EDATA, "%s: the pickle holds no dict of tensors (not a state dict)", path);
    if (!rc) {
        f = calloc(1, sizeof *f);
        size_t n = root->n / 2;
        if (!f || !(f->t = calloc(n ? n : 1, sizeof *f->t)) ||
            !(f->by_name = calloc(n ? n : 1, sizeof(size_t))))
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t k = 0; k < n && !rc; k++) {
            const pv *key = root->items[2 * k], *t = root->items[2 * k + 1];
            if (key->k != PV_STR) {
                rc = sl_err_set(err, SL_EDATA, "%s: state dict entry %zu has a non-string key", path, k);
                break;
            }
            if (t->k != PV_TENSOR) {
                rc = sl_err_set(err, SL_EDATA, "%s: state dict entry \"%s\" is not a tensor", path, key->s);
                break;
            }
            /* the storage blob: <prefix>data/<key> */
            const zentry *blob = NULL;
            for (size_t e = 0; e < z.n && !blob; e++) {
                const char *nm = z.e[e].name;
                if (!strncmp(nm, pkl->name, prefix) && !strncmp(nm + prefix, "data/", 5) &&
                    !strcmp(nm + prefix + 5, t->storage->s))
                    blob = &z.e[e];
            }
            if (!blob) {
                rc = sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": storage data/%s is missing from the zip",
                                path, key->s, t->storage->s);
                break;
            }
            sl_nn_st_tensor *o = &f->t[f->n];
            size_t esz = sl_nn_st_dtype_size((sl_nn_st_dtype)t->storage->dtype), numel = 0;
            unsigned char *data = NULL;
            if ((rc = copy_view(t, blob, esz, &data, &numel, path, key->s, err))) break;
            o->data = data;
            if (!(o->name = strdup(key->s))) {
                free(data);
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                break;
            }
            o->dtype = (sl_nn_st_dtype)t->storage->dtype;
            o->ndim = t->ndim;
            for (int d = 0; d < t->ndim; d++) o->shape[d] = t->shape[d];
            o->numel = numel;
            o->nbytes = numel * esz;
            f->by_name[f->n] = f->n;
            f->n++;
        }
    }
    free_unpickler(&u);
    zip_free(&z);
    if (rc) {
        sl_nn_pt_close(f);
        return rc;
    }
    /* duplicate names would make find ambiguous */
    qsort_r(f->by_name, f->n, sizeof(size_t), cmp_by_name, f);
    for (size_t k = 1; k < f->n; k++) {
        if (!strcmp(f->t[f->by_name[k - 1]].name, f->t[f->by_name[k]].name)) {
            rc = sl_err_set(err, SL_EDATA, "%s: tensor \"%s\" appears twice", path, f->t[f->by_name[k]].name);
            sl_nn_pt_close(f);
            return rc;
        }
    }
    *out = f;
    return 0;
}

size_t sl_nn_pt_count(const sl_nn_pt_file *f) {
    return f->n;
}

const sl_nn_st_tensor *sl_nn_pt_tensor_at(const sl_nn_pt_file *f, size_t i) {
    return i < f->n ? &f->t[i] : NULL;
}

const sl_nn_st_tensor *sl_nn_pt_find(const sl_nn_pt_file *f, const char *name) {
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, f->t[f->by_name[mid]].name);
        if (!c) return &f->t[f->by_name[mid]];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int sl_nn_pt_to_safetensors(const char *bin_path, const char *st_path, sl_err *err) {
    sl_nn_pt_file *f;
    int rc = sl_nn_pt_open(bin_path, &f, err);
    if (rc) return rc;
    sl_nn_st_wtensor *w = calloc(f->n ? f->n : 1, sizeof *w);
    if (!w) {
        sl_nn_pt_close(f);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < f->n; i++)
        w[i] = (sl_nn_st_wtensor){f->t[i].name, f->t[i].dtype, f->t[i].ndim, f->t[i].shape, f->t[i].data};
    const char *meta[] = {"format", "pt", NULL};
    rc = sl_nn_st_write(st_path, w, f->n, meta, err);
    free(w);
    sl_nn_pt_close(f);
    return rc;
}

/* A shard: a safetensors file (mapped) or a .bin (read). */
typedef struct {
    char *name;
    sl_nn_st_file *st;
    sl_nn_pt_file *pt;
} shard;

static const sl_nn_st_tensor *shard_find(const shard *s, const char *name) {
    return s->st ? sl_nn_st_find(s->st, name) : sl_nn_pt_find(s->pt, name);
}

/* Sharded checkpoint: the index's weight_map names, for every tensor, the shard file holding it. The
 * tensors are gathered into one safetensors image in memory. */
static int open_sharded(const char *model_dir, const char *index_path, sl_nn_st_file **out, sl_err *err) {
    json_error_t je;
    json_t *root = json_load_file(index_path, 0, &je);
    if (!root) return sl_err_set(err, SL_EDATA, "%s:%d:%d: %s", index_path, je.line, je.column, je.text);
    json_t *map = json_object_get(root, "weight_map");
    int rc = 0;
    shard *shards = NULL;
    size_t ns = 0, nt = json_object_size(map);
    sl_nn_st_wtensor *w = NULL;
    if (!json_is_object(map)) {
        rc = sl_err_set(err, SL_EDATA, "%s: no \"weight_map\" object", index_path);
        goto out;
    }
    shards = calloc(nt ? nt : 1, sizeof *shards);
    w = calloc(nt ? nt : 1, sizeof *w);
    if (!shards || !w) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    const char *key;
    json_t *val;
    size_t k = 0;
    json_object_foreach(map, key, val) {
        const char *file = json_string_value(val);
        if (!file || !*file || strchr(file, '/') || !strcmp(file, "..") || !strcmp(file, ".")) {
            rc =
                sl_err_set(err, SL_EDATA, "%s: weight_map[\"%s\"] must be a file name in the model directory",
                           index_path, key);
            goto out;
        }
        size_t si = 0;
        while (si < ns && strcmp(shards[si].name, file)) si++;
        if (si == ns) {
            char *path = sl_fs_join(model_dir, file);
            size_t l = strlen(file);
            if (!path || !(shards[ns].name = strdup(file))) {
                free(path);
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto out;
            }
            ns++;
            if (l > 12 && !strcmp(file + l - 12, ".safetensors"))
                rc = sl_nn_st_open(path, &shards[si].st, err);
            else
                rc = sl_nn_pt_open(path, &shards[si].pt, err);
            free(path);
            if (rc) goto out;
        }
        const sl_nn_st_tensor *t = shard_find(&shards[si], key);
        if (!t) {
            rc = sl_err_set(err, SL_EDATA, "%s: tensor \"%s\" is not in %s, where the index puts it",
                            index_path, key, file);
            goto out;
        }
        w[k++] = (sl_nn_st_wtensor){t->name, t->dtype, t->ndim, t->shape, t->data};
    }
    void *buf = NULL;
    size_t len = 0;
    const char *meta[] = {"format", "pt", NULL};
    if (!(rc = sl_nn_st_serialize(w, k, meta, &buf, &len, err)))
        rc = sl_nn_st_open_memory(index_path, buf, len, out, err);
out:
    for (size_t i = 0; i < ns; i++) {
        free(shards[i].name);
        sl_nn_st_close(shards[i].st);
        sl_nn_pt_close(shards[i].pt);
    }
    free(shards);
    free(w);
    json_decref(root);
    return rc;
}

int sl_nn_model_weights_open(const char *model_dir, sl_nn_st_file **out, sl_err *err) {
    *out = NULL;
    char *st = sl_fs_join(model_dir, "model.safetensors"), *bin = sl_fs_join(model_dir, "pytorch_model.bin");
    char *sidx = sl_fs_join(model_dir, "model.safetensors.index.json"),
         *bidx = sl_fs_join(model_dir, "pytorch_model.bin.index.json");
    int rc;
    if (!st || !bin || !sidx || !bidx) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    } else if (sl_fs_is_file(st)) {
        rc = sl_nn_st_open(st, out, err);
    } else if (sl_fs_is_file(bin)) {
        sl_nn_pt_file *f = NULL;
        rc = sl_nn_pt_open(bin, &f, err);
        sl_nn_st_wtensor *w = NULL;
        void *buf = NULL;
        size_t len = 0;
        if (!rc && !(w = calloc(f->n ? f->n : 1, sizeof *w)))
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        if (!rc) {
            for (size_t i = 0; i < f->n; i++)
                w[i] = (sl_nn_st_wtensor){f->t[i].name, f->t[i].dtype, f->t[i].ndim, f->t[i].shape,
                                          f->t[i].data};
            const char *meta[] = {"format", "pt", NULL};
            rc = sl_nn_st_serialize(w, f->n, meta, &buf, &len, err);
        }
        free(w);
        sl_nn_pt_close(f);
        if (!rc) rc = sl_nn_st_open_memory(bin, buf, len, out, err);
    } else if (sl_fs_is_file(sidx)) {
        rc = open_sharded(model_dir, sidx, out, err);
    } else if (sl_fs_is_file(bidx)) {
        rc = open_sharded(model_dir, bidx, out, err);
    } else {
        rc = sl_err_set(
            err, SL_ENOTFOUND,
            "%s: no model weights (expected model.safetensors, pytorch_model.bin or a sharded *.index.json)",
            model_dir);
    }
    free(st);
    free(bin);
    free(sidx);
    free(bidx);
    return rc;
}
