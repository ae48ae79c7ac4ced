/* Labelled sequence datasets for fine-tuning: the TSV every later step reads.
 *
 * Format (kept stable; train/predict/split read it):
 *   a header line `id<TAB>sequence<TAB>label[<TAB>metadata...]`, then one row per example;
 *   `sequence` is the model's input text (space-separated k-mers, NT 6-mers, or raw bases, kmer.h);
 *   `label` is a string: a class name, comma-separated names for multi-label, or a number for regression;
 *   missing metadata values are "NA".
 *
 * Variant mode (sl_bio_kmerize_variants): one row per ALT allele of a labelled variant VCF. The window is W
 * reference bases starting (W-1)/2 bases before the variant; the ALT allele replaces REF (for indels the
 * right flank is refilled so the window stays W bases); REF must equal the reference (a mismatch is an
 * error naming the record). With strand '-' windows are reverse-complemented (minus-strand genes).
 * Metadata columns: chrom pos ref alt exon consequence cadd [ref_sequence], from INFO/<group_field>,
 * INFO/CONSEQUENCE and INFO/CADD when the VCF has them.
 *
 * Sample mode (sl_bio_kmerize_samples): a multi-sample VCF + a label table (`id label`, as `seqlora
 * clinical` writes) + intervals (one region, or the CDS pieces) → per labelled sample the spliced,
 * strand-aware sequence with the sample's genotype applied: haplotype 1 (the first allele of GT),
 * haplotype 2 (the second), both (two rows, ids SAMPLE_1 and SAMPLE_2), or IUPAC (heterozygous SNVs as
 * IUPAC codes; a heterozygous indel is an error in this mode). Missing alleles leave the reference.
 * A variant that overlaps one applied before it on the same haplotype, or crosses an interval edge, is
 * skipped and counted. Metadata columns: sample haplotype variants_applied.
 *
 * Both fill `summary` (a JSON object): rows, label_counts, length {min, max, mean} in bases, tokens, and
 * the counts of what was dropped and why. */
#ifndef SEQLORA_BIO_DATASET_H
#define SEQLORA_BIO_DATASET_H

#include <jansson.h>
#include <stddef.h>

#include "kmer.h"
#include "reference.h"
#include "regions.h"
#include "util/error.h"

typedef enum { SL_BIO_N_KEEP = 0, SL_BIO_N_DROP, SL_BIO_N_ERROR } sl_bio_n_policy;
typedef enum {
    SL_BIO_HAP_1 = 1,
    SL_BIO_HAP_2 = 2,
    SL_BIO_HAP_BOTH = 3,
    SL_BIO_HAP_IUPAC = 4
} sl_bio_haplotype;

typedef struct sl_bio_kmerize_opts {
    sl_bio_tok tok;
    int k; /* for SL_BIO_TOK_KMER */
    sl_bio_n_policy n_policy;
    /* variant mode */
    int window;                  /* W (default 101) */
    char strand;                 /* '+' or '-' */
    const char *label_field;     /* INFO key of the label (NULL: label "NA") */
    const char *const *map_from; /* label value → label (NULL: as written); unmapped values are dropped */
    const char *const *map_to;
    size_t n_map;
    const char *group_field; /* INFO key for the `exon` column (default "EXON") */
    int ref_column;          /* add ref_sequence */
    /* FASTA mode */
    int stride; /* > 0: tile each sequence into windows of `window` bases every `stride` bases */
    /* sample mode */
    sl_bio_haplotype haplotype;
} sl_bio_kmerize_opts;

/* Defaults: 6-mers, keep N, W = 101, '+', group field EXON, haplotype 1. */
void sl_bio_kmerize_opts_init(sl_bio_kmerize_opts *o);

int sl_bio_kmerize_variants(const char *vcf, sl_bio_ref *ref, const sl_bio_kmerize_opts *o,
                            const char *out_tsv, json_t *summary, sl_err *err);

/* Variant mode from a TSV with a header naming at least chrom, pos (1-based), ref, alt (comma-separated
 * alleles allowed) and, when o->label_field is set, that column; optional id, consequence, cadd and the group
 * column (o->group_field, else "exon"). Empty, "NA" or "." labels are dropped and counted. */
int sl_bio_kmerize_variant_table(const char *tsv, sl_bio_ref *ref, const sl_bio_kmerize_opts *o,
                                 const char *out_path, json_t *summary, sl_err *err);

/* FASTA mode: every sequence of `seqs` (e.g. a CDS FASTA from `seqlora fetch --ensembl`) is one row (id = the
 * FASTA name), or, with o->stride > 0, windows of o->window bases every o->stride bases (id
 * "name:start-end"; a last window shorter than W is not written unless the sequence is shorter than W).
 * Labels from `labels_tsv` (id, label; sequences without a label are dropped and counted), else "NA".
 * Metadata columns: source start end. */
int sl_bio_kmerize_fasta(sl_bio_ref *seqs, const char *labels_tsv, const sl_bio_kmerize_opts *o,
                         const char *out_path, json_t *summary, sl_err *err);

int sl_bio_kmerize_samples(const char *vcf, const char *labels_tsv, sl_bio_ref *ref,
                           const sl_bio_intervals *iv, const sl_bio_kmerize_opts *o, const char *out_tsv,
                           json_t *summary, sl_err *err);

#endif
