/* Predictions for a dataset TSV with a base model and (optionally) a LoRA adapter.
 *
 * Output (the predictions TSV that `seqlora evaluate` reads, see pred_table.h):
 *   single-label: id  label  prob_<class0>  prob_<class1> ...   (softmax)
 *   multi-label:  id  label  prob_<class0> ...                  (sigmoid per class)
 *   regression:   id  label  prediction
 * `label` is copied from the input's label column (empty when the input has none). Probabilities are
 * printed with 9 significant digits. */
#ifndef SEQLORA_NN_PREDICT_H
#define SEQLORA_NN_PREDICT_H

#include "util/error.h"

/* Run the model of `base_dir` (+ the adapter in `adapter_dir`; NULL = the base with its own head) over
 * every row of `dataset_tsv` (header `id<TAB>sequence[<TAB>label...]`) and write `out_tsv` atomically.
 * The head (class names, problem type, max length) comes from the adapter's seqlora_head.json when
 * present, else from the base config.json (num_labels from the adapter's classifier when they differ).
 * `threads` is the BLAS thread budget; the output does not depend on it. Errors name the file and line. */
int sl_nn_predict_dataset(const char *base_dir, const char *adapter_dir, const char *dataset_tsv,
                          const char *out_tsv, int threads, sl_err *err);

/* As sl_nn_predict_dataset, on CUDA device `cuda_device` (< 0: the CPU engine) with the frozen base's
 * GEMMs in `precision` (SL_CUDA_FP32/_BF16/_FP16 of nn/cuda/sl_cuda.h; the CPU takes fp32 or bf16). CUDA runs
 * BERT-family bases only (SL_EUSAGE otherwise); fp32 on CUDA is the CPU's output within 1e-4, not
 * byte for byte (docs/gpu.md). */
int sl_nn_predict_dataset_on(const char *base_dir, const char *adapter_dir, const char *dataset_tsv,
                             const char *out_tsv, int threads, int cuda_device, int precision, sl_err *err);

#endif
