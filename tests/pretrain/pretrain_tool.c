/* Test driver for the pretraining parity tests (test_pretrain.py):
 *   pretrain_tool grads MODEL_DIR BATCH STEPS LR WD CLIP GRADS.safetensors   -> the loss before each step
 *   pretrain_tool logits MODEL_DIR BATCH OUT.f32                             -> MLM logits [B, T, V] as f32
 *   pretrain_tool mask BATCH SPAN PROB SEED MICRO MASK_ID FIRST_REGULAR VOCAB -> masked ids, then labels
 * BATCH is a text file: "B T", then B*T ids, B*T attention-mask values, B*T labels (-100 = none). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/bert.h"
#include "nn/mlm.h"
#include "nn/pretrainer.h"

static int read_batch(const char *path, int *B, int *T, int32_t **ids, int32_t **mask, int32_t **labels) {
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%d %d", B, T) != 2) return -1;
    size_t n = (size_t)*B * *T;
    *ids = malloc(n * 4);
    *mask = malloc(n * 4);
    *labels = malloc(n * 4);
    int32_t *arr[3] = {*ids, *mask, *labels};
    for (int a = 0; a < 3; a++)
        for (size_t i = 0; i < n; i++)
            if (fscanf(f, "%d", &arr[a][i]) != 1) return -1;
    fclose(f);
    return 0;
}

static int fail(const sl_err *e) {
    fprintf(stderr, "pretrain_tool: %s\n", e->msg);
    return 1;
}

int main(int argc, char **argv) {
    sl_err err;
    sl_err_clear(&err);
    int B, T;
    int32_t *ids, *mask, *labels;
    sl_nn_set_threads(getenv("SL_THREADS") ? atoi(getenv("SL_THREADS")) : 1);
    if (argc == 9 && !strcmp(argv[1], "grads")) {
        if (read_batch(argv[3], &B, &T, &ids, &mask, &labels)) return fprintf(stderr, "bad batch\n"), 1;
        int steps = atoi(argv[4]);
        float *losses = calloc((size_t)steps, sizeof(float));
        if (sl_nn_pretrain_fixed_batch(argv[2], ids, mask, labels, B, T, steps, atof(argv[5]), atof(argv[6]),
                                       atof(argv[7]), 42, losses, argv[8], &err))
            return fail(&err);
        for (int i = 0; i < steps; i++) printf("%.9g\n", losses[i]);
        free(losses);
        free(ids);
        free(mask);
        free(labels);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "logits")) {
        if (read_batch(argv[3], &B, &T, &ids, &mask, &labels)) return fprintf(stderr, "bad batch\n"), 1;
        sl_nn_lora_spec none = {.r = 1, .alpha = 1, .targets = 0};
        sl_nn_bert *m;
        if (sl_nn_bert_load(argv[2], NULL, &none, 42, B, T, 0, &m, &err)) return fail(&err);
        const sl_nn_bert_config *c = sl_nn_bert_get_config(m);
        sl_nn_mlm_head h;
        int loaded = 0;
        if (sl_nn_mlm_head_init(&h, c->hidden, c->vocab_size, c->ln_eps, c->init_range, 42, &err) ||
            sl_nn_mlm_head_load(&h, argv[2], &loaded, &err))
            return fail(&err);
        if (!loaded) return fprintf(stderr, "no MLM head in %s\n", argv[2]), 1;
        size_t n = (size_t)B * T;
        for (size_t i = 0; i < n; i++) labels[i] = 0; /* every position is a row */
        float loss;
        if (sl_nn_bert_forward(m, ids, mask, B, T, NULL, NULL, NULL, &err) ||
            sl_nn_mlm_forward(&h, sl_nn_bert_last_hidden(m), sl_nn_bert_base_params(m), labels, (int)n, &loss,
                              &err))
            return fail(&err);
        float *lg = malloc(n * (size_t)c->vocab_size * sizeof(float));
        sl_nn_mlm_logits(&h, sl_nn_bert_base_params(m), lg);
        FILE *f = fopen(argv[4], "wb");
        if (!f || fwrite(lg, sizeof(float), n * c->vocab_size, f) != n * c->vocab_size) return 1;
        fclose(f);
        sl_nn_mlm_head_free(&h);
        sl_nn_bert_free(m);
        free(lg);
        free(ids);
        free(mask);
        free(labels);
        return 0;
    }
    if (argc == 11 && !strcmp(argv[1], "mask")) {
        if (read_batch(argv[2], &B, &T, &ids, &mask, &labels)) return fprintf(stderr, "bad batch\n"), 1;
        const int32_t specials[4] = {0, 1, 2, 3};
        sl_nn_mlm_mask_opts o = {
            atof(argv[4]), atoi(argv[3]), atoi(argv[7]), atoi(argv[8]), atoi(argv[9]), specials, 4};
        (void)argv[10];
        size_t n = (size_t)B * T;
        int32_t *out = malloc(n * 4), *lab = malloc(n * 4);
        sl_nn_mlm_mask(&o, ids, mask, B, T, strtoull(argv[5], NULL, 10), strtoull(argv[6], NULL, 10), out,
                       lab);
        for (size_t i = 0; i < n; i++) printf("%d%c", out[i], i + 1 == n ? '\n' : ' ');
        for (size_t i = 0; i < n; i++) printf("%d%c", lab[i], i + 1 == n ? '\n' : ' ');
        free(out);
        free(lab);
        free(ids);
        free(mask);
        free(labels);
        return 0;
    }
    fprintf(stderr, "usage: see the comment at the top of pretrain_tool.c\n");
    return 2;
}
