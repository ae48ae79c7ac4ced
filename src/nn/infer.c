/* Inference sessions over in-memory sequences (see infer.h). */
#include "infer.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "backend.h"
#include "bert.h"
#include "model.h"
#include "parallel.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "trainer.h"
#include "util/fs.h"

struct sl_nn_infer {
    sl_nn_model *m;       /* any family (model.h) */
    sl_nn_dev_forward fw; /* its forward on the CPU engine or the CUDA device */
    int cuda, cuda_device, precision;
    sl_nn_tokenizer *tok;
    sl_nn_bert_config head;
    int max_len, kmer, window, stride, max_batch;
    int32_t *ids, *mask, *cids, *cmask; /* [max_batch, max_len] encoded / compacted */
    char *text;                         /* scratch for one window's k-mer text */
    size_t text_cap;
    sl_nn_family family;
    sl_nn_tokenizer_kind tok_kind;
    int protein;       /* an ESM tokenizer without 6-mers (ESM-2): sequences are one-letter residues */
    char residues[27]; /* protein: the one-letter residues the vocabulary has, upper case */
};

/* The head of (base config, adapter): seqlora_head.json when the adapter has one, else the base's. */
static int resolve_head(const sl_nn_infer_opts *o, const sl_nn_bert_config *base, sl_nn_bert_config *head,
                        int *max_len, sl_nn_lora_spec *spec, sl_err *err) {
    if (!o->adapter_dir)
        return sl_nn_bert_config_set_head(head, base->num_labels, (const char *const *)base->labels,
                                          base->problem, err);
    char **labels = NULL;
    int n = 0, rc;
    sl_nn_problem p = SL_NN_SINGLE_LABEL;
    rc = sl_nn_head_read(o->adapter_dir, &labels, &n, &p, max_len, err);
    if (rc == SL_ENOTFOUND) {
        int c = 0;
        if (err) sl_err_clear(err);
        if ((rc = sl_nn_adapter_num_labels(o->adapter_dir, &c, err))) return rc;
        sl_nn_problem q = c == 1                              ? SL_NN_REGRESSION
                          : base->problem == SL_NN_REGRESSION ? SL_NN_SINGLE_LABEL
                                                              : base->problem;
        rc = sl_nn_bert_config_set_head(
            head, c, c == base->num_labels ? (const char *const *)base->labels : NULL, q, err);
    } else if (!rc) {
        rc = sl_nn_bert_config_set_head(head, n, (const char *const *)labels, p, err);
    }
    for (int i = 0; i < n; i++) free(labels[i]);
    free(labels);
    if (!rc) rc = sl_nn_model_adapter_read_config(o->model_dir, o->adapter_dir, spec, err);
    return rc;
}

static const char *family_name(sl_nn_family f) {
    return f == SL_NN_FAMILY_ESM ? "esm" : f == SL_NN_FAMILY_DNABERT2 ? "dnabert2" : "bert";
}

int sl_nn_infer_family_of(const char *model_dir, const char **name, sl_err *err) {
    char *cfg = sl_fs_join(model_dir, "config.json");
    if (!cfg) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_family f;
    int rc = sl_nn_model_family(cfg, &f, err);
    free(cfg);
    if (!rc) *name = family_name(f);
    return rc;
}

static const char *tokenizer_kind_name(sl_nn_tokenizer_kind k) {
    return k == SL_NN_TOK_ESM ? "esm" : k == SL_NN_TOK_BPE ? "bpe" : "wordpiece";
}

/* k of a DNABERT-style k-mer vocabulary: the largest k in 3..6 whose all-A and ACGT... k-mers are tokens. */
static int detect_kmer(const sl_nn_tokenizer *tok) {
    static const char acgt[] = "ACGTACGT";
    for (int k = 6; k >= 3; k--) {
        char a[9], b[9];
        memset(a, 'A', (size_t)k);
        a[k] = 0;
        memcpy(b, acgt, (size_t)k);
        b[k] = 0;
        if (sl_nn_tokenizer_token_id(tok, a) >= 0 && sl_nn_tokenizer_token_id(tok, b) >= 0) return k;
    }
    return 0;
}

int sl_nn_infer_open(const sl_nn_infer_opts *o, sl_nn_infer **out, sl_err *err) {
    *out = NULL;
    if (!o || !o->model_dir) return sl_err_set(err, SL_EUSAGE, "infer: no model directory");
    if (o->window < 0 || o->stride < 0 || o->max_batch < 0 || o->max_length < 0)
        return sl_err_set(err, SL_EUSAGE, "infer: window, stride, max_batch and max_length must be >= 0");
    if (o->cuda && o->cuda_device < 0)
        return sl_err_set(err, SL_EUSAGE, "infer: CUDA device ordinal %d < 0", o->cuda_device);
    if (o->threads > 0) sl_nn_set_threads(o->threads);
    sl_nn_infer *s = calloc(1, sizeof(*s));
    if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_bert_config base = {0};
    sl_nn_lora_spec spec = {.r = 1, .alpha = 1, .targets = 0};
    int head_len = 0, rc;
    char *cfg = sl_fs_join(o->model_dir, "config.json");
    if (!cfg) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    rc = sl_nn_model_config_load(cfg, &base, err);
    free(cfg);
    if (rc) goto fail;
    if ((rc = sl_nn_tokenizer_load(o->tokenizer_dir ? o->tokenizer_dir : o->model_dir, &s->tok, err)))
        goto fail;
    if ((rc = resolve_head(o, &base, &s->head, &head_len, &spec, err))) goto fail;
    s->max_len = o->max_length                                  ? o->max_length
                 : head_len                                     ? head_len
                 : sl_nn_tokenizer_model_max_length(s->tok) > 0 ? sl_nn_tokenizer_model_max_length(s->tok)
                                                                : 512;
    if (s->max_len > base.max_position) s->max_len = base.max_position;
    if (s->max_len < 3) {
        rc = sl_err_set(err, SL_EUSAGE, "infer: max_length %d leaves no room for a token", s->max_len);
        goto fail;
    }
    /* k-mers are a WordPiece (DNABERT) vocabulary's convention; the ESM (Nucleotide Transformer 6-mers) and
     * BPE (DNABERT-2) tokenizers split raw DNA themselves, so they get the bases as they are */
    sl_nn_tokenizer_kind kind = sl_nn_tokenizer_get_kind(s->tok);
    if (kind != SL_NN_TOK_WORDPIECE && o->kmer > 0) {
        rc = sl_err_set(
            err, SL_EUSAGE,
            "infer: kmer %d given, but the %s tokenizer of %s splits raw DNA itself (k-mers apply "
            "to WordPiece k-mer vocabularies only; give kmer 0 or -1)",
            o->kmer, tokenizer_kind_name(kind), o->tokenizer_dir ? o->tokenizer_dir : o->model_dir);
        goto fail;
    }
    s->kmer = kind != SL_NN_TOK_WORDPIECE ? 0 : o->kmer > 0 ? o->kmer : o->kmer < 0 ? 0 : detect_kmer(s->tok);
    /* the special tokens around every window: [CLS] .. [SEP], <cls> .. <eos>, or the template's */
    int n_special = 0;
    int32_t *probe = malloc(2 * (size_t)s->max_len * sizeof(int32_t));
    if (!probe) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    rc = sl_nn_tokenizer_encode(s->tok, "", s->max_len, probe, probe + s->max_len, &n_special, err);
    free(probe);
    if (rc) goto fail;
    /* bases one window can hold whatever they are: a k-mer text has len - k + 1 tokens; the ESM and BPE
     * tokenizers give at most one token per base (a single-base token is their fallback, N is one token) */
    int fit = s->max_len - n_special + (s->kmer > 0 ? s->kmer - 1 : 0);
    s->window = o->window ? o->window : fit;
    if (s->window > fit) {
        rc = sl_err_set(err, SL_EUSAGE, "infer: window %d bases exceeds the %d a window of %d tokens holds",
                        s->window, fit, s->max_len);
        goto fail;
    }
    if (s->kmer > 0 && s->window < s->kmer) {
        rc = sl_err_set(err, SL_EUSAGE, "infer: window %d is shorter than k = %d", s->window, s->kmer);
        goto fail;
    }
    s->stride = o->stride ? o->stride : (s->window / 2 > 0 ? s->window / 2 : 1);
    if (s->stride > s->window) {
        rc = sl_err_set(err, SL_EUSAGE, "infer: stride %d exceeds the window %d (bases would be skipped)",
                        s->stride, s->window);
        goto fail;
    }
    s->max_batch = o->max_batch ? o->max_batch : 16;
    if ((rc = sl_nn_model_load(o->model_dir, &s->head, &spec, 0, s->max_batch, s->max_len, 0, &s->m, err)))
        goto fail;
    s->family = sl_nn_model_get_family(s->m);
    s->tok_kind = kind;
    if (kind == SL_NN_TOK_ESM && sl_nn_tokenizer_token_id(s->tok, "AAAAAA") < 0) {
        size_t n = 0;
        for (char c = 'A'; c <= 'Z'; c++) {
            char t[2] = {c, 0};
            if (sl_nn_tokenizer_token_id(s->tok, t) >= 0) s->residues[n++] = c;
        }
        s->protein = n > 0;
    }
    if (o->adapter_dir) {
        if ((rc = sl_nn_model_adapter_load_weights(s->m, o->adapter_dir, err))) goto fail;
    } else if (!sl_nn_model_head_loaded(s->m)) {
        rc = sl_err_set(err, SL_EDATA, "%s: the model has no classifier of %d classes", o->model_dir,
                        s->head.num_labels);
        goto fail;
    }
    /* after the adapter: the device copy is made from the loaded weights */
    s->cuda = o->cuda != 0;
    s->cuda_device = o->cuda ? o->cuda_device : -1;
    s->precision = o->precision;
    if ((rc = sl_nn_dev_forward_init(&s->fw, s->m, s->cuda, s->cuda_device, s->precision, s->max_batch, err)))
        goto fail;
    size_t cells = (size_t)s->max_batch * (size_t)s->max_len;
    s->ids = malloc(cells * sizeof(int32_t));
    s->mask = malloc(cells * sizeof(int32_t));
    s->cids = malloc(cells * sizeof(int32_t));
    s->cmask = malloc(cells * sizeof(int32_t));
    if (!s->ids || !s->mask || !s->cids || !s->cmask) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    sl_nn_bert_config_free(&base);
    *out = s;
    return 0;
fail:
    sl_nn_bert_config_free(&base);
    sl_nn_infer_free(s);
    return rc;
}

void sl_nn_infer_free(sl_nn_infer *s) {
    if (!s) return;
    sl_nn_dev_forward_free(&s->fw);
    sl_nn_model_free(s->m);
    sl_nn_tokenizer_free(s->tok);
    sl_nn_bert_config_free(&s->head);
    free(s->ids);
    free(s->mask);
    free(s->cids);
    free(s->cmask);
    free(s->text);
    free(s);
}

int sl_nn_infer_num_outputs(const sl_nn_infer *s) {
    return s->head.num_labels;
}
const char *sl_nn_infer_label(const sl_nn_infer *s, int i) {
    return i >= 0 && i < s->head.num_labels ? s->head.labels[i] : NULL;
}
sl_nn_problem sl_nn_infer_problem(const sl_nn_infer *s) {
    return s->head.problem;
}
const sl_nn_bert *sl_nn_infer_model(const sl_nn_infer *s) {
    return sl_nn_model_bert(s->m);
}
const sl_nn_lora_spec *sl_nn_infer_spec(const sl_nn_infer *s) {
    return sl_nn_model_get_spec(s->m);
}
const char *sl_nn_infer_family(const sl_nn_infer *s) {
    return family_name(s->family);
}
const char *sl_nn_infer_tokenizer_kind(const sl_nn_infer *s) {
    return tokenizer_kind_name(s->tok_kind);
}
int sl_nn_infer_kmer(const sl_nn_infer *s) {
    return s->kmer;
}
int sl_nn_infer_window(const sl_nn_infer *s) {
    return s->window;
}
int sl_nn_infer_stride(const sl_nn_infer *s) {
    return s->stride;
}
int sl_nn_infer_max_length(const sl_nn_infer *s) {
    return s->max_len;
}
int sl_nn_infer_cuda_device(const sl_nn_infer *s) {
    return s->cuda ? s->cuda_device : -1;
}
int sl_nn_infer_precision(const sl_nn_infer *s) {
    return s->precision;
}

int sl_nn_infer_check_dna(const char *seq, size_t len, long long *bad_pos) {
    *bad_pos = -1;
    if (len == 0) return SL_EDATA;
    for (size_t i = 0; i < len; i++) {
        switch (seq[i]) {
            case 'A':
            case 'C':
            case 'G':
            case 'T':
            case 'N':
            case 'a':
            case 'c':
            case 'g':
            case 't':
            case 'n':
                break;
            default:
                *bad_pos = (long long)i;
                return SL_EDATA;
        }
    }
    return 0;
}

int sl_nn_infer_is_protein(const sl_nn_infer *s) {
    return s->protein;
}

const char *sl_nn_infer_alphabet(const sl_nn_infer *s) {
    return s->protein ? "a one-letter residue of the model's vocabulary" : "one of A, C, G, T, N";
}

int sl_nn_infer_check_seq(const sl_nn_infer *s, const char *seq, size_t len, long long *bad_pos) {
    if (!s->protein) return sl_nn_infer_check_dna(seq, len, bad_pos);
    *bad_pos = -1;
    if (len == 0) return SL_EDATA;
    for (size_t i = 0; i < len; i++) {
        int c = toupper((unsigned char)seq[i]);
        if (c < 'A' || c > 'Z' || !strchr(s->residues, c)) {
            *bad_pos = (long long)i;
            return SL_EDATA;
        }
    }
    return 0;
}

size_t sl_nn_infer_n_windows(const sl_nn_infer *s, size_t len) {
    size_t W = (size_t)s->window, S = (size_t)s->stride;
    if (len <= W) return 1;
    /* starts 0, S, 2S, ... while start + W < len, then one window ending at len */
    return (len - W + S - 1) / S + 1;
}

/* The start of window j of a sequence of `len` bases. */
static size_t window_start(const sl_nn_infer *s, size_t len, size_t j, size_t nw) {
    if (j + 1 == nw && len > (size_t)s->window) return len - (size_t)s->window;
    return j * (size_t)s->stride;
}

/* The tokenizer text of bases seq[0..len): k-mers joined by spaces (upper case), or the bases as they are. */
static int window_text(sl_nn_infer *s, const char *seq, size_t len, sl_err *err) {
    size_t k = (size_t)s->kmer, need = k && len >= k ? (len - k + 1) * (k + 1) + 1 : len + 1;
    if (need > s->text_cap) {
        char *p = realloc(s->text, need);
        if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
        s->text = p;
        s->text_cap = need;
    }
    char *w = s->text;
    if (k && len >= k) {
        for (size_t i = 0; i + k <= len; i++) {
            if (i) *w++ = ' ';
            for (size_t j = 0; j < k; j++) *w++ = (char)toupper((unsigned char)seq[i + j]);
        }
    } else {
        for (size_t i = 0; i < len; i++) *w++ = (char)toupper((unsigned char)seq[i]);
    }
    *w = 0;
    return 0;
}

/* Forward rows 0..B-1 of s->ids/s->mask (already encoded) and write their C outputs to dst[b * C]. */
static int forward_rows(sl_nn_infer *s, int B, const int *n_real, double *dst, sl_err *err) {
    int T = 2, C = s->head.num_labels;
    for (int b = 0; b < B; b++) T = n_real[b] > T ? n_real[b] : T;
    for (int b = 0; b < B; b++) {
        memcpy(s->cids + (size_t)b * T, s->ids + (size_t)b * s->max_len, (size_t)T * sizeof(int32_t));
        memcpy(s->cmask + (size_t)b * T, s->mask + (size_t)b * s->max_len, (size_t)T * sizeof(int32_t));
    }
    const float *lg;
    int rc = sl_nn_dev_forward_run(&s->fw, s->cids, s->cmask, B, T, &lg, err);
    if (rc) return rc;
    for (int b = 0; b < B; b++)
        sl_nn_logits_outputs(s->head.problem, lg + (size_t)b * C, C, dst + (size_t)b * C);
    return 0;
}

int sl_nn_infer_score_texts(sl_nn_infer *s, const char *const *texts, size_t n, double *out, sl_err *err) {
    int C = s->head.num_labels, n_real[1024];
    if (s->max_batch > 1024) return sl_err_set(err, SL_EUSAGE, "infer: max_batch above 1024");
    for (size_t start = 0; start < n; start += (size_t)s->max_batch) {
        int B = n - start < (size_t)s->max_batch ? (int)(n - start) : s->max_batch;
        for (int b = 0; b < B; b++) {
            int rc =
                sl_nn_tokenizer_encode(s->tok, texts[start + b], s->max_len, s->ids + (size_t)b * s->max_len,
                                       s->mask + (size_t)b * s->max_len, &n_real[b], err);
            if (rc) return sl_err_prefix(err, "sequence %zu: ", start + b + 1);
        }
        int rc = forward_rows(s, B, n_real, out + start * (size_t)C, err);
        if (rc) return rc;
    }
    return 0;
}

int sl_nn_infer_score_dna(sl_nn_infer *s, const char *const *seqs, size_t n, double *out, size_t *n_windows,
                          sl_err *err) {
    int C = s->head.num_labels, n_real[1024], owner_len = 0;
    if (s->max_batch > 1024) return sl_err_set(err, SL_EUSAGE, "infer: max_batch above 1024");
    size_t owner[1024];
    double *wout = malloc((size_t)s->max_batch * (size_t)C * sizeof(double));
    size_t *lens = malloc((n ? n : 1) * sizeof(size_t));
    if (!wout || !lens) {
        free(wout);
        free(lens);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        long long bad;
        lens[i] = strlen(seqs[i]);
        if (sl_nn_infer_check_seq(s, seqs[i], lens[i], &bad)) {
            rc = bad < 0 ? sl_err_set(err, SL_EDATA, "sequence %zu is empty", i + 1)
                         : sl_err_set(err, SL_EDATA, "sequence %zu: position %lld: '%c' is not %s", i + 1,
                                      bad + 1, seqs[i][bad], sl_nn_infer_alphabet(s));
            goto out;
        }
        if (n_windows) n_windows[i] = sl_nn_infer_n_windows(s, lens[i]);
    }
    memset(out, 0, n * (size_t)C * sizeof(double));
    /* walk every (sequence, window) pair in order, flushing a batch when it is full */
    for (size_t i = 0; i < n; i++) {
        size_t nw = sl_nn_infer_n_windows(s, lens[i]);
        for (size_t j = 0; j < nw; j++) {
            size_t st = window_start(s, lens[i], j, nw);
            size_t wl = lens[i] - st < (size_t)s->window ? lens[i] - st : (size_t)s->window;
            if ((rc = window_text(s, seqs[i] + st, wl, err))) goto out;
            int b = owner_len;
            if ((rc = sl_nn_tokenizer_encode(s->tok, s->text, s->max_len, s->ids + (size_t)b * s->max_len,
                                             s->mask + (size_t)b * s->max_len, &n_real[b], err))) {
                sl_err_prefix(err, "sequence %zu: ", i + 1);
                goto out;
            }
            owner[owner_len++] = i;
            int last = i + 1 == n && j + 1 == nw;
            if (owner_len == s->max_batch || last) {
                if ((rc = forward_rows(s, owner_len, n_real, wout, err))) goto out;
                for (int r = 0; r < owner_len; r++) {
                    double inv = 1.0 / (double)sl_nn_infer_n_windows(s, lens[owner[r]]);
                    for (int c = 0; c < C; c++)
                        out[owner[r] * (size_t)C + c] += wout[(size_t)r * C + c] * inv;
                }
                owner_len = 0;
            }
        }
    }
out:
    free(wout);
    free(lens);
    return rc;
}
