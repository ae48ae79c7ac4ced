/* Percentile bootstrap confidence intervals, reproducible from a seed.
 *
 * A resample is drawn as per-row multiplicities (counts[i] = how many times row i is in the resample), so a
 * statistic that accepts weights (metrics.h) is evaluated without copying or re-sorting the data. When
 * strata are given, every stratum is resampled separately with replacement to its own size (for a
 * classification task the stratum is the true class, so each resample keeps the class counts of the data
 * and both classes of a binary problem are always present). Resample b draws from the Philox stream
 * (seed, SL_NN_BOOT_STREAM + b), so the result does not depend on threads or on how many statistics are
 * computed. The interval for level L is [percentile((1-L)/2), percentile((1+L)/2)] of the replicate values
 * (numpy's default linear interpolation), over the replicates where the statistic is defined (not NaN). */
#ifndef SEQLORA_NN_BOOTSTRAP_H
#define SEQLORA_NN_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define SL_NN_BOOT_STREAM 0x626f6f7400000000ull /* "boot" << 32 */

/* Evaluate `n_stats` statistics on one resample given as multiplicities; write NaN for an undefined one.
 * Called from one thread at a time. */
typedef void (*sl_nn_boot_fn)(const uint32_t *counts, double *out, void *ctx);

typedef struct sl_nn_boot_ci {
    double lo, hi;  /* the interval bounds (NaN when no replicate was defined) */
    size_t n_valid; /* replicates where the statistic was defined */
} sl_nn_boot_ci;

/* Draw `n_resamples` resamples of `n` rows and fill ci[0..n_stats-1]. `strata` (may be NULL = one stratum)
 * gives each row's stratum in [0, n_strata). `level` in (0,1). Errors: SL_EUSAGE for a bad level or stratum,
 * SL_ENOMEM. */
int sl_nn_bootstrap(size_t n, const int *strata, int n_strata, size_t n_resamples, uint64_t seed,
                    double level, size_t n_stats, sl_nn_boot_fn fn, void *ctx, sl_nn_boot_ci *ci,
                    sl_err *err);

#endif
