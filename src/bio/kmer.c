#include "kmer.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int sl_bio_tok_parse(const char *s, sl_bio_tok *out, sl_err *err) {
    if (!strcmp(s, "kmer"))
        *out = SL_BIO_TOK_KMER;
    else if (!strcmp(s, "nt6"))
        *out = SL_BIO_TOK_NT6;
    else if (!strcmp(s, "raw"))
        *out = SL_BIO_TOK_RAW;
    else
        return sl_err_set(err, SL_EUSAGE, "unknown tokenisation '%s' (expected kmer, nt6 or raw)", s);
    return 0;
}

size_t sl_bio_count_non_acgt(const char *seq, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        char b = (char)toupper((unsigned char)seq[i]);
        c += !(b == 'A' || b == 'C' || b == 'G' || b == 'T');
    }
    return c;
}

int sl_bio_tokenize(const char *seq, size_t n, sl_bio_tok tok, int k, char **out, sl_err *err) {
    *out = NULL;
    char *o;
    size_t w = 0;
    if (tok == SL_BIO_TOK_RAW) {
        if (!(o = malloc(n + 1))) return sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) o[i] = (char)toupper((unsigned char)seq[i]);
        o[n] = 0;
        *out = o;
        return 0;
    }
    if (tok == SL_BIO_TOK_KMER) {
        if (k < 3 || k > 8) return sl_err_set(err, SL_EUSAGE, "k must be in 3..8 (DNABERT), got %d", k);
        if (n < (size_t)k)
            return sl_err_set(err, SL_EDATA, "a sequence of %zu bases is shorter than k = %d", n, k);
        size_t words = n - (size_t)k + 1;
        if (!(o = malloc(words * (size_t)(k + 1) + 1))) return sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; i < words; i++) {
            if (i) o[w++] = ' ';
            for (int j = 0; j < k; j++) o[w++] = (char)toupper((unsigned char)seq[i + (size_t)j]);
        }
        o[w] = 0;
        *out = o;
        return 0;
    }
    /* nt6 */
    if (n == 0) return sl_err_set(err, SL_EDATA, "empty sequence");
    if (!(o = malloc(2 * n + 1))) return sl_err_set(err, SL_ENOMEM, "out of memory");
    size_t i = 0;
    while (i < n) {
        size_t len = n - i < 6 ? n - i : 6;
        int whole = len == 6 && sl_bio_count_non_acgt(seq + i, 6) == 0;
        if (whole) {
            if (w) o[w++] = ' ';
            for (size_t j = 0; j < 6; j++) o[w++] = (char)toupper((unsigned char)seq[i + j]);
        } else {
            for (size_t j = 0; j < len; j++) {
                if (w) o[w++] = ' ';
                o[w++] = (char)toupper((unsigned char)seq[i + j]);
            }
        }
        i += len;
    }
    o[w] = 0;
    *out = o;
    return 0;
}
