#include "clinical.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tsv.h"
#include "util/fs.h"

int sl_bio_clinical_is_missing(const char *s) {
    return !*s || !strcmp(s, "--") || !strcmp(s, "'--") || !strcasecmp(s, "not reported") ||
           !strcasecmp(s, "unknown") || !strcasecmp(s, "NA");
}

/* Remove surrounding double quotes in place (and turn "" into "). */
static char *unquote(char *s) {
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = 0;
        s++;
        char *w = s;
        for (char *r = s; *r; r++) {
            *w++ = *r;
            if (r[0] == '"' && r[1] == '"') r++;
        }
        *w = 0;
    }
    return s;
}

void sl_bio_clinical_stats_free(sl_bio_clinical_stats *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_labels; i++) free(s->labels[i]);
    free(s->labels);
    free(s->label_counts);
    memset(s, 0, sizeof *s);
}

typedef struct {
    char *id;
    long line;
} seen_id;

static int cmp_seen(const void *a, const void *b) {
    return strcmp(((const seen_id *)a)->id, ((const seen_id *)b)->id);
}

static int add_label(sl_bio_clinical_stats *st, const char *label) {
    for (size_t i = 0; i < st->n_labels; i++)
        if (!strcmp(st->labels[i], label)) {
            st->label_counts[i]++;
            return 0;
        }
    char **l = realloc(st->labels, (st->n_labels + 1) * sizeof *l);
    if (!l) return -1;
    st->labels = l;
    long *c = realloc(st->label_counts, (st->n_labels + 1) * sizeof *c);
    if (!c) return -1;
    st->label_counts = c;
    if (!(st->labels[st->n_labels] = strdup(label))) return -1;
    st->label_counts[st->n_labels++] = 1;
    return 0;
}

int sl_bio_clinical_convert(const char *in, const char *out, const sl_bio_clinical_opts *o,
                            sl_bio_clinical_stats *st, sl_err *err) {
    memset(st, 0, sizeof *st);
    sl_bio_tsv *t = NULL;
    int rc = sl_bio_tsv_open(in, &t, err);
    if (rc) return rc;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = NULL;
    seen_id *ids = NULL;
    size_t nids = 0, capids = 0;
    int *cov = NULL;
    rc = sl_bio_tsv_next(t, err);
    if (rc == 0) rc = sl_err_set(err, SL_EDATA, "%s: empty file (expected a header line)", in);
    if (rc < 0) goto done;
    for (size_t i = 0; i < t->nfields; i++) t->fields[i] = unquote(t->fields[i]);
    size_t ncols = t->nfields;
    int cid = sl_bio_tsv_find(t, o->id_column), clab = sl_bio_tsv_find(t, o->label_column);
    if (cid < 0 || clab < 0) {
        rc = sl_err_set(
            err, SL_EUSAGE, "%s:1: no column named '%s' (the header has %zu columns, starting %s, %s, ...)",
            in, cid < 0 ? o->id_column : o->label_column, ncols, t->fields[0], ncols > 1 ? t->fields[1] : "");
        goto done;
    }
    cov = calloc(o->n_covariates + 1, sizeof *cov);
    if (!cov) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    m = open_memstream(&buf, &len);
    if (!m) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    fputs("id\tlabel", m);
    for (size_t i = 0; i < o->n_covariates; i++) {
        cov[i] = sl_bio_tsv_find(t, o->covariates[i]);
        if (cov[i] < 0) {
            rc = sl_err_set(err, SL_EUSAGE, "%s:1: no covariate column named '%s'", in, o->covariates[i]);
            goto done;
        }
        fprintf(m, "\t%s", o->covariates[i]);
    }
    fputc('\n', m);
    while ((rc = sl_bio_tsv_next(t, err)) == 1) {
        st->rows_in++;
        if (t->nfields != ncols) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: %zu fields, the header has %zu", in, t->lineno,
                            t->nfields, ncols);
            goto done;
        }
        const char *id = unquote(t->fields[cid]);
        const char *label = unquote(t->fields[clab]);
        if (sl_bio_clinical_is_missing(id)) {
            st->dropped_missing_id++;
            continue;
        }
        if (sl_bio_clinical_is_missing(label)) {
            st->dropped_missing_label++;
            continue;
        }
        if (o->n_map) {
            const char *to = NULL;
            for (size_t i = 0; i < o->n_map && !to; i++)
                if (!strcmp(o->map_from[i], label)) to = o->map_to[i];
            if (!to) {
                st->dropped_unmapped++;
                continue;
            }
            label = to;
        }
        if (nids == capids) {
            capids = capids ? 2 * capids : 256;
            seen_id *n = realloc(ids, capids * sizeof *n);
            if (!n) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            ids = n;
        }
        if (!(ids[nids].id = strdup(id))) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        ids[nids++].line = t->lineno;
        fprintf(m, "%s\t%s", id, label);
        for (size_t i = 0; i < o->n_covariates; i++) {
            const char *v = unquote(t->fields[cov[i]]);
            fprintf(m, "\t%s", sl_bio_clinical_is_missing(v) ? "NA" : v);
        }
        fputc('\n', m);
        if (add_label(st, label)) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        st->kept++;
    }
    if (rc < 0) goto done;
    rc = 0;
    if (nids > 1) qsort(ids, nids, sizeof *ids, cmp_seen);
    for (size_t i = 1; i < nids; i++)
        if (!strcmp(ids[i].id, ids[i - 1].id)) {
            long a = ids[i].line < ids[i - 1].line ? ids[i].line : ids[i - 1].line;
            long b = ids[i].line < ids[i - 1].line ? ids[i - 1].line : ids[i].line;
            rc = sl_err_set(err, SL_EDATA, "%s: duplicate id '%s' on lines %ld and %ld", in, ids[i].id, a, b);
            goto done;
        }
    if (st->kept == 0) {
        rc = sl_err_set(
            err, SL_EDATA,
            "%s: no row left (%ld rows: %ld without %s, %ld without %s, %ld with a value outside the map)",
            in, st->rows_in, st->dropped_missing_id, o->id_column, st->dropped_missing_label, o->label_column,
            st->dropped_unmapped);
        goto done;
    }
    if (fclose(m) != 0) {
        m = NULL;
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    m = NULL;
    rc = sl_fs_write_atomic(out, buf, len, err);
done:
    if (m) fclose(m);
    free(buf);
    for (size_t i = 0; i < nids; i++) free(ids[i].id);
    free(ids);
    free(cov);
    sl_bio_tsv_close(t);
    if (rc) sl_bio_clinical_stats_free(st);
    return rc;
}
