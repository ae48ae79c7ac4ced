/* Sex check from X-chromosome genotypes.
 *
 * F is the X inbreeding coefficient exactly as plink 1.9 `--check-sex` computes it when the input carries
 * no sex (reference/sexcheck.md; the test runs plink 1.9 on the same VCF):
 *   - sites: biallelic variants on X (X, chrX or 23) outside PAR1/PAR2 of the build, skipping sites that
 *     are monomorphic in the sample (plink's 1,006 of 1,069 on the 1000 Genomes subset);
 *   - alt allele frequency p over all called genotypes, each counted as two alleles; a haploid or
 *     half call ("1", "1/.") counts as homozygous, as `--vcf-half-call haploid` loads it;
 *   - per sample over its called sites: O = homozygous calls, E = sum of 1 - 2p(1-p), N = called sites;
 *     F = (O - E) / (N - E) (no small-sample correction).
 *
 * The inferred sex uses the ploidy and heterozygosity evidence first, then F:
 *   - "haploid": at least half of the sample's called sites are haploid/half calls and at most 1% of
 *     them are heterozygous → male;
 *   - "diploid-het": the file writes some samples' X haploid (so the caller models male ploidy), this
 *     sample has no haploid call and has heterozygous calls → female;
 *   - "F": otherwise F < female_max → female, F > male_min → male, else unknown.
 * Status: OK when the reported sex is known and equals the inferred one, PROBLEM when both are known
 * and differ, UNKNOWN when either is unknown. */
#ifndef SEQLORA_BIO_SEXCHECK_H
#define SEQLORA_BIO_SEXCHECK_H

#include <stddef.h>

#include "util/error.h"

typedef enum { SL_BIO_SEX_UNKNOWN = 0, SL_BIO_SEX_MALE = 1, SL_BIO_SEX_FEMALE = 2 } sl_bio_sex;

typedef enum { SL_BIO_BUILD_GRCH37 = 37, SL_BIO_BUILD_GRCH38 = 38 } sl_bio_build;

typedef struct sl_bio_sexcheck_opts {
    sl_bio_build build;
    double female_max; /* F below this: female (default 0.2, plink's) */
    double male_min;   /* F above this: male (default 0.8, plink's) */
} sl_bio_sexcheck_opts;

typedef struct sl_bio_sexcheck_row {
    char *sample;
    double f; /* NaN when the sample has no usable site */
    long sites;
    long haploid_calls;
    long het_calls;
    const char *evidence; /* "haploid", "diploid-het", "F" or "none" (static string) */
    sl_bio_sex inferred;
    sl_bio_sex reported;
    const char *status; /* "OK", "PROBLEM" or "UNKNOWN" (static string) */
} sl_bio_sexcheck_row;

typedef struct sl_bio_sexcheck_result {
    sl_bio_sexcheck_row *rows; /* one per sample, in VCF order */
    size_t n;
    long sites_used;          /* X non-PAR biallelic polymorphic sites */
    long sites_skipped_par;   /* X sites inside PAR1/PAR2 */
    long sites_skipped_other; /* multiallelic or monomorphic X sites */
} sl_bio_sexcheck_result;

/* Defaults: GRCh37, 0.2, 0.8. */
void sl_bio_sexcheck_opts_init(sl_bio_sexcheck_opts *o);

/* Parse "GRCh37"/"hg19"/"b37"/"37" or "GRCh38"/"hg38"/"b38"/"38". */
int sl_bio_build_parse(const char *s, sl_bio_build *out, sl_err *err);

/* Parse a sex value: male/M/1 and female/F/2 (any case); 0, "", "unknown", "not reported", "--", "NA" are
 * unknown; anything else is an error. */
int sl_bio_sex_parse(const char *s, sl_bio_sex *out);

/* "male", "female" or "unknown". */
const char *sl_bio_sex_name(sl_bio_sex s);

/* Compute the sex check of every sample of `vcf` (read through the validating reader). `sex_table` is
 * optional (NULL): a TSV with a header line whose sample column is named sample, IID, id or
 * case_submitter_id (else the first column) and whose sex column is named sex or gender (else the second
 * column); samples missing from it are unknown, duplicate samples in it are an error. On success the
 * caller owns `res` (sl_bio_sexcheck_result_free). No sample in the VCF or no usable X site is an error. */
int sl_bio_sexcheck(const char *vcf, const char *sex_table, const sl_bio_sexcheck_opts *opts,
                    sl_bio_sexcheck_result *res, sl_err *err);

/* Write the result as TSV (header: sample F sites haploid_calls het_calls evidence inferred_sex
 * reported_sex status; F with 6 decimals, "nan" when undefined). */
int sl_bio_sexcheck_write_tsv(const sl_bio_sexcheck_result *res, const char *path, sl_err *err);

void sl_bio_sexcheck_result_free(sl_bio_sexcheck_result *res);

/* Read a sexcheck TSV (as written above) and return the malloc'd names of the samples whose status is
 * PROBLEM (*names may be NULL when there are none). Free with sl_bio_sexcheck_free_names. */
int sl_bio_sexcheck_read_problems(const char *path, char ***names, size_t *n, sl_err *err);

void sl_bio_sexcheck_free_names(char **names, size_t n);

#endif
