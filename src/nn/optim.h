/* AdamW as torch.optim.AdamW (decoupled weight decay applied first, bias-corrected moments, eps added
 * after the bias correction of sqrt(v)), transformers' linear schedule with warmup, and
 * torch.nn.utils.clip_grad_norm_ (total L2 norm over all tensors). */
#ifndef SEQLORA_NN_OPTIM_H
#define SEQLORA_NN_OPTIM_H

#include <stddef.h>

#include "util/error.h"

typedef struct sl_nn_adamw {
    size_t n;
    float *m, *v; /* first / second moments, n floats each (owned) */
    long long t;  /* steps taken */
    double beta1, beta2, eps, weight_decay;
} sl_nn_adamw;

/* Zeroed moments for n parameters; betas 0.9/0.999, eps 1e-8 (torch defaults), the given decay. */
int sl_nn_adamw_init(sl_nn_adamw *opt, size_t n, double weight_decay, sl_err *err);
void sl_nn_adamw_free(sl_nn_adamw *opt);

/* One step at learning rate lr: params -= ... from grads (n floats each). */
void sl_nn_adamw_step(sl_nn_adamw *opt, double lr, float *params, const float *grads);

/* get_scheduler("linear"): the factor after `step` scheduler steps (step 0 = the first optimizer step). */
double sl_nn_lr_linear_factor(long long step, long long warmup, long long total);

/* Scale grads so that their total L2 norm is at most max_norm (coefficient max_norm / (norm + 1e-6),
 * capped at 1, applied always, as torch does). The norm is computed per tensor (sizes[i] floats in turn)
 * and then over the tensor norms. Returns the total norm before clipping. max_norm <= 0: no clipping. */
double sl_nn_clip_grad_norm(float *grads, const size_t *sizes, size_t n_tensors, double max_norm);

#endif
