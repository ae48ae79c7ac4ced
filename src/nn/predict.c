/* Predictions for a dataset TSV (see predict.h). */
#include "predict.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "backend.h"
#include "bert.h"
#include "dataset.h"
#include "model.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "trainer.h"
#include "util/fs.h"

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static int sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_printf(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return -1;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
        size_t nc = (b->cap ? b->cap * 2 : 65536) + (size_t)n;
        char *np = realloc(b->p, nc);
        if (!np) return -1;
        b->p = np;
        b->cap = nc;
    }
}

int sl_nn_predict_dataset(const char *base_dir, const char *adapter_dir, const char *dataset_tsv,
                          const char *out_tsv, int threads, sl_err *err) {
    return sl_nn_predict_dataset_on(base_dir, adapter_dir, dataset_tsv, out_tsv, threads, -1, SL_CUDA_FP32,
                                    err);
}

int sl_nn_predict_dataset_on(const char *base_dir, const char *adapter_dir, const char *dataset_tsv,
                             const char *out_tsv, int threads, int cuda_device, int precision, sl_err *err) {
    sl_nn_set_threads(threads);
    sl_nn_dev_forward fw = {0}; /* the CPU engine, or (cuda_device >= 0) the model on the device */
    double *o = NULL;
    sl_nn_tokenizer *tok = NULL;
    sl_nn_model *m = NULL;
    sl_nn_dataset ds = {0};
    sl_nn_bert_config head = {0}, base = {0};
    char **labels = NULL;
    int n_labels = 0, max_len = 512, rc;
    sbuf out = {0};
    int32_t *ids = NULL, *mask = NULL;
    sl_nn_lora_spec spec = {.r = 1, .alpha = 1, .targets = 0};
    char *cfg_path = sl_fs_join(base_dir, "config.json");
    if (!cfg_path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    rc = sl_nn_model_config_load(cfg_path, &base, err);
    free(cfg_path);
    if (rc) return rc;
    if ((rc = sl_nn_tokenizer_load(base_dir, &tok, err))) goto out;
    if (adapter_dir) {
        sl_nn_problem p;
        rc = sl_nn_head_read(adapter_dir, &labels, &n_labels, &p, &max_len, err);
        if (rc == SL_ENOTFOUND) { /* a PEFT-made adapter: classes from its classifier, names from the base */
            int n = 0;
            if ((rc = sl_nn_adapter_num_labels(adapter_dir, &n, err))) goto out;
            rc = sl_nn_bert_config_set_head(&head, n,
                                            n == base.num_labels ? (const char *const *)base.labels : NULL,
                                            n == 1                             ? SL_NN_REGRESSION
                                            : base.problem == SL_NN_REGRESSION ? SL_NN_SINGLE_LABEL
                                                                               : base.problem,
                                            err);
        } else if (!rc) {
            rc = sl_nn_bert_config_set_head(&head, n_labels, (const char *const *)labels, p, err);
        }
        if (rc || (rc = sl_nn_model_adapter_read_config(base_dir, adapter_dir, &spec, err))) goto out;
    } else {
        if ((rc = sl_nn_bert_config_set_head(&head, base.num_labels, (const char *const *)base.labels,
                                             base.problem, err)))
            goto out;
    }
    if (max_len > base.max_position) max_len = base.max_position;
    const int bs = 16;
    if ((rc = sl_nn_dataset_load(dataset_tsv, tok, max_len, &head, 0, &ds, err))) goto out;
    int longest = 2;
    for (size_t i = 0; i < ds.n; i++) longest = ds.len[i] > longest ? ds.len[i] : longest;
    if ((rc = sl_nn_model_load(base_dir, &head, &spec, 0, bs, longest, 0, &m, err))) goto out;
    if (adapter_dir) {
        if ((rc = sl_nn_model_adapter_load_weights(m, adapter_dir, err))) goto out;
    } else if (!sl_nn_model_head_loaded(m)) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s: the base model has no classifier of %d classes; give the adapter trained on it",
                        base_dir, head.num_labels);
        goto out;
    }
    const int C = head.num_labels;
    if ((rc = sl_nn_dev_forward_init(&fw, m, cuda_device >= 0, cuda_device, precision, bs, err))) goto out;
    if (!(o = malloc((size_t)C * sizeof(double)))) goto nomem;
    if (sb_printf(&out, "id\tlabel")) goto nomem;
    if (head.problem == SL_NN_REGRESSION) {
        if (sb_printf(&out, "\tprediction")) goto nomem;
    } else {
        for (int c = 0; c < C; c++)
            if (sb_printf(&out, "\tprob_%s", head.labels[c])) goto nomem;
    }
    if (sb_printf(&out, "\n")) goto nomem;
    ids = malloc((size_t)bs * max_len * sizeof(int32_t));
    mask = malloc((size_t)bs * max_len * sizeof(int32_t));
    if (!ids || !mask) goto nomem;
    for (size_t start = 0; start < ds.n; start += bs) {
        int B = (int)(ds.n - start < (size_t)bs ? ds.n - start : (size_t)bs), T = 2;
        for (int i = 0; i < B; i++) T = ds.len[start + i] > T ? ds.len[start + i] : T;
        for (int i = 0; i < B; i++) {
            memcpy(ids + (size_t)i * T, ds.ids + (start + i) * max_len, (size_t)T * sizeof(int32_t));
            memcpy(mask + (size_t)i * T, ds.mask + (start + i) * max_len, (size_t)T * sizeof(int32_t));
        }
        const float *lg;
        if ((rc = sl_nn_dev_forward_run(&fw, ids, mask, B, T, &lg, err))) {
            sl_err_prefix(err, "%s:%zu: ", dataset_tsv, ds.line[start]);
            goto out;
        }
        for (int i = 0; i < B; i++) {
            if (sb_printf(&out, "%s\t%s", ds.id[start + i], ds.label_text[start + i])) goto nomem;
            sl_nn_logits_outputs(head.problem, lg + (size_t)i * C, C, o);
            for (int c = 0; c < (head.problem == SL_NN_REGRESSION ? 1 : C); c++)
                if (sb_printf(&out, "\t%.9g", o[c])) goto nomem;
            if (sb_printf(&out, "\n")) goto nomem;
        }
    }
    rc = sl_fs_write_atomic(out_tsv, out.p, out.len, err);
    goto out;
nomem:
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
out:
    sl_nn_dev_forward_free(&fw);
    free(o);
    free(out.p);
    free(ids);
    free(mask);
    for (int i = 0; i < n_labels; i++) free(labels[i]);
    free(labels);
    sl_nn_dataset_free(&ds);
    sl_nn_bert_config_free(&head);
    sl_nn_bert_config_free(&base);
    sl_nn_model_free(m);
    sl_nn_tokenizer_free(tok);
    return rc;
}
