/* AdamW, the linear schedule and gradient clipping (see optim.h). */
#include "optim.h"

#include <math.h>
#include <stdlib.h>

#include "parallel.h"
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

typedef struct {
    sl_nn_adamw *opt;
    float *params;
    const float *grads;
    float decay, b1, b2, omb1, omb2, step_size, bc2s, eps;
} adamw_job;

#define ADAMW_CHUNK ((size_t)1 << 16)

/* One chunk of the update: element-wise, so the split does not change any result. */
static void adamw_task(void *p, size_t t, int worker) {
    (void)worker;
    const adamw_job *j = p;
    sl_nn_adamw *opt = j->opt;
    const size_t i1 = (t + 1) * ADAMW_CHUNK < opt->n ? (t + 1) * ADAMW_CHUNK : opt->n;
    for (size_t i = t * ADAMW_CHUNK; i < i1; i++) {
        float g = j->grads[i];
        float p = j->params[i] * j->decay;
        float m = opt->m[i] * j->b1 + g * j->omb1;
        float v = opt->v[i] * j->b2 + j->omb2 * g * g;
        float denom = sqrtf(v) / j->bc2s + j->eps;
        j->params[i] = p - j->step_size * (m / denom);
        opt->m[i] = m;
        opt->v[i] = v;
    }
}

void sl_nn_adamw_step(sl_nn_adamw *opt, double lr, float *params, const float *grads) {
    opt->t++;
    const double bc1 = 1.0 - pow(opt->beta1, (double)opt->t), bc2 = 1.0 - pow(opt->beta2, (double)opt->t);
    adamw_job j = {opt,
                   params,
                   grads,
                   (float)(1.0 - lr * opt->weight_decay),
                   (float)opt->beta1,
                   (float)opt->beta2,
                   (float)(1.0 - opt->beta1),
                   (float)(1.0 - opt->beta2),
                   (float)(lr / bc1),
                   (float)sqrt(bc2),
                   (float)opt->eps};
    double t0 = sl_nn_prof_begin();
    sl_nn_parallel_for((opt->n + ADAMW_CHUNK - 1) / ADAMW_CHUNK, adamw_task, &j);
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
