/* Genomic intervals: a region string ("chr17:41196312-41277500"), a BED file, or the CDS pieces of a
 * GFF3/GTF annotation; and the spliced, strand-aware sequence of a set of intervals.
 * Coordinates are 0-based half-open internally (BED's); region strings and GFF/GTF are 1-based closed. */
#ifndef SEQLORA_BIO_REGIONS_H
#define SEQLORA_BIO_REGIONS_H

#include <stddef.h>

#include "reference.h"
#include "util/error.h"

typedef struct sl_bio_interval {
    char chrom[64];
    long long start0, end0;
    char strand;   /* '+', '-' or '.' */
    char name[96]; /* BED name / GFF ID / "" */
} sl_bio_interval;

typedef struct sl_bio_intervals {
    sl_bio_interval *v;
    size_t n;
} sl_bio_intervals;

/* "chrom:start-end[:strand]" (1-based, closed; commas in numbers allowed). */
int sl_bio_region_parse(const char *s, sl_bio_interval *out, sl_err *err);

/* BED (3+ columns; name and strand used when present); '#', "track" and "browser" lines skipped. */
int sl_bio_bed_read(const char *path, sl_bio_intervals *out, sl_err *err);

/* The CDS features of a GFF3 or GTF file. `transcript` (NULL = all) keeps the CDS whose Parent (GFF3),
 * transcript_id (GTF) or ID contains it. */
int sl_bio_cds_read(const char *path, const char *transcript, sl_bio_intervals *out, sl_err *err);

void sl_bio_intervals_free(sl_bio_intervals *iv);

/* Sort by chrom then start (stable). */
void sl_bio_intervals_sort(sl_bio_intervals *iv);

/* The spliced sequence of the intervals (sorted by position, concatenated; reverse-complemented when they
 * are on the minus strand). All intervals must be on one chromosome and one strand, and must not overlap.
 * *strand receives '+' or '-' ('.' counts as '+'). */
int sl_bio_spliced_sequence(sl_bio_ref *ref, const sl_bio_intervals *iv, char **seq, char *strand,
                            sl_err *err);

/* Reverse-complement in place (IUPAC codes complemented; other characters kept). */
void sl_bio_revcomp(char *s, size_t n);

#endif
