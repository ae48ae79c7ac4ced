/* Baselines for `seqlora run`: a numeric score column, or the class rates of a category column, written as
 * predictions tables the evaluate step reads (pipeline.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bio/tsv.h"
#include "pipeline.h"
#include "util/fs.h"

typedef struct row {
    char *id, *label;
    double value;
    char *cat;
} row;

typedef struct table {
    row *v;
    size_t n, cap;
} table;

static void table_free(table *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].id);
        free(t->v[i].label);
        free(t->v[i].cat);
    }
    free(t->v);
}

/* Read id, label and `column` of a dataset TSV. kind 0: all labels; 1: numeric column (NA rows counted in
 * *na and skipped); 2: category column (any string). */
static int read_table(const char *path, const char *column, int kind, table *t, size_t *na, sl_err *err) {
    memset(t, 0, sizeof *t);
    if (na) *na = 0;
    sl_bio_tsv *r = NULL;
    int rc = sl_bio_tsv_open(path, &r, err);
    if (rc) return rc;
    rc = sl_bio_tsv_next(r, err);
    if (rc == 0) rc = sl_err_set(err, SL_EDATA, "%s: empty file (expected a header line)", path);
    if (rc < 0) goto done;
    int ci = -1, ii = sl_bio_tsv_find(r, "id"), li = sl_bio_tsv_find(r, "label");
    if (ii < 0 || li < 0) {
        rc = sl_err_set(err, SL_EDATA, "%s:1: expected the columns id and label", path);
        goto done;
    }
    if (column && (ci = sl_bio_tsv_find(r, column)) < 0) {
        rc = sl_err_set(err, SL_EDATA, "%s:1: no column '%s' (the baseline's column)", path, column);
        goto done;
    }
    size_t nf = r->nfields;
    while ((rc = sl_bio_tsv_next(r, err)) == 1) {
        if (r->nfields != nf) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: %zu fields, the header has %zu", path, r->lineno,
                            r->nfields, nf);
            goto done;
        }
        row x = {0};
        x.value = NAN;
        if (kind == 1) {
            const char *s = r->fields[ci];
            char *end = NULL;
            double v = strtod(s, &end);
            if (!strcmp(s, "NA") || !strcmp(s, "") || !strcmp(s, ".")) {
                (*na)++;
                continue;
            }
            if (end == s || *end || !isfinite(v)) {
                rc = sl_err_set(err, SL_EDATA, "%s:%ld: column '%s': expected a number or NA, got '%s'", path,
                                r->lineno, column, s);
                goto done;
            }
            x.value = v;
        }
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 256;
            row *nv = realloc(t->v, cap * sizeof *nv);
            if (!nv) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            t->v = nv;
            t->cap = cap;
        }
        x.id = strdup(r->fields[ii]);
        x.label = strdup(r->fields[li]);
        x.cat = kind == 2 ? strdup(r->fields[ci]) : NULL;
        t->v[t->n++] = x;
        if (!x.id || !x.label || (kind == 2 && !x.cat)) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
    }
done:
    sl_bio_tsv_close(r);
    if (rc < 0) {
        table_free(t);
        return rc;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_pipeline_dataset_labels(const char *tsv, char ***labels, size_t *n, sl_err *err) {
    *labels = NULL;
    *n = 0;
    table t;
    int rc = read_table(tsv, NULL, 0, &t, NULL, err);
    if (rc) return rc;
    char **v = malloc((t.n ? t.n : 1) * sizeof *v);
    if (!v) {
        table_free(&t);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t.n; i++) v[i] = t.v[i].label;
    qsort(v, t.n, sizeof *v, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < t.n; i++)
        if (!k || strcmp(v[k - 1], v[i])) v[k++] = v[i];
    for (size_t i = 0; i < k; i++) v[i] = strdup(v[i]);
    table_free(&t);
    *labels = v;
    *n = k;
    for (size_t i = 0; i < k; i++)
        if (!v[i]) return sl_err_set(err, SL_ENOMEM, "out of memory");
    return 0;
}

typedef struct ranked {
    double v;
    size_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Write the table text to `out_tsv` atomically. */
static int write_text(const char *path, const char *buf, size_t len, sl_err *err) {
    return sl_fs_write_atomic(path, buf, len, err);
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

int sl_pipeline_score_baseline(const char *test_tsv, const char *column, const char *const classes[2],
                               const char *out_tsv, size_t *dropped, sl_err *err) {
    table t;
    int rc = read_table(test_tsv, column, 1, &t, dropped, err);
    if (rc) return rc;
    if (t.n < 2) {
        table_free(&t);
        return sl_err_set(err, SL_EDATA, "%s: column '%s': fewer than 2 rows with a value", test_tsv, column);
    }
    ranked *r = malloc(t.n * sizeof *r);
    double *p = malloc(t.n * sizeof *p);
    sbuf b = {0};
    if (!r || !p) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < t.n; i++) r[i] = (ranked){t.v[i].value, i};
    qsort(r, t.n, sizeof *r, cmp_ranked);
    for (size_t i = 0; i < t.n;) { /* ties share their average rank (1-based) */
        size_t j = i;
        while (j < t.n && r[j].v == r[i].v) j++;
        double avg = (double)(i + 1 + j) / 2.0;
        for (size_t m = i; m < j; m++) p[r[m].i] = (avg - 1.0) / (double)(t.n - 1);
        i = j;
    }
    sb_printf(&b, "id\tlabel\tprob_%s\tprob_%s\n", classes[0], classes[1]);
    for (size_t i = 0; i < t.n; i++) {
        if (strcmp(t.v[i].label, classes[0]) && strcmp(t.v[i].label, classes[1])) {
            rc = sl_err_set(err, SL_EDATA, "%s: row '%s': label '%s' is neither %s nor %s", test_tsv,
                            t.v[i].id, t.v[i].label, classes[0], classes[1]);
            goto done;
        }
        sb_printf(&b, "%s\t%s\t%.9g\t%.9g\n", t.v[i].id, t.v[i].label, 1.0 - p[i], p[i]);
    }
    rc = b.oom ? sl_err_set(err, SL_ENOMEM, "out of memory") : write_text(out_tsv, b.p, b.len, err);
done:
    free(b.p);
    free(r);
    free(p);
    table_free(&t);
    return rc;
}

int sl_pipeline_category_baseline(const char *train_tsv, const char *test_tsv, const char *column,
                                  const char *const *classes, size_t k, const char *out_tsv, sl_err *err) {
    table tr, te;
    int rc = read_table(train_tsv, column, 2, &tr, NULL, err);
    if (rc) return rc;
    rc = read_table(test_tsv, column, 2, &te, NULL, err);
    if (rc) {
        table_free(&tr);
        return rc;
    }
    /* categories of the training rows and their class counts; row ncat = all rows */
    size_t ncat = 0;
    char **cats = malloc((tr.n + 1) * sizeof *cats);
    double *cnt = calloc((tr.n + 1) * k, sizeof *cnt), *tot = calloc(tr.n + 1, sizeof *tot);
    sbuf b = {0};
    if (!cats || !cnt || !tot) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    double all[64] = {0}, nall = 0;
    if (k > 64) {
        rc = sl_err_set(err, SL_EUSAGE, "category baseline: at most 64 classes, the data has %zu", k);
        goto done;
    }
    for (size_t i = 0; i < tr.n; i++) {
        size_t c = 0;
        while (c < k && strcmp(classes[c], tr.v[i].label)) c++;
        if (c == k)
            continue; /* a label not among the classes (cannot happen with the dataset's own labels) */
        size_t j = 0;
        while (j < ncat && strcmp(cats[j], tr.v[i].cat)) j++;
        if (j == ncat) cats[ncat++] = tr.v[i].cat;
        cnt[j * k + c] += 1;
        tot[j] += 1;
        all[c] += 1;
        nall += 1;
    }
    sb_printf(&b, "id\tlabel");
    for (size_t c = 0; c < k; c++) sb_printf(&b, "\tprob_%s", classes[c]);
    sb_printf(&b, "\n");
    for (size_t i = 0; i < te.n; i++) {
        size_t j = 0;
        while (j < ncat && strcmp(cats[j], te.v[i].cat)) j++;
        sb_printf(&b, "%s\t%s", te.v[i].id, te.v[i].label);
        for (size_t c = 0; c < k; c++) {
            double pr =
                j < ncat ? (cnt[j * k + c] + 1) / (tot[j] + (double)k) : (all[c] + 1) / (nall + (double)k);
            sb_printf(&b, "\t%.9g", pr);
        }
        sb_printf(&b, "\n");
    }
    rc = b.oom ? sl_err_set(err, SL_ENOMEM, "out of memory") : write_text(out_tsv, b.p, b.len, err);
done:
    free(b.p);
    free(cats);
    free(cnt);
    free(tot);
    table_free(&tr);
    table_free(&te);
    return rc;
}
