/* The BERT LoRA model on one CUDA device (internal to the module; the public face is sl_cuda.h). */
#ifndef SEQLORA_NN_CUDA_MODEL_H
#define SEQLORA_NN_CUDA_MODEL_H

#include "sl_cuda.h"

int sl_cuda_model_plan(const sl_cuda_desc *d, sl_cuda_mem *out, sl_err *err);
int sl_cuda_model_create(const sl_cuda_desc *d, int dev, sl_cuda_model **out, sl_err *err);
void sl_cuda_model_destroy(sl_cuda_model *m);
int sl_cuda_model_forward(sl_cuda_model *m, const int32_t *ids, const int32_t *mask, int B, int T,
                          const float *labels, int drop_on, uint64_t seed, uint64_t micro, float *loss,
                          sl_err *err);
int sl_cuda_model_backward(sl_cuda_model *m, float loss_scale, sl_err *err);
int sl_cuda_model_zero_grad(sl_cuda_model *m, sl_err *err);
int sl_cuda_model_get_logits(sl_cuda_model *m, float *logits, sl_err *err);
int sl_cuda_model_get_train(sl_cuda_model *m, float *params, float *grads, float *adam_m, float *adam_v,
                            sl_err *err);
int sl_cuda_model_set_train(sl_cuda_model *m, const float *params, const float *grads, const float *adam_m,
                            const float *adam_v, sl_err *err);
int sl_cuda_model_scale_grads(sl_cuda_model *m, float s, sl_err *err);
int sl_cuda_model_clip(sl_cuda_model *m, double max_norm, double *norm, int *finite, sl_err *err);
int sl_cuda_model_adamw(sl_cuda_model *m, double lr, double beta1, double beta2, double eps, double wd,
                        long long t, sl_err *err);
int sl_cuda_model_memory(sl_cuda_model *m, sl_cuda_mem *out, sl_err *err);
int sl_cuda_model_sync(sl_cuda_model *m, sl_err *err);

#endif
