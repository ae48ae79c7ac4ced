/* A tiny tagged binary format for the CUDA parity reference (header-only, C; used by the reference
 * generator that runs the CPU engine, and by the toolkit-only GPU check that reads it on the GPU machine).
 *
 * File: "SLCUDREF" then records: u32 name length, name bytes, u32 type (0 f32, 1 i32, 2 i64, 3 f64),
 * u64 count, count elements (little-endian, as written by x86-64). Readers look records up by name. */
#ifndef SEQLORA_TESTS_CUDA_REFIO_H
#define SEQLORA_TESTS_CUDA_REFIO_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REF_F32 = 0, REF_I32 = 1, REF_I64 = 2, REF_F64 = 3 };

static inline size_t ref_elem(uint32_t type) {
    return type == REF_F32 || type == REF_I32 ? 4 : 8;
}

static inline int ref_put(FILE *f, const char *name, uint32_t type, const void *data, uint64_t count) {
    uint32_t nl = (uint32_t)strlen(name);
    if (fwrite(&nl, 4, 1, f) != 1 || fwrite(name, 1, nl, f) != nl || fwrite(&type, 4, 1, f) != 1 ||
        fwrite(&count, 8, 1, f) != 1)
        return -1;
    if (count && fwrite(data, ref_elem(type), count, f) != count) return -1;
    return 0;
}

typedef struct ref_rec {
    char name[128];
    uint32_t type;
    uint64_t count;
    void *data;
} ref_rec;

typedef struct ref_file {
    ref_rec *rec;
    size_t n;
} ref_file;

/* Read the whole file; 0 or -1 with a message in msg. */
static inline int ref_read(const char *path, ref_file *out, char *msg, size_t msg_len) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, msg_len, "%s: cannot open", path);
        return -1;
    }
    char magic[8];
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "SLCUDREF", 8)) {
        snprintf(msg, msg_len, "%s: not a CUDA reference file", path);
        fclose(f);
        return -1;
    }
    size_t cap = 0;
    for (;;) {
        uint32_t nl;
        if (fread(&nl, 4, 1, f) != 1) break;
        ref_rec r;
        memset(&r, 0, sizeof r);
        if (nl >= sizeof r.name || fread(r.name, 1, nl, f) != nl || fread(&r.type, 4, 1, f) != 1 ||
            r.type > REF_F64 || fread(&r.count, 8, 1, f) != 1 || r.count > ((uint64_t)1 << 32)) {
            snprintf(msg, msg_len, "%s: bad record %zu", path, out->n);
            fclose(f);
            return -1;
        }
        r.data = malloc(r.count ? r.count * ref_elem(r.type) : 1);
        if (!r.data || (r.count && fread(r.data, ref_elem(r.type), r.count, f) != r.count)) {
            snprintf(msg, msg_len, "%s: truncated record %s", path, r.name);
            free(r.data);
            fclose(f);
            return -1;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            out->rec = (ref_rec *)realloc(out->rec, cap * sizeof *out->rec);
        }
        out->rec[out->n++] = r;
    }
    fclose(f);
    return 0;
}

/* The record `name` of type `type` with `count` elements (0 = any); NULL when absent or different. */
static inline void *ref_get(const ref_file *rf, const char *name, uint32_t type, uint64_t count,
                            uint64_t *n) {
    for (size_t i = 0; i < rf->n; i++)
        if (!strcmp(rf->rec[i].name, name)) {
            if (rf->rec[i].type != type || (count && rf->rec[i].count != count)) return NULL;
            if (n) *n = rf->rec[i].count;
            return rf->rec[i].data;
        }
    return NULL;
}

static inline void ref_free(ref_file *rf) {
    for (size_t i = 0; i < rf->n; i++) free(rf->rec[i].data);
    free(rf->rec);
    memset(rf, 0, sizeof *rf);
}

#endif
