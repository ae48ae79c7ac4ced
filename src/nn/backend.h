/* Compute backends: the CPU engine (always there) and the CUDA module (libseqlora_cuda.so, loaded at run
 * time with dlopen so that a machine without a driver or GPU still starts).
 *
 * --device auto|cpu|cuda|cuda:N and --precision fp32|bf16|fp16 are parsed here; sl_nn_device_resolve
 * turns a request into the device to use (auto = cuda:0 when the module loads and a device is visible,
 * else the CPU with a one-line note). The module is searched for at: $SEQLORA_CUDA_MODULE (a path, or
 * "none" to disable CUDA), next to the executable, ../lib/seqlora/ and ../lib/ relative to it, the build
 * folder it was compiled in, then the dynamic loader's path.
 *
 * Thread-safety: loading happens once (pthread_once); everything else is reentrant. */
#ifndef SEQLORA_NN_BACKEND_H
#define SEQLORA_NN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "model.h"
#include "optim.h"
#include "cuda/sl_cuda.h"
#include "util/error.h"

typedef enum { SL_NN_DEVICE_AUTO = 0, SL_NN_DEVICE_CPU = 1, SL_NN_DEVICE_CUDA = 2 } sl_nn_device_kind;

typedef struct sl_nn_device {
    sl_nn_device_kind kind;
    int index; /* CUDA device ordinal; -1 = the first (for "cuda") */
} sl_nn_device;

/* Parse "auto", "cpu", "cuda" or "cuda:N" (N a decimal ordinal >= 0). Anything else is SL_EUSAGE naming
 * the value and the accepted forms. */
int sl_nn_device_parse(const char *s, sl_nn_device *out, sl_err *err);

/* "auto", "cpu", "cuda:N". Returns buf. */
const char *sl_nn_device_format(const sl_nn_device *d, char *buf, size_t n);

/* GEMM precision (values as SL_CUDA_FP32/BF16/FP16). The CPU engine runs fp32, and bf16 where
 * sl_nn_bf16_supported. */
int sl_nn_precision_parse(const char *s, int *out, sl_err *err);
const char *sl_nn_precision_name(int p);

/* The CUDA module's table, loading it on first use; NULL when it cannot be loaded, with the reason in
 * why (may be NULL). */
const sl_cuda_api *sl_nn_cuda_api(char *why, size_t why_len);

/* Resolve a request: auto -> cuda:0 or cpu (then *note gets one line saying why not CUDA; note may be
 * NULL); cpu -> cpu; cuda[:N] -> that device, or SL_EUSAGE when the module or the device is not there. */
int sl_nn_device_resolve(const sl_nn_device *req, sl_nn_device *out, char *note, size_t note_len,
                         sl_err *err);

/* --device / --precision for a run (device NULL = "auto", precision NULL = "fp32"): parse both and resolve
 * the device (every model family runs on CUDA, so the model is not looked at). The CPU engine runs fp32, and
 * bf16 where sl_nn_bf16_supported (oneDNN and AVX512-BF16/AMX; sl_nn_model_use_bf16): cpu + fp16, and cpu +
 * bf16 where unsupported, are SL_EUSAGE (saying why); auto falling back to the CPU keeps bf16 where
 * supported and otherwise runs fp32 and says so in the note. *note (may be NULL) gets one line when auto
 * fell back, else "". Errors: SL_EUSAGE naming the option. */
int sl_nn_device_select(const char *device, const char *precision, sl_nn_device *out, int *prec, char *note,
                        size_t note_len, sl_err *err);

/* The CUDA ordinal that steps whose parameters say device "cuda" run on. The ordinal is not part of an
 * action key (the same bytes on any device of a machine); the CLI sets it from --device cuda:N before
 * running the step. Default 0. Set it before starting steps; reading is thread-safe. */
void sl_nn_cuda_set_ordinal(int ordinal);
int sl_nn_cuda_ordinal(void);

/* One line per usable backend, e.g. "cpu (fp32 GEMMs: oneDNN; bf16: oneDNN)\ncuda:0 NVIDIA H200, 139.8 GiB,
 * sm_90 (CUDA runtime 13.0 ...)\n", or "cuda: not usable (reason)". Returns buf. */
const char *sl_nn_backends_describe(char *buf, size_t n);

/* The description of a CPU-engine model for the CUDA module. It points into `m` (which must outlive it)
 * and owns three small arrays: free with sl_nn_cuda_desc_free. */
typedef struct sl_nn_cuda_desc {
    sl_cuda_desc d;
    const float **layer_ptrs;
    int64_t *offs; /* lora_a offsets then lora_b offsets */
    size_t *sizes;
} sl_nn_cuda_desc;
int sl_nn_cuda_desc_from_bert(const sl_nn_bert *m, int precision, sl_nn_cuda_desc *out, sl_err *err);
/* The same for the ESM engine (esm_impl.h) and the DNABERT-2 engine (dnabert2_impl.h): family
 * SL_CUDA_FAMILY_ESM / _DNABERT2, the arena and its offsets as those engines lay them out (ESM:
 * classifier.dense in the pooler slots, classifier.out_proj in the classifier's). */
struct sl_nn_esm;
struct sl_nn_dnabert2;
int sl_nn_cuda_desc_from_esm(const struct sl_nn_esm *m, int precision, sl_nn_cuda_desc *out, sl_err *err);
int sl_nn_cuda_desc_from_dnabert2(const struct sl_nn_dnabert2 *m, int precision, sl_nn_cuda_desc *out,
                                  sl_err *err);
/* By the family of `m` (model.h). */
int sl_nn_cuda_desc_from_model(sl_nn_model *m, int precision, sl_nn_cuda_desc *out, sl_err *err);
void sl_nn_cuda_desc_free(sl_nn_cuda_desc *d);

/* Dynamic loss scaling for fp16 (as torch.cuda.amp.GradScaler: start 2^16, halve on a non-finite
 * gradient and skip that step, double after `interval` finite steps in a row). */
typedef struct sl_nn_loss_scaler {
    float scale;
    int interval, good;
    long long skipped;
} sl_nn_loss_scaler;
void sl_nn_loss_scaler_init(sl_nn_loss_scaler *s, float init_scale, int interval);
/* After a backward with loss_scale = s->scale: finite = 1 when every gradient was finite. Returns 1 when
 * the optimizer step is to be taken (after unscaling the gradients by 1/scale-before-the-update), 0 to
 * skip it. The scale is updated. */
int sl_nn_loss_scaler_update(sl_nn_loss_scaler *s, int finite);

/* ---- a CPU-engine model running on a CUDA device (the trainer's dispatch) ----
 *
 * The CPU model `m` stays the owner of the configuration, the parameter table and the host copy of the
 * trainable arena (for checkpoints and adapter files); the device holds its own arena of the same layout.
 * Typical trainer loop: per micro-batch forward + backward(loss_scale = 1 / accumulation); per optimizer
 * step sl_nn_cuda_bert_step(); before writing a checkpoint or the adapter sl_nn_cuda_bert_to_host(). */
typedef struct sl_nn_cuda_bert {
    const sl_cuda_api *api;
    sl_cuda_model *dev;
    sl_nn_cuda_desc desc;
    int precision;
    sl_nn_loss_scaler scaler; /* used with fp16 only */
} sl_nn_cuda_bert;

/* Copy `m` (loaded with the capacity to use) to CUDA device `device` at `precision` (SL_CUDA_*; bf16/fp16
 * keep the frozen Linear weights in that type only). `m` must outlive *out. Free with
 * sl_nn_cuda_bert_free. Errors: SL_EUSAGE (no module/device), SL_ENOMEM (device memory), SL_EINTERNAL. */
int sl_nn_cuda_bert_create(const sl_nn_bert *m, int device, int precision, sl_nn_cuda_bert **out,
                           sl_err *err);
void sl_nn_cuda_bert_free(sl_nn_cuda_bert *cb);
/* Any family (model.h): as sl_nn_cuda_bert_create for the model behind `m` (BERT, ESM / NT, DNABERT-2);
 * the other sl_nn_cuda_bert_* calls then work unchanged. `m` must outlive *out. */
int sl_nn_cuda_model_create(sl_nn_model *m, int device, int precision, sl_nn_cuda_bert **out, sl_err *err);
/* As sl_nn_cuda_bert_to_host / _from_host for any family: the device arena (and AdamW moments when opt is
 * not NULL) to / from sl_nn_model_train_params(m). SL_EINTERNAL when the sizes differ. */
int sl_nn_cuda_model_to_host(sl_nn_cuda_bert *cb, sl_nn_model *m, struct sl_nn_adamw *opt, sl_err *err);
int sl_nn_cuda_model_from_host(sl_nn_cuda_bert *cb, sl_nn_model *m, const struct sl_nn_adamw *opt,
                               sl_err *err);
/* As sl_nn_bert_forward / sl_nn_bert_backward / sl_nn_bert_zero_grad (fp16: the backward multiplies
 * loss_scale by the dynamic loss scale). */
int sl_nn_cuda_bert_forward(sl_nn_cuda_bert *cb, const int32_t *ids, const int32_t *mask, int B, int T,
                            const float *labels, const sl_nn_dropout *drop, float *loss, sl_err *err);
int sl_nn_cuda_bert_backward(sl_nn_cuda_bert *cb, float loss_scale, sl_err *err);
int sl_nn_cuda_bert_zero_grad(sl_nn_cuda_bert *cb, sl_err *err);
int sl_nn_cuda_bert_logits(sl_nn_cuda_bert *cb, float *logits, sl_err *err); /* [B, num_labels] to host */
/* One optimizer step: (fp16: unscale, skip on a non-finite gradient and update the scale) clip to
 * max_norm (<= 0: none) and AdamW with opt's hyper-parameters; opt->t is advanced when the step is taken.
 * *norm = the gradient norm before clipping, *taken = 0 when fp16 skipped the step. */
int sl_nn_cuda_bert_step(sl_nn_cuda_bert *cb, struct sl_nn_adamw *opt, double lr, double max_norm,
                         double *norm, int *taken, sl_err *err);
/* Device arena -> m's trainable arena, and (opt != NULL) the AdamW moments -> opt->m / opt->v. */
int sl_nn_cuda_bert_to_host(sl_nn_cuda_bert *cb, sl_nn_bert *m, struct sl_nn_adamw *opt, sl_err *err);
/* m's arena and (opt != NULL) opt's moments -> device (after a resume). */
int sl_nn_cuda_bert_from_host(sl_nn_cuda_bert *cb, const sl_nn_bert *m, const struct sl_nn_adamw *opt,
                              sl_err *err);
/* Device memory of the model (allocation plan and peak in use). */
int sl_nn_cuda_bert_memory(sl_nn_cuda_bert *cb, sl_cuda_mem *mem, sl_err *err);

/* ---- inference: the logits of a loaded model on the CPU engine or a CUDA device ----
 *
 * The one forward that `predict` (a dataset TSV) and inference sessions (infer.h: score, serve) run: no
 * labels, no dropout. On CUDA the model is copied to the device once (sl_nn_cuda_model_create, any family;
 * load the adapter into `m` before) and each call copies the [B, C] logits back. */
typedef struct sl_nn_dev_forward {
    sl_nn_model *m;      /* the CPU model (not owned; it must outlive the forward) */
    sl_nn_cuda_bert *cb; /* the model on the device (owned), NULL on the CPU */
    float *logits;       /* [max_batch, C] host copy of the device logits (owned), NULL on the CPU */
    int max_batch, C;
} sl_nn_dev_forward;

/* cuda = 0: the CPU engine, in fp32 or (SL_CUDA_BF16) its bf16 mode (sl_nn_model_use_bf16; fp16 is
 * SL_EUSAGE); cuda = 1: CUDA device
 * `cuda_device` at `precision` (errors as sl_nn_cuda_model_create). max_batch: the most rows a call passes
 * (the batch capacity `m` was loaded with). On error *f is left freeable. */
int sl_nn_dev_forward_init(sl_nn_dev_forward *f, sl_nn_model *m, int cuda, int cuda_device, int precision,
                           int max_batch, sl_err *err);
/* Forward B <= max_batch rows of T tokens; *logits = [B, C] row-major, valid until the next call (owned by
 * f or by the model). Errors: those of the engine's forward. */
int sl_nn_dev_forward_run(sl_nn_dev_forward *f, const int32_t *ids, const int32_t *mask, int B, int T,
                          const float **logits, sl_err *err);
void sl_nn_dev_forward_free(sl_nn_dev_forward *f);

/* The outputs of one row of C logits: softmax probabilities (single-label), sigmoid probabilities
 * (multi-label) or the values (regression), in double. */
void sl_nn_logits_outputs(sl_nn_problem problem, const float *row, int C, double *out);

#endif
