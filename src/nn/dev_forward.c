/* The inference forward on the CPU engine or a CUDA device (see backend.h, "inference"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "model.h"

int sl_nn_dev_forward_init(sl_nn_dev_forward *f, sl_nn_model *m, int cuda, int cuda_device, int precision,
                           int max_batch, sl_err *err) {
    memset(f, 0, sizeof *f);
    f->m = m;
    f->max_batch = max_batch;
    f->C = sl_nn_model_get_config(m)->num_labels;
    if (!cuda) {
        if (precision == SL_CUDA_BF16) return sl_nn_model_use_bf16(m, err);
        if (precision != SL_CUDA_FP32)
            return sl_err_set(err, SL_EUSAGE,
                              "precision %s needs the CUDA backend (the CPU runs fp32 or bf16)",
                              sl_nn_precision_name(precision));
        return 0;
    }
    if (max_batch < 1) return sl_err_set(err, SL_EUSAGE, "device forward: max_batch %d < 1", max_batch);
    int rc = sl_nn_cuda_model_create(m, cuda_device, precision, &f->cb, err);
    if (rc) return rc;
    if (!(f->logits = malloc((size_t)max_batch * (size_t)f->C * sizeof(float))))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    return 0;
}

int sl_nn_dev_forward_run(sl_nn_dev_forward *f, const int32_t *ids, const int32_t *mask, int B, int T,
                          const float **logits, sl_err *err) {
    int rc;
    if (!f->cb) {
        if ((rc = sl_nn_model_forward(f->m, ids, mask, B, T, NULL, NULL, NULL, err))) return rc;
        *logits = sl_nn_model_logits(f->m);
        return 0;
    }
    if (B > f->max_batch)
        return sl_err_set(err, SL_EINTERNAL, "device forward: %d rows for a batch of %d", B, f->max_batch);
    if ((rc = sl_nn_cuda_bert_forward(f->cb, ids, mask, B, T, NULL, NULL, NULL, err)) ||
        (rc = sl_nn_cuda_bert_logits(f->cb, f->logits, err)))
        return rc;
    *logits = f->logits;
    return 0;
}

void sl_nn_dev_forward_free(sl_nn_dev_forward *f) {
    if (!f) return;
    sl_nn_cuda_bert_free(f->cb);
    free(f->logits);
    memset(f, 0, sizeof *f);
}

void sl_nn_logits_outputs(sl_nn_problem problem, const float *row, int C, double *out) {
    if (problem == SL_NN_SINGLE_LABEL) {
        double mx = row[0], sum = 0;
        for (int c = 1; c < C; c++) mx = row[c] > mx ? row[c] : mx;
        for (int c = 0; c < C; c++) sum += exp(row[c] - mx);
        for (int c = 0; c < C; c++) out[c] = exp(row[c] - mx) / sum;
    } else if (problem == SL_NN_MULTI_LABEL) {
        for (int c = 0; c < C; c++) out[c] = 1.0 / (1.0 + exp(-(double)row[c]));
    } else {
        for (int c = 0; c < C; c++) out[c] = row[c];
    }
}
