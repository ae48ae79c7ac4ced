/* A tab-separated table reader (plain or gzip/BGZF text, through htslib) with line numbers for error
 * messages. Lines ending in CR LF are accepted; empty lines are skipped; '#' has no special meaning.
 * One reader per thread. */
#ifndef SEQLORA_BIO_TSV_H
#define SEQLORA_BIO_TSV_H

#include <stddef.h>

#include "util/error.h"

typedef struct sl_bio_tsv {
    char *path;
    long lineno;   /* 1-based line number of the current row */
    char **fields; /* the current row's fields (point into an internal buffer valid until the next read) */
    size_t nfields;
    /* private */
    void *fp;
    char *buf;
    size_t buf_len, buf_cap, fields_cap;
} sl_bio_tsv;

/* Open `path`. */
int sl_bio_tsv_open(const char *path, sl_bio_tsv **out, sl_err *err);

/* Read the next non-empty row into t->fields. Returns 1 for a row, 0 at the end, or SL_EDATA/SL_ENOMEM. */
int sl_bio_tsv_next(sl_bio_tsv *t, sl_err *err);

/* The index of the column named `name` (case-insensitive) among the current row's fields, or -1. */
int sl_bio_tsv_find(const sl_bio_tsv *t, const char *name);

void sl_bio_tsv_close(sl_bio_tsv *t);

#endif
