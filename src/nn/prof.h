/* Per-phase wall-clock profile of the CPU engine, for benchmarks (bench/cpu) and performance work.
 *
 * Off by default; when off, each instrumented call costs one relaxed atomic load. When on, the engine adds
 * the wall time of each instrumented region, measured on the calling thread (the one that drives the thread
 * pool, so a region's time includes all its parallel work), to that phase's total, and counts the
 * floating-point operations of the GEMMs it runs (2 M N K per sl_nn_sgemm, and the attention products of
 * the BERT family). Regions do not nest: a region opened while another is open (a GEMM inside attention,
 * a kernel run by a pool worker) is not timed, so a phase's time is never part of another phase's.
 *
 * Thread-safety: the totals are atomics; enable/reset/read from the thread that drives the engine, between
 * steps. */
#ifndef SEQLORA_NN_PROF_H
#define SEQLORA_NN_PROF_H

typedef enum {
    SL_NN_PH_GEMM,      /* the dense GEMMs through sl_nn_sgemm (Linear layers, LoRA, head) */
    SL_NN_PH_ATTENTION, /* per-(row, head) attention: QK^T, mask + softmax, dropout, PV and their backward */
    SL_NN_PH_GELU,      /* the MLP activation, forward and backward: GELU, GeGLU, SwiGLU */
    SL_NN_PH_LAYERNORM, /* LayerNorm forward and backward */
    SL_NN_PH_DROPOUT,   /* hidden and LoRA-input dropout (draws and masks) */
    SL_NN_PH_OPTIMIZER, /* gradient clipping and AdamW */
    SL_NN_PH_N
} sl_nn_phase;

/* Turn profiling on (1) or off (0). Totals are kept until sl_nn_prof_reset. */
void sl_nn_prof_enable(int on);
int sl_nn_prof_enabled(void);

/* Zero all totals. */
void sl_nn_prof_reset(void);

/* Open a region: its start time (seconds, monotonic), or 0 when profiling is off or a region is already
 * open (then the matching sl_nn_prof_end does nothing). */
double sl_nn_prof_begin(void);

/* Close the region opened by the sl_nn_prof_begin that returned t0: add the time since t0 to phase; nothing
 * when t0 is 0. */
void sl_nn_prof_end(sl_nn_phase phase, double t0);

/* Count flops floating-point operations (when profiling is on). */
void sl_nn_prof_flops(double flops);

/* Seconds accumulated in phase, and the flops counted, since the last reset. */
double sl_nn_prof_seconds(sl_nn_phase phase);
double sl_nn_prof_total_flops(void);

/* A short name of the phase ("gemm", "attention", "gelu", "layernorm", "dropout", "optimizer"). */
const char *sl_nn_prof_name(sl_nn_phase phase);

#endif
