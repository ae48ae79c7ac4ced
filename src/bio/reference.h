/* A reference genome through htslib faidx, with region-named sequences: a sequence named
 * `chrom:start-end` (what `samtools faidx` writes for a region) serves coordinates start..end of chrom, so
 * variants on chr17 map into a FASTA holding only `chr17:41100001-41300000`. Chromosome names match with
 * or without a "chr" prefix. Sequences are returned upper-case (soft-masking removed).
 * One handle per thread. */
#ifndef SEQLORA_BIO_REFERENCE_H
#define SEQLORA_BIO_REFERENCE_H

#include <stddef.h>

#include "util/error.h"

typedef struct sl_bio_ref sl_bio_ref;

/* Open `fasta` (plain or bgzipped). The .fai (and .gzi) index is read from `index_dir` when given (and
 * built there when missing), else next to the FASTA. */
int sl_bio_ref_open(const char *fasta, const char *index_dir, sl_bio_ref **out, sl_err *err);

void sl_bio_ref_close(sl_bio_ref *r);

/* The bases [start0, end0) of `chrom` (0-based, half-open) as a malloc'd upper-case NUL-terminated string.
 * A range not covered by one sequence of the FASTA is SL_ENOTFOUND naming it. */
int sl_bio_ref_fetch(sl_bio_ref *r, const char *chrom, long long start0, long long end0, char **seq,
                     sl_err *err);

/* The whole sequence named `name` (the FASTA name as written), upper-case, malloc'd. */
int sl_bio_ref_fetch_named(sl_bio_ref *r, const char *name, char **seq, sl_err *err);

/* The FASTA sequences as (name, length) for messages; returns how many. */
int sl_bio_ref_nseq(const sl_bio_ref *r);
const char *sl_bio_ref_seq_name(const sl_bio_ref *r, int i);

#endif
