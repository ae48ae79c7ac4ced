/* Time LoRA training steps of the seqlora CPU engine on a model directory (see run_bench.py).
 *
 *   nn_bench_step MODEL_DIR BATCH SEQ STEPS THREADS
 *
 * LoRA r 16, alpha 32, dropout 0.1 on query,value (the seed's settings), random token ids (seeded), all
 * positions real. Each step: zero grads, forward with dropout, loss, backward, clip, AdamW. One untimed
 * warm-up step. Prints one JSON line: median and per-step seconds, tokens/s, peak RSS (ru_maxrss). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "nn/bert.h"
#include "nn/optim.h"
#include "util/progress.h"
#include "util/rng.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: nn_bench_step MODEL_DIR BATCH SEQ STEPS THREADS\n");
        return 2;
    }
    const char *dir = argv[1];
    int B = atoi(argv[2]), T = atoi(argv[3]), steps = atoi(argv[4]), threads = atoi(argv[5]);
    sl_nn_set_threads(threads);
    sl_err err = {0};
    sl_nn_lora_spec spec = {.r = 16, .alpha = 32, .dropout = 0.1f};
    const char *targets[] = {"query", "value"};
    if (sl_nn_lora_targets(targets, 2, &spec.targets, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    double t0 = sl_now_seconds();
    sl_nn_bert *m;
    if (sl_nn_bert_load(dir, NULL, &spec, 42, B, T, 1, &m, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    double load_s = sl_now_seconds() - t0;
    const sl_nn_bert_config *c = sl_nn_bert_get_config(m);
    int32_t *ids = malloc((size_t)B * T * sizeof(int32_t)), *mask = malloc((size_t)B * T * sizeof(int32_t));
    float *labels = malloc((size_t)B * sizeof(float));
    sl_rng r;
    sl_rng_init(&r, 1, 1);
    for (int i = 0; i < B * T; i++)
        ids[i] = 5 + (int32_t)sl_rng_below(&r, (uint32_t)(c->vocab_size - 5)), mask[i] = 1;
    for (int b = 0; b < B; b++) labels[b] = (float)sl_rng_below(&r, 2);
    sl_nn_adamw opt;
    if (sl_nn_adamw_init(&opt, sl_nn_bert_n_train(m), 0.01, &err)) return 1;
    size_t np;
    const sl_nn_param *ps = sl_nn_bert_params(m, &np);
    size_t *sizes = malloc(np * sizeof *sizes);
    for (size_t i = 0; i < np; i++) sizes[i] = ps[i].numel;
    double *times = malloc((size_t)(steps + 1) * sizeof(double));
    float loss = 0;
    for (int s = 0; s <= steps; s++) {
        double a = sl_now_seconds();
        sl_nn_bert_zero_grad(m);
        sl_nn_dropout drop = {42, (uint64_t)s};
        if (sl_nn_bert_forward(m, ids, mask, B, T, labels, &drop, &loss, &err) ||
            sl_nn_bert_backward(m, 1.0f, &err))
            return fprintf(stderr, "%s\n", err.msg), 1;
        sl_nn_clip_grad_norm(sl_nn_bert_train_grads(m), sizes, np, 1.0);
        sl_nn_adamw_step(&opt, 1e-4, sl_nn_bert_train_params(m), sl_nn_bert_train_grads(m));
        times[s] = sl_now_seconds() - a;
    }
    double *sorted = malloc((size_t)steps * sizeof(double));
    memcpy(sorted, times + 1, (size_t)steps * sizeof(double));
    qsort(sorted, (size_t)steps, sizeof(double), cmp_d);
    double med = sorted[steps / 2];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"engine\": \"seqlora\", \"threads\": %d, \"batch\": %d, \"seq\": %d, \"load_s\": %.3f, "
           "\"warmup_s\": %.3f, "
           "\"step_s\": [",
           threads, B, T, load_s, times[0]);
    for (int s = 1; s <= steps; s++) printf("%s%.4f", s > 1 ? ", " : "", times[s]);
    printf("], \"median_s\": %.4f, \"tokens_per_s\": %.1f, \"peak_rss_mb\": %.1f, \"last_loss\": %.6f}\n",
           med, (double)B * T / med, ru.ru_maxrss / 1024.0, loss);
    sl_nn_adamw_free(&opt);
    sl_nn_bert_free(m);
    free(ids), free(mask), free(labels), free(sizes), free(times), free(sorted);
    return 0;
}
