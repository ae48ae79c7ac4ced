/* VCF/BCF record filtering for the `clean` step: QUAL and depth thresholds with exactly bcftools'
 * semantics, sample subsetting, and a validated read of the input (vcf_validate.h).
 *
 * Semantics (each checked record for record against bcftools 1.16 in tests/bio):
 *   - a record is kept when QUAL > min_qual and the depth test passes, i.e. what
 *     `bcftools view -i 'QUAL>30 && INFO/DP>10'` (or `... && FMT/DP>10`) keeps;
 *   - a missing QUAL ('.') fails the QUAL test; a missing or absent DP fails the depth test;
 *   - INFO/DP with several values passes when any value passes;
 *   - FORMAT/DP passes when at least one sample has a non-missing DP > min_dp. As in `bcftools view -s S
 *     -i EXPR`, the samples tested are all samples of the input, before `samples` subsets them;
 *   - with `samples`, the output keeps those samples (in the order given) and, like bcftools (without
 *     -I), recomputes INFO/AC and INFO/AN from the kept genotypes when the header defines them.
 *
 * The output is a BGZF-compressed VCF with a .tbi (default) or .csi index next to it. The header is the
 * input's plus one `##seqlora_clean=` line with the caller's text (no dates, so the bytes depend only on
 * input and parameters). An empty result is an error. Not thread-safe with respect to htslib's global
 * log level, which the functions here set to quiet. */
#ifndef SEQLORA_BIO_VCF_FILTER_H
#define SEQLORA_BIO_VCF_FILTER_H

#include <stddef.h>

#include "util/error.h"

typedef enum { SL_BIO_DP_NONE = 0, SL_BIO_DP_INFO, SL_BIO_DP_FORMAT } sl_bio_dp_field;

typedef struct sl_bio_clean_opts {
    int use_qual;               /* apply QUAL > min_qual */
    double min_qual;            /* default 30 */
    sl_bio_dp_field dp_field;   /* which DP (NONE disables the depth test) */
    double min_dp;              /* default 10 */
    const char *const *samples; /* keep these samples, in this order (NULL = all) */
    size_t n_samples;
    const char *const
        *drop; /* drop these samples (applied after `samples`); names absent from the file are ignored */
    size_t n_drop;
    int index_csi;           /* 1: write <out>.csi, 0: <out>.tbi */
    const char *header_note; /* text of the added ##seqlora_clean= line (NULL = none) */
} sl_bio_clean_opts;

typedef struct sl_bio_clean_stats {
    long long records_in;
    long long records_kept;
    long long failed_qual; /* records that failed the QUAL test (whatever their depth) */
    long long failed_dp;   /* records that passed QUAL and failed the depth test */
    int samples_in;
    int samples_out;
} sl_bio_clean_stats;

/* Defaults: QUAL > 30, INFO/DP > 10, all samples, .tbi. */
void sl_bio_clean_opts_init(sl_bio_clean_opts *o);

/* Filter `in` (VCF, VCF.gz or BCF) into the BGZF VCF `out` plus its index. Text VCF input is validated
 * line by line (header and records) and the first problem is an SL_EDATA error naming file, line and
 * column; BCF input is checked by htslib. On error `out` and its index may exist half-written: callers
 * write into a temporary directory (the step runner does) and discard it. */
int sl_bio_vcf_clean(const char *in, const char *out, const sl_bio_clean_opts *opts,
                     sl_bio_clean_stats *stats, sl_err *err);

/* Validate a VCF file without writing anything (the same checks as sl_bio_vcf_clean's reading). */
int sl_bio_vcf_check(const char *in, long long *records, sl_err *err);

#endif
