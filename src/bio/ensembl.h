/* The Ensembl REST sequence endpoint: GET <base>/sequence/id/<ID>?type=<type> with the request header
 * "Content-Type: text/x-fasta" returns the sequence of a gene, transcript or protein ID as FASTA.
 * This module builds the request and checks what comes back; the transfer itself is download.h's. */
#ifndef SEQLORA_BIO_ENSEMBL_H
#define SEQLORA_BIO_ENSEMBL_H

#include <stddef.h>

#include "util/error.h"

/* The header that asks the endpoint for FASTA. */
#define SL_BIO_ENSEMBL_FASTA_HEADER "Content-Type: text/x-fasta"

/* 1 when `id` looks like an Ensembl stable ID (letters, digits, '.', '_', '-'; 1..128 chars), else 0.
 * Nothing else may go into the URL path. */
int sl_bio_ensembl_id_ok(const char *id);

/* 1 for the sequence types the endpoint knows: "genomic", "cds", "cdna", "protein". */
int sl_bio_ensembl_type_ok(const char *type);

/* "<base>/sequence/id/<id>?type=<type>" (a trailing '/' on base is dropped). Malloc'd; NULL when out of
 * memory or when id/type are not acceptable (check them first for a message). */
char *sl_bio_ensembl_sequence_url(const char *base, const char *id, const char *type);

/* Check that `body` is FASTA: at least one record, each a '>' header line followed by one or more lines of
 * residue letters (IUPAC, '*' and '-' allowed). `what` names the source in messages. Returns 0 and the number
 * of records in *n_records (may be NULL), or SL_EDATA naming the line and what was found (an empty body, an
 * HTML or JSON page, a record without sequence, a bad character). */
int sl_bio_fasta_check(const char *body, size_t len, const char *what, size_t *n_records, sl_err *err);

#endif
