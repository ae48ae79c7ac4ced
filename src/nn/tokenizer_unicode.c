/* UTF-8, character classes, lower-casing and NFD/NFC over the generated tables. */
#include "tokenizer_unicode.h"

#include <stdlib.h>
#include <string.h>

int sl_nn_u32_push(sl_nn_u32buf *b, uint32_t cp) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        uint32_t *p = realloc(b->cp, cap * sizeof *p);
        if (!p) return -1;
        b->cp = p;
        b->cap = cap;
    }
    b->cp[b->n++] = cp;
    return 0;
}

int sl_nn_u32_append(sl_nn_u32buf *b, const uint32_t *cp, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (sl_nn_u32_push(b, cp[i])) return -1;
    return 0;
}

void sl_nn_u32_free(sl_nn_u32buf *b) {
    free(b->cp);
    b->cp = NULL;
    b->n = b->cap = 0;
}

long sl_nn_utf8_decode(const char *str, size_t len, sl_nn_u32buf *out) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        uint32_t c = s[i];
        size_t need;
        uint32_t min;
        if (c < 0x80) {
            need = 0;
            min = 0;
        } else if ((c & 0xe0) == 0xc0) {
            need = 1;
            c &= 0x1f;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2;
            c &= 0x0f;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3;
            c &= 0x07;
            min = 0x10000;
        } else {
            return (long)i + 1;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80) return (long)i + 1;
            c = (c << 6) | (s[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return (long)i + 1;
        if (sl_nn_u32_push(out, c)) return -1;
        i += need + 1;
    }
    return 0;
}

char *sl_nn_utf8_encode(const uint32_t *cp, size_t n) {
    char *s = malloc(4 * n + 1), *p = s;
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[i];
        if (c < 0x80) {
            *p++ = (char)c;
        } else if (c < 0x800) {
            *p++ = (char)(0xc0 | (c >> 6));
            *p++ = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            *p++ = (char)(0xe0 | (c >> 12));
            *p++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *p++ = (char)(0x80 | (c & 0x3f));
        } else {
            *p++ = (char)(0xf0 | (c >> 18));
            *p++ = (char)(0x80 | ((c >> 12) & 0x3f));
            *p++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *p++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *p = '\0';
    return s;
}

unsigned sl_nn_uni_flags(uint32_t cp) {
    size_t lo = 0, hi = sl_nn_uni_flag_ranges_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const sl_nn_uni_range *r = &sl_nn_uni_flag_ranges[mid];
        if (cp < r->first)
            hi = mid;
        else if (cp > r->last)
            lo = mid + 1;
        else
            return r->flags;
    }
    return 0;
}

static const sl_nn_uni_map *find_map(const sl_nn_uni_map *t, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < t[mid].cp)
            hi = mid;
        else if (cp > t[mid].cp)
            lo = mid + 1;
        else
            return &t[mid];
    }
    return NULL;
}

int sl_nn_uni_tolower(uint32_t cp, uint32_t out[3]) {
    if (cp < 0x80) {
        out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        return 1;
    }
    const sl_nn_uni_map *m = find_map(sl_nn_uni_lower, sl_nn_uni_lower_n, cp);
    if (!m) {
        out[0] = cp;
        return 1;
    }
    for (int i = 0; i < m->n; i++) out[i] = m->to[i];
    return m->n;
}

int sl_nn_uni_ccc_of(uint32_t cp) {
    if (cp < 0x300) return 0;
    size_t lo = 0, hi = sl_nn_uni_ccc_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < sl_nn_uni_ccc_table[mid].cp)
            hi = mid;
        else if (cp > sl_nn_uni_ccc_table[mid].cp)
            lo = mid + 1;
        else
            return sl_nn_uni_ccc_table[mid].ccc;
    }
    return 0;
}

enum {
    SBASE = 0xAC00,
    LBASE = 0x1100,
    VBASE = 0x1161,
    TBASE = 0x11A7,
    LCOUNT = 19,
    VCOUNT = 21,
    TCOUNT = 28
};
enum { NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

int sl_nn_uni_nfd(const uint32_t *in, size_t n, sl_nn_u32buf *out) {
    size_t start = out->n;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c >= SBASE && c < SBASE + SCOUNT) {
            uint32_t s = c - SBASE;
            if (sl_nn_u32_push(out, LBASE + s / NCOUNT) || sl_nn_u32_push(out, VBASE + (s % NCOUNT) / TCOUNT))
                return -1;
            if (s % TCOUNT && sl_nn_u32_push(out, TBASE + s % TCOUNT)) return -1;
            continue;
        }
        const sl_nn_uni_map *m = c < 0xc0 ? NULL : find_map(sl_nn_uni_nfd_table, sl_nn_uni_nfd_table_n, c);
        if (m) {
            if (sl_nn_u32_append(out, m->to, m->n)) return -1;
        } else if (sl_nn_u32_push(out, c)) {
            return -1;
        }
    }
    /* canonical ordering: stable sort of each run of non-starters by combining class */
    if (out->n == start) return 0; /* empty text: out->cp may still be NULL */
    uint32_t *p = out->cp + start;
    size_t len = out->n - start;
    for (size_t i = 1; i < len; i++) {
        int cc = sl_nn_uni_ccc_of(p[i]);
        if (!cc) continue;
        size_t j = i;
        uint32_t c = p[i];
        while (j > 0) {
            int pc = sl_nn_uni_ccc_of(p[j - 1]);
            if (pc <= cc) break; /* stops at starters (0) and equal classes (stable) */
            p[j] = p[j - 1];
            j--;
        }
        p[j] = c;
    }
    return 0;
}

static uint32_t compose_pair(uint32_t a, uint32_t b) {
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    size_t lo = 0, hi = sl_nn_uni_compose_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const sl_nn_uni_pair *q = &sl_nn_uni_compose[mid];
        if (a < q->a || (a == q->a && b < q->b))
            hi = mid;
        else if (a > q->a || b > q->b)
            lo = mid + 1;
        else
            return q->composite;
    }
    return 0;
}

int sl_nn_uni_nfc(const uint32_t *in, size_t n, sl_nn_u32buf *out) {
    sl_nn_u32buf d = {0};
    if (sl_nn_uni_nfd(in, n, &d)) {
        sl_nn_u32_free(&d);
        return -1;
    }
    size_t base = out->n;
    long starter = -1; /* index (relative to base) of the last starter in the output */
    int last_cc = 0;
    for (size_t i = 0; i < d.n; i++) {
        uint32_t c = d.cp[i];
        int cc = sl_nn_uni_ccc_of(c);
        if (starter >= 0) {
            size_t len = out->n - base;
            int adjacent = (size_t)starter == len - 1;
            int blocked = !adjacent && (last_cc == 0 || last_cc >= cc);
            if (!blocked) {
                uint32_t comp = compose_pair(out->cp[base + (size_t)starter], c);
                if (comp) {
                    out->cp[base + (size_t)starter] = comp;
                    continue;
                }
            }
        }
        if (cc == 0) starter = (long)(out->n - base);
        last_cc = cc;
        if (sl_nn_u32_push(out, c)) {
            sl_nn_u32_free(&d);
            return -1;
        }
    }
    sl_nn_u32_free(&d);
    return 0;
}
