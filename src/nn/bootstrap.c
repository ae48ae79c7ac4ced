#include "bootstrap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util/rng.h"

int sl_nn_bootstrap(size_t n, const int *strata, int n_strata, size_t n_resamples, uint64_t seed,
                    double level, size_t n_stats, sl_nn_boot_fn fn, void *ctx, sl_nn_boot_ci *ci,
                    sl_err *err) {
    if (!(level > 0 && level < 1))
        return sl_err_set(err, SL_EUSAGE, "bootstrap: confidence level must be in (0, 1), got %g", level);
    if (n > UINT32_MAX) return sl_err_set(err, SL_EUSAGE, "bootstrap: too many rows (%zu)", n);
    if (!strata) n_strata = 1;
    if (n_strata < 1) return sl_err_set(err, SL_EUSAGE, "bootstrap: need at least one stratum");

    int rc = 0;
    size_t *start =
        calloc((size_t)n_strata + 1, sizeof *start); /* members of stratum s: idx[start[s]..start[s+1]) */
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    uint32_t *counts = malloc((n ? n : 1) * sizeof *counts);
    double *rep = malloc((n_resamples ? n_resamples : 1) * (n_stats ? n_stats : 1) * sizeof *rep);
    double *col = malloc((n_resamples ? n_resamples : 1) * sizeof *col);
    double *one = malloc((n_stats ? n_stats : 1) * sizeof *one);
    if (!start || !idx || !counts || !rep || !col || !one) {
        rc = sl_err_set(err, SL_ENOMEM, "bootstrap: cannot allocate %zu x %zu replicates", n_resamples,
                        n_stats);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        int s = strata ? strata[i] : 0;
        if (s < 0 || s >= n_strata) {
            rc = sl_err_set(err, SL_EUSAGE, "bootstrap: row %zu has stratum %d outside [0, %d)", i, s,
                            n_strata);
            goto done;
        }
        start[s + 1]++;
    }
    for (int s = 0; s < n_strata; s++) start[s + 1] += start[s];
    {
        size_t *fill = calloc((size_t)n_strata, sizeof *fill);
        if (!fill) {
            rc = sl_err_set(err, SL_ENOMEM, "bootstrap: out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            int s = strata ? strata[i] : 0;
            idx[start[s] + fill[s]++] = i;
        }
        free(fill);
    }

    for (size_t b = 0; b < n_resamples; b++) {
        sl_rng r;
        sl_rng_init(&r, seed, SL_NN_BOOT_STREAM + b);
        memset(counts, 0, n * sizeof *counts);
        for (int s = 0; s < n_strata; s++) {
            size_t m = start[s + 1] - start[s];
            for (size_t j = 0; j < m; j++) counts[idx[start[s] + sl_rng_below(&r, (uint32_t)m)]]++;
        }
        fn(counts, one, ctx);
        for (size_t k = 0; k < n_stats; k++) rep[b * n_stats + k] = one[k];
    }

    for (size_t k = 0; k < n_stats; k++) {
        size_t m = 0;
        for (size_t b = 0; b < n_resamples; b++) {
            double v = rep[b * n_stats + k];
            if (!isnan(v)) col[m++] = v;
        }
        ci[k].n_valid = m;
        ci[k].lo = sl_nn_percentile(col, m, (1 - level) / 2);
        ci[k].hi = sl_nn_percentile(col, m, (1 + level) / 2);
    }

done:
    free(start);
    free(idx);
    free(counts);
    free(rep);
    free(col);
    free(one);
    return rc;
}
