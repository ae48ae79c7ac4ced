/* The tokenizer front: loading a model directory (choosing the kind), the vocabulary, added-token
 * splitting, truncation, special tokens and padding. */
#include "tokenizer_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

int sl_nn_i32_push(sl_nn_i32buf *b, int32_t id) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        int32_t *p = realloc(b->v, cap * sizeof *p);
        if (!p) return -1;
        b->v = p;
        b->cap = cap;
    }
    b->v[b->n++] = id;
    return 0;
}

static uint64_t fnv1a(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t slot_of(const sl_nn_vocab_map *m, const char *key, size_t len) {
    size_t i = (size_t)fnv1a(key, len) & (m->cap - 1);
    while (m->keys[i] && (strlen(m->keys[i]) != len || memcmp(m->keys[i], key, len) != 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

int sl_nn_vocab_put(sl_nn_vocab_map *m, const char *key, size_t len, int32_t id) {
    if (2 * (m->n + 1) > m->cap) {
        sl_nn_vocab_map g = {0};
        g.cap = m->cap ? 2 * m->cap : 1024;
        g.keys = calloc(g.cap, sizeof *g.keys);
        g.ids = calloc(g.cap, sizeof *g.ids);
        if (!g.keys || !g.ids) {
            free(g.keys);
            free(g.ids);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i]) continue;
            size_t s = slot_of(&g, m->keys[i], strlen(m->keys[i]));
            g.keys[s] = m->keys[i];
            g.ids[s] = m->ids[i];
        }
        g.n = m->n;
        free(m->keys);
        free(m->ids);
        *m = g;
    }
    size_t s = slot_of(m, key, len);
    if (!m->keys[s]) {
        if (!(m->keys[s] = strndup(key, len))) return -1;
        m->n++;
    }
    m->ids[s] = id;
    return 0;
}

int32_t sl_nn_vocab_get(const sl_nn_vocab_map *m, const char *key, size_t len) {
    if (!m->cap) return -1;
    size_t s = slot_of(m, key, len);
    return m->keys[s] ? m->ids[s] : -1;
}

void sl_nn_vocab_free(sl_nn_vocab_map *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->ids);
    memset(m, 0, sizeof *m);
}

int sl_nn_tok_read_vocab_txt(sl_nn_tokenizer *tok, const char *path, sl_err *err) {
    char *data;
    size_t len;
    int rc = sl_fs_read_all(path, &data, &len, err);
    if (rc) return rc;
    /* count lines as Python's readlines() does */
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n') lines++;
    if (len && data[len - 1] != '\n') lines++;
    if (lines == 0 || lines > INT32_MAX) {
        free(data);
        return sl_err_set(err, SL_EDATA, "%s: empty vocabulary", path);
    }
    tok->id_to_token = calloc(lines, sizeof(char *));
    if (!tok->id_to_token) {
        free(data);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    tok->n_ids = (int32_t)lines;
    size_t start = 0;
    int32_t id = 0;
    sl_nn_u32buf scratch = {0};
    for (size_t i = 0; i <= len && id < tok->n_ids; i++) {
        if (i < len && data[i] != '\n') continue;
        size_t n = i - start;
        long bad = sl_nn_utf8_decode(data + start, n, &scratch);
        scratch.n = 0;
        if (bad) {
            rc = bad < 0 ? sl_err_set(err, SL_ENOMEM, "out of memory")
                         : sl_err_set(err, SL_EDATA, "%s:%d: the token is not valid UTF-8", path, id + 1);
            break;
        }
        if (sl_nn_vocab_put(&tok->vocab, data + start, n, id) ||
            !(tok->id_to_token[id] = strndup(data + start, n))) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        id++;
        start = i + 1;
    }
    sl_nn_u32_free(&scratch);
    free(data);
    return rc;
}

const char *sl_nn_tok_json_token(const json_t *v) {
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_object(v) && json_is_string(json_object_get(v, "content")))
        return json_string_value(json_object_get(v, "content"));
    return NULL;
}

void sl_nn_tokenizer_free(sl_nn_tokenizer *tok) {
    if (!tok) return;
    sl_nn_vocab_free(&tok->vocab);
    for (int32_t i = 0; i < tok->n_ids; i++) free(tok->id_to_token[i]);
    free(tok->id_to_token);
    for (size_t i = 0; i < tok->n_added; i++) free(tok->added[i]);
    free(tok->added);
    for (size_t i = 0; i < tok->n_never_split; i++) free(tok->never_split[i]);
    free(tok->never_split);
    if (tok->free_impl) tok->free_impl(tok->impl);
    free(tok->dir);
    free(tok);
}

/* tokenizer_config.json may hold integers beyond 64 bits (model_max_length = 1e30 for "no limit"). */
static json_t *load_json_opt(const char *dir, const char *name, sl_err *err, int *rc) {
    *rc = 0;
    char *path = sl_fs_join(dir, name);
    if (!path) {
        *rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    json_t *j = NULL;
    if (sl_fs_is_file(path)) {
        json_error_t je;
        j = json_load_file(path, JSON_DECODE_INT_AS_REAL, &je);
        if (!j)
            *rc = sl_err_set(err, SL_EDATA, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        else if (!json_is_object(j)) {
            *rc = sl_err_set(err, SL_EDATA, "%s: expected a JSON object", path);
            json_decref(j);
            j = NULL;
        }
    }
    free(path);
    return j;
}

static int add_added_token(sl_nn_tokenizer *tok, const char *s) {
    if (!s || !*s) return 0;
    for (size_t i = 0; i < tok->n_added; i++)
        if (strcmp(tok->added[i], s) == 0) return 0;
    char **p = realloc(tok->added, (tok->n_added + 1) * sizeof *p);
    if (!p) return -1;
    tok->added = p;
    if (!(tok->added[tok->n_added] = strdup(s))) return -1;
    tok->n_added++;
    return 0;
}

/* The special-token strings: tokenizer_config.json first, then special_tokens_map.json, then defaults. */
static const char *special_string(const json_t *config, const json_t *map, const char *key, const char *def) {
    const char *s = config ? sl_nn_tok_json_token(json_object_get(config, key)) : NULL;
    if (!s && map) s = sl_nn_tok_json_token(json_object_get(map, key));
    return s ? s : def;
}

/* The BPE kind: tokenizer.json, with pad/mask (and overrides of cls/sep) from the JSON configs. */
static int load_bpe(sl_nn_tokenizer *tok, const char *path, const json_t *config, const json_t *map,
                    sl_err *err) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return sl_err_set(err, SL_EDATA, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    tok->kind = SL_NN_TOK_BPE;
    int rc = json_is_object(root) ? sl_nn_tok_bpe_init(tok, root, path, err)
                                  : sl_err_set(err, SL_EDATA, "%s: expected a JSON object", path);
    json_decref(root);
    if (rc) return rc;
    const char *pad = special_string(config, map, "pad_token", "[PAD]");
    const char *mask = special_string(config, map, "mask_token", "[MASK]");
    const char *cls = special_string(config, map, "cls_token", NULL);
    const char *sep = special_string(config, map, "sep_token", NULL);
    tok->sp.pad = sl_nn_vocab_get(&tok->vocab, pad, strlen(pad));
    tok->sp.mask = sl_nn_vocab_get(&tok->vocab, mask, strlen(mask));
    tok->sp.cls = cls ? sl_nn_vocab_get(&tok->vocab, cls, strlen(cls)) : tok->bos_id;
    tok->sp.sep = sep ? sl_nn_vocab_get(&tok->vocab, sep, strlen(sep)) : tok->eos_id;
    if (config) {
        json_t *m = json_object_get(config, "model_max_length");
        if (json_is_number(m) && json_number_value(m) > 0 && json_number_value(m) < 1e9)
            tok->model_max_length = (int)json_number_value(m);
    }
    return 0;
}

int sl_nn_tokenizer_load(const char *model_dir, sl_nn_tokenizer **out, sl_err *err) {
    *out = NULL;
    int rc = 0;
    sl_nn_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok || !(tok->dir = strdup(model_dir))) {
        free(tok);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    tok->sp = (sl_nn_tokenizer_specials){-1, -1, -1, -1, -1};
    tok->bos_id = tok->eos_id = -1;
    json_t *config = load_json_opt(model_dir, "tokenizer_config.json", err, &rc);
    json_t *map = NULL;
    char *vocab_path = sl_fs_join(model_dir, "vocab.txt");
    if (rc) goto fail;
    map = load_json_opt(model_dir, "special_tokens_map.json", err, &rc);
    if (rc) goto fail;
    if (!vocab_path) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    const char *cls_name = config ? sl_nn_tok_json_token(json_object_get(config, "tokenizer_class")) : NULL;
    char *tj_path = sl_fs_join(model_dir, "tokenizer.json");
    if (!tj_path) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (sl_fs_is_file(tj_path) &&
        ((cls_name && !strcmp(cls_name, "PreTrainedTokenizerFast")) || !sl_fs_is_file(vocab_path))) {
        rc = load_bpe(tok, tj_path, config, map, err);
        free(tj_path);
        if (rc) goto fail;
        goto done;
    }
    free(tj_path);
    if (!sl_fs_is_file(vocab_path)) {
        rc = sl_err_set(err, SL_ENOTFOUND, "%s: no tokenizer files (expected vocab.txt or tokenizer.json)",
                        model_dir);
        goto fail;
    }
    if (!cls_name) {
        /* no tokenizer_class: an ESM vocabulary has <cls>, a BERT one [CLS] */
        char *data;
        size_t len;
        if ((rc = sl_fs_read_all(vocab_path, &data, &len, err))) goto fail;
        int esm = (strncmp(data, "<cls>", 5) == 0 && (len == 5 || data[5] == '\n' || data[5] == '\r')) ||
                  strstr(data, "\n<cls>\n") || strstr(data, "\n<cls>\r");
        free(data);
        tok->kind = esm ? SL_NN_TOK_ESM : SL_NN_TOK_WORDPIECE;
    } else if (!strcmp(cls_name, "BertTokenizer") || !strcmp(cls_name, "BertTokenizerFast") ||
               !strcmp(cls_name, "DNATokenizer")) {
        tok->kind = SL_NN_TOK_WORDPIECE;
    } else if (!strcmp(cls_name, "EsmTokenizer")) {
        tok->kind = SL_NN_TOK_ESM;
    } else {
        rc = sl_err_set(err, SL_EDATA,
                        "%s/tokenizer_config.json: tokenizer_class \"%s\" is not supported (supported: "
                        "BertTokenizer, BertTokenizerFast, DNATokenizer, EsmTokenizer)",
                        model_dir, cls_name);
        goto fail;
    }
    int esm = tok->kind == SL_NN_TOK_ESM;
    if ((rc =
             esm ? sl_nn_tok_esm_init(tok, vocab_path, err) : sl_nn_tok_read_vocab_txt(tok, vocab_path, err)))
        goto fail;
    /* model_max_length (or the older max_len) */
    if (config) {
        json_t *m = json_object_get(config, "model_max_length");
        if (!json_is_number(m)) m = json_object_get(config, "max_len");
        if (json_is_number(m)) {
            double v = json_number_value(m);
            tok->model_max_length = (v > 0 && v < 1e9) ? (int)v : 0;
        }
    }
    /* special tokens (ESM: the eos token plays [SEP]'s part and may be null) */
    const char *names[5] = {
        special_string(config, map, "pad_token", esm ? "<pad>" : "[PAD]"),
        special_string(config, map, "unk_token", esm ? "<unk>" : "[UNK]"),
        special_string(config, map, "cls_token", esm ? "<cls>" : "[CLS]"),
        special_string(config, map, esm ? "eos_token" : "sep_token", esm ? "<eos>" : "[SEP]"),
        special_string(config, map, "mask_token", esm ? "<mask>" : "[MASK]")};
    int no_eos = esm && config && json_is_null(json_object_get(config, "eos_token"));
    int32_t *slots[5] = {&tok->sp.pad, &tok->sp.unk, &tok->sp.cls, &tok->sp.sep, &tok->sp.mask};
    for (int i = 0; i < 5; i++) {
        if (i == 3 && no_eos) continue;
        *slots[i] = sl_nn_vocab_get(&tok->vocab, names[i], strlen(names[i]));
        if (*slots[i] < 0 && i < 4) {
            rc = sl_err_set(err, SL_EDATA, "%s: special token \"%s\" is not in the vocabulary", vocab_path,
                            names[i]);
            goto fail;
        }
        /* WordPiece: the specials are added tokens, split out before basic tokenization; ESM: every
         * vocabulary entry is, and the kind's trie does the splitting */
        if (!esm && *slots[i] >= 0 && add_added_token(tok, names[i])) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto fail;
        }
    }
    tok->bos_id = tok->sp.cls;
    tok->eos_id = tok->sp.sep;
    if (esm) goto done;
    /* further added tokens that are in the vocabulary (added_tokens_decoder) */
    json_t *dec = config ? json_object_get(config, "added_tokens_decoder") : NULL;
    if (json_is_object(dec)) {
        const char *key;
        json_t *val;
        json_object_foreach(dec, key, val) {
            const char *content = sl_nn_tok_json_token(val);
            char *end;
            long id = strtol(key, &end, 10);
            if (!content || *end || id < 0) {
                rc = sl_err_set(err, SL_EDATA,
                                "%s/tokenizer_config.json: added_tokens_decoder entry \"%s\" is malformed",
                                model_dir, key);
                goto fail;
            }
            if (sl_nn_vocab_get(&tok->vocab, content, strlen(content)) != (int32_t)id) {
                rc = sl_err_set(
                    err, SL_EDATA,
                    "%s/tokenizer_config.json: added token \"%s\" has id %ld but the vocabulary says %d "
                    "(tokens added beyond vocab.txt are not supported)",
                    model_dir, content, id, sl_nn_vocab_get(&tok->vocab, content, strlen(content)));
                goto fail;
            }
            if (add_added_token(tok, content)) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto fail;
            }
        }
    }
    if ((rc = sl_nn_tok_wordpiece_init(tok, config, err))) goto fail;
done:
    json_decref(config);
    json_decref(map);
    free(vocab_path);
    *out = tok;
    return 0;
fail:
    json_decref(config);
    json_decref(map);
    free(vocab_path);
    sl_nn_tokenizer_free(tok);
    return rc;
}

int sl_nn_tokenizer_tokenize_into(const sl_nn_tokenizer *tok, const char *text, sl_nn_i32buf *out,
                                  sl_err *err) {
    size_t len = strlen(text), seg = 0;
    for (size_t i = 0; i < len;) {
        size_t best = 0;
        const char *best_tok = NULL;
        for (size_t a = 0; a < tok->n_added; a++) {
            size_t l = strlen(tok->added[a]);
            if (l > best && l <= len - i && memcmp(text + i, tok->added[a], l) == 0) {
                best = l;
                best_tok = tok->added[a];
            }
        }
        if (!best) {
            i++;
            continue;
        }
        if (i > seg) {
            int rc = tok->tokenize_segment(tok, text + seg, i - seg, out, err);
            if (rc) return rc;
        }
        if (sl_nn_i32_push(out, sl_nn_vocab_get(&tok->vocab, best_tok, best)))
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        i += best;
        seg = i;
    }
    if (len > seg) return tok->tokenize_segment(tok, text + seg, len - seg, out, err);
    return 0;
}

int sl_nn_tokenizer_tokenize(const sl_nn_tokenizer *tok, const char *text, int32_t **ids, size_t *n,
                             sl_err *err) {
    sl_nn_i32buf b = {0};
    *ids = NULL;
    *n = 0;
    int rc = sl_nn_tokenizer_tokenize_into(tok, text, &b, err);
    if (rc) {
        free(b.v);
        return rc;
    }
    *ids = b.v;
    *n = b.n;
    return 0;
}

int sl_nn_tokenizer_encode(const sl_nn_tokenizer *tok, const char *text, int max_length, int32_t *ids,
                           int32_t *attention_mask, int *n_real, sl_err *err) {
    int n_special = (tok->bos_id >= 0) + (tok->eos_id >= 0);
    if (max_length < n_special || max_length <= 0)
        return sl_err_set(err, SL_EUSAGE, "max_length %d leaves no room for the %d special tokens",
                          max_length, n_special);
    sl_nn_i32buf b = {0};
    int rc = sl_nn_tokenizer_tokenize_into(tok, text, &b, err);
    if (rc) {
        free(b.v);
        return rc;
    }
    size_t keep = b.n;
    if (keep > (size_t)(max_length - n_special)) keep = (size_t)(max_length - n_special);
    int k = 0;
    if (tok->bos_id >= 0) ids[k++] = tok->bos_id;
    for (size_t i = 0; i < keep; i++) ids[k++] = b.v[i];
    if (tok->eos_id >= 0) ids[k++] = tok->eos_id;
    free(b.v);
    if (n_real) *n_real = k;
    if (k < max_length && tok->sp.pad < 0)
        return sl_err_set(err, SL_EDATA, "%s: the tokenizer has no padding token (pad_token) to pad to %d",
                          tok->dir, max_length);
    for (int i = 0; i < max_length; i++) {
        if (attention_mask) attention_mask[i] = i < k;
        if (i >= k) ids[i] = tok->sp.pad;
    }
    return 0;
}

sl_nn_tokenizer_kind sl_nn_tokenizer_get_kind(const sl_nn_tokenizer *tok) {
    return tok->kind;
}

int sl_nn_tokenizer_vocab_size(const sl_nn_tokenizer *tok) {
    return tok->n_ids;
}

int32_t sl_nn_tokenizer_token_id(const sl_nn_tokenizer *tok, const char *token) {
    return sl_nn_vocab_get(&tok->vocab, token, strlen(token));
}

const char *sl_nn_tokenizer_id_to_token(const sl_nn_tokenizer *tok, int32_t id) {
    return id >= 0 && id < tok->n_ids ? tok->id_to_token[id] : NULL;
}

const sl_nn_tokenizer_specials *sl_nn_tokenizer_special_ids(const sl_nn_tokenizer *tok) {
    return &tok->sp;
}

int sl_nn_tokenizer_model_max_length(const sl_nn_tokenizer *tok) {
    return tok->model_max_length;
}
