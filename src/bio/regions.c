#include "regions.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsv.h"

static char comp(char c) {
    static const char from[] = "ACGTUMRWSYKVHDBNacgtumrwsykvhdbn";
    static const char to[] = "TGCAAKYWSRMBDHVNtgcaakywsrmbdhvn";
    const char *p = strchr(from, c);
    return p && c ? to[p - from] : c;
}

void sl_bio_revcomp(char *s, size_t n) {
    for (size_t i = 0; i < n / 2; i++) {
        char a = comp(s[i]);
        s[i] = comp(s[n - 1 - i]);
        s[n - 1 - i] = a;
    }
    if (n % 2) s[n / 2] = comp(s[n / 2]);
}

void sl_bio_intervals_free(sl_bio_intervals *iv) {
    free(iv->v);
    iv->v = NULL;
    iv->n = 0;
}

static int push(sl_bio_intervals *iv, const sl_bio_interval *x, sl_err *err) {
    sl_bio_interval *n = realloc(iv->v, (iv->n + 1) * sizeof *n);
    if (!n) return sl_err_set(err, SL_ENOMEM, "out of memory");
    iv->v = n;
    iv->v[iv->n++] = *x;
    return 0;
}

static int parse_pos(const char *s, long long *out) {
    char buf[32];
    size_t k = 0;
    for (; *s && k + 1 < sizeof buf; s++)
        if (*s != ',') buf[k++] = *s;
    buf[k] = 0;
    if (!k) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end || v < 0) return -1;
    *out = v;
    return 0;
}

int sl_bio_region_parse(const char *s, sl_bio_interval *out, sl_err *err) {
    memset(out, 0, sizeof *out);
    out->strand = '+';
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *strand = NULL;
    size_t n = strlen(buf);
    if (n > 2 && buf[n - 2] == ':' && (buf[n - 1] == '+' || buf[n - 1] == '-')) {
        strand = buf + n - 1;
        buf[n - 2] = 0;
    }
    char *colon = strrchr(buf, ':'), *dash = colon ? strchr(colon, '-') : NULL;
    long long a, b;
    if (!colon || !dash || colon == buf)
        return sl_err_set(err, SL_EUSAGE, "region '%s': expected chrom:start-end", s);
    *dash = 0;
    if (parse_pos(colon + 1, &a) || parse_pos(dash + 1, &b) || a < 1 || b < a)
        return sl_err_set(err, SL_EUSAGE, "region '%s': expected chrom:start-end with 1 <= start <= end", s);
    *colon = 0;
    size_t cl = strlen(buf);
    if (cl >= sizeof out->chrom)
        return sl_err_set(err, SL_EUSAGE, "region '%s': chromosome name too long", s);
    memcpy(out->chrom, buf, cl + 1);
    out->start0 = a - 1;
    out->end0 = b;
    if (strand) out->strand = *strand;
    return 0;
}

int sl_bio_bed_read(const char *path, sl_bio_intervals *out, sl_err *err) {
    memset(out, 0, sizeof *out);
    sl_bio_tsv *t = NULL;
    int rc = sl_bio_tsv_open(path, &t, err);
    if (rc) return rc;
    while ((rc = sl_bio_tsv_next(t, err)) == 1) {
        const char *c0 = t->fields[0];
        if (c0[0] == '#' || !strncmp(c0, "track", 5) || !strncmp(c0, "browser", 7)) continue;
        sl_bio_interval x;
        memset(&x, 0, sizeof x);
        x.strand = '.';
        if (t->nfields < 3 || parse_pos(t->fields[1], &x.start0) || parse_pos(t->fields[2], &x.end0) ||
            x.end0 <= x.start0) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: expected chrom, start, end (0-based, start < end)", path,
                            t->lineno);
            break;
        }
        snprintf(x.chrom, sizeof x.chrom, "%s", c0);
        if (t->nfields > 3) snprintf(x.name, sizeof x.name, "%s", t->fields[3]);
        if (t->nfields > 5) {
            const char *st = t->fields[5];
            if (strcmp(st, "+") && strcmp(st, "-") && strcmp(st, ".")) {
                rc = sl_err_set(err, SL_EDATA, "%s:%ld: strand '%s' is not +, - or .", path, t->lineno, st);
                break;
            }
            x.strand = st[0];
        }
        if ((rc = push(out, &x, err))) break;
    }
    sl_bio_tsv_close(t);
    if (rc < 0) {
        sl_bio_intervals_free(out);
        return rc;
    }
    if (out->n == 0) return sl_err_set(err, SL_EDATA, "%s: no interval in the BED file", path);
    return 0;
}

int sl_bio_cds_read(const char *path, const char *transcript, sl_bio_intervals *out, sl_err *err) {
    memset(out, 0, sizeof *out);
    sl_bio_tsv *t = NULL;
    int rc = sl_bio_tsv_open(path, &t, err);
    if (rc) return rc;
    while ((rc = sl_bio_tsv_next(t, err)) == 1) {
        if (t->fields[0][0] == '#') continue;
        if (t->nfields != 9) {
            rc =
                sl_err_set(err, SL_EDATA, "%s:%ld: %zu columns, GFF3/GTF has 9", path, t->lineno, t->nfields);
            break;
        }
        if (strcmp(t->fields[2], "CDS")) continue;
        const char *attr = t->fields[8];
        if (transcript && !strstr(attr, transcript)) continue;
        sl_bio_interval x;
        memset(&x, 0, sizeof x);
        long long a, b;
        if (parse_pos(t->fields[3], &a) || parse_pos(t->fields[4], &b) || a < 1 || b < a) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: start/end are not 1-based positions with start <= end",
                            path, t->lineno);
            break;
        }
        const char *st = t->fields[6];
        if (strcmp(st, "+") && strcmp(st, "-") && strcmp(st, ".")) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: strand '%s' is not +, - or .", path, t->lineno, st);
            break;
        }
        snprintf(x.chrom, sizeof x.chrom, "%s", t->fields[0]);
        x.start0 = a - 1;
        x.end0 = b;
        x.strand = st[0];
        snprintf(x.name, sizeof x.name, "CDS");
        if ((rc = push(out, &x, err))) break;
    }
    sl_bio_tsv_close(t);
    if (rc < 0) {
        sl_bio_intervals_free(out);
        return rc;
    }
    if (out->n == 0)
        return sl_err_set(err, SL_EDATA, "%s: no CDS feature%s%s", path, transcript ? " for " : "",
                          transcript ? transcript : "");
    return 0;
}

static int cmp_iv(const void *a, const void *b) {
    const sl_bio_interval *x = a, *y = b;
    int c = strcmp(x->chrom, y->chrom);
    if (c) return c;
    return x->start0 < y->start0 ? -1 : x->start0 > y->start0;
}

void sl_bio_intervals_sort(sl_bio_intervals *iv) {
    if (iv->n > 1) qsort(iv->v, iv->n, sizeof *iv->v, cmp_iv);
}

int sl_bio_spliced_sequence(sl_bio_ref *ref, const sl_bio_intervals *in, char **seq, char *strand,
                            sl_err *err) {
    *seq = NULL;
    if (in->n == 0) return sl_err_set(err, SL_EUSAGE, "no interval");
    sl_bio_intervals iv = {malloc(in->n * sizeof *in->v), in->n};
    if (!iv.v) return sl_err_set(err, SL_ENOMEM, "out of memory");
    memcpy(iv.v, in->v, in->n * sizeof *in->v);
    sl_bio_intervals_sort(&iv);
    char st = iv.v[0].strand == '-' ? '-' : '+';
    size_t total = 0;
    int rc = 0;
    for (size_t i = 0; i < iv.n; i++) {
        char s = iv.v[i].strand == '-' ? '-' : '+';
        if (strcmp(iv.v[i].chrom, iv.v[0].chrom) || s != st) {
            rc = sl_err_set(err, SL_EDATA,
                            "the intervals are on more than one chromosome or strand (%s:%lld %c vs %s %c)",
                            iv.v[i].chrom, iv.v[i].start0 + 1, s, iv.v[0].chrom, st);
            goto done;
        }
        if (i && iv.v[i].start0 < iv.v[i - 1].end0) {
            rc = sl_err_set(err, SL_EDATA, "the intervals overlap at %s:%lld", iv.v[i].chrom,
                            iv.v[i].start0 + 1);
            goto done;
        }
    }
    /* Fetch every piece first: the reference checks each range, so a BED line far beyond the sequence is an
     * error before anything is sized from it (never a multi-GB allocation from one bad line). */
    char **pieces = calloc(iv.n, sizeof *pieces);
    char *out = NULL;
    if (!pieces) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < iv.n && !rc; i++) {
        rc = sl_bio_ref_fetch(ref, iv.v[i].chrom, iv.v[i].start0, iv.v[i].end0, &pieces[i], err);
        if (!rc) total += strlen(pieces[i]);
    }
    if (!rc && !(out = malloc(total + 1))) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < iv.n; i++) {
        if (!rc) {
            size_t l = strlen(pieces[i]);
            memcpy(out + k, pieces[i], l);
            k += l;
        }
        free(pieces[i]);
    }
    free(pieces);
    if (rc) goto done;
    out[k] = 0;
    if (st == '-') sl_bio_revcomp(out, k);
    *seq = out;
    if (strand) *strand = st;
done:
    free(iv.v);
    return rc;
}
