#include "ensembl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_bio_ensembl_id_ok(const char *id) {
    if (!id) return 0;
    size_t n = 0;
    for (; id[n]; n++) {
        unsigned char c = (unsigned char)id[n];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-') return 0;
    }
    return n >= 1 && n <= 128;
}

int sl_bio_ensembl_type_ok(const char *type) {
    static const char *const types[] = {"genomic", "cds", "cdna", "protein", NULL};
    if (!type) return 0;
    for (int i = 0; types[i]; i++)
        if (!strcmp(type, types[i])) return 1;
    return 0;
}

char *sl_bio_ensembl_sequence_url(const char *base, const char *id, const char *type) {
    if (!base || !sl_bio_ensembl_id_ok(id) || !sl_bio_ensembl_type_ok(type)) return NULL;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') bl--;
    size_t n = bl + strlen("/sequence/id/") + strlen(id) + strlen("?type=") + strlen(type) + 1;
    char *url = malloc(n);
    if (url) snprintf(url, n, "%.*s/sequence/id/%s?type=%s", (int)bl, base, id, type);
    return url;
}

/* The first bytes of a body, printable, for a message. */
static void preview(const char *p, size_t len, char *out, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        unsigned char c = (unsigned char)p[i];
        out[o++] = (c >= 32 && c < 127) ? (char)c : ' ';
    }
    out[o] = '\0';
}

static int residue(unsigned char c) {
    return isalpha(c) || c == '*' || c == '-';
}

int sl_bio_fasta_check(const char *body, size_t len, const char *what, size_t *n_records, sl_err *err) {
    size_t i = 0, records = 0, residues = 0;
    int line = 0;
    while (i < len && isspace((unsigned char)body[i])) i++;
    if (i == len) return sl_err_set(err, SL_EDATA, "%s: empty response; expected FASTA", what);
    if (body[i] != '>') {
        char pv[61];
        preview(body + i, len - i, pv, sizeof pv);
        return sl_err_set(err, SL_EDATA, "%s: expected FASTA (a first line starting with '>'), got '%s'",
                          what, pv);
    }
    int header_line = 0;
    for (i = 0; i < len;) {
        size_t j = i;
        while (j < len && body[j] != '\n') j++;
        size_t end = j;
        if (end > i && body[end - 1] == '\r') end--;
        line++;
        if (end > i && body[i] == '>') {
            if (records && !residues)
                return sl_err_set(err, SL_EDATA, "%s:%d: FASTA record without sequence (header on line %d)",
                                  what, line, header_line);
            if (end - i < 2)
                return sl_err_set(err, SL_EDATA, "%s:%d: FASTA header without a name", what, line);
            records++;
            residues = 0;
            header_line = line;
        } else {
            for (size_t k = i; k < end; k++) {
                unsigned char c = (unsigned char)body[k];
                if (residue(c)) {
                    residues++;
                } else if (!isspace(c)) {
                    return sl_err_set(err, SL_EDATA,
                                      "%s:%d: unexpected character '%c' (0x%02x) in a FASTA sequence line",
                                      what, line, isprint(c) ? c : '?', c);
                }
            }
        }
        i = j + 1;
    }
    if (!residues)
        return sl_err_set(err, SL_EDATA, "%s:%d: FASTA record without sequence (header on line %d)", what,
                          line, header_line);
    if (n_records) *n_records = records;
    return 0;
}
