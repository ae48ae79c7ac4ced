/* A packaged model opened for scoring: the bundle (bundle.h) extracted to a private temporary directory,
 * verified, its bundle.json read, and an inference session (infer.h) on the weights it names:
 *   merged/  when the bundle holds a merged checkpoint (the LoRA deltas folded in: no adapter at inference);
 *   base/ + adapter/  when the base weights are embedded;
 *   else `base_dir` given by the user + adapter/, where every base file must have the SHA-256 recorded in
 *   bundle.json (a mismatch is SL_EINTEGRITY naming the file).
 * The base (embedded or given) must be of the family bundle.json records (base.family; absent = "bert"):
 * a base of another family is SL_EDATA naming both, checked before the digests.
 *
 * bundle.json (format "seqlora.model/1"), written by the package step:
 *   {"format", "task": {"problem_type", "labels", "positive_class", "threshold", "max_length"},
 *    "tokenizer": {"dir", "kind" (wordpiece | esm | bpe), "input" (dna | protein), "kmer", "files": [names]},
 *    "inference": {"window", "stride"},
 *    "base": {"name", "family" (bert | esm | dnabert2), "embedded", "files": {name: sha256}}, "adapter",
 *    "merged", "report", "lora": {...}}
 *
 * Thread-safety: as infer.h (one thread at a time); the metadata accessors are read-only. */
#ifndef SEQLORA_NN_BUNDLE_MODEL_H
#define SEQLORA_NN_BUNDLE_MODEL_H

#include <jansson.h>

#include "infer.h"
#include "util/error.h"

#define SL_NN_MODEL_FORMAT "seqlora.model/1"

typedef struct sl_nn_bundle_model_opts {
    const char *bundle;   /* MODEL.tar.gz */
    const char *base_dir; /* the base model when the bundle does not embed it (else ignored); may be NULL */
    const char *tmp_dir;  /* parent of the extraction directory; NULL = $TMPDIR or /tmp */
    int window, stride;   /* 0 = the bundle's settings */
    int max_batch;        /* 0 = 16 */
    int threads;          /* 0 = leave as set */
    int prefer_adapter;   /* 1 = use base + adapter even when the bundle holds merged weights */
    int cuda;             /* 1 = score on CUDA device cuda_device (infer.h); 0 = the CPU engine */
    int cuda_device;      /* CUDA ordinal when cuda = 1 */
    int precision;        /* SL_CUDA_FP32 (0, default) | _BF16 | _FP16 (CUDA only) */
} sl_nn_bundle_model_opts;

typedef struct sl_nn_bundle_model {
    sl_nn_infer *infer;  /* the session (owned) */
    json_t *meta;        /* bundle.json (owned) */
    json_t *metrics;     /* report/metrics.json, or NULL (owned) */
    char *card;          /* MODEL_CARD.md text, or NULL (owned) */
    char *dir;           /* the extraction directory (removed on close) */
    char digest[65];     /* SHA-256 of the bundle file */
    double threshold;    /* decision threshold on the positive class */
    int positive;        /* index of the positive class (binary), else -1 */
    const char *weights; /* "merged" or "adapter" */
} sl_nn_bundle_model;

/* Open (see above). Errors: SL_ENOTFOUND (no such bundle), SL_EDATA (not a bundle, bad bundle.json),
 * SL_EINTEGRITY (checksums), SL_EUSAGE (base_dir needed but not given), and those of infer.h. */
int sl_nn_bundle_model_open(const sl_nn_bundle_model_opts *o, sl_nn_bundle_model **out, sl_err *err);

/* Free the session and remove the extraction directory. NULL is fine. */
void sl_nn_bundle_model_close(sl_nn_bundle_model *m);

#endif
