/* MLM pretraining: the loop, the data windows, the checkpoint and the output directory (pretrainer.h). */
#include "pretrainer.h"

#include <archive.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bert.h"
#include "init_model.h"
#include "mlm.h"
#include "optim.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/rng.h"

void sl_nn_pretrain_opts_default(sl_nn_pretrain_opts *o) {
    memset(o, 0, sizeof *o);
    o->kmer = 6;
    o->window = 512;
    o->epochs = 1;
    o->batch_size = 8;
    o->lr = 4e-4;
    o->weight_decay = 0.01;
    o->mlm_probability = 0.15;
    o->max_grad_norm = 1.0;
    o->checkpoint_every = 50;
    o->seed = 42;
}

/* ---- sequences ----------------------------------------------------------------------------- */

typedef struct {
    char **seq;
    size_t *len;
    int n;
} seqs;

static void seqs_free(seqs *s) {
    for (int i = 0; i < s->n; i++) free(s->seq[i]);
    free(s->seq);
    free(s->len);
}

static int seqs_add(seqs *s, char *seq, size_t len, sl_err *err) {
    char **a = realloc(s->seq, (size_t)(s->n + 1) * sizeof *a);
    if (a) s->seq = a;
    size_t *b = realloc(s->len, (size_t)(s->n + 1) * sizeof *b);
    if (b) s->len = b;
    if (!a || !b) {
        free(seq);
        return sl_err_set(err, SL_ENOMEM, "out of memory for the sequences");
    }
    s->seq[s->n] = seq;
    s->len[s->n++] = len;
    return 0;
}

/* The whole file, decompressed when it is gzip/bgzip, bzip2, xz or zstd (libarchive's raw format with
 * every filter; plain text passes through). */
static int read_maybe_compressed(const char *path, char **out, size_t *out_len, sl_err *err) {
    *out = NULL;
    *out_len = 0;
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size == 0)
        return sl_err_set(err, SL_EDATA, "%s: empty file (expected FASTA)", path);
    struct archive *a = archive_read_new();
    if (!a) return sl_err_set(err, SL_ENOMEM, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    struct archive_entry *e;
    int rc = 0;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK ||
        archive_read_next_header(a, &e) != ARCHIVE_OK) {
        const char *msg = archive_error_string(a);
        rc = sl_err_set(err, SL_EIO, "%s: cannot read (%s)", path, msg ? msg : "empty file");
        archive_read_free(a);
        return rc;
    }
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len == cap) {
            char *nb = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        la_ssize_t n = archive_read_data(a, buf + len, cap - len);
        if (n < 0) {
            const char *msg = archive_error_string(a);
            rc = sl_err_set(err, SL_EDATA, "%s: cannot decompress (%s)", path, msg ? msg : "error");
            break;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    archive_read_free(a);
    if (!buf) return sl_err_set(err, SL_ENOMEM, "%s: out of memory reading the sequences", path);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

static int read_fasta(const char *path, seqs *s, sl_err *err) {
    char *data = NULL;
    size_t len = 0;
    int rc = read_maybe_compressed(path, &data, &len, err);
    if (rc) return rc;
    size_t i = 0, line = 1;
    char *cur = NULL;
    size_t cl = 0, ccap = 0;
    int in_rec = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && data[e] != '\n') e++;
        size_t le = e;
        if (le > i && data[le - 1] == '\r') le--;
        if (le > i && data[i] == '>') {
            if (in_rec && (rc = seqs_add(s, cur, cl, err))) goto out;
            cur = malloc(1024);
            ccap = 1024;
            cl = 0;
            in_rec = 1;
            if (!cur) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto out;
            }
        } else if (le > i) {
            if (!in_rec) {
                rc = sl_err_set(err, SL_EDATA, "%s:%zu: sequence before the first '>' header (not FASTA)",
                                path, line);
                goto out;
            }
            if (cl + (le - i) + 1 > ccap) { /* geometric growth: long chromosomes come in short lines */
                size_t nc = ccap * 2 > cl + (le - i) + 1 ? ccap * 2 : cl + (le - i) + 1;
                char *n = realloc(cur, nc);
                if (!n) {
                    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                    goto out;
                }
                cur = n;
                ccap = nc;
            }
            for (size_t k = i; k < le; k++) {
                char c = data[k];
                if (c >= 'a' && c <= 'z') c = (char)(c - 32);
                if (c < 'A' || c > 'Z') {
                    rc = sl_err_set(err, SL_EDATA, "%s:%zu: character '%c' is not a nucleotide code", path,
                                    line, data[k]);
                    goto out;
                }
                cur[cl++] = c;
            }
        }
        i = e + 1;
        line++;
    }
    if (in_rec) {
        rc = seqs_add(s, cur, cl, err);
        cur = NULL;
        if (rc) goto out;
    }
    if (!in_rec) rc = sl_err_set(err, SL_EDATA, "%s: no FASTA record ('>' header) found", path);
out:
    if (rc && in_rec) free(cur);
    free(data);
    return rc;
}

/* ---- the training state -------------------------------------------------------------------- */

typedef struct {
    float *p, *g; /* into the model's base arena or the head's */
    float *m, *v; /* into the moments */
    size_t n;
    int decay; /* weight decay applies */
    const char *name;
    int ndim;
    int64_t shape[2];
} tensor;

typedef struct {
    sl_nn_bert *model;
    sl_nn_mlm_head head;
    tensor *t;
    size_t nt, n_opt; /* tensors, floats under the optimiser */
    float *moments;   /* 2 * n_opt */
    long long step;
    double *epoch_loss; /* per finished epoch */
    double run_sum;     /* the current epoch's loss sum over its steps so far */
} state;

static int ends_with(const char *s, const char *t) {
    size_t a = strlen(s), b = strlen(t);
    return a >= b && !strcmp(s + a - b, t);
}

static int build_tensors(state *s, sl_err *err) {
    size_t nb = 0;
    const sl_nn_param *bp = sl_nn_bert_base_tensors(s->model, &nb);
    float *bparams = sl_nn_bert_base_params(s->model), *bgrads = sl_nn_bert_base_grads(s->model);
    s->t = calloc(nb + SL_NN_MLM_NT, sizeof *s->t);
    if (!s->t) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < nb + SL_NN_MLM_NT; i++) {
        const sl_nn_param *p = i < nb ? &bp[i] : &s->head.tensors[i - nb];
        if (i < nb && !strncmp(p->name, "bert.pooler.", 12)) continue; /* BertForMaskedLM has no pooler */
        tensor *t = &s->t[s->nt++];
        t->p = (i < nb ? bparams : s->head.params) + p->offset;
        t->g = (i < nb ? bgrads : s->head.grads) + p->offset;
        t->n = p->numel;
        t->name = p->name;
        t->ndim = p->ndim;
        t->shape[0] = p->shape[0];
        t->shape[1] = p->shape[1];
        t->decay = !(ends_with(p->name, ".bias") || strstr(p->name, "LayerNorm."));
        s->n_opt += p->numel;
    }
    s->moments = calloc(2 * s->n_opt, sizeof(float));
    if (!s->moments) return sl_err_set(err, SL_ENOMEM, "out of memory for the optimizer state");
    size_t off = 0;
    for (size_t i = 0; i < s->nt; i++) {
        s->t[i].m = s->moments + off;
        s->t[i].v = s->moments + s->n_opt + off;
        off += s->t[i].n;
    }
    return 0;
}

static double clip_grads(state *s, double max_norm) {
    double total = 0;
    for (size_t i = 0; i < s->nt; i++) {
        double q = 0;
        for (size_t j = 0; j < s->t[i].n; j++) q += (double)s->t[i].g[j] * s->t[i].g[j];
        double nrm = (float)sqrt(q);
        total += nrm * nrm;
    }
    total = sqrt(total);
    if (max_norm > 0) {
        double coef = max_norm / (total + 1e-6);
        if (coef < 1.0)
            for (size_t i = 0; i < s->nt; i++)
                for (size_t j = 0; j < s->t[i].n; j++) s->t[i].g[j] *= (float)coef;
    }
    return total;
}

static void adamw(state *s, double lr, double wd) {
    for (size_t i = 0; i < s->nt; i++) {
        sl_nn_adamw a = {.n = s->t[i].n,
                         .m = s->t[i].m,
                         .v = s->t[i].v,
                         .t = s->step - 1, /* adamw_step counts this step itself */
                         .beta1 = 0.9,
                         .beta2 = 0.98,
                         .eps = 1e-6,
                         .weight_decay = s->t[i].decay ? wd : 0};
        sl_nn_adamw_step(&a, lr, s->t[i].p, s->t[i].g);
    }
}

/* checkpoint: magic, settings line, step, run_sum, epoch losses, parameters, moments */
static int ckpt_save(const state *s, const char *path, const char *key, int epochs, sl_err *err) {
    size_t klen = strlen(key) + 1;
    size_t total = 8 + klen + 8 + 8 + (size_t)epochs * 8 + 3 * s->n_opt * sizeof(float);
    char *buf = malloc(total), *p = buf;
    if (!buf) return sl_err_set(err, SL_ENOMEM, "out of memory for a checkpoint");
    memcpy(p, "SLPRET01", 8), p += 8;
    memcpy(p, key, klen), p += klen;
    memcpy(p, &s->step, 8), p += 8;
    memcpy(p, &s->run_sum, 8), p += 8;
    memcpy(p, s->epoch_loss, (size_t)epochs * 8), p += (size_t)epochs * 8;
    for (size_t i = 0; i < s->nt; i++) memcpy(p, s->t[i].p, s->t[i].n * sizeof(float)), p += s->t[i].n * 4;
    memcpy(p, s->moments, 2 * s->n_opt * sizeof(float));
    int rc = sl_fs_write_atomic(path, buf, total, err);
    free(buf);
    return rc;
}

static int ckpt_load(state *s, const char *path, const char *key, int epochs, int *loaded, sl_err *err) {
    *loaded = 0;
    if (!sl_fs_is_file(path)) return 0;
    char *buf = NULL;
    size_t len = 0;
    int rc = sl_fs_read_all(path, &buf, &len, err);
    if (rc) return rc;
    size_t klen = strlen(key) + 1;
    size_t total = 8 + klen + 8 + 8 + (size_t)epochs * 8 + 3 * s->n_opt * sizeof(float);
    if (len != total || memcmp(buf, "SLPRET01", 8) || memcmp(buf + 8, key, klen)) {
        sl_log_warn("%s: checkpoint does not match this run's settings; starting over", path);
        free(buf);
        return 0;
    }
    const char *p = buf + 8 + klen;
    memcpy(&s->step, p, 8), p += 8;
    memcpy(&s->run_sum, p, 8), p += 8;
    memcpy(s->epoch_loss, p, (size_t)epochs * 8), p += (size_t)epochs * 8;
    for (size_t i = 0; i < s->nt; i++) memcpy(s->t[i].p, p, s->t[i].n * sizeof(float)), p += s->t[i].n * 4;
    memcpy(s->moments, p, 2 * s->n_opt * sizeof(float));
    free(buf);
    *loaded = 1;
    return 0;
}

/* ---- output -------------------------------------------------------------------------------- */

static int write_output(const state *s, const char *src_dir, const char *out, sl_err *err) {
    int rc = 0;
    sl_nn_st_wtensor *w = calloc(s->nt, sizeof *w);
    if (!w) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->nt; i++)
        w[i] = (sl_nn_st_wtensor){s->t[i].name, SL_NN_ST_F32, s->t[i].ndim, s->t[i].shape, s->t[i].p};
    static const char *const meta[] = {"format", "pt", NULL};
    char *path = sl_fs_join(out, "model.safetensors");
    rc = path ? sl_nn_st_write(path, w, s->nt, meta, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    free(path);
    free(w);
    if (rc) return rc;
    /* config.json: the source's, as a masked LM */
    char *src = sl_fs_join(src_dir, "config.json");
    json_t *cfg = src ? sl_json_load_file(src, err) : NULL;
    free(src);
    if (!cfg) return err->code ? err->code : sl_err_set(err, SL_ENOMEM, "out of memory");
    json_object_set_new(cfg, "architectures", json_pack("[s]", "BertForMaskedLM"));
    json_object_set_new(cfg, "model_type", json_string("bert"));
    json_object_del(cfg, "id2label");
    json_object_del(cfg, "label2id");
    path = sl_fs_join(out, "config.json");
    rc = path ? sl_json_write_file(path, cfg, 1, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    free(path);
    json_decref(cfg);
    if (rc) return rc;
    static const char *const copy[] = {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"};
    for (int i = 0; i < 3 && !rc; i++) {
        char *a = sl_fs_join(src_dir, copy[i]), *b = sl_fs_join(out, copy[i]);
        if (!a || !b)
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        else if (sl_fs_is_file(a))
            rc = sl_fs_copy_atomic(a, b, err);
        else if (i == 2) {
            json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s}", "cls_token", "[CLS]", "mask_token", "[MASK]",
                                  "pad_token", "[PAD]", "sep_token", "[SEP]", "unk_token", "[UNK]");
            rc = m ? sl_json_write_file(b, m, 1, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
            json_decref(m);
        } else if (i == 0)
            rc = sl_err_set(err, SL_EDATA, "%s: the model has no vocab.txt", src_dir);
        free(a);
        free(b);
    }
    return rc;
}

/* ---- the model ----------------------------------------------------------------------------- */

/* From a BertConfig JSON: write the randomly initialised k-mer model into dir. */
static int init_from_config(const sl_nn_pretrain_opts *o, const char *dir, sl_err *err) {
    json_t *c = sl_json_load_file(o->config_path, err);
    if (!c) return err->code;
    sl_nn_init_spec sp;
    sl_nn_init_spec_default(&sp);
    long long v;
    double d;
    int rc = 0;
    struct {
        const char *key;
        int *dst;
    } f[] = {{"hidden_size", &sp.hidden},
             {"num_hidden_layers", &sp.layers},
             {"num_attention_heads", &sp.heads},
             {"intermediate_size", &sp.intermediate},
             {"max_position_embeddings", &sp.max_position}};
    for (size_t i = 0; i < sizeof f / sizeof f[0] && !rc; i++) {
        rc = sl_json_get_int(c, f[i].key, *f[i].dst, &v, err);
        if (!rc) *f[i].dst = (int)v;
    }
    if (!rc && !(rc = sl_json_get_real(c, "initializer_range", sp.init_range, &d, err))) sp.init_range = d;
    json_decref(c);
    if (rc) return sl_err_prefix(err, "%s", o->config_path), rc;
    sp.kmer = o->kmer;
    sp.seed = o->seed;
    if ((rc = sl_nn_init_spec_check(&sp, err))) return sl_err_prefix(err, "%s", o->config_path), rc;
    return sl_nn_init_model_write(&sp, dir, err);
}

static void kmer_string(long long idx, int k, char *s) {
    static const char b[4] = {'A', 'C', 'G', 'T'};
    for (int i = k - 1; i >= 0; i--) s[i] = b[idx & 3], idx >>= 2;
    s[k] = 0;
}

static int base_code(char c) {
    switch (c) {
        case 'A':
            return 0;
        case 'C':
            return 1;
        case 'G':
            return 2;
        case 'T':
            return 3;
        default:
            return -1;
    }
}

static char complement(char c) {
    switch (c) {
        case 'A':
            return 'T';
        case 'C':
            return 'G';
        case 'G':
            return 'C';
        case 'T':
            return 'A';
        default:
            return 'N';
    }
}

int sl_nn_pretrain(const sl_nn_pretrain_opts *o, sl_nn_pretrain_result *res, sl_err *err) {
    if (o->n_fasta < 1) return sl_err_set(err, SL_EUSAGE, "pretrain needs at least one --fasta file");
    if (!o->config_path == !o->init_from)
        return sl_err_set(err, SL_EUSAGE, "give exactly one of --config (from scratch) and --init-from");
    if (o->kmer < 3 || o->kmer > 8)
        return sl_err_set(err, SL_EUSAGE, "--kmer must be 3..8 (got %d)", o->kmer);
    if (o->window < 3) return sl_err_set(err, SL_EUSAGE, "--window must be at least 3 tokens");
    if (o->epochs < 1 || o->batch_size < 1 || o->windows_per_epoch < 0 || o->warmup_steps < 0)
        return sl_err_set(err, SL_EUSAGE, "--epochs and --batch-size must be >= 1, --warmup-steps >= 0");
    if (!(o->lr > 0) || o->weight_decay < 0 || !(o->mlm_probability > 0 && o->mlm_probability < 1))
        return sl_err_set(err, SL_EUSAGE,
                          "--lr must be > 0, --weight-decay >= 0, --mlm-probability in (0, 1)");
    int rc = 0;
    seqs sq = {0};
    state s = {0};
    sl_nn_tokenizer *tok = NULL;
    char *tmpdir = NULL, *init_dir = NULL, *ckpt = NULL, *metrics = NULL;
    int32_t *kid = NULL, *ids = NULL, *mask = NULL, *mids = NULL, *labels = NULL;
    float *dh = NULL;
    double *cum = NULL;
    size_t mlen = 0;
    for (int i = 0; i < o->n_fasta; i++)
        if ((rc = read_fasta(o->fasta[i], &sq, err))) goto out;
    /* the model directory to start from */
    const char *src = o->init_from;
    if (o->config_path) {
        if (o->workdir) {
            init_dir = sl_fs_join(o->workdir, "init-model");
            if (!init_dir) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto out;
            }
            if ((rc = sl_fs_mkdirs(init_dir, err))) goto out;
        } else if ((rc = sl_fs_mkdtemp(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", "seqlora-pretrain",
                                       &tmpdir, err))) {
            goto out;
        }
        src = init_dir ? init_dir : tmpdir;
        if ((rc = init_from_config(o, src, err))) goto out;
    }
    if ((rc = sl_nn_tokenizer_load(src, &tok, err))) goto out;
    const sl_nn_tokenizer_specials *sp = sl_nn_tokenizer_special_ids(tok);
    if (sp->cls < 0 || sp->sep < 0 || sp->mask < 0 || sp->pad < 0 || sp->unk < 0) {
        rc = sl_err_set(err, SL_EDATA, "%s: the vocabulary lacks one of [PAD] [UNK] [CLS] [SEP] [MASK]", src);
        goto out;
    }
    const int k = o->kmer;
    const long long nk = 1LL << (2 * k);
    kid = malloc((size_t)nk * sizeof *kid);
    if (!kid) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    int32_t first_regular = INT32_MAX;
    for (long long i = 0; i < nk; i++) {
        char km[16];
        kmer_string(i, k, km);
        kid[i] = sl_nn_tokenizer_token_id(tok, km);
        if (kid[i] < 0) {
            rc = sl_err_set(err, SL_EDATA, "%s: the vocabulary has no %d-mer %s (is it a k=%d vocabulary?)",
                            src, k, km, k);
            goto out;
        }
        if (kid[i] < first_regular) first_regular = kid[i];
    }
    /* the model */
    sl_nn_lora_spec none = {.r = 1, .alpha = 1, .targets = 0};
    const int B = o->batch_size;
    if ((rc = sl_nn_bert_load(src, NULL, &none, o->seed, B, o->window, 1, &s.model, err))) goto out;
    const sl_nn_bert_config *c = sl_nn_bert_get_config(s.model);
    const int T = o->window < c->max_position ? o->window : c->max_position;
    if ((rc = sl_nn_bert_enable_full_grad(s.model, err))) goto out;
    if ((rc = sl_nn_mlm_head_init(&s.head, c->hidden, c->vocab_size, c->ln_eps, c->init_range, o->seed, err)))
        goto out;
    int head_loaded = 0;
    if (o->init_from && (rc = sl_nn_mlm_head_load(&s.head, src, &head_loaded, err))) goto out;
    if (o->init_from && o->progress)
        sl_log_info("pretrain: MLM head %s",
                    head_loaded ? "from the checkpoint" : "new (none in the checkpoint)");
    if ((rc = build_tensors(&s, err))) goto out;
    /* windows: span = bases per window; weights = window starts per sequence */
    const size_t span = (size_t)(T - 2) + (size_t)k - 1;
    cum = malloc((size_t)sq.n * sizeof *cum);
    if (!cum) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    double tot = 0, bases = 0;
    for (int i = 0; i < sq.n; i++) {
        tot += sq.len[i] >= span ? (double)(sq.len[i] - span + 1) : (sq.len[i] >= (size_t)k ? 1 : 0);
        cum[i] = tot;
        bases += (double)sq.len[i];
    }
    if (tot <= 0) {
        rc = sl_err_set(err, SL_EDATA, "no sequence of the FASTA input is at least %d bases long", k);
        goto out;
    }
    const int wpe = o->windows_per_epoch > 0 ? o->windows_per_epoch : (int)ceil(2.0 * bases / (double)span);
    const long long spe = (wpe + B - 1) / B, total_steps = spe * o->epochs;
    s.epoch_loss = calloc((size_t)o->epochs, sizeof(double));
    ids = malloc((size_t)B * T * sizeof *ids);
    mask = malloc((size_t)B * T * sizeof *mask);
    mids = malloc((size_t)B * T * sizeof *mids);
    labels = malloc((size_t)B * T * sizeof *labels);
    dh = malloc((size_t)B * T * c->hidden * sizeof *dh);
    char *win = malloc(span + 1);
    if (!s.epoch_loss || !ids || !mask || !mids || !labels || !dh || !win) {
        free(win);
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    /* resume */
    char key[512];
    snprintf(key, sizeof key,
             "k=%d T=%d B=%d wpe=%d e=%d lr=%.17g wd=%.17g p=%.17g clip=%.17g warm=%d seed=%llu", k, T, B,
             wpe, o->epochs, o->lr, o->weight_decay, o->mlm_probability, o->max_grad_norm, o->warmup_steps,
             (unsigned long long)o->seed);
    if (o->workdir) {
        ckpt = sl_fs_join(o->workdir, "checkpoint.bin");
        int loaded = 0;
        if (!ckpt) {
            free(win);
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = ckpt_load(&s, ckpt, key, o->epochs, &loaded, err))) {
            free(win);
            goto out;
        }
        if (loaded && res) res->resumed = 1;
        if (loaded) sl_log_info("pretrain: resumed at step %lld of %lld", s.step, total_steps);
    }
    const int32_t specials[4] = {sp->cls, sp->sep, sp->pad, sp->unk};
    const sl_nn_mlm_mask_opts mo = {o->mlm_probability, k,        sp->mask, first_regular,
                                    c->vocab_size,      specials, 4};
    size_t nbase = 0;
    sl_nn_bert_base_tensors(s.model, &nbase);
    float *gword = sl_nn_bert_base_grads(s.model); /* the word embeddings come first */
    const float *word = sl_nn_bert_base_params(s.model);
    if (o->progress)
        sl_log_info("pretrain: %d sequences, %.0f bases, %d windows of %d tokens per epoch, %lld steps, %zu "
                    "parameters",
                    sq.n, bases, wpe, T, total_steps, s.n_opt);
    while (s.step < total_steps) {
        const long long step = s.step, epoch = step / spe, in_epoch = step % spe;
        const int nb = (int)(in_epoch == spe - 1 ? wpe - in_epoch * B : B);
        int Tb = 0;
        for (int b = 0; b < nb; b++) {
            const long long g = epoch * wpe + in_epoch * B + b;
            sl_rng r;
            sl_rng_init(&r, o->seed, (6ull << 48) + (uint64_t)g);
            const double u = sl_rng_uniform(&r) * tot;
            int lo = 0, hi = sq.n - 1; /* the first sequence whose cumulative weight exceeds u */
            while (lo < hi) {
                const int mid = lo + (hi - lo) / 2;
                if (cum[mid] <= u)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            const int si = lo;
            const size_t L = sq.len[si] < span ? sq.len[si] : span;
            const size_t starts = sq.len[si] - L + 1;
            const size_t st = (size_t)(sl_rng_uniform(&r) * (double)starts);
            const int rev = sl_rng_uniform(&r) < 0.5;
            for (size_t j = 0; j < L; j++)
                win[j] = rev ? complement(sq.seq[si][st + L - 1 - j]) : sq.seq[si][st + j];
            int32_t *row = ids + (size_t)b * T;
            int32_t *mrow = mask + (size_t)b * T;
            int n = 0;
            row[n++] = sp->cls;
            for (size_t j = 0; j + (size_t)k <= L; j++) {
                long long idx = 0;
                int bad = 0;
                for (int q = 0; q < k; q++) {
                    int cb = base_code(win[j + q]);
                    if (cb < 0) bad = 1;
                    idx = idx * 4 + (cb < 0 ? 0 : cb);
                }
                row[n++] = bad ? sp->unk : kid[idx];
            }
            row[n++] = sp->sep;
            for (int j = 0; j < T; j++) mrow[j] = j < n;
            for (int j = n; j < T; j++) row[j] = sp->pad;
            if (n > Tb) Tb = n;
        }
        /* compact the rows to the batch's longest */
        if (Tb < T)
            for (int b = 1; b < nb; b++) {
                memmove(ids + (size_t)b * Tb, ids + (size_t)b * T, (size_t)Tb * sizeof *ids);
                memmove(mask + (size_t)b * Tb, mask + (size_t)b * T, (size_t)Tb * sizeof *mask);
            }
        sl_nn_mlm_mask(&mo, ids, mask, nb, Tb, o->seed, (uint64_t)step, mids, labels);
        sl_nn_dropout drop = {o->seed, (uint64_t)step};
        float loss = 0;
        sl_nn_bert_zero_grad(s.model);
        memset(s.head.grads, 0, s.head.n * sizeof(float));
        if ((rc = sl_nn_bert_forward(s.model, mids, mask, nb, Tb, NULL, &drop, NULL, err)) ||
            (rc = sl_nn_mlm_forward(&s.head, sl_nn_bert_last_hidden(s.model), word, labels, nb * Tb, &loss,
                                    err)))
            break;
        sl_nn_mlm_backward(&s.head, word, gword, dh);
        if ((rc = sl_nn_bert_backward_hidden(s.model, dh, err))) break;
        clip_grads(&s, o->max_grad_norm);
        s.step++;
        const double lr = o->lr * sl_nn_lr_linear_factor(step, o->warmup_steps, total_steps);
        adamw(&s, lr, o->weight_decay);
        s.run_sum += loss;
        const int epoch_end = in_epoch == spe - 1;
        if (epoch_end) {
            s.epoch_loss[epoch] = s.run_sum / (double)spe;
            s.run_sum = 0;
            if (o->progress)
                sl_log_info("pretrain: epoch %lld/%d  mlm loss %.4f", epoch + 1, o->epochs,
                            s.epoch_loss[epoch]);
        }
        if (ckpt && (epoch_end || (o->checkpoint_every > 0 && s.step % o->checkpoint_every == 0)) &&
            (rc = ckpt_save(&s, ckpt, key, o->epochs, err)))
            break;
    }
    free(win);
    if (rc) goto out;
    if ((rc = write_output(&s, src, o->out_dir, err))) goto out;
    if (o->metrics_path) {
        char *buf = NULL;
        size_t cap = (size_t)o->epochs * 96 + 1;
        buf = malloc(cap);
        if (!buf) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        for (int e = 0; e < o->epochs; e++)
            mlen +=
                (size_t)snprintf(buf + mlen, cap - mlen, "{\"epoch\":%d,\"mlm_loss\":%.6f,\"steps\":%lld}\n",
                                 e + 1, s.epoch_loss[e], spe * (e + 1));
        rc = sl_fs_write_atomic(o->metrics_path, buf, mlen, err);
        free(buf);
        if (rc) goto out;
    }
    if (res) {
        res->epochs = o->epochs;
        res->steps = s.step;
        res->first_loss = s.epoch_loss[0];
        res->last_loss = s.epoch_loss[o->epochs - 1];
        res->windows_per_epoch = wpe;
        res->n_params = (long long)s.n_opt;
    }
out:
    (void)metrics;
    if (tmpdir) {
        sl_err e2 = {0};
        sl_fs_remove_tree(tmpdir, &e2);
        free(tmpdir);
    }
    free(init_dir);
    free(ckpt);
    free(kid);
    free(ids);
    free(mask);
    free(mids);
    free(labels);
    free(dh);
    free(cum);
    free(s.t);
    free(s.moments);
    free(s.epoch_loss);
    sl_nn_mlm_head_free(&s.head);
    sl_nn_bert_free(s.model);
    sl_nn_tokenizer_free(tok);
    seqs_free(&sq);
    return rc;
}

int sl_nn_pretrain_fixed_batch(const char *model_dir, const int32_t *ids, const int32_t *mask,
                               const int32_t *labels, int B, int T, int steps, double lr, double weight_decay,
                               double max_grad_norm, uint64_t seed, float *losses, const char *grads_out,
                               sl_err *err) {
    state s = {0};
    float *dh = NULL, *gcopy = NULL;
    sl_nn_lora_spec none = {.r = 1, .alpha = 1, .targets = 0};
    int rc = sl_nn_bert_load(model_dir, NULL, &none, seed, B, T, 1, &s.model, err);
    if (rc) return rc;
    const sl_nn_bert_config *c = sl_nn_bert_get_config(s.model);
    int loaded = 0;
    if ((rc = sl_nn_bert_enable_full_grad(s.model, err)) ||
        (rc = sl_nn_mlm_head_init(&s.head, c->hidden, c->vocab_size, c->ln_eps, c->init_range, seed, err)) ||
        (rc = sl_nn_mlm_head_load(&s.head, model_dir, &loaded, err)) || (rc = build_tensors(&s, err)))
        goto out;
    dh = malloc((size_t)B * T * c->hidden * sizeof *dh);
    if (!dh) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    const float *word = sl_nn_bert_base_params(s.model);
    float *gword = sl_nn_bert_base_grads(s.model);
    for (int it = 0; it < steps; it++) {
        sl_nn_bert_zero_grad(s.model);
        memset(s.head.grads, 0, s.head.n * sizeof(float));
        if ((rc = sl_nn_bert_forward(s.model, ids, mask, B, T, NULL, NULL, NULL, err)) ||
            (rc = sl_nn_mlm_forward(&s.head, sl_nn_bert_last_hidden(s.model), word, labels, B * T,
                                    &losses[it], err)))
            goto out;
        sl_nn_mlm_backward(&s.head, word, gword, dh);
        if ((rc = sl_nn_bert_backward_hidden(s.model, dh, err))) goto out;
        if (it == 0 && grads_out) {
            sl_nn_st_wtensor *w = calloc(s.nt, sizeof *w);
            if (!w) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto out;
            }
            for (size_t i = 0; i < s.nt; i++)
                w[i] = (sl_nn_st_wtensor){s.t[i].name, SL_NN_ST_F32, s.t[i].ndim, s.t[i].shape, s.t[i].g};
            rc = sl_nn_st_write(grads_out, w, s.nt, NULL, err);
            free(w);
            if (rc) goto out;
        }
        clip_grads(&s, max_grad_norm);
        s.step++;
        adamw(&s, lr, weight_decay);
    }
out:
    free(dh);
    free(gcopy);
    free(s.t);
    free(s.moments);
    sl_nn_mlm_head_free(&s.head);
    sl_nn_bert_free(s.model);
    return rc;
}
