/* The ESM tokenizer (EsmTokenizer: ESM-2 amino acids, Nucleotide Transformer 6-mers) as transformers runs
 * it: every vocabulary entry is a no-split token, so the text is cut by the added-tokens trie (a port of
 * transformers' Trie.split: the earliest match, extended to the longest one by look-ahead), the pieces
 * between matches are split on whitespace, and every piece maps to its id or <unk>. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"
#include "util/fs.h"

typedef struct trie_node {
    int terminal;
    int n, cap;
    uint32_t *keys;
    struct trie_node **kids;
} trie_node;

static void trie_free(trie_node *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) trie_free(t->kids[i]);
    free(t->keys);
    free(t->kids);
    free(t);
}

static trie_node *trie_child(const trie_node *t, uint32_t c) {
    for (int i = 0; i < t->n; i++)
        if (t->keys[i] == c) return t->kids[i];
    return NULL;
}

static int trie_add(trie_node *root, const uint32_t *cp, size_t n) {
    trie_node *t = root;
    for (size_t i = 0; i < n; i++) {
        trie_node *k = trie_child(t, cp[i]);
        if (!k) {
            if (t->n == t->cap) {
                int cap = t->cap ? 2 * t->cap : 4;
                uint32_t *keys = realloc(t->keys, (size_t)cap * sizeof *keys);
                if (!keys) return -1;
                t->keys = keys;
                trie_node **kids = realloc(t->kids, (size_t)cap * sizeof *kids);
                if (!kids) return -1;
                t->kids = kids;
                t->cap = cap;
            }
            if (!(k = calloc(1, sizeof *k))) return -1;
            t->keys[t->n] = cp[i];
            t->kids[t->n++] = k;
        }
        t = k;
    }
    if (n) t->terminal = 1;
    return 0;
}

typedef struct {
    trie_node *root;
} esm_impl;

static void esm_free(void *p) {
    esm_impl *e = p;
    if (!e) return;
    trie_free(e->root);
    free(e);
}

/* Map one piece (code points, no whitespace) to its id or <unk>. */
static int emit_piece(const sl_nn_tokenizer *tok, const uint32_t *cp, size_t n, sl_nn_i32buf *out) {
    char *s = sl_nn_utf8_encode(cp, n);
    if (!s) return -1;
    int32_t id = sl_nn_vocab_get(&tok->vocab, s, strlen(s));
    free(s);
    return sl_nn_i32_push(out, id >= 0 ? id : tok->sp.unk);
}

/* A piece between trie matches: Python's str.split(), then ids. */
static int emit_text(const sl_nn_tokenizer *tok, const uint32_t *cp, size_t n, sl_nn_i32buf *out) {
    size_t s = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && !(sl_nn_uni_flags(cp[i]) & SL_NN_UNI_PYSPACE)) continue;
        if (i > s && emit_piece(tok, cp + s, i - s, out)) return -1;
        s = i + 1;
    }
    return 0;
}

/* transformers' Trie.split, returning the cut offsets (start of each piece, then n). */
static int trie_split(const trie_node *root, const uint32_t *text, size_t n, size_t **offsets,
                      size_t *n_off) {
    size_t *st_start = malloc((n + 1) * sizeof *st_start), *off = malloc((2 * n + 3) * sizeof *off);
    const trie_node **st_node = malloc((n + 1) * sizeof *st_node);
    char *remove = malloc(n + 1);
    if (!st_start || !off || !st_node || !remove) {
        free(st_start);
        free(off);
        free(st_node);
        free(remove);
        return -1;
    }
    size_t ns = 0, no = 0, skip = 0;
    off[no++] = 0;
    for (size_t cur = 0; cur < n; cur++) {
        if (skip && cur < skip) continue;
        int reset = 0;
        for (size_t i = 0; i < ns; i++) {
            size_t start = st_start[i];
            const trie_node *ptr = st_node[i];
            remove[i] = 0;
            if (ptr->terminal) {
                size_t end = cur;
                for (size_t j = 0; j < ns; j++) {
                    size_t lookstart = st_start[j], la;
                    const trie_node *lp = st_node[j];
                    if (lookstart > start) break;
                    if (lookstart < start)
                        la = end = cur + 1;
                    else
                        la = end = cur;
                    if (lp->terminal) {
                        start = lookstart;
                        end = la;
                        skip = la;
                    }
                    while (la < n) {
                        const trie_node *k = trie_child(lp, text[la]);
                        if (!k) break;
                        lp = k;
                        la++;
                        if (lp->terminal) {
                            start = lookstart;
                            end = la;
                            skip = la;
                        }
                        if (la == n) break;
                    }
                }
                off[no++] = start;
                off[no++] = end;
                reset = 1;
                break;
            }
            const trie_node *k = trie_child(ptr, text[cur]);
            if (k)
                st_node[i] = k;
            else
                remove[i] = 1;
        }
        if (reset) {
            ns = 0;
        } else {
            size_t k = 0;
            for (size_t i = 0; i < ns; i++) {
                if (remove[i]) continue;
                st_start[k] = st_start[i];
                st_node[k++] = st_node[i];
            }
            ns = k;
        }
        const trie_node *r = cur >= skip ? trie_child(root, text[cur]) : NULL;
        if (r) {
            st_start[ns] = cur;
            st_node[ns++] = r;
        }
        if (no + 3 > 2 * n + 3) break; /* cannot happen: at most one cut pair per character */
    }
    for (size_t i = 0; i < ns; i++) {
        if (st_node[i]->terminal) {
            off[no++] = st_start[i];
            off[no++] = n;
            break;
        }
    }
    off[no++] = n;
    free(st_start);
    free(st_node);
    free(remove);
    *offsets = off;
    *n_off = no;
    return 0;
}

static int esm_segment(const sl_nn_tokenizer *tok, const char *text, size_t len, sl_nn_i32buf *out,
                       sl_err *err) {
    const esm_impl *e = tok->impl;
    sl_nn_u32buf in = {0};
    long bad = sl_nn_utf8_decode(text, len, &in);
    if (bad) {
        sl_nn_u32_free(&in);
        if (bad < 0) return sl_err_set(err, SL_ENOMEM, "out of memory");
        return sl_err_set(err, SL_EDATA, "the text is not valid UTF-8 (byte %ld)", bad);
    }
    size_t *off = NULL, no = 0;
    int rc = 0;
    if (trie_split(e->root, in.cp, in.n, &off, &no)) {
        rc = -1;
    } else {
        /* cut_text: consecutive offsets delimit the pieces; empty and backwards pairs are skipped */
        size_t start = 0;
        for (size_t i = 0; i < no && !rc; i++) {
            size_t end = off[i];
            if (start >= end) continue;
            rc = emit_text(tok, in.cp + start, end - start, out);
            start = end;
        }
    }
    free(off);
    sl_nn_u32_free(&in);
    return rc ? sl_err_set(err, SL_ENOMEM, "out of memory") : 0;
}

/* Python's str.strip() of a code-point range. */
static void strip_py(const uint32_t **cp, size_t *n) {
    while (*n && (sl_nn_uni_flags((*cp)[0]) & SL_NN_UNI_PYSPACE)) {
        (*cp)++;
        (*n)--;
    }
    while (*n && (sl_nn_uni_flags((*cp)[*n - 1]) & SL_NN_UNI_PYSPACE)) (*n)--;
}

/* Python's str.splitlines() line boundaries. */
static int is_line_break(uint32_t c) {
    return c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e ||
           c == 0x85 || c == 0x2028 || c == 0x2029;
}

int sl_nn_tok_esm_init(sl_nn_tokenizer *tok, const char *vocab_path, sl_err *err) {
    char *data;
    size_t len;
    int rc = sl_fs_read_all(vocab_path, &data, &len, err);
    if (rc) return rc;
    sl_nn_u32buf all = {0};
    long bad = sl_nn_utf8_decode(data, len, &all);
    free(data);
    if (bad) {
        sl_nn_u32_free(&all);
        return bad < 0 ? sl_err_set(err, SL_ENOMEM, "out of memory")
                       : sl_err_set(err, SL_EDATA, "%s: not valid UTF-8 (byte %ld)", vocab_path, bad);
    }
    esm_impl *e = calloc(1, sizeof *e);
    if (!e || !(e->root = calloc(1, sizeof *e->root))) {
        free(e);
        sl_nn_u32_free(&all);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    tok->impl = e;
    tok->free_impl = esm_free;
    /* splitlines(): "\r\n" is one boundary; a final boundary does not start an empty line */
    size_t lines = 0;
    for (size_t i = 0; i < all.n; i++) {
        if (!is_line_break(all.cp[i])) continue;
        if (all.cp[i] == '\r' && i + 1 < all.n && all.cp[i + 1] == '\n') i++;
        lines++;
    }
    if (all.n && !is_line_break(all.cp[all.n - 1])) lines++;
    if (!lines) {
        sl_nn_u32_free(&all);
        return sl_err_set(err, SL_EDATA, "%s: empty vocabulary", vocab_path);
    }
    tok->id_to_token = calloc(lines, sizeof(char *));
    if (!tok->id_to_token) goto oom;
    tok->n_ids = (int32_t)lines;
    size_t s = 0;
    int32_t id = 0;
    for (size_t i = 0; i <= all.n && id < tok->n_ids; i++) {
        if (i < all.n && !is_line_break(all.cp[i])) continue;
        const uint32_t *t = all.cp + s;
        size_t tn = i - s;
        strip_py(&t, &tn);
        char *str = sl_nn_utf8_encode(t, tn);
        if (!str) goto oom;
        tok->id_to_token[id] = str;
        if (sl_nn_vocab_put(&tok->vocab, str, strlen(str), id) || trie_add(e->root, t, tn)) goto oom;
        id++;
        if (i < all.n && all.cp[i] == '\r' && i + 1 < all.n && all.cp[i + 1] == '\n') i++;
        s = i + 1;
    }
    sl_nn_u32_free(&all);
    tok->tokenize_segment = esm_segment;
    return 0;
oom:
    sl_nn_u32_free(&all);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
}
