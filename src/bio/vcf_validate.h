/* VCF text validation beyond what htslib checks: the header's meta lines (structure, quoting, INFO/FORMAT
 * Number and Type, the types the specification reserves for its predefined keys, contig and ALT IDs),
 * the #CHROM line (columns, unique sample names), and each data line (CHROM, POS, ID, REF, ALT, QUAL,
 * FILTER, INFO and FORMAT values against their definitions, genotype alleles and ploidy-derived
 * cardinalities, contig contiguity, sort order and exact duplicates).
 *
 * The rules follow the VCF 4.2 specification; keys the specification predefines (INFO AC, AN, DP, ...;
 * FORMAT GT, PL, ...) count as defined with the specification's Number and Type even when the header
 * omits them, and any other INFO/FORMAT key used in a record must be defined in the header.
 *
 * Usage: sl_bio_vcf_validator_new(), then sl_bio_vcf_validate_header_line() for every header line in
 * order (the "##" lines and the "#CHROM" line), then sl_bio_vcf_validate_record() for every data line.
 * Errors name the source (`path`), the 1-based line number, the column and what was expected.
 * Not thread-safe per validator; independent validators may be used from different threads. */
#ifndef SEQLORA_BIO_VCF_VALIDATE_H
#define SEQLORA_BIO_VCF_VALIDATE_H

#include <stddef.h>

#include "util/error.h"

typedef struct sl_bio_vcf_validator sl_bio_vcf_validator;

/* A validator for the file `path` (used in messages only; copied). NULL on allocation failure. */
sl_bio_vcf_validator *sl_bio_vcf_validator_new(const char *path);

/* Free a validator (NULL is fine). */
void sl_bio_vcf_validator_free(sl_bio_vcf_validator *v);

/* Check one header line (without its newline) at 1-based line number `lineno`. The first line must be
 * the ##fileformat line; the #CHROM line ends the header. Returns 0 or SL_EDATA (err filled). */
int sl_bio_vcf_validate_header_line(sl_bio_vcf_validator *v, const char *line, long lineno, sl_err *err);

/* Check one data line (without its newline). Requires that the #CHROM line was seen. Returns 0, SL_EDATA
 * (err filled) or SL_ENOMEM. */
int sl_bio_vcf_validate_record(sl_bio_vcf_validator *v, const char *line, long lineno, sl_err *err);

/* Number of samples named on the #CHROM line (0 before it). */
int sl_bio_vcf_validator_nsamples(const sl_bio_vcf_validator *v);

#endif
