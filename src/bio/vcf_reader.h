/* A validating VCF/BCF reader on htslib: every text line (header and records) passes through
 * vcf_validate.h before htslib parses it, so malformed input fails with a message naming the file, the
 * line and the column instead of being silently repaired. BCF input is read with htslib's own checks.
 * gzip/BGZF input is decompressed by htslib; a truncated or corrupt stream is an error.
 *
 * One reader per thread. htslib's global log level is set to quiet while a reader is open (htslib would
 * otherwise print warnings on stderr; the reader reports problems through sl_err instead). */
#ifndef SEQLORA_BIO_VCF_READER_H
#define SEQLORA_BIO_VCF_READER_H

#include <htslib/vcf.h>

#include "util/error.h"

typedef struct sl_bio_vcf_reader {
    htsFile *fp;
    bcf_hdr_t *hdr; /* owned by the reader */
    char *path;
    int is_text;
    long lineno;    /* the 1-based line of the last record read (text input) */
    long long nrec; /* records read so far */
    struct sl_bio_vcf_validator *validator;
    kstring_t line;
} sl_bio_vcf_reader;

/* Open `path` and read + validate its header. On failure *out is NULL and err is filled. */
int sl_bio_vcf_reader_open(const char *path, sl_bio_vcf_reader **out, sl_err *err);

/* Read the next record into `rec` (unpacked up to BCF_UN_ALL). Returns 1 for a record, 0 at the end,
 * or a negative SL_E* code (err names the file and line). */
int sl_bio_vcf_reader_next(sl_bio_vcf_reader *r, bcf1_t *rec, sl_err *err);

/* Close and free (NULL is fine). */
void sl_bio_vcf_reader_close(sl_bio_vcf_reader *r);

#endif
