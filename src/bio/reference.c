#include "reference.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/faidx.h>
#include <htslib/hts.h>

typedef struct {
    char *chrom;      /* the chromosome the sequence covers (without "chr") */
    long long offset; /* 0-based genomic coordinate of the sequence's first base */
    long long len;
    const char *name; /* the FASTA name (owned by faidx) */
} ref_seq;

struct sl_bio_ref {
    faidx_t *fai;
    char *path;
    ref_seq *seqs;
    int n;
};

static const char *strip_chr(const char *c) {
    return strncmp(c, "chr", 3) == 0 && c[3] ? c + 3 : c;
}

void sl_bio_ref_close(sl_bio_ref *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) free(r->seqs[i].chrom);
    free(r->seqs);
    if (r->fai) fai_destroy(r->fai);
    free(r->path);
    free(r);
}

int sl_bio_ref_open(const char *fasta, const char *index_dir, sl_bio_ref **out, sl_err *err) {
    *out = NULL;
    hts_set_log_level(HTS_LOG_OFF);
    sl_bio_ref *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(fasta))) {
        free(r);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    char fai[4096], gzi[4096];
    if (index_dir) {
        const char *base = strrchr(fasta, '/');
        base = base ? base + 1 : fasta;
        snprintf(fai, sizeof fai, "%s/%s.fai", index_dir, base);
        snprintf(gzi, sizeof gzi, "%s/%s.gzi", index_dir, base);
    }
    FILE *probe = fopen(fasta, "rb");
    if (!probe) {
        int e = errno;
        sl_bio_ref_close(r);
        return sl_err_errno(err, SL_EIO, e, "%s: cannot open the reference FASTA", fasta);
    }
    fclose(probe);
    r->fai = fai_load3(fasta, index_dir ? fai : NULL, index_dir ? gzi : NULL, FAI_CREATE);
    if (!r->fai) {
        sl_bio_ref_close(r);
        return sl_err_set(
            err, SL_EDATA,
            "%s: not a FASTA htslib can index (plain text or bgzip-compressed, one name per '>' line)",
            fasta);
    }
    r->n = faidx_nseq(r->fai);
    r->seqs = calloc((size_t)(r->n ? r->n : 1), sizeof *r->seqs);
    if (!r->seqs) {
        sl_bio_ref_close(r);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (int i = 0; i < r->n; i++) {
        const char *name = faidx_iseq(r->fai, i);
        ref_seq *s = &r->seqs[i];
        s->name = name;
        s->len = faidx_seq_len(r->fai, name);
        const char *colon = strrchr(name, ':');
        long long a, b;
        char tail;
        if (colon && sscanf(colon + 1, "%lld-%lld%c", &a, &b, &tail) == 2 && a >= 1 && b >= a) {
            s->chrom = strndup(name, (size_t)(colon - name));
            s->offset = a - 1;
            if (b - a + 1 != s->len) {
                int rc = sl_err_set(err, SL_EDATA, "%s: sequence '%s' has %lld bases, its name says %lld",
                                    fasta, name, s->len, b - a + 1);
                sl_bio_ref_close(r);
                return rc;
            }
        } else {
            s->chrom = strdup(name);
            s->offset = 0;
        }
        if (!s->chrom) {
            sl_bio_ref_close(r);
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
    }
    *out = r;
    return 0;
}

int sl_bio_ref_nseq(const sl_bio_ref *r) {
    return r->n;
}

const char *sl_bio_ref_seq_name(const sl_bio_ref *r, int i) {
    return r->seqs[i].name;
}

int sl_bio_ref_fetch(sl_bio_ref *r, const char *chrom, long long start0, long long end0, char **seq,
                     sl_err *err) {
    *seq = NULL;
    if (start0 < 0 || end0 < start0)
        return sl_err_set(err, SL_EUSAGE, "bad reference range %s:%lld-%lld", chrom, start0 + 1, end0);
    const char *c = strip_chr(chrom);
    for (int i = 0; i < r->n; i++) {
        ref_seq *s = &r->seqs[i];
        if (strcmp(strip_chr(s->chrom), c)) continue;
        if (start0 < s->offset || end0 > s->offset + s->len) continue;
        hts_pos_t len = 0;
        char *q = faidx_fetch_seq64(r->fai, s->name, start0 - s->offset, end0 - s->offset - 1, &len);
        if (end0 == start0) {
            free(q);
            q = strdup("");
            len = 0;
        }
        if (!q || len != end0 - start0) {
            free(q);
            return sl_err_set(err, SL_EDATA, "%s: cannot read %s:%lld-%lld from '%s'", r->path, chrom,
                              start0 + 1, end0, s->name);
        }
        for (hts_pos_t k = 0; k < len; k++) q[k] = (char)toupper((unsigned char)q[k]);
        *seq = q;
        return 0;
    }
    char names[512] = "";
    for (int i = 0; i < r->n && i < 3; i++) {
        strncat(names, r->seqs[i].name, sizeof names - strlen(names) - 4);
        if (i + 1 < r->n && i < 2) strncat(names, ", ", sizeof names - strlen(names) - 1);
    }
    return sl_err_set(err, SL_ENOTFOUND, "%s: no sequence covers %s:%lld-%lld (the FASTA has %s%s)", r->path,
                      chrom, start0 + 1, end0, names, r->n > 3 ? ", ..." : "");
}

int sl_bio_ref_fetch_named(sl_bio_ref *r, const char *name, char **seq, sl_err *err) {
    *seq = NULL;
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->seqs[i].name, name)) continue;
        hts_pos_t len = 0;
        char *q = r->seqs[i].len ? faidx_fetch_seq64(r->fai, name, 0, r->seqs[i].len - 1, &len) : strdup("");
        if (!q || len != r->seqs[i].len) {
            free(q);
            return sl_err_set(err, SL_EDATA, "%s: cannot read the sequence '%s'", r->path, name);
        }
        for (hts_pos_t k = 0; k < len; k++) q[k] = (char)toupper((unsigned char)q[k]);
        *seq = q;
        return 0;
    }
    return sl_err_set(err, SL_ENOTFOUND, "%s: no sequence named '%s'", r->path, name);
}
