/* Unit tests of pretraining (label unit: also run under ASan/UBSan): the masking invariants, the whole
 * sl_nn_pretrain loop on a tiny model (outputs present, loss finite, the same bytes with 1 and 2 threads
 * and after resuming from a finished checkpoint), and the refusals of bad options and bad FASTA. The
 * numerical truth (gradients, AdamW, logits vs transformers) is in test_pretrain.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/bert.h"
#include "nn/mlm.h"
#include "nn/parallel.h"
#include "nn/pretrainer.h"
#include "test.h"
#include "util/fs.h"
#include "util/rng.h"

static char dir[512];

static void path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", dir, name);
}

static void test_mask(void) {
    enum { B = 4, T = 60 };
    int32_t ids[B * T], mask[B * T], out[B * T], lab[B * T];
    sl_rng r;
    sl_rng_init(&r, 1, 1);
    for (int i = 0; i < B * T; i++) {
        ids[i] = 5 + (int32_t)sl_rng_below(&r, 64);
        mask[i] = 1;
    }
    for (int b = 0; b < B; b++) ids[b * T] = 2, ids[b * T + T - 1] = 3;
    for (int t = 40; t < T; t++) ids[T + t] = 0, mask[T + t] = 0; /* row 1 padded */
    ids[T + 39] = 3;
    const int32_t sp[4] = {0, 1, 2, 3};
    sl_nn_mlm_mask_opts o = {0.15, 3, 4, 5, 69, sp, 4};
    long targets = 0;
    for (uint64_t micro = 0; micro < 200; micro++) {
        int n = sl_nn_mlm_mask(&o, ids, mask, B, T, 7, micro, out, lab);
        int cnt = 0;
        for (int i = 0; i < B * T; i++) {
            if (lab[i] == -100) {
                CHECK(out[i] == ids[i]);
                continue;
            }
            cnt++;
            CHECK(lab[i] == ids[i]);
            CHECK(mask[i] && ids[i] >= 5);
            CHECK(out[i] == 4 || (out[i] >= 5 && out[i] < 69));
        }
        CHECK_EQ_INT(n, cnt);
        CHECK(n > 0);
        targets += n;
    }
    const double frac = (double)targets / (200.0 * (B * T - 8 - 20));
    CHECK(frac > 0.10 && frac < 0.17);
    /* the same (seed, micro) gives the same masking */
    int32_t out2[B * T], lab2[B * T];
    sl_nn_mlm_mask(&o, ids, mask, B, T, 7, 3, out, lab);
    sl_nn_mlm_mask(&o, ids, mask, B, T, 7, 3, out2, lab2);
    CHECK(!memcmp(out, out2, sizeof out) && !memcmp(lab, lab2, sizeof lab));
    /* nothing maskable: no target, no crash */
    int32_t sids[2 * 4] = {2, 3, 0, 0, 2, 1, 3, 0}, smask[8] = {1, 1, 0, 0, 1, 1, 1, 0};
    int32_t so[8], sl[8];
    CHECK_EQ_INT(sl_nn_mlm_mask(&o, sids, smask, 2, 4, 7, 0, so, sl), 0);
}

static void write_inputs(void) {
    char p[600];
    path(p, sizeof p, "seq.fa");
    FILE *f = fopen(p, "w");
    sl_rng r;
    sl_rng_init(&r, 5, 1);
    fprintf(f, ">one\n");
    for (int i = 0; i < 900; i++) {
        char c = "ACGTacgt"[sl_rng_below(&r, 8)];
        if (i == 300) c = 'N';
        fputc(c, f);
        if (i % 60 == 59) fputc('\n', f);
    }
    fprintf(f, "\n>tiny\nAC\n>empty\n>short\nACGTTGCA\n");
    fclose(f);
    path(p, sizeof p, "config.json");
    f = fopen(p, "w");
    fprintf(f, "{\"hidden_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
               "\"intermediate_size\": 32, \"max_position_embeddings\": 64}\n");
    fclose(f);
    path(p, sizeof p, "bad.fa");
    f = fopen(p, "w");
    fprintf(f, ">x\nACGT\nAC-T\n");
    fclose(f);
}

static int run(const char *out, const char *work, int threads, sl_nn_pretrain_result *res, sl_err *err) {
    char fa[600], cfg[600], od[600], wd[600], mp[700];
    path(fa, sizeof fa, "seq.fa");
    path(cfg, sizeof cfg, "config.json");
    path(od, sizeof od, out);
    sl_fs_mkdirs(od, err);
    snprintf(mp, sizeof mp, "%s/metrics.jsonl", od);
    const char *fasta[1] = {fa};
    sl_nn_pretrain_opts o;
    sl_nn_pretrain_opts_default(&o);
    o.fasta = fasta;
    o.n_fasta = 1;
    o.config_path = cfg;
    o.out_dir = od;
    o.metrics_path = mp;
    if (work) {
        path(wd, sizeof wd, work);
        sl_fs_mkdirs(wd, err);
        o.workdir = wd;
    }
    o.kmer = 3;
    o.window = 40;
    o.windows_per_epoch = 10;
    o.epochs = 2;
    o.batch_size = 4;
    o.lr = 1e-3;
    o.checkpoint_every = 2;
    sl_nn_set_threads(threads);
    return sl_nn_pretrain(&o, res, err);
}

static char *slurp(const char *sub, const char *name, size_t *len) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
    char *d = NULL;
    sl_err err = {0};
    *len = 0;
    if (sl_fs_read_all(p, &d, len, &err)) return NULL;
    return d;
}

static void test_loop(void) {
    sl_err err = {0};
    sl_nn_pretrain_result res;
    memset(&res, 0, sizeof res);
    CHECK_EQ_INT(run("a", NULL, 1, &res, &err), 0);
    if (err.code) fprintf(stderr, "%s\n", err.msg);
    CHECK_EQ_INT(res.steps, 6);
    CHECK(isfinite(res.first_loss) && isfinite(res.last_loss) && res.first_loss > 0);
    CHECK_EQ_INT(run("b", "work", 2, &res, &err), 0);
    CHECK_EQ_INT(res.resumed, 0);
    CHECK_EQ_INT(run("c", "work", 1, &res, &err), 0); /* resumes from the finished checkpoint */
    CHECK_EQ_INT(res.resumed, 1);
    const char *files[] = {"model.safetensors",       "config.json",          "vocab.txt", "metrics.jsonl",
                           "special_tokens_map.json", "tokenizer_config.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t la, lb, lc;
        char *a = slurp("a", files[i], &la), *b = slurp("b", files[i], &lb), *c = slurp("c", files[i], &lc);
        CHECK(a && b && c);
        CHECK(a && b && la == lb && !memcmp(a, b, la));
        CHECK(a && c && la == lc && !memcmp(a, c, la));
        free(a);
        free(b);
        free(c);
    }
    size_t n;
    char *cfg = slurp("a", "config.json", &n);
    CHECK(cfg && strstr(cfg, "BertForMaskedLM"));
    free(cfg);
}

/* Finite differences with dropout ON (the torch parity runs with dropout off): the gradient of a few
 * weights of every kind, including the embeddings behind the embedding dropout, against
 * (L(w + e) - L(w - e)) / 2e with the same dropout masks (they depend on (seed, micro) only). */
static double fd_loss(sl_nn_bert *m, sl_nn_mlm_head *h, const int32_t *ids, const int32_t *mask,
                      const int32_t *lab, int B, int T) {
    sl_err err = {0};
    sl_nn_dropout drop = {11, 5};
    float loss = NAN;
    if (sl_nn_bert_forward(m, ids, mask, B, T, NULL, &drop, NULL, &err) ||
        sl_nn_mlm_forward(h, sl_nn_bert_last_hidden(m), sl_nn_bert_base_params(m), lab, B * T, &loss, &err))
        fprintf(stderr, "%s\n", err.msg);
    return loss;
}

static void test_finite_differences(void) {
    enum { B = 2, T = 12 };
    char md[600];
    path(md, sizeof md, "a");
    sl_err err = {0};
    sl_nn_lora_spec none = {.r = 1, .alpha = 1, .targets = 0};
    sl_nn_bert *m = NULL;
    sl_nn_mlm_head h;
    int loaded = 0;
    CHECK_EQ_INT(sl_nn_bert_load(md, NULL, &none, 42, B, T, 1, &m, &err), 0);
    if (!m) return;
    const sl_nn_bert_config *c = sl_nn_bert_get_config(m);
    CHECK(c->hidden_dropout > 0 && c->attn_dropout > 0);
    CHECK_EQ_INT(sl_nn_bert_enable_full_grad(m, &err), 0);
    CHECK_EQ_INT(sl_nn_mlm_head_init(&h, c->hidden, c->vocab_size, c->ln_eps, c->init_range, 1, &err), 0);
    CHECK_EQ_INT(sl_nn_mlm_head_load(&h, md, &loaded, &err), 0);
    CHECK(loaded);
    int32_t ids[B * T], mask[B * T], lab[B * T];
    sl_rng r;
    sl_rng_init(&r, 9, 1);
    for (int i = 0; i < B * T; i++) {
        ids[i] = 5 + (int32_t)sl_rng_below(&r, 64);
        mask[i] = !(i >= T + 9);
        lab[i] = (i % 3 == 1 && mask[i]) ? 5 + (int32_t)sl_rng_below(&r, 64) : -100;
    }
    ids[0] = ids[T] = 2;
    ids[4] = 4;
    float *dh = malloc((size_t)B * T * c->hidden * sizeof(float));
    sl_nn_bert_zero_grad(m);
    double l0 = fd_loss(m, &h, ids, mask, lab, B, T);
    CHECK(isfinite(l0));
    sl_nn_mlm_backward(&h, sl_nn_bert_base_params(m), sl_nn_bert_base_grads(m), dh);
    CHECK_EQ_INT(sl_nn_bert_backward_hidden(m, dh, &err), 0);
    size_t nt = 0;
    const sl_nn_param *tp = sl_nn_bert_base_tensors(m, &nt);
    float *w = sl_nn_bert_base_params(m), *g = sl_nn_bert_base_grads(m);
    int checked = 0;
    for (size_t t = 0; t < nt; t++) {
        if (strstr(tp[t].name, "pooler")) continue;
        /* the element with the largest gradient of the tensor: a well-conditioned difference */
        size_t best = 0;
        for (size_t i = 1; i < tp[t].numel; i++)
            if (fabsf(g[tp[t].offset + i]) > fabsf(g[tp[t].offset + best])) best = i;
        const size_t k = tp[t].offset + best;
        if (fabsf(g[k]) < 1e-4f) continue; /* e.g. key biases: exactly 0 in exact arithmetic */
        const float keep = w[k], e = 1e-2f;
        w[k] = keep + e;
        double lp = fd_loss(m, &h, ids, mask, lab, B, T);
        w[k] = keep - e;
        double lm = fd_loss(m, &h, ids, mask, lab, B, T);
        w[k] = keep;
        double fd = (lp - lm) / (2 * e);
        if (!(fabs(fd - g[k]) <= 2e-2 * fabs(g[k]) + 2e-4))
            fprintf(stderr, "  %s[%zu]: analytic %.6g, finite difference %.6g\n", tp[t].name, best, g[k], fd);
        CHECK(fabs(fd - g[k]) <= 2e-2 * fabs(g[k]) + 2e-4);
        checked++;
    }
    fprintf(stderr, "  %d tensors checked by finite differences\n", checked);
    CHECK(checked >= 15);
    free(dh);
    sl_nn_mlm_head_free(&h);
    sl_nn_bert_free(m);
}

static void test_refusals(void) {
    sl_err err = {0};
    char fa[600], bad[600], cfg[600], od[600];
    path(fa, sizeof fa, "seq.fa");
    path(bad, sizeof bad, "bad.fa");
    path(cfg, sizeof cfg, "config.json");
    path(od, sizeof od, "z");
    sl_fs_mkdirs(od, &err);
    sl_nn_pretrain_opts o;
    sl_nn_pretrain_opts_default(&o);
    const char *one[1] = {fa};
    o.fasta = one;
    o.n_fasta = 1;
    o.out_dir = od;
    CHECK_EQ_INT(sl_nn_pretrain(&o, NULL, &err), SL_EUSAGE); /* neither --config nor --init-from */
    o.config_path = cfg;
    o.init_from = dir;
    CHECK_EQ_INT(sl_nn_pretrain(&o, NULL, &err), SL_EUSAGE); /* both */
    o.init_from = NULL;
    o.mlm_probability = 1.5;
    CHECK_EQ_INT(sl_nn_pretrain(&o, NULL, &err), SL_EUSAGE);
    o.mlm_probability = 0.15;
    const char *b[1] = {bad};
    o.fasta = b;
    CHECK_EQ_INT(sl_nn_pretrain(&o, NULL, &err), SL_EDATA);
    CHECK(strstr(err.msg, "bad.fa:3") != NULL);
    size_t n;
    char *m = slurp("z", "model.safetensors", &n);
    CHECK(m == NULL); /* nothing written */
    free(m);
}

int main(void) {
    const char *tmp = getenv("SEQLORA_TEST_TMP");
    sl_err err = {0};
    sl_fs_mkdirs(tmp ? tmp : "/tmp", &err);
    char *d = NULL;
    if (sl_fs_mkdtemp(tmp ? tmp : "/tmp", "pretrain-unit-", &d, &err)) return 1;
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    write_inputs();
    RUN_TEST(test_mask);
    RUN_TEST(test_loop);
    RUN_TEST(test_finite_differences);
    RUN_TEST(test_refusals);
    sl_fs_remove_tree(dir, &err);
    return TEST_RESULT();
}
