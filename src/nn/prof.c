/* Per-phase profile counters (see prof.h). */
#include "prof.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

static atomic_int prof_on;
static _Atomic uint64_t prof_ns[SL_NN_PH_N];
static _Atomic uint64_t prof_flops; /* whole operations; a double would need a CAS loop */
static atomic_int prof_busy;        /* a region is open: nested regions and pool workers are not timed */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sl_nn_prof_enable(int on) {
    atomic_store(&prof_on, on ? 1 : 0);
}

int sl_nn_prof_enabled(void) {
    return atomic_load_explicit(&prof_on, memory_order_relaxed);
}

void sl_nn_prof_reset(void) {
    for (int i = 0; i < SL_NN_PH_N; i++) atomic_store(&prof_ns[i], 0);
    atomic_store(&prof_flops, 0);
}

double sl_nn_prof_begin(void) {
    if (!sl_nn_prof_enabled() || atomic_exchange(&prof_busy, 1)) return 0.0;
    return now_s();
}

void sl_nn_prof_end(sl_nn_phase phase, double t0) {
    if (t0 == 0.0) return;
    if (phase < 0 || phase >= SL_NN_PH_N) phase = SL_NN_PH_GEMM; /* never: keeps the region balanced */
    double dt = now_s() - t0;
    if (dt > 0) atomic_fetch_add(&prof_ns[phase], (uint64_t)(dt * 1e9 + 0.5));
    atomic_store(&prof_busy, 0);
}

void sl_nn_prof_flops(double flops) {
    if (sl_nn_prof_enabled() && flops > 0) atomic_fetch_add(&prof_flops, (uint64_t)flops);
}

double sl_nn_prof_seconds(sl_nn_phase phase) {
    if (phase < 0 || phase >= SL_NN_PH_N) return 0;
    return 1e-9 * (double)atomic_load(&prof_ns[phase]);
}

double sl_nn_prof_total_flops(void) {
    return (double)atomic_load(&prof_flops);
}

const char *sl_nn_prof_name(sl_nn_phase phase) {
    static const char *const names[SL_NN_PH_N] = {"gemm",      "attention", "gelu",
                                                  "layernorm", "dropout",   "optimizer"};
    return phase >= 0 && phase < SL_NN_PH_N ? names[phase] : "?";
}
