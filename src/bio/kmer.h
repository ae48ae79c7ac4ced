/* Sequence → model input text.
 *   - SL_BIO_TOK_KMER: overlapping k-mers (DNABERT, k = 3..8) separated by single spaces, exactly as in
 *     DNABERT's data files (e.g. sample_ft_6mer.tsv): for a sequence of n bases, n-k+1 words;
 *   - SL_BIO_TOK_NT6: non-overlapping 6-mers from the left (Nucleotide Transformer); a chunk that holds a
 *     base other than A/C/G/T, and the final chunk shorter than 6, are written as single bases;
 *   - SL_BIO_TOK_RAW: the bases as they are (for BPE models such as DNABERT-2).
 * Input is upper-cased first. N and other IUPAC codes are kept as they are (a k-mer with N is a word the
 * model's vocabulary maps to [UNK]); callers that want them gone filter first (sl_bio_count_non_acgt). */
#ifndef SEQLORA_BIO_KMER_H
#define SEQLORA_BIO_KMER_H

#include <stddef.h>

#include "util/error.h"

typedef enum { SL_BIO_TOK_KMER = 0, SL_BIO_TOK_NT6, SL_BIO_TOK_RAW } sl_bio_tok;

/* Parse "kmer" / "nt6" / "raw". */
int sl_bio_tok_parse(const char *s, sl_bio_tok *out, sl_err *err);

/* The model text for `seq` (length n) as a malloc'd string. k is used for SL_BIO_TOK_KMER (3..8). A
 * sequence shorter than k is SL_EDATA. */
int sl_bio_tokenize(const char *seq, size_t n, sl_bio_tok tok, int k, char **out, sl_err *err);

/* How many characters of seq are not A, C, G or T (case-insensitive). */
size_t sl_bio_count_non_acgt(const char *seq, size_t n);

#endif
