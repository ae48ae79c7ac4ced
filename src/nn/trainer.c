/* The training loop (see trainer.h). */
#include "trainer.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "backend.h"
#include "dataset.h"
#include "metrics.h"
#include "model.h"
#include "optim.h"
#include "tokenizer.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/progress.h"
#include "util/rng.h"
#include "util/sha256.h"

void sl_nn_train_opts_default(sl_nn_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->spec.r = 16;
    o->spec.alpha = 32;
    o->spec.dropout = 0.1f;
    o->lr = 3e-4;
    o->weight_decay = 0.01;
    o->max_grad_norm = 1.0;
    o->epochs = 10;
    o->batch_size = 8;
    o->grad_accum = 1;
    o->max_length = 512;
    o->patience = 3;
    o->seed = 42;
    o->metric = "auc";
    o->problem = SL_NN_SINGLE_LABEL;
}

static int metric_higher_better(const char *m) {
    return strcmp(m, "loss") && strcmp(m, "mse");
}

static int check_metric(const char *m, sl_nn_problem p, sl_err *err) {
    static const char *const cls[] = {"auc", "accuracy", "f1", "mcc", "loss"};
    static const char *const reg[] = {"mse", "r2", "loss"};
    if (p == SL_NN_REGRESSION) {
        for (size_t i = 0; i < 3; i++)
            if (!strcmp(m, reg[i])) return 0;
        return sl_err_set(err, SL_EUSAGE, "metric '%s' does not apply to regression (use mse, r2 or loss)",
                          m);
    }
    if (p == SL_NN_MULTI_LABEL) {
        if (!strcmp(m, "auc") || !strcmp(m, "loss")) return 0;
        return sl_err_set(err, SL_EUSAGE,
                          "metric '%s' does not apply to multi-label classification (use auc or loss)", m);
    }
    for (size_t i = 0; i < 5; i++)
        if (!strcmp(m, cls[i])) return 0;
    return sl_err_set(err, SL_EUSAGE, "unknown metric '%s' (expected auc, accuracy, f1, mcc or loss)", m);
}

/* ---- batches ------------------------------------------------------------------------------- */

typedef struct {
    int32_t *ids, *mask;
    float *labels;
    int B, T;
} batch_buf;

/* Gather rows idx[0..B) of ds into b (T = the longest row). */
static void gather(const sl_nn_dataset *ds, const size_t *idx, int B, batch_buf *b) {
    int T = 2;
    for (int i = 0; i < B; i++) T = ds->len[idx[i]] > T ? ds->len[idx[i]] : T;
    const int per = ds->problem == SL_NN_SINGLE_LABEL ? 1 : ds->num_labels;
    for (int i = 0; i < B; i++) {
        memcpy(b->ids + (size_t)i * T, ds->ids + idx[i] * ds->max_len, (size_t)T * sizeof(int32_t));
        memcpy(b->mask + (size_t)i * T, ds->mask + idx[i] * ds->max_len, (size_t)T * sizeof(int32_t));
        if (ds->labels)
            memcpy(b->labels + (size_t)i * per, ds->labels + idx[i] * per, (size_t)per * sizeof(float));
    }
    b->B = B;
    b->T = T;
}

/* ---- evaluation ---------------------------------------------------------------------------- */

static double binary_auc(const double *score, const uint8_t *y, size_t n, sl_err *err) {
    size_t *order = NULL;
    sl_nn_clf_curve c = {0};
    double auc = NAN;
    if (sl_nn_order_desc(score, n, &order, err) == 0 && sl_nn_clf_curve_init(&c, n, err) == 0) {
        sl_nn_clf_curve_fill(&c, y, score, order, NULL, n);
        auc = sl_nn_roc_auc(&c);
    }
    sl_nn_clf_curve_free(&c);
    free(order);
    return auc;
}

/* Forward the whole set without dropout: mean loss and the chosen metric. On the CUDA model `cb` when
 * it is not NULL (its arena is the one trained), else on the CPU model. */
static int evaluate(sl_nn_model *m, sl_nn_cuda_bert *cb, const sl_nn_dataset *ds, int bs, const char *metric,
                    batch_buf *bb, double *metric_out, double *loss_out, sl_err *err) {
    const int C = ds->num_labels;
    const sl_nn_problem p = ds->problem;
    double *prob = malloc(ds->n * (size_t)C * sizeof(double));
    size_t *idx = malloc((size_t)bs * sizeof(size_t));
    float *dev_logits = cb ? malloc((size_t)bs * (size_t)C * sizeof(float)) : NULL;
    if (!prob || !idx || (cb && !dev_logits)) {
        free(prob);
        free(idx);
        free(dev_logits);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    double loss_sum = 0;
    int rc = 0;
    for (size_t start = 0; start < ds->n && !rc; start += (size_t)bs) {
        int B = (int)(ds->n - start < (size_t)bs ? ds->n - start : (size_t)bs);
        for (int i = 0; i < B; i++) idx[i] = start + (size_t)i;
        gather(ds, idx, B, bb);
        float loss;
        if (cb ? (rc = sl_nn_cuda_bert_forward(cb, bb->ids, bb->mask, B, bb->T, bb->labels, NULL, &loss,
                                               err)) ||
                     (rc = sl_nn_cuda_bert_logits(cb, dev_logits, err))
               : (rc = sl_nn_model_forward(m, bb->ids, bb->mask, B, bb->T, bb->labels, NULL, &loss, err)))
            break;
        loss_sum += (double)loss * B;
        const float *lg = cb ? dev_logits : sl_nn_model_logits(m);
        for (int i = 0; i < B; i++)
            sl_nn_logits_outputs(p, lg + (size_t)i * C, C, prob + (start + (size_t)i) * C);
    }
    *loss_out = loss_sum / (double)ds->n;
    double v = NAN;
    if (!rc && !strcmp(metric, "loss")) {
        v = *loss_out;
    } else if (!rc && !strcmp(metric, "auc")) {
        double *score = malloc(ds->n * sizeof(double));
        uint8_t *y = malloc(ds->n);
        if (!score || !y) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        int first = p == SL_NN_SINGLE_LABEL && C == 2 ? 1 : 0,
            last = p == SL_NN_SINGLE_LABEL && C == 2 ? 1 : C - 1;
        double sum = 0;
        int nvalid = 0;
        for (int c = first; !rc && c <= last; c++) {
            for (size_t i = 0; i < ds->n; i++) {
                score[i] = prob[i * C + c];
                y[i] = p == SL_NN_SINGLE_LABEL ? (int)ds->labels[i] == c : ds->labels[i * C + c] > 0.5f;
            }
            double a = binary_auc(score, y, ds->n, err);
            if (isfinite(a)) sum += a, nvalid++;
        }
        v = nvalid ? sum / nvalid : NAN;
        free(score);
        free(y);
    } else if (!rc && p == SL_NN_REGRESSION) {
        double *y = malloc(ds->n * sizeof(double)), *pr = malloc(ds->n * sizeof(double));
        if (!y || !pr) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < ds->n; i++) y[i] = ds->labels[i * C], pr[i] = prob[i * C];
        if (!rc) v = !strcmp(metric, "mse") ? sl_nn_mse(y, pr, NULL, ds->n) : sl_nn_r2(y, pr, NULL, ds->n);
        free(y);
        free(pr);
    } else if (!rc) {
        int *yt = malloc(ds->n * sizeof(int)), *yp = malloc(ds->n * sizeof(int));
        double *cm = malloc((size_t)C * C * sizeof(double));
        if (!yt || !yp || !cm) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < ds->n; i++) {
            int best = 0;
            for (int c = 1; c < C; c++)
                if (prob[i * C + c] > prob[i * C + best]) best = c;
            yt[i] = (int)ds->labels[i];
            yp[i] = best;
        }
        if (!rc) {
            sl_nn_confusion(yt, yp, NULL, ds->n, C, cm);
            v = !strcmp(metric, "accuracy") ? sl_nn_accuracy(cm, C)
                : !strcmp(metric, "f1")     ? sl_nn_f1_macro(cm, C)
                                            : sl_nn_mcc(cm, C);
        }
        free(yt);
        free(yp);
        free(cm);
    }
    *metric_out = v;
    free(prob);
    free(idx);
    free(dev_logits);
    return rc;
}

/* ---- checkpoints --------------------------------------------------------------------------- */

#define CKPT_MAGIC "SLCKPT01"

typedef struct {
    char magic[8];
    uint8_t fingerprint[32];
    uint64_t n_train;
    int64_t epoch, batch, step, opt_t, best_epoch, bad_epochs, have_best;
    double best_metric, prev_metric, prev_loss, epoch_loss, epoch_rows;
    uint64_t metrics_len;
} ckpt_header;

typedef struct {
    int epoch, batch, best_epoch, bad_epochs, have_best;
    long long step;
    double best_metric, prev_metric, prev_loss, epoch_loss, epoch_rows;
    char *metrics; /* metrics.jsonl so far */
    size_t metrics_len;
} train_state;

static int ckpt_save(const char *path, const uint8_t fp[32], const train_state *s, const sl_nn_adamw *opt,
                     const float *params, const float *best, size_t n, sl_err *err) {
    ckpt_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CKPT_MAGIC, 8);
    memcpy(h.fingerprint, fp, 32);
    h.n_train = n;
    h.epoch = s->epoch;
    h.batch = s->batch;
    h.step = s->step;
    h.opt_t = opt->t;
    h.best_epoch = s->best_epoch;
    h.bad_epochs = s->bad_epochs;
    h.have_best = s->have_best;
    h.best_metric = s->best_metric;
    h.prev_metric = s->prev_metric;
    h.prev_loss = s->prev_loss;
    h.epoch_loss = s->epoch_loss;
    h.epoch_rows = s->epoch_rows;
    h.metrics_len = s->metrics_len;
    size_t total = sizeof h + 4 * n * sizeof(float) + s->metrics_len;
    char *buf = malloc(total), *p = buf;
    if (!buf) return sl_err_set(err, SL_ENOMEM, "out of memory for a checkpoint");
    memcpy(p, &h, sizeof h), p += sizeof h;
    memcpy(p, params, n * sizeof(float)), p += n * sizeof(float);
    memcpy(p, opt->m, n * sizeof(float)), p += n * sizeof(float);
    memcpy(p, opt->v, n * sizeof(float)), p += n * sizeof(float);
    memcpy(p, best, n * sizeof(float)), p += n * sizeof(float);
    if (s->metrics_len) memcpy(p, s->metrics, s->metrics_len);
    int rc = sl_fs_write_atomic(path, buf, total, err);
    free(buf);
    return rc;
}

/* 1 when a matching checkpoint was loaded, 0 when there is none (or it belongs to other settings). */
static int ckpt_load(const char *path, const uint8_t fp[32], train_state *s, sl_nn_adamw *opt, float *params,
                     float *best, size_t n, sl_err *err) {
    if (!sl_fs_is_file(path)) return 0;
    char *buf;
    size_t len;
    int rc = sl_fs_read_all(path, &buf, &len, err);
    if (rc) return rc;
    ckpt_header h;
    int ok = len >= sizeof h;
    if (ok) memcpy(&h, buf, sizeof h);
    ok = ok && !memcmp(h.magic, CKPT_MAGIC, 8) && !memcmp(h.fingerprint, fp, 32) && h.n_train == n &&
         len == sizeof h + 4 * n * sizeof(float) + h.metrics_len;
    if (!ok) {
        free(buf);
        sl_log_warn("%s: checkpoint does not match this run's settings; starting over", path);
        return 0;
    }
    const char *p = buf + sizeof h;
    memcpy(params, p, n * sizeof(float)), p += n * sizeof(float);
    memcpy(opt->m, p, n * sizeof(float)), p += n * sizeof(float);
    memcpy(opt->v, p, n * sizeof(float)), p += n * sizeof(float);
    memcpy(best, p, n * sizeof(float)), p += n * sizeof(float);
    opt->t = h.opt_t;
    s->epoch = (int)h.epoch;
    s->batch = (int)h.batch;
    s->step = h.step;
    s->best_epoch = (int)h.best_epoch;
    s->bad_epochs = (int)h.bad_epochs;
    s->have_best = (int)h.have_best;
    s->best_metric = h.best_metric;
    s->prev_metric = h.prev_metric;
    s->prev_loss = h.prev_loss;
    s->epoch_loss = h.epoch_loss;
    s->epoch_rows = h.epoch_rows;
    free(s->metrics);
    s->metrics = malloc(h.metrics_len + 1);
    if (!s->metrics) {
        free(buf);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    memcpy(s->metrics, p, h.metrics_len);
    s->metrics[h.metrics_len] = 0;
    s->metrics_len = h.metrics_len;
    free(buf);
    return 1;
}

static int append_metrics(train_state *s, const char *line, sl_err *err) {
    size_t l = strlen(line);
    char *nm = realloc(s->metrics, s->metrics_len + l + 2);
    if (!nm) return sl_err_set(err, SL_ENOMEM, "out of memory");
    memcpy(nm + s->metrics_len, line, l);
    nm[s->metrics_len + l] = '\n';
    nm[s->metrics_len + l + 1] = 0;
    s->metrics = nm;
    s->metrics_len += l + 1;
    return 0;
}

static void fingerprint(const sl_nn_train_opts *o, const sl_nn_model *m, size_t n_train_rows,
                        uint8_t fp[32]) {
    char buf[2048];
    const sl_nn_lora_spec *s = sl_nn_model_get_spec(m);
    int l = snprintf(
        buf, sizeof buf,
        "r=%d a=%.9g d=%.9g rs=%d t=%u p=%d lr=%.17g wd=%.17g clip=%.17g ep=%d bs=%d acc=%d warm=%d len=%d "
        "pat=%d seed=%llu metric=%s prob=%d rows=%zu ntrain=%zu init=%d ck=%lld",
        s->r, s->alpha, s->dropout, s->use_rslora, s->targets, s->train_pooler, o->lr, o->weight_decay,
        o->max_grad_norm, o->epochs, o->batch_size, o->grad_accum, o->warmup_steps, o->max_length,
        o->patience, (unsigned long long)o->seed, o->metric, (int)o->problem, n_train_rows,
        sl_nn_model_n_train(m), o->init_adapter != NULL, o->checkpoint_every);
    sl_sha256_buf(buf, (size_t)l, fp);
}

/* ---- the head file ------------------------------------------------------------------------- */

static int head_write(const char *dir, const sl_nn_bert_config *c, int max_length, sl_err *err) {
    json_t *o = json_object(), *labels = json_array();
    for (int i = 0; i < c->num_labels; i++) json_array_append_new(labels, json_string(c->labels[i]));
    json_object_set_new(o, "labels", labels);
    json_object_set_new(o, "problem_type", json_string(sl_nn_problem_name(c->problem)));
    json_object_set_new(o, "max_length", json_integer(max_length));
    char *path = sl_fs_join(dir, "seqlora_head.json");
    int rc = path ? sl_json_write_file(path, o, 1, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    free(path);
    json_decref(o);
    return rc;
}

int sl_nn_head_read(const char *dir, char ***labels, int *n, sl_nn_problem *problem, int *max_length,
                    sl_err *err) {
    *labels = NULL;
    *n = 0;
    char *path = sl_fs_join(dir, "seqlora_head.json");
    if (!path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!sl_fs_is_file(path)) {
        free(path);
        return SL_ENOTFOUND;
    }
    json_t *o = sl_json_load_file(path, err);
    int rc = 0;
    if (!o) {
        free(path);
        return err ? err->code : SL_EDATA;
    }
    json_t *l = json_object_get(o, "labels"), *pt = json_object_get(o, "problem_type"),
           *ml = json_object_get(o, "max_length");
    int pp = pt && json_is_string(pt) ? sl_nn_problem_parse(json_string_value(pt)) : -1;
    if (!json_is_array(l) || json_array_size(l) == 0 || pp < 0 || !json_is_integer(ml)) {
        rc = sl_err_set(err, SL_EDATA, "%s: expected labels (a non-empty list), problem_type and max_length",
                        path);
        goto out;
    }
    *labels = calloc(json_array_size(l), sizeof(char *));
    if (!*labels) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(l); i++) {
        const char *s = json_string_value(json_array_get(l, i));
        (*labels)[i] = strdup(s ? s : "");
        (*n)++;
    }
    *problem = (sl_nn_problem)pp;
    *max_length = (int)json_integer_value(ml);
out:
    json_decref(o);
    free(path);
    return rc;
}

/* ---- the loop ------------------------------------------------------------------------------ */

int sl_nn_train(const sl_nn_train_opts *o, sl_nn_train_result *res, sl_err *err) {
    sl_nn_train_result dummy;
    if (!res) res = &dummy;
    memset(res, 0, sizeof *res);
    res->best_metric = NAN;
    if (o->epochs < 1 || o->batch_size < 1 || o->grad_accum < 1 || o->warmup_steps < 0 || o->max_length < 3 ||
        o->patience < 0 || !(o->lr > 0) || o->weight_decay < 0)
        return sl_err_set(err, SL_EUSAGE,
                          "epochs, batch size, grad accum must be >= 1, max length >= 3, lr > 0, "
                          "weight decay/warmup/patience >= 0");
    int rc = check_metric(o->metric, o->problem, err);
    if (rc) return rc;
    sl_nn_tokenizer *tok = NULL;
    sl_nn_model *m = NULL;
    sl_nn_dataset tr = {0}, ev = {0};
    sl_nn_bert_config head = {0};
    char **names = NULL;
    int n_names = 0;
    sl_nn_adamw opt = {0};
    float *best = NULL;
    size_t *perm = NULL;
    batch_buf bb = {0};
    train_state st = {0};
    char *ckpt = o->workdir ? sl_fs_join(o->workdir, "checkpoint.bin") : NULL;
    size_t *sizes = NULL;
    sl_nn_cuda_bert *cb = NULL; /* o->cuda: the model on the device */

    if ((rc = sl_nn_tokenizer_load(o->base_dir, &tok, err))) goto out;
    /* the head: classes given, or the sorted unique labels of the training set */
    if (o->problem == SL_NN_REGRESSION) {
        rc = sl_nn_bert_config_set_head(&head, 1, NULL, SL_NN_REGRESSION, err);
    } else if (o->labels) {
        rc = sl_nn_bert_config_set_head(&head, o->n_labels, o->labels, o->problem, err);
    } else if (!(rc = sl_nn_dataset_classes(o->train_tsv, o->problem, &names, &n_names, err))) {
        if (n_names < 2 && o->problem == SL_NN_SINGLE_LABEL)
            rc = sl_err_set(err, SL_EDATA, "%s: only one class ('%s') in the labels; need at least two",
                            o->train_tsv, names[0]);
        else
            rc = sl_nn_bert_config_set_head(&head, n_names, (const char *const *)names, o->problem, err);
    }
    if (rc) goto out;
    sl_nn_lora_spec spec = o->spec;
    if (o->init_adapter && (rc = sl_nn_model_adapter_read_config(o->base_dir, o->init_adapter, &spec, err)))
        goto out;
    /* tokenize first: activations are then sized for the longest row, not for --max-length */
    sl_nn_bert_config basecfg;
    char *cfgp = sl_fs_join(o->base_dir, "config.json");
    if (!cfgp) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    rc = sl_nn_model_config_load(cfgp, &basecfg, err);
    free(cfgp);
    if (rc) goto out;
    int max_len = o->max_length < basecfg.max_position ? o->max_length : basecfg.max_position;
    sl_nn_bert_config_free(&basecfg);
    if ((rc = sl_nn_dataset_load(o->train_tsv, tok, max_len, &head, 1, &tr, err))) goto out;
    if (o->eval_tsv && (rc = sl_nn_dataset_load(o->eval_tsv, tok, max_len, &head, 1, &ev, err))) goto out;
    int longest = 2;
    for (size_t i = 0; i < tr.n; i++) longest = tr.len[i] > longest ? tr.len[i] : longest;
    for (size_t i = 0; i < ev.n; i++) longest = ev.len[i] > longest ? ev.len[i] : longest;
    if ((rc = sl_nn_model_load(o->base_dir, &head, &spec, o->seed, o->batch_size, longest, 1, &m, err)))
        goto out;
    if (sl_nn_tokenizer_vocab_size(tok) > sl_nn_model_get_config(m)->vocab_size) {
        rc = sl_err_set(err, SL_EDATA, "%s: the tokenizer has %d entries but the model's vocab_size is %d",
                        o->base_dir, sl_nn_tokenizer_vocab_size(tok), sl_nn_model_get_config(m)->vocab_size);
        goto out;
    }
    if (o->init_adapter && (rc = sl_nn_model_adapter_load_weights(m, o->init_adapter, err))) goto out;
    if (!o->cuda && o->precision == SL_CUDA_BF16 && (rc = sl_nn_model_use_bf16(m, err))) goto out;
    if (!o->cuda && o->precision != SL_CUDA_FP32 && o->precision != SL_CUDA_BF16) {
        rc = sl_err_set(err, SL_EUSAGE, "train: precision %s needs CUDA (the CPU runs fp32 or bf16)",
                        sl_nn_precision_name(o->precision));
        goto out;
    }
    sl_nn_model_trainable_line(m, res->trainable_line, sizeof res->trainable_line);
    if (o->progress) sl_log_info("%s", res->trainable_line);

    const size_t n_train = sl_nn_model_n_train(m);
    float *params = sl_nn_model_train_params(m);
    if ((rc = sl_nn_adamw_init(&opt, n_train, o->weight_decay, err))) goto out;
    size_t np;
    const sl_nn_param *ps = sl_nn_model_params(m, &np);
    sizes = malloc(np * sizeof *sizes);
    best = malloc(n_train * sizeof(float));
    perm = malloc(tr.n * sizeof(size_t));
    bb.ids = malloc((size_t)o->batch_size * max_len * sizeof(int32_t));
    bb.mask = malloc((size_t)o->batch_size * max_len * sizeof(int32_t));
    bb.labels = malloc((size_t)o->batch_size * head.num_labels * sizeof(float));
    if (!sizes || !best || !perm || !bb.ids || !bb.mask || !bb.labels) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < np; i++) sizes[i] = ps[i].numel;
    memcpy(best, params, n_train * sizeof(float));

    const int n_batches = (int)((tr.n + (size_t)o->batch_size - 1) / (size_t)o->batch_size);
    const long long steps_per_epoch = (n_batches + o->grad_accum - 1) / o->grad_accum;
    const long long total_steps = steps_per_epoch * o->epochs;
    const int higher = metric_higher_better(o->metric);
    uint8_t fp[32];
    fingerprint(o, m, tr.n, fp);
    st.best_metric = NAN;
    st.prev_metric = NAN;
    st.prev_loss = NAN;
    if (ckpt) {
        int got = ckpt_load(ckpt, fp, &st, &opt, params, best, n_train, err);
        if (got < 0) {
            rc = got;
            goto out;
        }
        if (got) {
            res->resumed = 1;
            sl_log_info("resuming from %s: epoch %d, batch %d, step %lld", ckpt, st.epoch + 1, st.batch,
                        st.step);
        }
    }
    if (o->cuda) {
        /* the device gets the arena and the AdamW moments as they are now (fresh, or resumed) */
        if ((rc = sl_nn_cuda_model_create(m, o->cuda_device, o->precision, &cb, err)) ||
            (rc = sl_nn_cuda_model_from_host(cb, m, &opt, err)))
            goto out;
        sl_cuda_mem mem;
        if (o->progress && sl_nn_cuda_bert_memory(cb, &mem, err) == 0)
            sl_log_info("training on cuda:%d (%s): %.2f GiB of device memory planned", o->cuda_device,
                        sl_nn_precision_name(o->precision), (double)mem.total / (1 << 30));
    }
    sl_progress bar;
    int stopped = 0;
    for (; st.epoch < o->epochs && !stopped; st.epoch++, st.batch = 0) {
        double t0 = sl_now_seconds();
        /* the epoch's data order: Fisher-Yates over Philox stream (seed, 100 + epoch) */
        sl_rng rng;
        sl_rng_init(&rng, o->seed, 100 + (uint64_t)st.epoch);
        for (size_t i = 0; i < tr.n; i++) perm[i] = i;
        for (size_t i = tr.n - 1; i > 0; i--) {
            size_t j = sl_rng_below(&rng, (uint32_t)(i + 1));
            size_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        if (st.batch == 0) st.epoch_loss = st.epoch_rows = 0;
        if (o->progress) {
            char label[32];
            snprintf(label, sizeof label, "epoch %d/%d", st.epoch + 1, o->epochs);
            sl_progress_start(&bar, label, (uint64_t)n_batches);
        }
        while (st.batch < n_batches) {
            int k = n_batches - st.batch < o->grad_accum ? n_batches - st.batch : o->grad_accum;
            if (cb ? (rc = sl_nn_cuda_bert_zero_grad(cb, err)) : (sl_nn_model_zero_grad(m), 0)) goto out;
            long long tokens = 0;
            for (int a = 0; a < k; a++) {
                int bi = st.batch + a;
                size_t start = (size_t)bi * (size_t)o->batch_size;
                int B = (int)(tr.n - start < (size_t)o->batch_size ? tr.n - start : (size_t)o->batch_size);
                gather(&tr, perm + start, B, &bb);
                sl_nn_dropout drop = {o->seed, (uint64_t)st.epoch * (uint64_t)n_batches + (uint64_t)bi};
                float loss;
                if (cb ? (rc = sl_nn_cuda_bert_forward(cb, bb.ids, bb.mask, B, bb.T, bb.labels, &drop, &loss,
                                                       err)) ||
                             (rc = sl_nn_cuda_bert_backward(cb, 1.0f / (float)k, err))
                       : (rc = sl_nn_model_forward(m, bb.ids, bb.mask, B, bb.T, bb.labels, &drop, &loss,
                                                   err)) ||
                             (rc = sl_nn_model_backward(m, 1.0f / (float)k, err)))
                    goto out;
                st.epoch_loss += (double)loss * B;
                st.epoch_rows += B;
                for (int i = 0; i < B; i++) tokens += tr.len[perm[start + (size_t)i]];
            }
            double lr = o->lr * sl_nn_lr_linear_factor(st.step, o->warmup_steps, total_steps);
            if (cb) {
                /* clip + AdamW on the device; fp16 may skip the step (loss scaling), the schedule goes on */
                double norm;
                int taken;
                if ((rc = sl_nn_cuda_bert_step(cb, &opt, lr, o->max_grad_norm, &norm, &taken, err))) goto out;
            } else {
                sl_nn_clip_grad_norm(sl_nn_model_train_grads(m), sizes, np, o->max_grad_norm);
                sl_nn_adamw_step(&opt, lr, params, sl_nn_model_train_grads(m));
            }
            st.step++;
            st.batch += k;
            if (o->progress) {
                char extra[128];
                double el = sl_now_seconds() - t0;
                snprintf(extra, sizeof extra, "loss %.4f lr %.2e %.0f tok/s", st.epoch_loss / st.epoch_rows,
                         lr, el > 0 ? (double)tokens / el * st.batch / k : 0.0);
                sl_progress_update(&bar, (uint64_t)st.batch, extra);
            }
            if (ckpt && o->checkpoint_every > 0 && st.step % o->checkpoint_every == 0 &&
                st.batch < n_batches &&
                ((cb && (rc = sl_nn_cuda_model_to_host(cb, m, &opt, err))) ||
                 (rc = ckpt_save(ckpt, fp, &st, &opt, params, best, n_train, err))))
                goto out;
        }
        if (o->progress) sl_progress_finish(&bar);
        /* the device's weights and moments to the host: the best copy, checkpoint and adapter read them */
        if (cb && (rc = sl_nn_cuda_model_to_host(cb, m, &opt, err))) goto out;
        double train_loss = st.epoch_loss / st.epoch_rows;
        res->last_train_loss = train_loss;
        json_t *line = json_object();
        json_object_set_new(line, "epoch", json_integer(st.epoch + 1));
        json_object_set_new(line, "step", json_integer(st.step));
        json_object_set_new(line, "train_loss", json_real(train_loss));
        json_object_set_new(line, "lr",
                            json_real(o->lr * sl_nn_lr_linear_factor(st.step, o->warmup_steps, total_steps)));
        char msg[256];
        if (o->eval_tsv) {
            double mv = NAN, eloss = NAN;
            if ((rc = evaluate(m, cb, &ev, o->batch_size, o->metric, &bb, &mv, &eloss, err))) {
                json_decref(line);
                goto out;
            }
            char key[64];
            snprintf(key, sizeof key, "eval_%s", o->metric);
            json_object_set_new(line, "eval_loss", json_real(eloss));
            if (isfinite(mv))
                json_object_set_new(line, key, json_real(mv));
            else
                json_object_set_new(line, key, json_null());
            int improved =
                isfinite(mv) && (!st.have_best || (higher ? mv > st.best_metric : mv < st.best_metric));
            if (improved) {
                st.have_best = 1;
                st.best_metric = mv;
                st.best_epoch = st.epoch + 1;
                st.bad_epochs = 0;
                memcpy(best, params, n_train * sizeof(float));
            } else {
                st.bad_epochs++;
            }
            json_object_set_new(line, "best", json_boolean(improved));
            if (!isfinite(mv))
                sl_log_warn(
                    "epoch %d: eval %s is undefined on %s (e.g. one class only); it cannot select the best "
                    "epoch",
                    st.epoch + 1, o->metric, o->eval_tsv);
            snprintf(msg, sizeof msg, "epoch %d/%d: train loss %.4f, eval loss %.4f, eval %s %.4f%s, %.1f s",
                     st.epoch + 1, o->epochs, train_loss, eloss, o->metric, mv, improved ? " (best)" : "",
                     sl_now_seconds() - t0);
            if (isfinite(st.prev_metric) && isfinite(mv) && train_loss < st.prev_loss &&
                (higher ? mv < st.prev_metric : mv > st.prev_metric))
                sl_log_warn(
                    "epoch %d: eval %s got worse (%.4f -> %.4f) while the train loss fell (%.4f -> %.4f): "
                    "a sign of overfitting",
                    st.epoch + 1, o->metric, st.prev_metric, mv, st.prev_loss, train_loss);
            st.prev_metric = mv;
            if (o->patience > 0 && st.bad_epochs >= o->patience) {
                stopped = 1;
                json_object_set_new(line, "early_stop", json_true());
            }
        } else {
            snprintf(msg, sizeof msg, "epoch %d/%d: train loss %.4f, %.1f s", st.epoch + 1, o->epochs,
                     train_loss, sl_now_seconds() - t0);
        }
        st.prev_loss = train_loss;
        if (o->progress) sl_log_info("%s", msg);
        char *text = sl_json_canonical(line);
        json_decref(line);
        if (!text) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        rc = append_metrics(&st, text, err);
        free(text);
        if (rc) goto out;
        if (stopped && o->progress)
            sl_log_info("early stopping: no better eval %s for %d epochs (best %.4f at epoch %d)", o->metric,
                        o->patience, st.best_metric, st.best_epoch);
        if (ckpt) {
            train_state next = st;
            next.epoch = stopped ? o->epochs : st.epoch + 1;
            next.batch = 0;
            if ((rc = ckpt_save(ckpt, fp, &next, &opt, params, best, n_train, err))) goto out;
        }
        res->epochs_run = st.epoch + 1;
    }
    res->steps = st.step;
    res->best_epoch = st.best_epoch;
    res->best_metric = st.have_best ? st.best_metric : NAN;
    /* outputs: the best weights when there was an evaluation, else the last */
    const float *final = o->eval_tsv && st.have_best ? best : params;
    if ((rc = sl_nn_model_adapter_write(m, final, o->out_dir, o->base_name, err)) ||
        (rc = head_write(o->out_dir, sl_nn_model_get_config(m), max_len, err)))
        goto out;
    if (o->metrics_path &&
        (rc = sl_fs_write_atomic(o->metrics_path, st.metrics ? st.metrics : "", st.metrics_len, err)))
        goto out;
out:
    sl_nn_cuda_bert_free(cb);
    free(ckpt);
    free(sizes);
    free(st.metrics);
    free(bb.ids);
    free(bb.mask);
    free(bb.labels);
    free(perm);
    free(best);
    sl_nn_adamw_free(&opt);
    sl_nn_dataset_free(&tr);
    sl_nn_dataset_free(&ev);
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(names);
    sl_nn_bert_config_free(&head);
    sl_nn_model_free(m);
    sl_nn_tokenizer_free(tok);
    return rc;
}
