/* GDC download manifests: the tab-separated file the GDC Data Portal's "Download Manifest" button gives,
 *
 *     id<TAB>filename<TAB>md5<TAB>size<TAB>state
 *     ead53b27-6ad9-4b96-b5d4-0d4f06fb2d13<TAB>dadd...counts.tsv<TAB>0948d5b1...<TAB>4235051<TAB>released
 *
 * Columns are found by their header names (id, filename, md5 and size are required; others are ignored), so
 * a manifest with extra or reordered columns reads the same. Each file is fetched from <api>/data/<id>. */
#ifndef SEQLORA_BIO_GDC_H
#define SEQLORA_BIO_GDC_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef struct sl_bio_gdc_file {
    char id[37];    /* the file UUID, lower case */
    char *filename; /* a plain file name: no '/', not "." or ".." */
    char md5[33];   /* lower-case hex */
    int64_t size;   /* bytes */
    int line;       /* 1-based line in the manifest */
} sl_bio_gdc_file;

typedef struct sl_bio_gdc_manifest {
    sl_bio_gdc_file *files;
    size_t n;
} sl_bio_gdc_manifest;

/* Parse a manifest held in memory (`name` is used in messages). Blank lines and CRLF line ends are accepted.
 * Errors (SL_EDATA) name "<name>:<line>", the field and what was expected: a missing header column, a wrong
 * field count, an id that is not a UUID, a filename with a '/', an md5 that is not 32 hex digits, a size that
 * is not a non-negative integer, a filename or id listed twice, an empty manifest. On failure *m is empty. */
int sl_bio_gdc_manifest_parse(const char *text, size_t len, const char *name, sl_bio_gdc_manifest *m,
                              sl_err *err);

/* Read and parse a manifest file. */
int sl_bio_gdc_manifest_read(const char *path, sl_bio_gdc_manifest *m, sl_err *err);

/* Free what a parse allocated (safe on an empty or zeroed manifest). */
void sl_bio_gdc_manifest_free(sl_bio_gdc_manifest *m);

/* The data URL of a file: "<api>/data/<id>" (a trailing '/' on api is dropped). Malloc'd; NULL when out of
 * memory. */
char *sl_bio_gdc_data_url(const char *api, const char *id);

/* 1 when s is a UUID in the 8-4-4-4-12 hex form, else 0. */
int sl_bio_gdc_is_uuid(const char *s);

#endif
