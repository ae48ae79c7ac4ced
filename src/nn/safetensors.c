/* safetensors reading (strict validation, mmap) and writing (byte-identical to save_file 0.4.x). */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

struct sl_nn_st_file {
    char *path;
    void *map;
    size_t map_len;
    sl_nn_st_tensor *tensors; /* sorted by name */
    size_t n_tensors;
    char **meta_keys; /* sorted; meta_vals parallel */
    char **meta_vals;
    size_t n_meta;
    int has_meta;
    int owned; /* map is a malloc'd buffer (sl_nn_st_open_memory), not a mapping */
};

static const struct {
    const char *name;
    size_t size;
} dtype_info[SL_NN_ST_DTYPE_COUNT] = {
    [SL_NN_ST_BOOL] = {"BOOL", 1},       [SL_NN_ST_U8] = {"U8", 1},           [SL_NN_ST_I8] = {"I8", 1},
    [SL_NN_ST_F8_E5M2] = {"F8_E5M2", 1}, [SL_NN_ST_F8_E4M3] = {"F8_E4M3", 1}, [SL_NN_ST_I16] = {"I16", 2},
    [SL_NN_ST_U16] = {"U16", 2},         [SL_NN_ST_F16] = {"F16", 2},         [SL_NN_ST_BF16] = {"BF16", 2},
    [SL_NN_ST_I32] = {"I32", 4},         [SL_NN_ST_U32] = {"U32", 4},         [SL_NN_ST_F32] = {"F32", 4},
    [SL_NN_ST_F64] = {"F64", 8},         [SL_NN_ST_I64] = {"I64", 8},         [SL_NN_ST_U64] = {"U64", 8},
};

const char *sl_nn_st_dtype_name(sl_nn_st_dtype dtype) {
    if ((int)dtype < 0 || dtype >= SL_NN_ST_DTYPE_COUNT) return NULL;
    return dtype_info[dtype].name;
}

int sl_nn_st_dtype_from_name(const char *name, sl_nn_st_dtype *out) {
    for (int i = 0; i < SL_NN_ST_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_info[i].name) == 0) {
            *out = (sl_nn_st_dtype)i;
            return 0;
        }
    }
    return SL_ENOTFOUND;
}

size_t sl_nn_st_dtype_size(sl_nn_st_dtype dtype) {
    if ((int)dtype < 0 || dtype >= SL_NN_ST_DTYPE_COUNT) return 0;
    return dtype_info[dtype].size;
}

/* ---- half precision ------------------------------------------------------------------------------- */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float sl_nn_bf16_to_f32(uint16_t h) {
    return bits_f32((uint32_t)h << 16);
}

uint16_t sl_nn_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float sl_nn_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        if (mant == 0) return bits_f32(sign);
        /* subnormal: mant * 2^-24 */
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t sl_nn_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0));
    int e = (int)exp - 112; /* rebias 127 -> 15 */
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        unsigned shift = 126u - exp; /* value in units of 2^-24 is m >> shift */
        if (shift > 24) return sign;
        uint32_t m = mant | 0x800000u;
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

/* ---- reading -------------------------------------------------------------------------------------- */

static int host_is_little_endian(void) {
    uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const sl_nn_st_tensor *)a)->name, ((const sl_nn_st_tensor *)b)->name);
}

typedef struct {
    size_t begin, end;
    const char *name;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void sl_nn_st_close(sl_nn_st_file *f) {
    if (!f) return;
    if (f->owned)
        free(f->map);
    else if (f->map && f->map_len)
        munmap(f->map, f->map_len);
    for (size_t i = 0; i < f->n_tensors; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->path);
    free(f);
}

/* A non-negative JSON integer that fits size_t; 0 or -1. */
static int get_size(const json_t *v, size_t *out) {
    if (!json_is_integer(v)) return -1;
    json_int_t i = json_integer_value(v);
    if (i < 0) return -1;
    if ((unsigned long long)i > (unsigned long long)SIZE_MAX) return -1;
    *out = (size_t)i;
    return 0;
}

static int parse_metadata(sl_nn_st_file *f, const json_t *meta, sl_err *err) {
    if (json_is_null(meta)) return 0;
    f->has_meta = 1;
    if (!json_is_object(meta))
        return sl_err_set(err, SL_EDATA, "%s: safetensors header: __metadata__ must be an object of strings",
                          f->path);
    size_t n = json_object_size(meta);
    f->meta_keys = calloc(n ? n : 1, sizeof(char *));
    f->meta_vals = calloc(n ? n : 1, sizeof(char *));
    if (!f->meta_keys || !f->meta_vals) return sl_err_set(err, SL_ENOMEM, "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)meta, key, val) {
        if (!json_is_string(val))
            return sl_err_set(err, SL_EDATA,
                              "%s: safetensors header: __metadata__ value of \"%s\" must be a string",
                              f->path, key);
        f->meta_keys[f->n_meta] = strdup(key);
        f->meta_vals[f->n_meta] = strdup(json_string_value(val));
        f->n_meta++;
        if (!f->meta_keys[f->n_meta - 1] || !f->meta_vals[f->n_meta - 1])
            return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    /* sort keys, keeping values paired: sort an index through a temporary array of pairs */
    for (size_t i = 1; i < f->n_meta; i++) {
        for (size_t j = i; j > 0 && strcmp(f->meta_keys[j - 1], f->meta_keys[j]) > 0; j--) {
            char *k = f->meta_keys[j], *v = f->meta_vals[j];
            f->meta_keys[j] = f->meta_keys[j - 1];
            f->meta_vals[j] = f->meta_vals[j - 1];
            f->meta_keys[j - 1] = k;
            f->meta_vals[j - 1] = v;
        }
    }
    return 0;
}

static int parse_tensor(sl_nn_st_file *f, const char *name, const json_t *info, sl_nn_st_tensor *t, span *sp,
                        sl_err *err) {
    const char *p = f->path;
    if (!json_is_object(info))
        return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": expected an object {dtype, shape, data_offsets}",
                          p, name);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)info, key, val) {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
            return sl_err_set(err, SL_EDATA,
                              "%s: tensor \"%s\": unknown field \"%s\" (expected dtype, shape, data_offsets)",
                              p, name, key);
    }
    const json_t *jd = json_object_get(info, "dtype"), *js = json_object_get(info, "shape"),
                 *jo = json_object_get(info, "data_offsets");
    if (!json_is_string(jd))
        return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": missing string field dtype", p, name);
    if (sl_nn_st_dtype_from_name(json_string_value(jd), &t->dtype) != 0)
        return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": unknown dtype \"%s\"", p, name,
                          json_string_value(jd));
    if (!json_is_array(js))
        return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": missing field shape (an array of integers)", p,
                          name);
    if (json_array_size(js) > SL_NN_ST_MAX_DIMS)
        return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": %zu dimensions, at most %d supported", p, name,
                          json_array_size(js), SL_NN_ST_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    size_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        size_t dim;
        if (get_size(json_array_get(js, (size_t)d), &dim) != 0 || dim > (size_t)INT64_MAX)
            return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": shape[%d] is not a non-negative integer", p,
                              name, d);
        t->shape[d] = (int64_t)dim;
        if (dim && numel > SIZE_MAX / dim)
            return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": element count overflows", p, name);
        numel *= dim;
    }
    size_t esz = dtype_info[t->dtype].size;
    if (numel > SIZE_MAX / esz)
        return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": byte size overflows", p, name);
    t->numel = numel;
    t->nbytes = numel * esz;
    size_t b, e;
    if (!json_is_array(jo) || json_array_size(jo) != 2 || get_size(json_array_get(jo, 0), &b) != 0 ||
        get_size(json_array_get(jo, 1), &e) != 0)
        return sl_err_set(err, SL_EDATA,
                          "%s: tensor \"%s\": data_offsets must be [begin, end] (non-negative integers)", p,
                          name);
    if (e < b)
        return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": data_offsets [%zu, %zu] end before begin", p,
                          name, b, e);
    if (e - b != t->nbytes)
        return sl_err_set(
            err, SL_EDATA,
            "%s: tensor \"%s\": data_offsets [%zu, %zu] span %zu bytes, expected %zu (%zu elements of %s)", p,
            name, b, e, e - b, t->nbytes, numel, dtype_info[t->dtype].name);
    sp->begin = b;
    sp->end = e;
    sp->name = name;
    return 0;
}

/* Validate the bytes f->map[0..f->map_len) (a mapping or an owned buffer) and index the tensors. On
 * failure f is closed. */
static int st_parse(sl_nn_st_file *f, sl_nn_st_file **out, sl_err *err) {
    const char *path = f->path;
    size_t size = f->map_len;
    int rc = 0;
    json_t *root = NULL;
    span *spans = NULL;
    size_t *begins = NULL;
    if (size < 8) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s: %zu bytes, too small for a safetensors file (8-byte header length)", path, size);
        goto fail;
    }
    const unsigned char *bytes = f->map;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i];
    if (n > SL_NN_ST_MAX_HEADER) {
        rc = sl_err_set(err, SL_EDATA, "%s: safetensors header length %llu exceeds the limit of %llu bytes",
                        path, (unsigned long long)n, (unsigned long long)SL_NN_ST_MAX_HEADER);
        goto fail;
    }
    if (n > size - 8) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s: safetensors header length %llu runs past the end of the file (%zu bytes)", path,
                        (unsigned long long)n, size);
        goto fail;
    }
    if (n == 0 || bytes[8] != '{') {
        rc =
            sl_err_set(err, SL_EDATA, "%s: safetensors header must be a JSON object starting with '{'", path);
        goto fail;
    }
    json_error_t jerr;
    root = json_loadb((const char *)bytes + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = sl_err_set(err, SL_EDATA, "%s: safetensors header is not valid JSON (byte %d): %s", path,
                        jerr.position, jerr.text);
        goto fail;
    }
    if (!json_is_object(root)) {
        rc = sl_err_set(err, SL_EDATA, "%s: safetensors header must be a JSON object", path);
        goto fail;
    }
    size_t n_entries = json_object_size(root);
    f->tensors = calloc(n_entries ? n_entries : 1, sizeof *f->tensors);
    spans = calloc(n_entries ? n_entries : 1, sizeof *spans);
    begins = calloc(n_entries ? n_entries : 1, sizeof *begins);
    if (!f->tensors || !spans || !begins) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if ((rc = parse_metadata(f, val, err)) != 0) goto fail;
            continue;
        }
        sl_nn_st_tensor *t = &f->tensors[f->n_tensors];
        if ((rc = parse_tensor(f, key, val, t, &spans[f->n_tensors], err)) != 0) goto fail;
        if (!(t->name = strdup(key))) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto fail;
        }
        f->n_tensors++;
    }
    /* the offsets must tile [0, size - 8 - n) exactly */
    for (size_t i = 0; i < f->n_tensors; i++) begins[i] = spans[i].begin;
    qsort(spans, f->n_tensors, sizeof *spans, cmp_span);
    size_t data_len = size - 8 - (size_t)n, expect = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        if (spans[i].begin != expect) {
            rc = sl_err_set(err, SL_EDATA, "%s: tensor \"%s\": data_offsets begin at %zu, expected %zu (%s)",
                            path, spans[i].name, spans[i].begin, expect,
                            spans[i].begin > expect ? "a gap before it" : "it overlaps the previous tensor");
            goto fail;
        }
        expect = spans[i].end;
    }
    if (expect != data_len) {
        rc =
            sl_err_set(err, SL_EDATA,
                       "%s: the tensors cover %zu bytes of data but the file holds %zu after the header (%s)",
                       path, expect, data_len, expect > data_len ? "truncated file" : "trailing bytes");
        goto fail;
    }
    const unsigned char *data = bytes + 8 + n;
    for (size_t i = 0; i < f->n_tensors; i++) f->tensors[i].data = data + begins[i];
    qsort(f->tensors, f->n_tensors, sizeof *f->tensors, cmp_tensor_name);
    free(spans);
    free(begins);
    json_decref(root);
    *out = f;
    return 0;
fail:
    free(spans);
    free(begins);
    json_decref(root);
    sl_nn_st_close(f);
    return rc;
}

int sl_nn_st_open(const char *path, sl_nn_st_file **out, sl_err *err) {
    *out = NULL;
    if (!host_is_little_endian())
        return sl_err_set(err, SL_EINTERNAL, "%s: safetensors reading needs a little-endian host", path);
    sl_nn_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = sl_err_errno(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, errno, "cannot open %s", path);
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = sl_err_errno(err, SL_EIO, errno, "cannot stat %s", path);
        close(fd);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = sl_err_set(err, SL_EDATA, "%s: not a regular file", path);
        close(fd);
        goto fail;
    }
    size_t size = (size_t)st.st_size;
    if (size < 8) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s: %zu bytes, too small for a safetensors file (8-byte header length)", path, size);
        close(fd);
        goto fail;
    }
    f->map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        rc = sl_err_errno(err, SL_EIO, errno, "cannot map %s", path);
        goto fail;
    }
    f->map_len = size;
    return st_parse(f, out, err);
fail:
    sl_nn_st_close(f);
    return rc;
}

const char *sl_nn_st_path(const sl_nn_st_file *f) {
    return f->path;
}

size_t sl_nn_st_count(const sl_nn_st_file *f) {
    return f->n_tensors;
}

const sl_nn_st_tensor *sl_nn_st_tensor_at(const sl_nn_st_file *f, size_t i) {
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}

const sl_nn_st_tensor *sl_nn_st_find(const sl_nn_st_file *f, const char *name) {
    sl_nn_st_tensor key = {.name = name};
    if (!f->n_tensors) return NULL; /* bsearch's base must not be NULL, even for 0 elements */
    return bsearch(&key, f->tensors, f->n_tensors, sizeof key, cmp_tensor_name);
}

const char *sl_nn_st_metadata(const sl_nn_st_file *f, const char *key) {
    if (!f->n_meta) return NULL; /* a file without __metadata__: meta_keys is NULL */
    char **k = bsearch(&key, f->meta_keys, f->n_meta, sizeof(char *), cmp_str_ptr);
    return k ? f->meta_vals[k - f->meta_keys] : NULL;
}

size_t sl_nn_st_metadata_count(const sl_nn_st_file *f) {
    return f->n_meta;
}

int sl_nn_st_has_metadata(const sl_nn_st_file *f) {
    return f->has_meta;
}

int sl_nn_st_metadata_at(const sl_nn_st_file *f, size_t i, const char **key, const char **value) {
    if (i >= f->n_meta) return SL_ENOTFOUND;
    *key = f->meta_keys[i];
    *value = f->meta_vals[i];
    return 0;
}

int sl_nn_st_tensor_to_f32(const sl_nn_st_file *f, const sl_nn_st_tensor *t, float *dst, size_t n,
                           sl_err *err) {
    if (n != t->numel)
        return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\" has %zu elements, expected %zu", f->path, t->name,
                          t->numel, n);
    const unsigned char *src = t->data;
    switch (t->dtype) {
        case SL_NN_ST_F32:
            if (n) memcpy(dst, src, n * 4);
            return 0;
        case SL_NN_ST_F16:
        case SL_NN_ST_BF16:
            for (size_t i = 0; i < n; i++) {
                uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
                dst[i] = t->dtype == SL_NN_ST_F16 ? sl_nn_f16_to_f32(h) : sl_nn_bf16_to_f32(h);
            }
            return 0;
        default:
            return sl_err_set(err, SL_EDATA,
                              "%s: tensor \"%s\" has dtype %s; weights must be F32, F16 or BF16", f->path,
                              t->name, dtype_info[t->dtype].name);
    }
}

int sl_nn_st_read_f32(const sl_nn_st_file *f, const char *name, float *dst, size_t n, sl_err *err) {
    const sl_nn_st_tensor *t = sl_nn_st_find(f, name);
    if (!t) return sl_err_set(err, SL_ENOTFOUND, "%s: no tensor \"%s\"", f->path, name);
    return sl_nn_st_tensor_to_f32(f, t, dst, n, err);
}

static void format_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int d = 0; d < ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

int sl_nn_st_read_f32_shape(const sl_nn_st_file *f, const char *name, int ndim, const int64_t *shape,
                            float *dst, sl_err *err) {
    const sl_nn_st_tensor *t = sl_nn_st_find(f, name);
    if (!t) return sl_err_set(err, SL_ENOTFOUND, "%s: no tensor \"%s\"", f->path, name);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char have[256], want[256];
        format_shape(have, sizeof have, t->ndim, t->shape);
        format_shape(want, sizeof want, ndim, shape);
        return sl_err_set(err, SL_EDATA, "%s: tensor \"%s\" has shape %s, expected %s", f->path, name, have,
                          want);
    }
    return sl_nn_st_tensor_to_f32(f, t, dst, t->numel, err);
}

/* ---- writing -------------------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) {
    sb_add(b, s, strlen(s));
}

/* A JSON string as serde_json writes it: \" \\ \b \f \n \r \t, other controls as \u00xx, the rest raw. */
static void sb_json_string(sbuf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    sb_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[7];
        switch (*c) {
            case '"':
                sb_add(b, "\\\"", 2);
                break;
            case '\\':
                sb_add(b, "\\\\", 2);
                break;
            case '\b':
                sb_add(b, "\\b", 2);
                break;
            case '\f':
                sb_add(b, "\\f", 2);
                break;
            case '\n':
                sb_add(b, "\\n", 2);
                break;
            case '\r':
                sb_add(b, "\\r", 2);
                break;
            case '\t':
                sb_add(b, "\\t", 2);
                break;
            default:
                if (*c < 0x20) {
                    memcpy(esc, "\\u00", 4);
                    esc[4] = hex[*c >> 4];
                    esc[5] = hex[*c & 15];
                    sb_add(b, esc, 6);
                } else {
                    sb_add(b, (const char *)c, 1);
                }
        }
    }
    sb_add(b, "\"", 1);
}

typedef struct {
    int dtype;
    const char *name;
    size_t index;
} worder;

static int cmp_write_order(const void *a, const void *b) {
    const worder *x = a, *y = b;
    if (x->dtype != y->dtype) return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The order save_file writes tensors in: dtype descending (enum order), then name. */
static int write_order(const sl_nn_st_wtensor *t, size_t *index, size_t n) {
    worder *w = malloc((n ? n : 1) * sizeof *w);
    if (!w) return -1;
    for (size_t i = 0; i < n; i++) w[i] = (worder){(int)t[i].dtype, t[i].name, i};
    qsort(w, n, sizeof *w, cmp_write_order);
    for (size_t i = 0; i < n; i++) index[i] = w[i].index;
    free(w);
    return 0;
}

/* Validate the tensors and build the padded header; the header, order and sizes are malloc'd (order: write
 * order, sizes: bytes per tensor by input index). `path` names the output in messages. */
static int st_prepare(const char *path, const sl_nn_st_wtensor *tensors, size_t n,
                      const char *const *metadata, char **hdr, size_t *hlen, size_t **order_out,
                      size_t **sizes_out, sl_err *err) {
    for (size_t i = 0; i < n; i++) {
        const sl_nn_st_wtensor *t = &tensors[i];
        if (!t->name || !*t->name || strcmp(t->name, "__metadata__") == 0)
            return sl_err_set(err, SL_EUSAGE, "%s: tensor %zu has an empty or reserved name", path, i);
        if ((int)t->dtype < 0 || t->dtype >= SL_NN_ST_DTYPE_COUNT)
            return sl_err_set(err, SL_EUSAGE, "%s: tensor \"%s\": invalid dtype %d", path, t->name,
                              (int)t->dtype);
        if (t->ndim < 0 || t->ndim > SL_NN_ST_MAX_DIMS || (t->ndim && !t->shape))
            return sl_err_set(err, SL_EUSAGE, "%s: tensor \"%s\": invalid number of dimensions %d", path,
                              t->name, t->ndim);
        for (size_t j = 0; j < i; j++)
            if (strcmp(tensors[j].name, t->name) == 0)
                return sl_err_set(err, SL_EUSAGE, "%s: tensor name \"%s\" given twice", path, t->name);
    }
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    size_t *sizes = malloc((n ? n : 1) * sizeof *sizes);
    if (!order || !sizes) {
        free(order);
        free(sizes);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int rc = 0;
    sbuf h = {0};
    for (size_t i = 0; i < n; i++) {
        const sl_nn_st_wtensor *t = &tensors[i];
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0 || (t->shape[d] && numel > SIZE_MAX / (size_t)t->shape[d])) {
                rc = sl_err_set(err, SL_EUSAGE, "%s: tensor \"%s\": invalid shape", path, t->name);
                goto out;
            }
            numel *= (size_t)t->shape[d];
        }
        sizes[i] = numel * dtype_info[t->dtype].size;
        if (sizes[i] && !t->data) {
            rc = sl_err_set(err, SL_EUSAGE, "%s: tensor \"%s\": no data", path, t->name);
            goto out;
        }
    }
    if (write_order(tensors, order, n) != 0) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    sb_str(&h, "{");
    int first = 1;
    if (metadata) {
        /* keys sorted; pairs collected into an index */
        size_t nm = 0;
        while (metadata[2 * nm]) {
            if (!metadata[2 * nm + 1]) {
                rc = sl_err_set(err, SL_EUSAGE, "%s: metadata key \"%s\" has no value", path,
                                metadata[2 * nm]);
                goto out;
            }
            nm++;
        }
        const char **keys = malloc((nm ? nm : 1) * sizeof *keys);
        if (!keys) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nm; i++) keys[i] = metadata[2 * i];
        qsort(keys, nm, sizeof *keys, cmp_str_ptr);
        sb_str(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < nm; i++) {
            size_t k = 0;
            while (metadata[2 * k] != keys[i]) k++;
            if (i) sb_str(&h, ",");
            sb_json_string(&h, keys[i]);
            sb_str(&h, ":");
            sb_json_string(&h, metadata[2 * k + 1]);
        }
        sb_str(&h, "}");
        free(keys);
        first = 0;
    }
    size_t offset = 0;
    for (size_t oi = 0; oi < n; oi++) {
        const sl_nn_st_wtensor *t = &tensors[order[oi]];
        char num[64];
        if (!first) sb_str(&h, ",");
        first = 0;
        sb_json_string(&h, t->name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, dtype_info[t->dtype].name);
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)t->shape[d]);
            sb_str(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", offset, offset + sizes[order[oi]]);
        sb_str(&h, num);
        offset += sizes[order[oi]];
    }
    sb_str(&h, "}");
    while (h.len % 8) sb_str(&h, " ");
    if (h.oom) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }

    *hdr = h.p;
    *hlen = h.len;
    *order_out = order;
    *sizes_out = sizes;
    return 0;
out:
    free(h.p);
    free(order);
    free(sizes);
    return rc;
}

int sl_nn_st_write(const char *path, const sl_nn_st_wtensor *tensors, size_t n, const char *const *metadata,
                   sl_err *err) {
    char *hp;
    size_t hlen, *order, *sizes;
    int rc = st_prepare(path, tensors, n, metadata, &hp, &hlen, &order, &sizes, err);
    if (rc) return rc;
    /* temp file in the same directory, then fsync + rename + fsync(dir) */
    char *dir = sl_fs_dirname(path);
    size_t tl = strlen(path) + 16;
    char *tmp = malloc(tl);
    if (!dir || !tmp) {
        free(dir);
        free(tmp);
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(tmp, tl, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = sl_err_errno(err, SL_EIO, errno, "cannot create a temporary file next to %s", path);
        free(dir);
        free(tmp);
        goto out;
    }
    unsigned char len8[8];
    uint64_t hl = hlen;
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(hl >> (8 * i));
    rc = sl_fs_write_all(fd, len8, 8, path, err);
    if (!rc) rc = sl_fs_write_all(fd, hp, hlen, path, err);
    for (size_t oi = 0; oi < n && !rc; oi++)
        if (sizes[order[oi]]) rc = sl_fs_write_all(fd, tensors[order[oi]].data, sizes[order[oi]], path, err);
    mode_t mask = umask(0); /* mkstemp creates 0600; follow the umask like sl_fs_write_atomic */
    umask(mask);
    if (!rc && fchmod(fd, 0666 & ~mask) != 0) rc = sl_err_errno(err, SL_EIO, errno, "cannot chmod %s", tmp);
    if (!rc && fsync(fd) != 0) rc = sl_err_errno(err, SL_EIO, errno, "cannot fsync %s", tmp);
    if (close(fd) != 0 && !rc) rc = sl_err_errno(err, SL_EIO, errno, "cannot close %s", tmp);
    if (!rc && rename(tmp, path) != 0)
        rc = sl_err_errno(err, SL_EIO, errno, "cannot rename %s to %s", tmp, path);
    if (rc)
        unlink(tmp);
    else
        rc = sl_fs_fsync_dir(dir, err);
    free(dir);
    free(tmp);
out:
    free(hp);
    free(order);
    free(sizes);
    return rc;
}

int sl_nn_st_serialize(const sl_nn_st_wtensor *tensors, size_t n, const char *const *metadata, void **buf,
                       size_t *len, sl_err *err) {
    char *hp;
    size_t hlen, *order, *sizes;
    *buf = NULL;
    *len = 0;
    int rc = st_prepare("(in memory)", tensors, n, metadata, &hp, &hlen, &order, &sizes, err);
    if (rc) return rc;
    size_t total = 8 + hlen;
    for (size_t i = 0; i < n; i++) total += sizes[i];
    unsigned char *b = malloc(total);
    if (!b) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory (%zu bytes for a safetensors image)", total);
    } else {
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
        memcpy(b + 8, hp, hlen);
        size_t o = 8 + hlen;
        for (size_t oi = 0; oi < n; oi++) {
            if (sizes[order[oi]]) memcpy(b + o, tensors[order[oi]].data, sizes[order[oi]]);
            o += sizes[order[oi]];
        }
        *buf = b;
        *len = total;
    }
    free(hp);
    free(order);
    free(sizes);
    return rc;
}

int sl_nn_st_open_memory(const char *name, void *buf, size_t len, sl_nn_st_file **out, sl_err *err) {
    *out = NULL;
    if (!host_is_little_endian()) {
        free(buf);
        return sl_err_set(err, SL_EINTERNAL, "%s: safetensors reading needs a little-endian host", name);
    }
    sl_nn_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(name))) {
        free(f);
        free(buf);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    f->map = buf;
    f->map_len = len;
    f->owned = 1;
    return st_parse(f, out, err);
}
