/* The ABI between seqlora and its CUDA backend module (libseqlora_cuda.so).
 *
 * The module is loaded with dlopen by src/nn/backend.c, so a machine without a driver never fails to
 * start. It sees the model only through this plain-C description: the dimensions, host pointers to the
 * frozen base weights (copied to the device once, converted to bf16/fp16 when asked), and the trainable
 * arena with the offsets of every tensor in it. The device arena has the SAME layout as the CPU engine's
 * (src/nn/bert_impl.h), so parameters, gradients and AdamW moments copy 1:1 between the two backends.
 *
 * Semantics are those of the CPU engine (src/nn/bert.h): the same math, the same dropout masks (Philox
 * keyed by seed, micro-batch, layer and tensor, util/rng.h), the same loss definitions.
 *
 * Errors: every function returns 0 or a negative SL_E* code and fills `err` (util/error.h) with a message
 * naming the CUDA/cuBLAS call, its status, and the source line. Thread-safety: a model is used by one host
 * thread at a time; different models may live on different threads. This header is C and C++. */
#ifndef SEQLORA_NN_CUDA_SL_CUDA_H
#define SEQLORA_NN_CUDA_SL_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#include "util/error.h"
}
#else
#include "util/error.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define SL_CUDA_ABI 2

/* GEMM precision of the frozen base (the trainable tensors and AdamW state are always fp32). */
enum { SL_CUDA_FP32 = 0, SL_CUDA_BF16 = 1, SL_CUDA_FP16 = 2 };

/* Model families (sl_cuda_desc.family): the layer math of src/nn/bert_forward.c (BERT), esm_forward.c (ESM-2,
 * Nucleotide Transformer v1/v2) and dnabert2_pass.c (DNABERT-2 / MosaicBERT). */
enum { SL_CUDA_FAMILY_BERT = 0, SL_CUDA_FAMILY_ESM = 1, SL_CUDA_FAMILY_DNABERT2 = 2 };

/* Pointers per encoder layer in sl_cuda_desc.layer: w[6], b[6] (the family's module order: SL_NN_MOD_* for
 * BERT and ESM; SL_NN_D2_* for DNABERT-2: Wqkv, attention.output.dense, gated_layers, wo, then two NULL
 * slots), then ln1_w, ln1_b, ln2_w, ln2_b (ESM: attention.LayerNorm and the pre-FFN LayerNorm; DNABERT-2:
 * attention.output.LayerNorm and mlp.layernorm). A NULL bias is a bias-free Linear. */
enum { SL_CUDA_LAYER_PTRS = 16 };

typedef struct sl_cuda_desc {
    /* dimensions (sl_nn_bert_config) */
    int vocab, hidden, layers, heads, inter, max_pos, num_labels;
    int problem; /* sl_nn_problem: 0 single-label CE, 1 multi-label BCE, 2 regression MSE */
    float ln_eps, hidden_dropout, attn_dropout, cls_dropout;
    /* LoRA */
    int lora_r;
    float lora_scaling, lora_dropout;
    /* capacity and mode */
    int max_batch, max_len, precision, training;
    /* frozen base, host memory, row-major as in the checkpoint; read during create only */
    const float *word, *pos, *type, *emb_ln_w, *emb_ln_b;
    const float *const *layer;    /* layers * SL_CUDA_LAYER_PTRS */
    const float *pool_w, *pool_b; /* the frozen pooler (ignored when pool_*_off >= 0) */
    /* trainable arena: n_train floats; offsets in floats, -1 = absent */
    const float *tparams;
    size_t n_train;
    const int64_t *lora_a_off, *lora_b_off; /* layers * 6 */
    int64_t cls_w_off, cls_b_off, pool_w_off, pool_b_off;
    const size_t *tensor_sizes; /* the arena as consecutive tensors (for the per-tensor clip norm) */
    size_t n_tensors;
    /* ---- ABI 2: the family and what it adds; all zero / NULL for BERT ---- */
    int family; /* SL_CUDA_FAMILY_* */
    /* ESM: rotary (tables rot_cos/rot_sin [max_len, head_dim] of the CPU engine) or absolute pad-aware
     * positions (pos [max_pos, hidden]); token dropout with mask_token_id; pad_token_id; emb_ln_before
     * (emb_ln_w/_b, else NULL); gated_ffn (SwiGLU, intermediate.dense [2 inter, hidden]); the final
     * emb_layer_norm_after (after_w/_b). type is NULL. The EsmClassificationHead maps onto the pooler
     * slots (classifier.dense = a trained pooler, pool_*_off) and cls_* (classifier.out_proj); cls_dropout
     * 0. Dropout of the base (hidden/attention) is refused in training, as the CPU engine does. */
    int rotary, token_dropout, mask_token_id, pad_token_id, emb_ln_before, gated_ffn;
    const float *after_w, *after_b, *rot_cos, *rot_sin;
    /* DNABERT-2: ALiBi slopes [heads] (the CPU engine's); pos is NULL, type is token_type row 0.
     * Attention dropout is refused in training. */
    const float *alibi_slopes;
} sl_cuda_desc;

typedef struct sl_cuda_model sl_cuda_model;

/* Device memory of a model: what create allocated, and the peak the device reported in use. */
typedef struct sl_cuda_mem {
    size_t weights, activations, scratch, optimizer, workspace, total; /* bytes allocated by the model */
    size_t device_used_peak; /* max over calls of (total - free) of cudaMemGetInfo, all processes */
    size_t device_total;
} sl_cuda_mem;

typedef struct sl_cuda_api {
    int abi;           /* SL_CUDA_ABI */
    const char *build; /* "CUDA <runtime version>, cuBLAS <version>, archs ..." */
    /* Number of usable devices (0 without a driver or device: not an error). */
    int (*device_count)(int *n, sl_err *err);
    /* Name, memory and compute capability of device `dev`. */
    int (*device_info)(int dev, char *name, size_t name_len, size_t *mem_total, int *cc_major, int *cc_minor,
                       sl_err *err);
    /* Bytes create() will allocate for `d` (the buffer plan; no device needed). */
    int (*plan)(const sl_cuda_desc *d, sl_cuda_mem *out, sl_err *err);
    /* Copy the model to device `dev` and allocate every buffer once. *out owned by the caller. */
    int (*create)(const sl_cuda_desc *d, int dev, sl_cuda_model **out, sl_err *err);
    void (*destroy)(sl_cuda_model *m);
    /* As sl_nn_bert_forward (host ids/mask/labels); drop_on = 0: no dropout. loss may be NULL. */
    int (*forward)(sl_cuda_model *m, const int32_t *ids, const int32_t *mask, int B, int T,
                   const float *labels, int drop_on, uint64_t seed, uint64_t micro, float *loss, sl_err *err);
    /* As sl_nn_bert_backward: adds d(loss_scale * loss)/dθ to the device gradient arena. */
    int (*backward)(sl_cuda_model *m, float loss_scale, sl_err *err);
    int (*zero_grad)(sl_cuda_model *m, sl_err *err);
    /* [B, num_labels] of the last forward, to host. */
    int (*get_logits)(sl_cuda_model *m, float *logits, sl_err *err);
    /* The trainable arena, gradients, AdamW moments: to host (any pointer may be NULL). */
    int (*get_train)(sl_cuda_model *m, float *params, float *grads, float *adam_m, float *adam_v,
                     sl_err *err);
    /* ... and back to the device (NULL = leave as is). */
    int (*set_train)(sl_cuda_model *m, const float *params, const float *grads, const float *adam_m,
                     const float *adam_v, sl_err *err);
    /* Multiply the gradients by `s` (fp16 loss-scale removal). */
    int (*scale_grads)(sl_cuda_model *m, float s, sl_err *err);
    /* Per-tensor norms as sl_nn_clip_grad_norm; clips when max_norm > 0; *finite = 0 when a gradient is
     * inf/NaN (nothing is scaled then). */
    int (*clip_grad_norm)(sl_cuda_model *m, double max_norm, double *norm, int *finite, sl_err *err);
    /* One fused AdamW step (torch.optim.AdamW semantics, as sl_nn_adamw_step), t = steps after this one. */
    int (*adamw)(sl_cuda_model *m, double lr, double beta1, double beta2, double eps, double weight_decay,
                 long long t, sl_err *err);
    int (*memory)(sl_cuda_model *m, sl_cuda_mem *out, sl_err *err);
    /* Wait for the device; for timing. */
    int (*sync)(sl_cuda_model *m, sl_err *err);
} sl_cuda_api;

/* The module's one exported symbol. */
typedef const sl_cuda_api *(*sl_cuda_get_api_fn)(void);
const sl_cuda_api *sl_cuda_get_api(void);

#ifdef __cplusplus
}
#endif

#endif
