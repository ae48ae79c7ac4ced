/* Inference sessions: score in-memory batches of DNA sequences (or pre-tokenized texts) with a model of any
 * supported family (model.h: BERT, ESM / Nucleotide Transformer, DNABERT-2) + an optional LoRA adapter, the
 * way `seqlora predict` scores a dataset TSV, plus what a deployed predictor needs on top:
 *
 *   - the text of a window of raw DNA per tokenizer (tokenizer.h): with a WordPiece k-mer vocabulary
 *     (DNABERT) overlapping k-mers, stride 1, joined by spaces; with the ESM tokenizer (Nucleotide
 *     Transformer: non-overlapping 6-mers from the left, single-base fallback) and the BPE tokenizer
 *     (DNABERT-2) the upper-cased bases as they are, split by the tokenizer itself;
 *   - a window holds at most max_length minus the special tokens tokens, so its size in bases is what is
 *     certain to fit: max_length - specials + k - 1 with k-mers, max_length - specials otherwise (those
 *     tokenizers give at most one token per base), and a window is never truncated;
 *   - sequences longer than one window are cut into overlapping windows of `window` bases every `stride`
 *     bases (the last window is aligned to the end of the sequence so the tail is covered) and the
 *     per-window outputs are averaged (arithmetic mean of the probabilities);
 *   - batches of up to `max_batch` windows per forward pass, padded to the longest window of the batch:
 *     results are deterministic for a given list of inputs and equal to `seqlora predict` for sequences
 *     that fit in one window given in the same order (both use batches of 16); another batch composition
 *     changes the results by float rounding only (padding keys get probability 0, but the GEMM shapes
 *     differ; measured up to ~1e-7).
 *
 * Outputs per sequence: C values, C = the number of classes: softmax probabilities (single-label), sigmoid
 * probabilities (multi-label), or the value (regression, C = 1).
 *
 * Thread-safety: a session is used by one thread at a time (the engine is not re-entrant); callers that
 * share one (the HTTP server) serialise calls with a mutex. */
#ifndef SEQLORA_NN_INFER_H
#define SEQLORA_NN_INFER_H

#include <stddef.h>

#include "bert.h"
#include "bert_config.h"
#include "util/error.h"

typedef struct sl_nn_infer_opts {
    const char *model_dir;     /* Hugging Face model directory (config.json + model.safetensors) */
    const char *adapter_dir;   /* PEFT adapter directory, or NULL (the model's own classifier) */
    const char *tokenizer_dir; /* directory with the tokenizer files; NULL = model_dir */
    int max_length;            /* tokens per window incl. specials; 0 = the adapter's seqlora_head.json, else
                                  the tokenizer's model_max_length, else 512 (capped by max_position) */
    int kmer;                  /* k of the k-mer vocabulary; 0 = detect from the vocabulary (3..6), -1 = none
                                  (the raw sequence is the tokenizer's text). WordPiece only: the ESM and
                                  BPE tokenizers always take raw DNA (0 / -1 mean none; > 0 is SL_EUSAGE) */
    int window, stride;        /* in bases; 0 = the most a window can hold / half of it */
    int max_batch;             /* windows per forward pass; 0 = 16 */
    int threads;               /* engine threads; 0 = leave as set */
    int cuda;                  /* 1 = run the forward passes on CUDA device cuda_device (the module loaded by
                                  backend.h; any family); 0 = the CPU engine */
    int cuda_device;           /* CUDA ordinal (>= 0) when cuda = 1 */
    int precision;             /* SL_CUDA_FP32 (0, the default) | _BF16 | _FP16; the CPU runs fp32 or bf16 */
} sl_nn_infer_opts;

typedef struct sl_nn_infer sl_nn_infer;

/* Load the model (any family of model.h), adapter and tokenizer; with opts->cuda, copy the model to the
 * device (the windows, batches and outputs are the CPU's; the logits come from the device). Errors name the
 * file and field (SL_EDATA, SL_EIO, SL_ENOTFOUND); SL_EUSAGE for settings that do not fit (window, stride,
 * kmer, bf16/fp16 on the CPU, no CUDA module or device); SL_ENOMEM for device memory. */
int sl_nn_infer_open(const sl_nn_infer_opts *opts, sl_nn_infer **out, sl_err *err);

void sl_nn_infer_free(sl_nn_infer *s);

/* The head: number of outputs per sequence, class names (owned by the session), problem type. */
int sl_nn_infer_num_outputs(const sl_nn_infer *s);
const char *sl_nn_infer_label(const sl_nn_infer *s, int i);
sl_nn_problem sl_nn_infer_problem(const sl_nn_infer *s);

/* The resolved settings: k (0 = none), window and stride in bases, max length in tokens. */
int sl_nn_infer_kmer(const sl_nn_infer *s);
int sl_nn_infer_window(const sl_nn_infer *s);
int sl_nn_infer_stride(const sl_nn_infer *s);
int sl_nn_infer_max_length(const sl_nn_infer *s);

/* Where the forward passes run: the CUDA ordinal, or -1 for the CPU engine; the precision (SL_CUDA_*). */
int sl_nn_infer_cuda_device(const sl_nn_infer *s);
int sl_nn_infer_precision(const sl_nn_infer *s);

/* The loaded model's BERT engine (owned by the session), e.g. for sl_nn_merge_write; NULL when the model is
 * of another family (ESM, DNABERT-2). */
const sl_nn_bert *sl_nn_infer_model(const sl_nn_infer *s);

/* The LoRA spec the model was loaded with (any family; owned by the session). */
const sl_nn_lora_spec *sl_nn_infer_spec(const sl_nn_infer *s);

/* The model family: "bert", "esm" or "dnabert2" (static strings). */
const char *sl_nn_infer_family(const sl_nn_infer *s);

/* The tokenizer kind: "wordpiece", "esm" or "bpe" (static strings). */
const char *sl_nn_infer_tokenizer_kind(const sl_nn_infer *s);

/* The family name (as sl_nn_infer_family) of the model directory `model_dir` from its config.json, without
 * loading it. Errors as sl_nn_model_family (model.h). */
int sl_nn_infer_family_of(const char *model_dir, const char **name, sl_err *err);

/* Check that `seq` holds only A, C, G, T, N (any case) and is non-empty. Returns 0, or SL_EDATA with the
 * 0-based offending position in *bad_pos (-1 for an empty sequence). */
int sl_nn_infer_check_dna(const char *seq, size_t len, long long *bad_pos);

/* 1 when the model reads protein: an ESM tokenizer without 6-mers (ESM-2). Its sequences are one-letter
 * residues (any case; those the vocabulary has), windowed like bases (one token per residue). */
int sl_nn_infer_is_protein(const sl_nn_infer *s);

/* What a sequence character must be, for messages: "one of A, C, G, T, N" or "a one-letter residue of the
 * model's vocabulary" (static strings). */
const char *sl_nn_infer_alphabet(const sl_nn_infer *s);

/* sl_nn_infer_check_dna for a DNA model; for a protein model every character, upper-cased, must be a
 * one-letter token of the vocabulary. Same returns. */
int sl_nn_infer_check_seq(const sl_nn_infer *s, const char *seq, size_t len, long long *bad_pos);

/* The number of windows `len` bases are scored in. */
size_t sl_nn_infer_n_windows(const sl_nn_infer *s, size_t len);

/* Score `n` DNA sequences (protein sequences for a protein model; validated by sl_nn_infer_check_seq;
 * lower case is upper-cased): out[i * C + c]. n_windows (may be
 * NULL) receives the window count per sequence. Errors: SL_EDATA naming the sequence index and position. */
int sl_nn_infer_score_dna(sl_nn_infer *s, const char *const *seqs, size_t n, double *out, size_t *n_windows,
                          sl_err *err);

/* Score `n` tokenizer texts as they are (e.g. space-separated k-mers of a dataset TSV), truncated to
 * max_length like `seqlora predict`: out[i * C + c]. */
int sl_nn_infer_score_texts(sl_nn_infer *s, const char *const *texts, size_t n, double *out, sl_err *err);

#endif
