/* The BERT tokenizer as transformers' BertTokenizer runs it: lower-casing outside added tokens, then
 * BasicTokenizer (clean-up, CJK spacing, NFC, whitespace split, lower-case + accent stripping,
 * punctuation split) and WordpieceTokenizer (greedy longest match first, "##" continuations,
 * max_input_chars_per_word -> [UNK]). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

static int is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static int lower_all(const uint32_t *in, size_t n, sl_nn_u32buf *out) {
    for (size_t i = 0; i < n; i++) {
        uint32_t l[3];
        int k = sl_nn_uni_tolower(in[i], l);
        if (sl_nn_u32_append(out, l, (size_t)k)) return -1;
    }
    return 0;
}

static int in_list(char *const *list, size_t n, const char *s, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0) return 1;
    return 0;
}

/* WordPiece of one token (code points cp[0..n)). */
static int wordpiece(const sl_nn_tokenizer *tok, const uint32_t *cp, size_t n, sl_nn_i32buf *out) {
    if (n == 0) return 0;
    if (n > (size_t)tok->max_input_chars_per_word) return sl_nn_i32_push(out, tok->sp.unk);
    char *utf8 = sl_nn_utf8_encode(cp, n);
    size_t *off = malloc((n + 1) * sizeof *off);
    char *key = malloc(strlen(utf8 ? utf8 : "") + 3);
    size_t first = out->n;
    int rc = 0;
    if (!utf8 || !off || !key) {
        rc = -1;
        goto done;
    }
    off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = cp[i];
        off[i + 1] = off[i] + (c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4);
    }
    for (size_t start = 0; start < n;) {
        int32_t found = -1;
        size_t end = n;
        for (; end > start; end--) {
            size_t klen = 0;
            if (start > 0) {
                key[0] = key[1] = '#';
                klen = 2;
            }
            memcpy(key + klen, utf8 + off[start], off[end] - off[start]);
            klen += off[end] - off[start];
            found = sl_nn_vocab_get(&tok->vocab, key, klen);
            if (found >= 0) break;
        }
        if (found < 0) {
            out->n = first; /* the whole word becomes [UNK] */
            rc = sl_nn_i32_push(out, tok->sp.unk);
            goto done;
        }
        if ((rc = sl_nn_i32_push(out, found))) goto done;
        start = end;
    }
done:
    free(utf8);
    free(off);
    free(key);
    return rc;
}

/* A token that leaves the basic tokenizer: never_split tokens map directly, the rest through WordPiece. */
static int emit(const sl_nn_tokenizer *tok, const uint32_t *cp, size_t n, sl_nn_i32buf *out) {
    if (n == 0) return 0;
    if (tok->n_never_split) {
        char *s = sl_nn_utf8_encode(cp, n);
        if (!s) return -1;
        int hit = in_list(tok->never_split, tok->n_never_split, s, strlen(s));
        int32_t id = hit ? sl_nn_vocab_get(&tok->vocab, s, strlen(s)) : -1;
        free(s);
        if (hit) return sl_nn_i32_push(out, id >= 0 ? id : tok->sp.unk);
    }
    return wordpiece(tok, cp, n, out);
}

/* One whitespace-delimited token of the basic tokenizer. */
static int basic_token(const sl_nn_tokenizer *tok, const uint32_t *cp, size_t n, sl_nn_i32buf *out) {
    int rc = 0;
    sl_nn_u32buf a = {0}, b = {0};
    /* never_split (the configured list and the special tokens) is kept whole */
    char *s = sl_nn_utf8_encode(cp, n);
    if (!s) return -1;
    size_t slen = strlen(s);
    int keep =
        in_list(tok->never_split, tok->n_never_split, s, slen) || in_list(tok->added, tok->n_added, s, slen);
    free(s);
    if (keep) return emit(tok, cp, n, out);
    const uint32_t *t = cp;
    size_t tn = n;
    int strip = tok->do_lower_case ? tok->strip_accents != 0 : tok->strip_accents == 1;
    if (tok->do_lower_case) {
        if (lower_all(t, tn, &a)) goto oom;
        t = a.cp;
        tn = a.n;
    }
    if (strip) {
        if (sl_nn_uni_nfd(t, tn, &b)) goto oom;
        size_t k = 0;
        for (size_t i = 0; i < b.n; i++)
            if (!(sl_nn_uni_flags(b.cp[i]) & SL_NN_UNI_MN)) b.cp[k++] = b.cp[i];
        b.n = k;
        t = b.cp;
        tn = b.n;
    }
    /* punctuation split: each punctuation character is its own token */
    size_t start = 0;
    for (size_t i = 0; i < tn; i++) {
        if (!(sl_nn_uni_flags(t[i]) & SL_NN_UNI_PUNCT)) continue;
        if (i > start && (rc = emit(tok, t + start, i - start, out))) goto done;
        if ((rc = emit(tok, t + i, 1, out))) goto done;
        start = i + 1;
    }
    if (tn > start) rc = emit(tok, t + start, tn - start, out);
    goto done;
oom:
    rc = -1;
done:
    sl_nn_u32_free(&a);
    sl_nn_u32_free(&b);
    return rc;
}

static int wordpiece_segment(const sl_nn_tokenizer *tok, const char *text, size_t len, sl_nn_i32buf *out,
                             sl_err *err) {
    sl_nn_u32buf in = {0}, low = {0}, clean = {0}, nfc = {0};
    int rc = 0;
    long bad = sl_nn_utf8_decode(text, len, &in);
    if (bad) {
        sl_nn_u32_free(&in);
        if (bad < 0) return sl_err_set(err, SL_ENOMEM, "out of memory");
        return sl_err_set(err, SL_EDATA, "the text is not valid UTF-8 (byte %ld of a segment)", bad);
    }
    const uint32_t *t = in.cp;
    size_t tn = in.n;
    if (tok->do_lower_case) { /* PreTrainedTokenizer.tokenize lower-cases character by character */
        if (lower_all(t, tn, &low)) goto oom;
        t = low.cp;
        tn = low.n;
    }
    if (!tok->do_basic_tokenize) {
        /* whitespace_tokenize, then WordPiece */
        size_t s = 0;
        for (size_t i = 0; i <= tn && !rc; i++) {
            if (i < tn && !(sl_nn_uni_flags(t[i]) & SL_NN_UNI_PYSPACE)) continue;
            if (i > s) rc = wordpiece(tok, t + s, i - s, out);
            s = i + 1;
        }
        if (rc) goto oom;
        goto done;
    }
    for (size_t i = 0; i < tn; i++) {
        uint32_t c = t[i];
        unsigned f = sl_nn_uni_flags(c);
        if (c == 0 || c == 0xFFFD || (f & SL_NN_UNI_CTRL)) continue;
        if (f & SL_NN_UNI_WS) c = ' ';
        if (tok->tokenize_chinese_chars && is_cjk(c)) {
            if (sl_nn_u32_push(&clean, ' ') || sl_nn_u32_push(&clean, c) || sl_nn_u32_push(&clean, ' '))
                goto oom;
        } else if (sl_nn_u32_push(&clean, c)) {
            goto oom;
        }
    }
    if (sl_nn_uni_nfc(clean.cp, clean.n, &nfc)) goto oom;
    size_t s = 0;
    for (size_t i = 0; i <= nfc.n; i++) {
        if (i < nfc.n && !(sl_nn_uni_flags(nfc.cp[i]) & SL_NN_UNI_PYSPACE)) continue;
        if (i > s && basic_token(tok, nfc.cp + s, i - s, out)) goto oom;
        s = i + 1;
    }
    goto done;
oom:
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
done:
    sl_nn_u32_free(&in);
    sl_nn_u32_free(&low);
    sl_nn_u32_free(&clean);
    sl_nn_u32_free(&nfc);
    return rc;
}

static int get_bool(const json_t *config, const char *key, int def, int *out, const char *dir, sl_err *err) {
    json_t *v = config ? json_object_get(config, key) : NULL;
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v))
        return sl_err_set(err, SL_EDATA, "%s/tokenizer_config.json: \"%s\" must be true or false", dir, key);
    *out = json_is_true(v);
    return 0;
}

int sl_nn_tok_wordpiece_init(sl_nn_tokenizer *tok, const json_t *config, sl_err *err) {
    int rc;
    if ((rc = get_bool(config, "do_lower_case", 1, &tok->do_lower_case, tok->dir, err))) return rc;
    /* DNABERT's DNATokenizer (jerryji1993/DNABERT tokenization_dna.py) never lower-cases, whatever its
     * tokenizer_config.json says (the shipped one says true) */
    const char *cls = config ? sl_nn_tok_json_token(json_object_get(config, "tokenizer_class")) : NULL;
    if (cls && !strcmp(cls, "DNATokenizer")) tok->do_lower_case = 0;
    if ((rc = get_bool(config, "tokenize_chinese_chars", 1, &tok->tokenize_chinese_chars, tok->dir, err)))
        return rc;
    if ((rc = get_bool(config, "do_basic_tokenize", 1, &tok->do_basic_tokenize, tok->dir, err))) return rc;
    if ((rc = get_bool(config, "strip_accents", -1, &tok->strip_accents, tok->dir, err))) return rc;
    tok->max_input_chars_per_word = 100;
    json_t *ns = config ? json_object_get(config, "never_split") : NULL;
    if (ns && !json_is_null(ns)) {
        if (!json_is_array(ns))
            return sl_err_set(err, SL_EDATA,
                              "%s/tokenizer_config.json: \"never_split\" must be a list of strings",
                              tok->dir);
        size_t n = json_array_size(ns);
        tok->never_split = calloc(n ? n : 1, sizeof(char *));
        if (!tok->never_split) return sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array_get(ns, i);
            if (!json_is_string(v))
                return sl_err_set(err, SL_EDATA,
                                  "%s/tokenizer_config.json: never_split[%zu] must be a string", tok->dir, i);
            if (!(tok->never_split[tok->n_never_split++] = strdup(json_string_value(v))))
                return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
    }
    tok->tokenize_segment = wordpiece_segment;
    return 0;
}
