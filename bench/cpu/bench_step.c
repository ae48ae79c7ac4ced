/* Time LoRA training steps, or inference forward passes, of the seqlora CPU engine on a model directory
 * (see run_bench.py).
 *
 *   nn_bench_step MODEL_DIR BATCH SEQ STEPS THREADS [train|infer]
 *
 * LoRA r 16, alpha 32, dropout 0.1 on query,value (the seed's settings), random token ids (seeded), all
 * positions real.
 *   train (default): each step zeroes the gradients, runs the forward pass with dropout, the loss, the
 *                    backward pass, gradient clipping and AdamW.
 *   infer:           the model loaded for inference (no gradients, no dropout, the LoRA branch unmerged as
 *                    `seqlora predict` runs it); each step is one forward pass of the batch to the logits.
 * One untimed warm-up step. Prints one JSON line: median and per-step seconds, the median CPU seconds of
 * the process per step (all threads; steadier than wall time on a loaded machine), tokens/s, peak RSS
 * (VmHWM, see peak_rss_mb), and the engine's per-phase profile (src/nn/prof.h; mean seconds per timed step,
 * "other" = the rest of the step: embeddings, residual adds, copies, pooler, loss, zeroing) with the
 * floating-point operations the step's GEMMs and attention products performed and the rate they were done at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "nn/bert.h"
#include "nn/gemm_onednn.h"
#include "nn/optim.h"
#include "nn/prof.h"
#include "util/progress.h"
#include "util/rng.h"

/* CPU seconds of this process (all its threads): less sensitive than wall time to other jobs on a shared
 * machine, as long as the engine's threads do not spin while waiting (they sleep on a condition variable). */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Peak resident set of this process in MB: VmHWM from /proc/self/status, the high-water mark of this
 * program's own address space. getrusage's ru_maxrss is not used: after fork + exec it starts from the
 * parent's resident set (a Python parent with torch imported made a 42 MB run report 229 MB). Falls back
 * to ru_maxrss where /proc is missing. */
static double peak_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = (double)ru.ru_maxrss;
    }
    return kb / 1024.0;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 6 || argc > 8) {
        fprintf(stderr, "usage: nn_bench_step MODEL_DIR BATCH SEQ STEPS THREADS [train|infer "
                        "[fp32|bf16|fp32-openblas]]\n");
        return 2;
    }
    const char *dir = argv[1], *mode = argc >= 7 ? argv[6] : "train",
               *precision = argc == 8 ? argv[7] : "fp32";
    int B = atoi(argv[2]), T = atoi(argv[3]), steps = atoi(argv[4]), threads = atoi(argv[5]);
    int train = !strcmp(mode, "train");
    /* fp32-openblas: fp32 with the GEMMs on OpenBLAS, as in builds without oneDNN (before/after) */
    int bf16 = !strcmp(precision, "bf16"), openblas = !strcmp(precision, "fp32-openblas");
    if ((!train && strcmp(mode, "infer")) || (!bf16 && !openblas && strcmp(precision, "fp32")) || B < 1 ||
        T < 1 || steps < 1 || threads < 1) {
        fprintf(stderr, "nn_bench_step: BATCH, SEQ, STEPS and THREADS must be >= 1, mode train or infer, "
                        "precision fp32, bf16 or fp32-openblas\n");
        return 2;
    }
    if (openblas) sl_nn_dnnl_fp32_enable(0);
    sl_nn_set_threads(threads);
    sl_err err = {0};
    sl_nn_lora_spec spec = {.r = 16, .alpha = 32, .dropout = 0.1f};
    const char *targets[] = {"query", "value"};
    if (sl_nn_lora_targets(targets, 2, &spec.targets, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    double t0 = sl_now_seconds();
    sl_nn_bert *m;
    if (sl_nn_bert_load(dir, NULL, &spec, 42, B, T, train, &m, &err) ||
        (bf16 && sl_nn_bert_use_bf16(m, &err)))
        return fprintf(stderr, "%s\n", err.msg), 1;
    double load_s = sl_now_seconds() - t0;
    const sl_nn_bert_config *c = sl_nn_bert_get_config(m);
    int32_t *ids = malloc((size_t)B * T * sizeof(int32_t)), *mask = malloc((size_t)B * T * sizeof(int32_t));
    float *labels = malloc((size_t)B * sizeof(float));
    double *times = malloc((size_t)(steps + 1) * sizeof(double)),
           *sorted = malloc((size_t)steps * sizeof(double)),
           *cpu = malloc((size_t)(steps + 1) * sizeof(double));
    double phase_s[SL_NN_PH_N] = {0}, flops = 0;
    if (!ids || !mask || !labels || !times || !sorted || !cpu) return fprintf(stderr, "out of memory\n"), 1;
    sl_rng r;
    sl_rng_init(&r, 1, 1);
    for (int i = 0; i < B * T; i++)
        ids[i] = 5 + (int32_t)sl_rng_below(&r, (uint32_t)(c->vocab_size - 5)), mask[i] = 1;
    for (int b = 0; b < B; b++) labels[b] = (float)sl_rng_below(&r, 2);
    sl_nn_adamw opt = {0};
    if (train && sl_nn_adamw_init(&opt, sl_nn_bert_n_train(m), 0.01, &err)) return 1;
    size_t np;
    const sl_nn_param *ps = sl_nn_bert_params(m, &np);
    size_t *sizes = malloc((np ? np : 1) * sizeof *sizes);
    if (!sizes) return fprintf(stderr, "out of memory\n"), 1;
    for (size_t i = 0; i < np; i++) sizes[i] = ps[i].numel;
    float loss = 0;
    sl_nn_prof_enable(1);
    for (int s = 0; s <= steps; s++) {
        sl_nn_prof_reset();
        double a = sl_now_seconds(), ca = cpu_seconds();
        if (train) {
            sl_nn_bert_zero_grad(m);
            sl_nn_dropout drop = {42, (uint64_t)s};
            if (sl_nn_bert_forward(m, ids, mask, B, T, labels, &drop, &loss, &err) ||
                sl_nn_bert_backward(m, 1.0f, &err))
                return fprintf(stderr, "%s\n", err.msg), 1;
            sl_nn_clip_grad_norm(sl_nn_bert_train_grads(m), sizes, np, 1.0);
            sl_nn_adamw_step(&opt, 1e-4, sl_nn_bert_train_params(m), sl_nn_bert_train_grads(m));
        } else if (sl_nn_bert_forward(m, ids, mask, B, T, NULL, NULL, NULL, &err)) {
            return fprintf(stderr, "%s\n", err.msg), 1;
        }
        times[s] = sl_now_seconds() - a;
        cpu[s] = cpu_seconds() - ca;
        if (s == 0) continue;
        for (int p = 0; p < SL_NN_PH_N; p++) phase_s[p] += sl_nn_prof_seconds((sl_nn_phase)p) / steps;
        flops = sl_nn_prof_total_flops();
    }
    memcpy(sorted, times + 1, (size_t)steps * sizeof(double));
    qsort(sorted, (size_t)steps, sizeof(double), cmp_d);
    double med = sorted[steps / 2], mean = 0, accounted = 0;
    memcpy(sorted, cpu + 1, (size_t)steps * sizeof(double));
    qsort(sorted, (size_t)steps, sizeof(double), cmp_d);
    double cpu_med = sorted[steps / 2];
    for (int s = 1; s <= steps; s++) mean += times[s] / steps;
    printf("{\"engine\": \"seqlora\", \"mode\": \"%s\", \"precision\": \"%s\", \"threads\": %d, "
           "\"batch\": %d, \"seq\": %d, \"load_s\": %.3f, \"warmup_s\": %.3f, \"step_s\": [",
           mode, precision, threads, B, T, load_s, times[0]);
    for (int s = 1; s <= steps; s++) printf("%s%.4f", s > 1 ? ", " : "", times[s]);
    printf("], \"median_s\": %.4f, \"cpu_median_s\": %.4f, \"tokens_per_s\": %.1f, \"peak_rss_mb\": %.1f",
           med, cpu_med, (double)B * T / med, peak_rss_mb());
    if (train) printf(", \"last_loss\": %.6f", loss);
    printf(", \"phases_s\": {");
    for (int p = 0; p < SL_NN_PH_N; p++) {
        printf("\"%s\": %.4f, ", sl_nn_prof_name((sl_nn_phase)p), phase_s[p]);
        accounted += phase_s[p];
    }
    printf("\"other\": %.4f}, \"gflop_per_step\": %.2f, \"gflops\": %.1f, \"gemm_gflops\": %.1f}\n",
           mean - accounted, flops / 1e9, flops / 1e9 / med,
           phase_s[SL_NN_PH_GEMM] + phase_s[SL_NN_PH_ATTENTION] > 0
               ? flops / 1e9 / (phase_s[SL_NN_PH_GEMM] + phase_s[SL_NN_PH_ATTENTION])
               : 0.0);
    if (train) sl_nn_adamw_free(&opt);
    sl_nn_bert_free(m);
    free(ids), free(mask), free(labels), free(sizes), free(times), free(sorted), free(cpu);
    return 0;
}
