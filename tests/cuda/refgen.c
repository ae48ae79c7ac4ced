/* Writes the CPU engine's reference for the CUDA parity check (tests/data/cuda/ref_small.bin, variant a;
 * ref_small_b.bin, variant b; ref_esm.bin, ref_esm1.bin, ref_d2.bin for the other families — see `variants`
 * below): a random checkpoint of the family (hidden 64, 4 heads: BertForSequenceClassification,
 * EsmForSequenceClassification as NT v2 or ESM-1b/NT v1, DNABERT-2), loaded by the CPU engine (model.h)
 * with LoRA; the model description exactly as the CUDA module receives it (sl_nn_cuda_desc_from_model);
 * one batch with padding; and the CPU engine's logits, loss and gradients with dropout off and on, plus a
 * 50-step AdamW loss curve with dropout and clipping.
 *
 * usage (a trailing a|b|esm|esm1|d2 picks the variant, default a; b is tests/data/cuda/ref_small_b.bin,
 * esm, esm1, d2 are tests/data/cuda/ref_{esm,esm1,d2}.bin):
 *        cuda_refgen OUT.bin                  write it (by hand, to refresh the committed file)
 *        cuda_refgen --gpu-wrapper            the trainer-facing sl_nn_cuda_bert_* against the CPU engine
 *                                             (ctest cuda_gpu_wrapper; 77 = skipped without a GPU)
 *        cuda_refgen --compare COMMITTED.bin  regenerate and compare with the committed file (the ctest
 *                                             cuda_reference_current: the GPU check must test today's
 *                                             CPU engine, not an old one); floats within 1e-5 relative
 *                                             (OpenBLAS kernels differ between CPUs), integers exactly */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/bert.h"
#include "nn/model.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "refio.h"
#include "util/fs.h"
#include "util/rng.h"

enum { V = 64, H = 64, NH = 4, IM = 128, P = 64, STEPS = 50, MAXB = 8, MAXT = 32, MAXC = 4 };

/* The reference variants. a: single-label CE, LoRA on all six Linear kinds with LoRA dropout, trained
 * pooler. b: multi-label BCE, LoRA on query+value only (the common setup), frozen pooler, no LoRA
 * dropout, an odd sequence length, three layers. Both have more rows than heads (B > NH) and the check
 * also runs a sub-batch of fewer rows than heads: both attention-GEMM loops of model.cu.
 * esm: Nucleotide Transformer v2 (rotary, token dropout with <mask> tokens in the batch, bias-free SwiGLU
 * feed-forward, no emb_layer_norm_before), LoRA on all six with dropout, single-label.
 * esm1: ESM-1b / NT v1 (absolute pad-aware positions, emb_layer_norm_before, GELU), LoRA on query+value,
 * multi-label, three layers, odd length. d2: DNABERT-2 (fused Wqkv, ALiBi, GeGLU, post-LN) with hidden
 * dropout 0.1, LoRA on Wqkv + wo with dropout, a frozen pooler from the checkpoint, single-label. */
enum { FAM_BERT = 0, FAM_ESM_V2 = 1, FAM_ESM_V1 = 2, FAM_D2 = 3 };
typedef struct variant {
    const char *name;
    int B, T, L, C;
    unsigned targets;
    int train_pooler;
    float lora_dropout;
    const char *problem_type; /* NULL: none in config.json (single-label) */
    int family;
} variant;

static const variant variants[] = {
    {"a", 6, 32, 2, 3, 0x3f, 1, 0.1f, NULL, FAM_BERT},
    {"b", 5, 29, 3, 3, 0x05, 0, 0.0f, "multi_label_classification", FAM_BERT},
    {"esm", 6, 32, 2, 3, 0x3f, 0, 0.1f, NULL, FAM_ESM_V2},
    {"esm1", 5, 29, 3, 3, 0x05, 0, 0.0f, "multi_label_classification", FAM_ESM_V1},
    {"d2", 6, 32, 2, 3, 0x09, 0, 0.1f, NULL, FAM_D2},
};
static variant g;
#define B (g.B)
#define T (g.T)
#define L (g.L)
#define C (g.C)

static int set_variant(const char *name) {
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++)
        if (!strcmp(variants[i].name, name)) {
            g = variants[i];
            return 0;
        }
    fprintf(stderr, "refgen: unknown variant '%s' (a, b, esm, esm1 or d2)\n", name);
    return -1;
}

static float *rnd(sl_rng *r, size_t n, float scale, float offset) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = offset + scale * (float)(2 * sl_rng_uniform(r) - 1);
    return x;
}

/* The tensors of a random checkpoint, drawn in order from one Philox stream. */
enum { TL_MAX = 80 };
typedef struct tlist {
    sl_rng r;
    sl_nn_st_wtensor t[TL_MAX];
    int64_t shapes[TL_MAX][2];
    float *data[TL_MAX];
    char names[TL_MAX][160];
    int n;
} tlist;

/* Add tensor nm of shape [d0] (nd 1) or [d0, d1] (nd 2), uniform offset +- scale. */
static void tl_add(tlist *tl, const char *nm, int64_t d0, int64_t d1, int nd, float scale, float off) {
    const int n = tl->n++;
    snprintf(tl->names[n], sizeof tl->names[n], "%s", nm);
    tl->shapes[n][0] = d0;
    tl->shapes[n][1] = d1;
    tl->data[n] = rnd(&tl->r, (size_t)d0 * (nd > 1 ? (size_t)d1 : 1), scale, off);
    tl->t[n] = (sl_nn_st_wtensor){tl->names[n], SL_NN_ST_F32, nd, tl->shapes[n], tl->data[n]};
}

/* Write dir/model.safetensors and free the list. */
static int tl_write(tlist *tl, const char *dir, sl_err *err) {
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    static const char *const meta[] = {"format", "pt", NULL};
    int rc = sl_nn_st_write(path, tl->t, (size_t)tl->n, meta, err);
    for (int i = 0; i < tl->n; i++) free(tl->data[i]);
    free(tl);
    return rc;
}

static int write_bert(const char *dir, sl_err *err) {
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return sl_err_set(err, SL_EIO, "%s: cannot write", path);
    fprintf(f,
            "{\"model_type\": \"bert\", \"vocab_size\": %d, \"hidden_size\": %d, \"num_hidden_layers\": %d, "
            "\"num_attention_heads\": %d, \"intermediate_size\": %d, \"max_position_embeddings\": %d, "
            "\"type_vocab_size\": 2, \"hidden_act\": \"gelu\", \"hidden_dropout_prob\": 0.1, "
            "\"attention_probs_dropout_prob\": 0.1, \"layer_norm_eps\": 1e-12, %s%s%s"
            "\"id2label\": {\"0\": \"a\", \"1\": \"b\", \"2\": \"c\"}}\n",
            V, H, L, NH, IM, P, g.problem_type ? "\"problem_type\": \"" : "",
            g.problem_type ? g.problem_type : "", g.problem_type ? "\", " : "");
    fclose(f);
    tlist *tl = calloc(1, sizeof *tl);
    if (!tl) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_rng_init(&tl->r, 2024, 1);
#define ADD(nm, d0, d1, nd, scale, off) tl_add(tl, nm, d0, d1, nd, scale, off)
    ADD("bert.embeddings.word_embeddings.weight", V, H, 2, 0.5f, 0);
    ADD("bert.embeddings.position_embeddings.weight", P, H, 2, 0.5f, 0);
    ADD("bert.embeddings.token_type_embeddings.weight", 2, H, 2, 0.5f, 0);
    ADD("bert.embeddings.LayerNorm.weight", H, 0, 1, 0.2f, 1);
    ADD("bert.embeddings.LayerNorm.bias", H, 0, 1, 0.1f, 0);
    static const char *const mods[] = {"attention.self.query",   "attention.self.key", "attention.self.value",
                                       "attention.output.dense", "intermediate.dense", "output.dense"};
    char nm[128];
    for (int l = 0; l < L; l++) {
        for (int m = 0; m < 6; m++) {
            int in = m == 5 ? IM : H, out = m == 4 ? IM : H;
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s.weight", l, mods[m]);
            ADD(nm, out, in, 2, 1.5f / sqrtf((float)in), 0);
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s.bias", l, mods[m]);
            ADD(nm, out, 0, 1, 0.1f, 0);
        }
        snprintf(nm, sizeof nm, "bert.encoder.layer.%d.attention.output.LayerNorm.weight", l);
        ADD(nm, H, 0, 1, 0.2f, 1);
        snprintf(nm, sizeof nm, "bert.encoder.layer.%d.attention.output.LayerNorm.bias", l);
        ADD(nm, H, 0, 1, 0.1f, 0);
        snprintf(nm, sizeof nm, "bert.encoder.layer.%d.output.LayerNorm.weight", l);
        ADD(nm, H, 0, 1, 0.2f, 1);
        snprintf(nm, sizeof nm, "bert.encoder.layer.%d.output.LayerNorm.bias", l);
        ADD(nm, H, 0, 1, 0.1f, 0);
    }
    ADD("bert.pooler.dense.weight", H, H, 2, 0.2f, 0);
    ADD("bert.pooler.dense.bias", H, 0, 1, 0.1f, 0);
    ADD("classifier.weight", C, H, 2, 0.3f, 0);
    ADD("classifier.bias", C, 0, 1, 0.1f, 0);
#undef ADD
    return tl_write(tl, dir, err);
}

/* Shapes of the family's Linear k (w [out, in]), as the CUDA description lays them out. */
static int fam_in(int k) {
    if (g.family == FAM_D2) return k == 3 ? IM : H;
    return k == 5 ? IM : H;
}
static int fam_out(int k) {
    if (g.family == FAM_D2) return k == 0 ? 3 * H : k == 2 ? 2 * IM : H;
    if (g.family == FAM_ESM_V2 && k == 4) return 2 * IM;
    return k == 4 ? IM : H;
}

/* A random ESM (NT v2 / ESM-1b-like) or DNABERT-2 checkpoint with the tensor names the CPU engine reads. */
static int write_family(const char *dir, sl_err *err) {
    char path[1024], id2l[] = "\"id2label\": {\"0\": \"a\", \"1\": \"b\", \"2\": \"c\"}";
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return sl_err_set(err, SL_EIO, "%s: cannot write", path);
    const char *pt = g.problem_type;
    if (g.family == FAM_D2)
        fprintf(
            f,
            "{\"alibi_starting_size\": 512, \"attention_probs_dropout_prob\": 0.0, \"classifier_dropout\": "
            "null, \"hidden_act\": \"gelu\", \"hidden_dropout_prob\": 0.1, \"hidden_size\": %d, "
            "\"initializer_range\": 0.02, \"intermediate_size\": %d, \"layer_norm_eps\": 1e-12, "
            "\"max_position_embeddings\": 512, \"num_attention_heads\": %d, \"num_hidden_layers\": %d, "
            "\"position_embedding_type\": \"absolute\", \"type_vocab_size\": 2, \"vocab_size\": %d, "
            "\"auto_map\": {\"AutoConfig\": \"configuration_bert.BertConfig\", \"AutoModel\": "
            "\"bert_layers.BertModel\", \"AutoModelForSequenceClassification\": "
            "\"bert_layers.BertForSequenceClassification\"}, %s%s%s%s}\n",
            H, IM, NH, L, V, pt ? "\"problem_type\": \"" : "", pt ? pt : "", pt ? "\", " : "", id2l);
    else
        fprintf(
            f,
            "{\"model_type\": \"esm\", \"architectures\": [\"EsmForSequenceClassification\"], "
            "\"vocab_size\": %d, \"hidden_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": "
            "%d, \"intermediate_size\": %d, \"max_position_embeddings\": %d, \"position_embedding_type\": "
            "\"%s\", \"token_dropout\": %s, \"emb_layer_norm_before\": %s, %s\"pad_token_id\": 1, "
            "\"mask_token_id\": %d, \"layer_norm_eps\": 1e-05, \"hidden_dropout_prob\": 0.0, "
            "\"attention_probs_dropout_prob\": 0.0, %s%s%s%s}\n",
            V, H, L, NH, IM, P, g.family == FAM_ESM_V2 ? "rotary" : "absolute",
            g.family == FAM_ESM_V2 ? "true" : "false", g.family == FAM_ESM_V2 ? "false" : "true",
            g.family == FAM_ESM_V2 ? "\"add_bias_fnn\": false, " : "", V - 1,
            pt ? "\"problem_type\": \"" : "", pt ? pt : "", pt ? "\", " : "", id2l);
    fclose(f);
    tlist *tl = calloc(1, sizeof *tl);
    if (!tl) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_rng_init(&tl->r, 2025, 1);
#define ADD(nm, d0, d1, nd, scale, off) tl_add(tl, nm, d0, d1, nd, scale, off)
    const int esm = g.family != FAM_D2;
    const char *pre = esm ? "esm" : "bert";
    char nm[160];
    snprintf(nm, sizeof nm, "%s.embeddings.word_embeddings.weight", pre);
    ADD(nm, V, H, 2, 0.5f, 0);
    if (g.family == FAM_ESM_V1) {
        ADD("esm.embeddings.position_embeddings.weight", P, H, 2, 0.5f, 0);
        ADD("esm.embeddings.layer_norm.weight", H, 0, 1, 0.2f, 1);
        ADD("esm.embeddings.layer_norm.bias", H, 0, 1, 0.1f, 0);
    }
    if (!esm) {
        ADD("bert.embeddings.token_type_embeddings.weight", 2, H, 2, 0.5f, 0);
        ADD("bert.embeddings.LayerNorm.weight", H, 0, 1, 0.2f, 1);
        ADD("bert.embeddings.LayerNorm.bias", H, 0, 1, 0.1f, 0);
    }
    static const char *const esm_mods[] = {"attention.self.query", "attention.self.key",
                                           "attention.self.value", "attention.output.dense",
                                           "intermediate.dense",   "output.dense"};
    static const char *const d2_mods[] = {"attention.self.Wqkv", "attention.output.dense", "mlp.gated_layers",
                                          "mlp.wo"};
    static const char *const esm_ln[] = {"attention.LayerNorm", "LayerNorm"};
    static const char *const d2_ln[] = {"attention.output.LayerNorm", "mlp.layernorm"};
    for (int l = 0; l < L; l++) {
        for (int k = 0; k < (esm ? 6 : 4); k++) {
            const char *mp = esm ? esm_mods[k] : d2_mods[k];
            snprintf(nm, sizeof nm, "%s.encoder.layer.%d.%s.weight", pre, l, mp);
            ADD(nm, fam_out(k), fam_in(k), 2, 1.5f / sqrtf((float)fam_in(k)), 0);
            const int biased = esm ? !(g.family == FAM_ESM_V2 && k >= 4) : k != 2;
            snprintf(nm, sizeof nm, "%s.encoder.layer.%d.%s.bias", pre, l, mp);
            if (biased) ADD(nm, fam_out(k), 0, 1, 0.1f, 0);
        }
        for (int i = 0; i < 2; i++) {
            snprintf(nm, sizeof nm, "%s.encoder.layer.%d.%s.weight", pre, l, esm ? esm_ln[i] : d2_ln[i]);
            ADD(nm, H, 0, 1, 0.2f, 1);
            snprintf(nm, sizeof nm, "%s.encoder.layer.%d.%s.bias", pre, l, esm ? esm_ln[i] : d2_ln[i]);
            ADD(nm, H, 0, 1, 0.1f, 0);
        }
    }
    if (esm) {
        ADD("esm.encoder.emb_layer_norm_after.weight", H, 0, 1, 0.2f, 1);
        ADD("esm.encoder.emb_layer_norm_after.bias", H, 0, 1, 0.1f, 0);
        ADD("classifier.dense.weight", H, H, 2, 0.2f, 0);
        ADD("classifier.dense.bias", H, 0, 1, 0.1f, 0);
        ADD("classifier.out_proj.weight", C, H, 2, 0.3f, 0);
        ADD("classifier.out_proj.bias", C, 0, 1, 0.1f, 0);
    } else {
        ADD("bert.pooler.dense.weight", H, H, 2, 0.2f, 0);
        ADD("bert.pooler.dense.bias", H, 0, 1, 0.1f, 0);
        ADD("classifier.weight", C, H, 2, 0.3f, 0);
        ADD("classifier.bias", C, 0, 1, 0.1f, 0);
    }
#undef ADD
    return tl_write(tl, dir, err);
}

static int write_model(const char *dir, sl_err *err) {
    return g.family == FAM_BERT ? write_bert(dir, err) : write_family(dir, err);
}

static void put_f(FILE *f, const char *name, const float *x, size_t n) {
    ref_put(f, name, REF_F32, x, n);
}

/* The reference model (CPU engine, training capacity B x T) with non-zero LoRA B matrices. */
static sl_nn_model *make_model(sl_err *err) {
    const char *tmp = getenv("SEQLORA_TEST_TMP");
    char *dir = NULL;
    sl_fs_mkdirs(tmp ? tmp : "/tmp", err);
    if (sl_fs_mkdtemp(tmp ? tmp : "/tmp", "cuda-refgen-", &dir, err) || write_model(dir, err)) return NULL;
    sl_nn_set_threads(1);
    sl_nn_lora_spec spec = {
        .r = 4, .alpha = 8, .dropout = g.lora_dropout, .targets = g.targets, .train_pooler = g.train_pooler};
    sl_nn_model *m = NULL;
    int rc = sl_nn_model_load(dir, NULL, &spec, 7, B, T, 1, &m, err);
    sl_err e2 = {0};
    sl_fs_remove_tree(dir, &e2);
    free(dir);
    if (rc) return NULL;
    /* non-zero LoRA B so that every gradient is non-trivial */
    float *p = sl_nn_model_train_params(m);
    const size_t n = sl_nn_model_n_train(m);
    sl_rng r;
    sl_rng_init(&r, 5, 3);
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0) p[i] = 0.2f * (float)(2 * sl_rng_uniform(&r) - 1);
    return m;
}

static float labels[MAXB * MAXC];

/* ids, mask (rows of different lengths, padded) and labels: class indices (single-label) or 0/1 per
 * class (multi-label). */
static void make_batch(int32_t *ids, int32_t *mask) {
    const int lens[MAXB] = {T, 20, 9, 27, T, 5, 13, 2};
    sl_rng r;
    sl_rng_init(&r, 6, 4);
    const int esm = g.family == FAM_ESM_V1 || g.family == FAM_ESM_V2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            if (esm) /* ESM: tokens 2..V-2, padding = pad_token_id 1; NT v2: a <mask> (V-1) in some rows */
                ids[b * T + t] = t >= lens[b] ? 1
                                 : g.family == FAM_ESM_V2 && t == 3 && b % 2 == 0
                                     ? V - 1
                                     : 2 + (int32_t)sl_rng_below(&r, V - 3);
            else
                ids[b * T + t] = t < lens[b] ? (int32_t)sl_rng_below(&r, V) : 0;
            mask[b * T + t] = t < lens[b];
        }
    for (int i = 0; i < (g.problem_type ? B * C : B); i++)
        labels[i] = (float)(g.problem_type ? sl_rng_below(&r, 2) : sl_rng_below(&r, (uint32_t)C));
}

static int generate(const char *out) {
    sl_err err = {0};
    sl_nn_model *m = make_model(&err);
    if (!m) {
        fprintf(stderr, "refgen: %s\n", err.msg);
        return 1;
    }
    float *p = sl_nn_model_train_params(m);
    const size_t n = sl_nn_model_n_train(m);
    sl_nn_cuda_desc cd;
    if (sl_nn_cuda_desc_from_model(m, SL_CUDA_FP32, &cd, &err)) {
        fprintf(stderr, "refgen: %s\n", err.msg);
        return 1;
    }
    const sl_cuda_desc *d = &cd.d;
    int32_t ids[MAXB * MAXT], mask[MAXB * MAXT];
    make_batch(ids, mask);
    FILE *f = fopen(out, "wb");
    if (!f) {
        fprintf(stderr, "refgen: %s: cannot write\n", out);
        return 1;
    }
    fwrite("SLCUDREF", 1, 8, f);
    const int32_t dims[] = {
        d->vocab,   d->hidden, d->layers,    d->heads,   d->inter, d->max_pos, d->num_labels,
        d->problem, d->lora_r, d->max_batch, d->max_len, B,        T,          STEPS};
    ref_put(f, "dims", REF_I32, dims, sizeof dims / sizeof *dims);
    const float fp[] = {d->ln_eps,      d->hidden_dropout, d->attn_dropout,
                        d->cls_dropout, d->lora_scaling,   d->lora_dropout};
    put_f(f, "fparams", fp, 6);
    const double lr = 5e-4, wd = 0.01, max_norm = 1.0, seed = 1234;
    const double hp[] = {lr, wd, max_norm, seed};
    ref_put(f, "hparams", REF_F64, hp, 4);
    /* the family and its extras (absent for BERT: the a/b files keep their records) */
    if (d->family != SL_CUDA_FAMILY_BERT) {
        const int32_t fam[] = {d->family,       d->rotary,        d->token_dropout, d->mask_token_id,
                               d->pad_token_id, d->emb_ln_before, d->gated_ffn};
        ref_put(f, "family", REF_I32, fam, 7);
    }
    put_f(f, "word", d->word, (size_t)V * H);
    if (d->pos) put_f(f, "pos", d->pos, (size_t)P * H);
    if (d->type) put_f(f, "type", d->type, H);
    if (d->emb_ln_w) put_f(f, "emb_ln_w", d->emb_ln_w, H);
    if (d->emb_ln_b) put_f(f, "emb_ln_b", d->emb_ln_b, H);
    if (d->after_w) put_f(f, "after_w", d->after_w, H);
    if (d->after_b) put_f(f, "after_b", d->after_b, H);
    if (d->rot_cos) put_f(f, "rot_cos", d->rot_cos, (size_t)d->max_len * (H / NH));
    if (d->rot_sin) put_f(f, "rot_sin", d->rot_sin, (size_t)d->max_len * (H / NH));
    if (d->alibi_slopes) put_f(f, "alibi_slopes", d->alibi_slopes, NH);
    char name[64];
    for (int l = 0; l < L; l++)
        for (int k = 0; k < SL_CUDA_LAYER_PTRS; k++) {
            size_t cnt = k < 6 ? (size_t)fam_in(k) * fam_out(k) : k < 12 ? (size_t)fam_out(k - 6) : H;
            snprintf(name, sizeof name, "layer.%d.%d", l, k);
            if (d->layer[l * SL_CUDA_LAYER_PTRS + k]) /* NULL: a bias-free Linear, or no such module */
                put_f(f, name, d->layer[l * SL_CUDA_LAYER_PTRS + k], cnt);
        }
    if (d->pool_w_off < 0) { /* a frozen pooler is part of the base */
        put_f(f, "pool_w", d->pool_w, (size_t)H * H);
        put_f(f, "pool_b", d->pool_b, H);
    }
    ref_put(f, "lora_a_off", REF_I64, d->lora_a_off, (uint64_t)L * 6);
    ref_put(f, "lora_b_off", REF_I64, d->lora_b_off, (uint64_t)L * 6);
    const int64_t head[] = {d->cls_w_off, d->cls_b_off, d->pool_w_off, d->pool_b_off};
    ref_put(f, "head_off", REF_I64, head, 4);
    int64_t *ts = malloc(d->n_tensors * sizeof(int64_t));
    for (size_t i = 0; i < d->n_tensors; i++) ts[i] = (int64_t)d->tensor_sizes[i];
    ref_put(f, "tensor_sizes", REF_I64, ts, d->n_tensors);
    free(ts);
    put_f(f, "tparams0", p, n);
    ref_put(f, "ids", REF_I32, ids, B * T);
    ref_put(f, "mask", REF_I32, mask, B * T);
    put_f(f, "labels", labels, g.problem_type ? (size_t)B * C : (size_t)B);
    /* dropout off */
    float loss = 0;
    int rc = 0;
    sl_nn_model_zero_grad(m);
    rc |= sl_nn_model_forward(m, ids, mask, B, T, labels, NULL, &loss, &err);
    rc |= sl_nn_model_backward(m, 1.0f, &err);
    double lv = loss;
    put_f(f, "logits_nodrop", sl_nn_model_logits(m), B * C);
    ref_put(f, "loss_nodrop", REF_F64, &lv, 1);
    put_f(f, "grads_nodrop", sl_nn_model_train_grads(m), n);
    /* dropout on */
    sl_nn_dropout drop = {(uint64_t)seed, 3};
    sl_nn_model_zero_grad(m);
    rc |= sl_nn_model_forward(m, ids, mask, B, T, labels, &drop, &loss, &err);
    rc |= sl_nn_model_backward(m, 1.0f, &err);
    lv = loss;
    put_f(f, "logits_drop", sl_nn_model_logits(m), B * C);
    ref_put(f, "loss_drop", REF_F64, &lv, 1);
    put_f(f, "grads_drop", sl_nn_model_train_grads(m), n);
    /* 50 AdamW steps: dropout (micro = step), clip 1.0, constant lr */
    sl_nn_adamw opt;
    rc |= sl_nn_adamw_init(&opt, n, wd, &err);
    double curve[STEPS];
    for (int s = 0; s < STEPS && !rc; s++) {
        sl_nn_dropout ds = {(uint64_t)seed, (uint64_t)s};
        sl_nn_model_zero_grad(m);
        rc |= sl_nn_model_forward(m, ids, mask, B, T, labels, &ds, &loss, &err);
        rc |= sl_nn_model_backward(m, 1.0f, &err);
        sl_nn_clip_grad_norm(sl_nn_model_train_grads(m), cd.sizes, d->n_tensors, max_norm);
        sl_nn_adamw_step(&opt, lr, p, sl_nn_model_train_grads(m));
        curve[s] = loss;
    }
    ref_put(f, "curve", REF_F64, curve, STEPS);
    put_f(f, "tparams_final", p, n);
    sl_nn_adamw_free(&opt);
    if (fclose(f) || rc) {
        fprintf(stderr, "refgen: %s\n", rc ? err.msg : "write failed");
        return 1;
    }
    printf("refgen: %s: n_train %zu, loss %.6f -> %.6f over %d steps\n", out, n, curve[0], curve[STEPS - 1],
           STEPS);
    sl_nn_cuda_desc_free(&cd);
    sl_nn_model_free(m);
    return 0;
}

static double rel(const ref_rec *a, const ref_rec *b) {
    double num = 0, den = 0;
    for (uint64_t i = 0; i < a->count; i++) {
        double x = a->type == REF_F32 ? ((const float *)a->data)[i] : ((const double *)a->data)[i];
        double y = a->type == REF_F32 ? ((const float *)b->data)[i] : ((const double *)b->data)[i];
        if (!isfinite(x) || !isfinite(y)) return INFINITY;
        num += (x - y) * (x - y);
        den += y * y;
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static double rel_l2f(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* The trainer-facing wrapper (sl_nn_cuda_bert_*) against the CPU engine, fp32: 5 optimizer steps with
 * dropout and clipping, then the parameters and AdamW moments copied back to the host. 77 without a GPU. */
static int gpu_wrapper(void) {
    sl_err err = {0};
    sl_nn_model *m = make_model(&err);
    if (!m) {
        fprintf(stderr, "refgen: %s\n", err.msg);
        return 1;
    }
    sl_nn_device req = {SL_NN_DEVICE_AUTO, -1}, got;
    char note[1200];
    if (sl_nn_device_resolve(&req, &got, note, sizeof note, &err) || got.kind != SL_NN_DEVICE_CUDA) {
        printf("SKIP: %s\n", note);
        sl_nn_model_free(m);
        return 77;
    }
    sl_nn_cuda_bert *cb = NULL;
    if (sl_nn_cuda_model_create(m, got.index, SL_CUDA_FP32, &cb, &err)) {
        fprintf(stderr, "refgen: %s\n", err.msg);
        return 1;
    }
    const size_t n = sl_nn_model_n_train(m);
    size_t np;
    const sl_nn_param *ps = sl_nn_model_params(m, &np);
    size_t *sizes = malloc(np * sizeof *sizes);
    for (size_t i = 0; i < np; i++) sizes[i] = ps[i].numel;
    sl_nn_adamw cpu_opt, gpu_opt;
    int rc = sl_nn_adamw_init(&cpu_opt, n, 0.01, &err) || sl_nn_adamw_init(&gpu_opt, n, 0.01, &err);
    int32_t ids[MAXB * MAXT], mask[MAXB * MAXT];
    make_batch(ids, mask);
    double worst_loss = 0;
    for (int s = 0; s < 5 && !rc; s++) {
        sl_nn_dropout drop = {99, (uint64_t)s};
        float lc = 0, lg = 0;
        double ng = 0;
        int taken = 0;
        sl_nn_model_zero_grad(m);
        rc = rc || sl_nn_model_forward(m, ids, mask, B, T, labels, &drop, &lc, &err);
        rc = rc || sl_nn_model_backward(m, 1.0f, &err);
        rc = rc || sl_nn_cuda_bert_zero_grad(cb, &err);
        rc = rc || sl_nn_cuda_bert_forward(cb, ids, mask, B, T, labels, &drop, &lg, &err);
        rc = rc || sl_nn_cuda_bert_backward(cb, 1.0f, &err);
        rc = rc || sl_nn_cuda_bert_step(cb, &gpu_opt, 1e-3, 1.0, &ng, &taken, &err);
        double nc = sl_nn_clip_grad_norm(sl_nn_model_train_grads(m), sizes, np, 1.0);
        sl_nn_adamw_step(&cpu_opt, 1e-3, sl_nn_model_train_params(m), sl_nn_model_train_grads(m));
        double d = fabs(lc - lg) / fabs(lc);
        if (!(d <= worst_loss)) worst_loss = d;
        printf("step %d: loss cpu %.6f gpu %.6f, grad norm cpu %.6f gpu %.6f, taken %d\n", s, lc, lg, nc, ng,
               taken);
        if (!taken) rc = sl_err_set(&err, SL_EINTERNAL, "an fp32 step was not taken");
    }
    float *cpu_p = malloc(n * sizeof(float)), *cpu_m = malloc(n * sizeof(float));
    memcpy(cpu_p, sl_nn_model_train_params(m), n * sizeof(float));
    memcpy(cpu_m, cpu_opt.m, n * sizeof(float));
    rc = rc || sl_nn_cuda_model_to_host(cb, m, &gpu_opt, &err);
    int bad = rc != 0;
    if (!rc) {
        double ep = rel_l2f(sl_nn_model_train_params(m), cpu_p, n), em = rel_l2f(gpu_opt.m, cpu_m, n);
        printf("%s loss over 5 steps %.3e, parameters %.3e, AdamW m %.3e (tolerance 1e-4)\n",
               worst_loss <= 1e-4 && ep <= 1e-4 && em <= 1e-4 ? "PASS" : "FAIL", worst_loss, ep, em);
        bad = !(worst_loss <= 1e-4 && ep <= 1e-4 && em <= 1e-4);
        sl_cuda_mem mem;
        if (!sl_nn_cuda_bert_memory(cb, &mem, &err))
            printf("device: model %.1f MiB, in use at peak %.1f MiB\n", mem.total / 1048576.0,
                   mem.device_used_peak / 1048576.0);
    } else {
        fprintf(stderr, "refgen: %s\n", err.msg);
    }
    free(cpu_p);
    free(cpu_m);
    free(sizes);
    sl_nn_adamw_free(&cpu_opt);
    sl_nn_adamw_free(&gpu_opt);
    sl_nn_cuda_bert_free(cb);
    sl_nn_model_free(m);
    return bad;
}

int main(int argc, char **argv) {
    /* the last argument may name the variant */
    const char *vn = "a";
    if (argc >= 3)
        for (size_t i = 0; i < sizeof variants / sizeof *variants; i++)
            if (!strcmp(argv[argc - 1], variants[i].name)) {
                vn = argv[--argc];
                break;
            }
    if (set_variant(vn)) return 2;
    if (argc == 2 && !strcmp(argv[1], "--gpu-wrapper")) return gpu_wrapper();
    if (argc == 2) return generate(argv[1]);
    if (argc != 3 || strcmp(argv[1], "--compare")) {
        fprintf(
            stderr,
            "usage: %s OUT.bin [V] | --compare COMMITTED.bin [V] | --gpu-wrapper [V]  (V: a b esm esm1 d2)\n",
            argv[0]);
        return 2;
    }
    const char *tmp = getenv("SEQLORA_TEST_TMP");
    char path[1024], msg[512];
    snprintf(path, sizeof path, "%s/cuda-ref-now.bin", tmp ? tmp : "/tmp");
    if (generate(path)) return 1;
    ref_file now, old;
    if (ref_read(path, &now, msg, sizeof msg) || ref_read(argv[2], &old, msg, sizeof msg)) {
        fprintf(stderr, "%s\n", msg);
        return 1;
    }
    int bad = 0;
    if (now.n != old.n) {
        fprintf(stderr, "record count %zu now, %zu committed\n", now.n, old.n);
        bad++;
    }
    for (size_t i = 0; i < now.n && i < old.n; i++) {
        const ref_rec *a = &now.rec[i], *b = &old.rec[i];
        if (strcmp(a->name, b->name) || a->type != b->type || a->count != b->count) {
            fprintf(stderr, "record %zu: %s/%u/%llu now, %s/%u/%llu committed\n", i, a->name, a->type,
                    (unsigned long long)a->count, b->name, b->type, (unsigned long long)b->count);
            bad++;
            continue;
        }
        if (a->type == REF_I32 || a->type == REF_I64) {
            if (memcmp(a->data, b->data, a->count * ref_elem(a->type))) {
                fprintf(stderr, "record %s differs\n", a->name);
                bad++;
            }
        } else {
            double r = rel(a, b);
            if (!(r <= 1e-5)) {
                fprintf(stderr, "record %s differs: relative %.3g\n", a->name, r);
                bad++;
            }
        }
    }
    printf("compared %zu records with %s: %d differ\n", now.n, argv[2], bad);
    if (bad)
        fprintf(stderr, "the CPU engine changed: refresh with cuda_refgen %s (and rerun the GPU check)\n",
                argv[2]);
    ref_free(&now);
    ref_free(&old);
    return bad ? 1 : 0;
}
