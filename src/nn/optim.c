/* AdamW, the linear schedule and gradient clipping (see optim.h). */
#include "optim.h"

#include <math.h>
#include <stdlib.h>

#include "prof.h"

int sl_nn_adamw_init(sl_nn_adamw *opt, size_t n, double weight_decay, sl_err *err) {
    opt->n = n;
    opt->m = calloc(n ? n : 1, sizeof(float));
    opt->v = calloc(n ? n : 1, sizeof(float));
    opt->t = 0;
    opt->beta1 = 0.9;
    opt->beta2 = 0.999;
    opt->eps = 1e-8;
    opt->weight_decay = weight_decay;
    if (!opt->m || !opt->v) {
        sl_nn_adamw_free(opt);
        return sl_err_set(err, SL_ENOMEM, "out of memory for the optimizer state");
    }
    return 0;
}

void sl_nn_adamw_free(sl_nn_adamw *opt) {
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
}

void sl_nn_adamw_step(sl_nn_adamw *opt, double lr, float *params, const float *grads) {
    opt->t++;
    const double bc1 = 1.0 - pow(opt->beta1, (double)opt->t), bc2 = 1.0 - pow(opt->beta2, (double)opt->t);
    const float decay = (float)(1.0 - lr * opt->weight_decay);
    const float b1 = (float)opt->beta1, b2 = (float)opt->beta2, omb1 = (float)(1.0 - opt->beta1),
                omb2 = (float)(1.0 - opt->beta2);
    const float step_size = (float)(lr / bc1), bc2s = (float)sqrt(bc2), eps = (float)opt->eps;
    double t0 = sl_nn_prof_begin();
    for (size_t i = 0; i < opt->n; i++) {
        float g = grads[i];
        float p = params[i] * decay;
        float m = opt->m[i] * b1 + g * omb1;
        float v = opt->v[i] * b2 + omb2 * g * g;
        float denom = sqrtf(v) / bc2s + eps;
        params[i] = p - step_size * (m / denom);
        opt->m[i] = m;
        opt->v[i] = v;
    }
    sl_nn_prof_end(SL_NN_PH_OPTIMIZER, t0);
}

double sl_nn_lr_linear_factor(long long step, long long warmup, long long total) {
    if (step < warmup) return (double)step / (double)(warmup > 1 ? warmup : 1);
    double f = (double)(total - step) / (double)(total - warmup > 1 ? total - warmup : 1);
    return f > 0 ? f : 0;
}

double sl_nn_clip_grad_norm(float *grads, const size_t *sizes, size_t n_tensors, double max_norm) {
    double total = 0, t0 = sl_nn_prof_begin();
    size_t off = 0;
    for (size_t t = 0; t < n_tensors; t++) {
        double s = 0;
        for (size_t i = 0; i < sizes[t]; i++) s += (double)grads[off + i] * grads[off + i];
        double nrm = (float)sqrt(s); /* torch: each tensor norm is a float32 value */
        total += nrm * nrm;
        off += sizes[t];
    }
    total = sqrt(total);
    if (max_norm > 0) {
        double coef = max_norm / (total + 1e-6);
        if (coef < 1.0) {
            float c = (float)coef;
            for (size_t i = 0; i < off; i++) grads[i] *= c;
        }
    }
    sl_nn_prof_end(SL_NN_PH_OPTIMIZER, t0);
    return total;
}
