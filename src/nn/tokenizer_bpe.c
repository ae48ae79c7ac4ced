/* A `tokenizers` BPE tokenizer from tokenizer.json (DNABERT-2): added tokens split out first, no
 * normalizer, the Whitespace (\w+|[^\w\s]+) or WhitespaceSplit pre-tokenizer, the BPE model (merges by
 * rank with tokenizers' priority-queue order, unk / fuse_unk, continuing_subword_prefix,
 * end_of_word_suffix, ignore_merges) and a TemplateProcessing / BertProcessing post-processor giving the
 * tokens put around the sequence. Anything else in the file is refused with an error naming it. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

typedef struct {
    int32_t a, b, rank, id;
} merge_entry;

typedef struct {
    merge_entry *m; /* sorted by (a, b) */
    size_t n;
    int32_t unk; /* -1: unknown characters are dropped */
    int fuse_unk, ignore_merges;
    char *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix (NULL = none) */
    int pre;               /* 0 none, 1 Whitespace, 2 WhitespaceSplit */
} bpe_impl;

static void bpe_free(void *p) {
    bpe_impl *b = p;
    if (!b) return;
    free(b->m);
    free(b->prefix);
    free(b->suffix);
    free(b);
}

static int cmp_merge(const void *x, const void *y) {
    const merge_entry *a = x, *b = y;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    if (a->b != b->b) return a->b < b->b ? -1 : 1;
    return 0;
}

static const merge_entry *find_merge(const bpe_impl *b, int32_t x, int32_t y) {
    merge_entry key = {x, y, 0, 0};
    return bsearch(&key, b->m, b->n, sizeof key, cmp_merge);
}

typedef struct {
    int32_t id;
    long prev, next;
    size_t len;
} symbol;

typedef struct {
    int32_t rank, id;
    size_t pos;
} qitem;

/* min-heap on (rank, pos) */
static int q_less(const qitem *a, const qitem *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static int q_push(qitem **q, size_t *n, size_t *cap, qitem it) {
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        qitem *p = realloc(*q, c * sizeof *p);
        if (!p) return -1;
        *q = p;
        *cap = c;
    }
    size_t i = (*n)++;
    (*q)[i] = it;
    while (i && q_less(&(*q)[i], &(*q)[(i - 1) / 2])) {
        qitem t = (*q)[i];
        (*q)[i] = (*q)[(i - 1) / 2];
        (*q)[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return 0;
}

static qitem q_pop(qitem *q, size_t *n) {
    qitem top = q[0];
    q[0] = q[--*n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && q_less(&q[l], &q[m])) m = l;
        if (r < *n && q_less(&q[r], &q[m])) m = r;
        if (m == i) break;
        qitem t = q[i];
        q[i] = q[m];
        q[m] = t;
        i = m;
    }
    return top;
}

/* Look up prefix + s + suffix (either may be NULL). */
static int32_t lookup3(const sl_nn_tokenizer *tok, const char *pre, const char *s, size_t n,
                       const char *suf) {
    size_t lp = pre ? strlen(pre) : 0, ls = suf ? strlen(suf) : 0;
    char buf[256];
    char *k = lp + n + ls <= sizeof buf ? buf : malloc(lp + n + ls);
    if (!k) return -2;
    if (lp) memcpy(k, pre, lp);
    memcpy(k + lp, s, n);
    if (ls) memcpy(k + lp + n, suf, ls);
    int32_t id = sl_nn_vocab_get(&tok->vocab, k, lp + n + ls);
    if (k != buf) free(k);
    return id;
}

/* BPE of one pre-tokenized word (UTF-8 bytes w[0..n)). */
static int bpe_word(const sl_nn_tokenizer *tok, const bpe_impl *b, const char *w, size_t n,
                    sl_nn_i32buf *out) {
    if (b->ignore_merges) {
        int32_t id = sl_nn_vocab_get(&tok->vocab, w, n);
        if (id >= 0) return sl_nn_i32_push(out, id);
    }
    symbol *sym = malloc((n + 1) * sizeof *sym);
    if (!sym) return -1;
    size_t ns = 0;
    int32_t unk_pending = 0;
    size_t unk_len = 0;
    for (size_t i = 0; i < n;) {
        size_t cl = 1;
        unsigned char c = (unsigned char)w[i];
        if (c >= 0xf0)
            cl = 4;
        else if (c >= 0xe0)
            cl = 3;
        else if (c >= 0xc0)
            cl = 2;
        int first = i == 0, last = i + cl >= n;
        int32_t id = lookup3(tok, first ? NULL : b->prefix, w + i, cl, last ? b->suffix : NULL);
        if (id == -2) {
            free(sym);
            return -1;
        }
        if (id >= 0) {
            if (unk_pending) {
                sym[ns++] = (symbol){b->unk, 0, 0, unk_len};
                unk_pending = 0;
            }
            sym[ns++] = (symbol){id, 0, 0, cl};
        } else if (b->unk >= 0) {
            if (unk_pending && b->fuse_unk) {
                unk_len += cl;
            } else {
                if (unk_pending) sym[ns++] = (symbol){b->unk, 0, 0, unk_len};
                unk_pending = 1;
                unk_len = cl;
            }
        }
        i += cl;
    }
    if (unk_pending) sym[ns++] = (symbol){b->unk, 0, 0, unk_len};
    for (size_t i = 0; i < ns; i++) {
        sym[i].prev = (long)i - 1;
        sym[i].next = i + 1 < ns ? (long)i + 1 : -1;
    }
    qitem *q = NULL;
    size_t qn = 0, qcap = 0;
    int rc = 0;
    for (size_t i = 0; i + 1 < ns && !rc; i++) {
        const merge_entry *m = find_merge(b, sym[i].id, sym[i + 1].id);
        if (m) rc = q_push(&q, &qn, &qcap, (qitem){m->rank, m->id, i});
    }
    while (qn && !rc) {
        qitem top = q_pop(q, &qn);
        symbol *cur = &sym[top.pos];
        if (cur->len == 0 || cur->next < 0) continue;
        size_t next_pos = (size_t)cur->next;
        symbol right = sym[next_pos];
        const merge_entry *m = find_merge(b, cur->id, right.id);
        if (!m || m->id != top.id) continue;
        cur->id = top.id;
        cur->len += right.len;
        cur->next = right.next;
        sym[next_pos].len = 0;
        if (right.next >= 0) sym[right.next].prev = (long)top.pos;
        if (cur->prev >= 0) {
            const merge_entry *pm = find_merge(b, sym[cur->prev].id, cur->id);
            if (pm) rc = q_push(&q, &qn, &qcap, (qitem){pm->rank, pm->id, (size_t)cur->prev});
        }
        if (!rc && cur->next >= 0) {
            const merge_entry *nm = find_merge(b, cur->id, sym[cur->next].id);
            if (nm) rc = q_push(&q, &qn, &qcap, (qitem){nm->rank, nm->id, top.pos});
        }
    }
    for (size_t i = 0; i < ns && !rc; i++)
        if (sym[i].len) rc = sl_nn_i32_push(out, sym[i].id);
    free(q);
    free(sym);
    return rc;
}

/* Rust's White_Space (char::is_whitespace, regex \s): Python's isspace without U+001C..U+001F. */
static int is_ws(uint32_t c) {
    return (sl_nn_uni_flags(c) & SL_NN_UNI_PYSPACE) && !(c >= 0x1c && c <= 0x1f);
}

static int bpe_segment(const sl_nn_tokenizer *tok, const char *text, size_t len, sl_nn_i32buf *out,
                       sl_err *err) {
    const bpe_impl *b = tok->impl;
    sl_nn_u32buf in = {0};
    long bad = sl_nn_utf8_decode(text, len, &in);
    if (bad) {
        sl_nn_u32_free(&in);
        if (bad < 0) return sl_err_set(err, SL_ENOMEM, "out of memory");
        return sl_err_set(err, SL_EDATA, "the text is not valid UTF-8 (byte %ld)", bad);
    }
    /* byte offsets of the code points, to hand UTF-8 slices to bpe_word */
    size_t *off = malloc((in.n + 1) * sizeof *off);
    int rc = off ? 0 : -1;
    if (off) {
        off[0] = 0;
        for (size_t i = 0; i < in.n; i++) {
            uint32_t c = in.cp[i];
            off[i + 1] = off[i] + (c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4);
        }
    }
    if (!rc && b->pre == 0) {
        if (in.n) rc = bpe_word(tok, b, text, len, out);
    } else if (!rc) {
        /* words: runs of one class; Whitespace has classes \w and [^\w\s], WhitespaceSplit only non-space */
        size_t i = 0;
        while (i < in.n && !rc) {
            if (is_ws(in.cp[i])) {
                i++;
                continue;
            }
            int cls = b->pre == 1 ? !!(sl_nn_uni_flags(in.cp[i]) & SL_NN_UNI_WORD) : 0;
            size_t j = i + 1;
            while (j < in.n && !is_ws(in.cp[j]) &&
                   (b->pre == 2 || !!(sl_nn_uni_flags(in.cp[j]) & SL_NN_UNI_WORD) == cls))
                j++;
            rc = bpe_word(tok, b, text + off[i], off[j] - off[i], out);
            i = j;
        }
    }
    free(off);
    sl_nn_u32_free(&in);
    return rc ? sl_err_set(err, SL_ENOMEM, "out of memory") : 0;
}

/* The single id of a post-processor special token. */
static int32_t template_id(const json_t *pp, const char *name) {
    json_t *st = json_object_get(json_object_get(pp, "special_tokens"), name);
    json_t *ids = json_object_get(st, "ids");
    if (!json_is_array(ids) || json_array_size(ids) != 1 || !json_is_integer(json_array_get(ids, 0)))
        return -1;
    return (int32_t)json_integer_value(json_array_get(ids, 0));
}

static int post_processor(sl_nn_tokenizer *tok, const json_t *pp, const char *path, sl_err *err) {
    tok->bos_id = tok->eos_id = -1;
    if (!pp || json_is_null(pp)) return 0;
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (type && (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing"))) {
        json_t *cls = json_object_get(pp, "cls"), *sep = json_object_get(pp, "sep");
        if (!json_is_integer(json_array_get(cls, 1)) || !json_is_integer(json_array_get(sep, 1)))
            return sl_err_set(err, SL_EDATA, "%s: post_processor.cls/sep must be [token, id]", path);
        tok->bos_id = (int32_t)json_integer_value(json_array_get(cls, 1));
        tok->eos_id = (int32_t)json_integer_value(json_array_get(sep, 1));
        return 0;
    }
    if (!type || strcmp(type, "TemplateProcessing"))
        return sl_err_set(err, SL_EDATA,
                          "%s: post_processor type \"%s\" is not supported (TemplateProcessing, "
                          "BertProcessing, RobertaProcessing)",
                          path, type ? type : "?");
    json_t *single = json_object_get(pp, "single");
    size_t n = json_array_size(single), seq_at = n;
    for (size_t i = 0; i < n; i++)
        if (json_object_get(json_array_get(single, i), "Sequence")) seq_at = i;
    if (seq_at == n || seq_at > 1 || n - seq_at > 2)
        return sl_err_set(
            err, SL_EDATA,
            "%s: post_processor.single must be [special] $A [special] (at most one token around)", path);
    for (size_t i = 0; i < n; i++) {
        if (i == seq_at) continue;
        const char *name = json_string_value(
            json_object_get(json_object_get(json_array_get(single, i), "SpecialToken"), "id"));
        int32_t id = name ? template_id(pp, name) : -1;
        if (id < 0)
            return sl_err_set(err, SL_EDATA,
                              "%s: post_processor.single[%zu] is not a special token with one id", path, i);
        if (i < seq_at)
            tok->bos_id = id;
        else
            tok->eos_id = id;
    }
    return 0;
}

int sl_nn_tok_bpe_init(sl_nn_tokenizer *tok, const json_t *root, const char *path, sl_err *err) {
    bpe_impl *b = calloc(1, sizeof *b);
    if (!b) return sl_err_set(err, SL_ENOMEM, "out of memory");
    tok->impl = b;
    tok->free_impl = bpe_free;
    const json_t *model = json_object_get(root, "model");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!type || strcmp(type, "BPE"))
        return sl_err_set(err, SL_EDATA,
                          "%s: model type \"%s\" is not supported (only BPE is read from tokenizer.json)",
                          path, type ? type : "?");
    const json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm))
        return sl_err_set(err, SL_EDATA, "%s: normalizer \"%s\" is not supported (only null)", path,
                          json_string_value(json_object_get(norm, "type"))
                              ? json_string_value(json_object_get(norm, "type"))
                              : "?");
    const json_t *pre = json_object_get(root, "pre_tokenizer");
    const char *pt = json_string_value(json_object_get(pre, "type"));
    if (!pre || json_is_null(pre))
        b->pre = 0;
    else if (pt && !strcmp(pt, "Whitespace"))
        b->pre = 1;
    else if (pt && !strcmp(pt, "WhitespaceSplit"))
        b->pre = 2;
    else
        return sl_err_set(err, SL_EDATA,
                          "%s: pre_tokenizer \"%s\" is not supported (Whitespace, WhitespaceSplit, null)",
                          path, pt ? pt : "?");
    json_t *v = json_object_get(model, "dropout");
    if (v && !json_is_null(v) && !(json_is_number(v) && json_number_value(v) == 0))
        return sl_err_set(err, SL_EDATA, "%s: BPE dropout is not supported", path);
    if (json_is_true(json_object_get(model, "byte_fallback")))
        return sl_err_set(err, SL_EDATA, "%s: BPE byte_fallback is not supported", path);
    b->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
    b->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    const char *pfx = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    const char *sfx = json_string_value(json_object_get(model, "end_of_word_suffix"));
    if ((pfx && !(b->prefix = strdup(pfx))) || (sfx && !(b->suffix = strdup(sfx))))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    /* vocabulary: model.vocab plus added tokens (which may extend it) */
    const json_t *vocab = json_object_get(model, "vocab"), *added = json_object_get(root, "added_tokens");
    if (!json_is_object(vocab)) return sl_err_set(err, SL_EDATA, "%s: model.vocab must be an object", path);
    int64_t max_id = -1;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= INT32_MAX)
            return sl_err_set(err, SL_EDATA, "%s: model.vocab[\"%s\"] must be a non-negative integer", path,
                              key);
        if (json_integer_value(val) > max_id) max_id = json_integer_value(val);
    }
    size_t na = json_is_array(added) ? json_array_size(added) : 0;
    for (size_t i = 0; i < na; i++) {
        json_t *a = json_array_get(added, i);
        json_t *id = json_object_get(a, "id");
        const char *content = json_string_value(json_object_get(a, "content"));
        if (!content || !json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= INT32_MAX)
            return sl_err_set(err, SL_EDATA, "%s: added_tokens[%zu] needs a content string and an id", path,
                              i);
        if (json_is_true(json_object_get(a, "lstrip")) || json_is_true(json_object_get(a, "rstrip")) ||
            json_is_true(json_object_get(a, "single_word")))
            return sl_err_set(err, SL_EDATA,
                              "%s: added token \"%s\": lstrip/rstrip/single_word are not supported", path,
                              content);
        if (json_integer_value(id) > max_id) max_id = json_integer_value(id);
    }
    tok->n_ids = (int32_t)(max_id + 1);
    tok->id_to_token = calloc(tok->n_ids ? (size_t)tok->n_ids : 1, sizeof(char *));
    if (!tok->id_to_token) return sl_err_set(err, SL_ENOMEM, "out of memory");
    json_object_foreach((json_t *)vocab, key, val) {
        int32_t id = (int32_t)json_integer_value(val);
        if (sl_nn_vocab_put(&tok->vocab, key, strlen(key), id))
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        if (!tok->id_to_token[id] && !(tok->id_to_token[id] = strdup(key)))
            return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < na; i++) {
        json_t *a = json_array_get(added, i);
        const char *content = json_string_value(json_object_get(a, "content"));
        int32_t id = (int32_t)json_integer_value(json_object_get(a, "id"));
        if (sl_nn_vocab_put(&tok->vocab, content, strlen(content), id))
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        if (!tok->id_to_token[id] && !(tok->id_to_token[id] = strdup(content)))
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        char **p = realloc(tok->added, (tok->n_added + 1) * sizeof *p);
        if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
        tok->added = p;
        if (!(tok->added[tok->n_added] = strdup(content))) return sl_err_set(err, SL_ENOMEM, "out of memory");
        tok->n_added++;
    }
    /* unk */
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    b->unk = -1;
    if (unk) {
        b->unk = sl_nn_vocab_get(&tok->vocab, unk, strlen(unk));
        if (b->unk < 0)
            return sl_err_set(err, SL_EDATA, "%s: unk_token \"%s\" is not in the vocabulary", path, unk);
    }
    tok->sp.unk = b->unk;
    /* merges: "a b" strings or [a, b] pairs; rank = index */
    const json_t *merges = json_object_get(model, "merges");
    if (!json_is_array(merges)) return sl_err_set(err, SL_EDATA, "%s: model.merges must be a list", path);
    b->n = json_array_size(merges);
    b->m = calloc(b->n ? b->n : 1, sizeof *b->m);
    if (!b->m) return sl_err_set(err, SL_ENOMEM, "out of memory");
    size_t lp = b->prefix ? strlen(b->prefix) : 0;
    for (size_t i = 0; i < b->n; i++) {
        json_t *e = json_array_get(merges, i);
        const char *x = NULL, *y = NULL;
        size_t lx = 0;
        if (json_is_string(e)) {
            x = json_string_value(e);
            const char *sp = strchr(x, ' ');
            if (sp) {
                lx = (size_t)(sp - x);
                y = sp + 1;
            }
        } else if (json_is_array(e) && json_array_size(e) == 2) {
            x = json_string_value(json_array_get(e, 0));
            y = json_string_value(json_array_get(e, 1));
            lx = x ? strlen(x) : 0;
        }
        if (!x || !y)
            return sl_err_set(err, SL_EDATA, "%s: model.merges[%zu] is not \"a b\" or [a, b]", path, i);
        int32_t ix = sl_nn_vocab_get(&tok->vocab, x, lx), iy = sl_nn_vocab_get(&tok->vocab, y, strlen(y));
        /* the merged token: x + y without y's continuing_subword_prefix */
        size_t ly = strlen(y), skip = (lp && ly >= lp && !strncmp(y, b->prefix, lp)) ? lp : 0;
        char *xy = malloc(lx + ly + 1);
        if (!xy) return sl_err_set(err, SL_ENOMEM, "out of memory");
        memcpy(xy, x, lx);
        memcpy(xy + lx, y + skip, ly - skip + 1);
        int32_t ixy = sl_nn_vocab_get(&tok->vocab, xy, strlen(xy));
        free(xy);
        if (ix < 0 || iy < 0 || ixy < 0)
            return sl_err_set(err, SL_EDATA,
                              "%s: model.merges[%zu]: a part or the merged token is not in the vocabulary",
                              path, i);
        b->m[i] = (merge_entry){ix, iy, (int32_t)i, ixy};
    }
    /* a pair listed twice: tokenizers collects the merges into a HashMap, so the last occurrence wins */
    qsort(b->m, b->n, sizeof *b->m, cmp_merge);
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (k && b->m[k - 1].a == b->m[i].a && b->m[k - 1].b == b->m[i].b) {
            if (b->m[i].rank > b->m[k - 1].rank) b->m[k - 1] = b->m[i];
            continue;
        }
        b->m[k++] = b->m[i];
    }
    b->n = k;
    int rc = post_processor(tok, json_object_get(root, "post_processor"), path, err);
    if (rc) return rc;
    tok->tokenize_segment = bpe_segment;
    return 0;
}
