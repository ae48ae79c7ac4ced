/* Dataset TSV reading and tokenization (see dataset.h). */
#include "dataset.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

typedef struct {
    char *buf;
    char **lines;
    size_t n_lines;
    int c_id, c_seq, c_label;
} tsv;

/* Split into lines (in place), find the columns of the header. */
static int tsv_open(const char *path, tsv *t, sl_err *err) {
    memset(t, 0, sizeof *t);
    size_t len;
    int rc = sl_fs_read_all(path, &t->buf, &len, err);
    if (rc) return rc;
    if (memchr(t->buf, 0, len))
        return sl_err_set(err, SL_EDATA, "%s: contains a NUL byte (not a TSV text file)", path);
    size_t cap = 1024;
    t->lines = malloc(cap * sizeof *t->lines);
    if (!t->lines) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (char *p = t->buf; *p;) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[l - 1] = 0;
        if (t->n_lines == cap) {
            char **nl = realloc(t->lines, (cap *= 2) * sizeof *nl);
            if (!nl) return sl_err_set(err, SL_ENOMEM, "out of memory");
            t->lines = nl;
        }
        t->lines[t->n_lines++] = p;
        if (!e) break;
        p = e + 1;
    }
    if (t->n_lines == 0)
        return sl_err_set(err, SL_EDATA, "%s: empty file (expected a header id<TAB>sequence<TAB>label)",
                          path);
    t->c_id = t->c_seq = t->c_label = -1;
    char *h = t->lines[0];
    int col = 0;
    for (char *s = h;; col++) {
        char *tab = strchr(s, '\t');
        size_t l = tab ? (size_t)(tab - s) : strlen(s);
        if (l == 2 && !strncmp(s, "id", 2))
            t->c_id = col;
        else if (l == 8 && !strncmp(s, "sequence", 8))
            t->c_seq = col;
        else if (l == 5 && !strncmp(s, "label", 5))
            t->c_label = col;
        if (!tab) break;
        s = tab + 1;
    }
    if (t->c_id < 0 || t->c_seq < 0)
        return sl_err_set(err, SL_EDATA,
                          "%s:1: header must name the columns 'id' and 'sequence' (and 'label')", path);
    return 0;
}

static void tsv_close(tsv *t) {
    free(t->buf);
    free(t->lines);
}

/* Field `c` of line `s` (pointer + length), or -1 when the line has fewer columns. */
static int field(const char *s, int c, const char **f, size_t *fl) {
    for (int i = 0; i < c; i++) {
        s = strchr(s, '\t');
        if (!s) return -1;
        s++;
    }
    const char *tab = strchr(s, '\t');
    *f = s;
    *fl = tab ? (size_t)(tab - s) : strlen(s);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_name(char ***names, int *n, int *cap, const char *s, size_t l) {
    for (int i = 0; i < *n; i++)
        if (strlen((*names)[i]) == l && !strncmp((*names)[i], s, l)) return 0;
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        char **nn = realloc(*names, (size_t)nc * sizeof *nn);
        if (!nn) return -1;
        *names = nn;
        *cap = nc;
    }
    (*names)[*n] = strndup(s, l);
    if (!(*names)[*n]) return -1;
    (*n)++;
    return 0;
}

int sl_nn_dataset_classes(const char *path, sl_nn_problem problem, char ***names, int *n, sl_err *err) {
    *names = NULL;
    *n = 0;
    tsv t;
    int rc = tsv_open(path, &t, err), cap = 0;
    if (rc) goto out;
    if (t.c_label < 0) {
        rc = sl_err_set(err, SL_EDATA, "%s:1: no 'label' column", path);
        goto out;
    }
    for (size_t i = 1; i < t.n_lines && !rc; i++) {
        if (!t.lines[i][0]) continue;
        const char *f;
        size_t fl;
        if (field(t.lines[i], t.c_label, &f, &fl)) {
            rc = sl_err_set(err, SL_EDATA, "%s:%zu: too few columns (no label)", path, i + 1);
            break;
        }
        if (problem == SL_NN_MULTI_LABEL) {
            for (size_t a = 0; a < fl;) {
                size_t b = a;
                while (b < fl && f[b] != ',') b++;
                if (b > a && add_name(names, n, &cap, f + a, b - a))
                    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                a = b + 1;
            }
        } else if (fl == 0) {
            rc = sl_err_set(err, SL_EDATA, "%s:%zu: empty label", path, i + 1);
        } else if (add_name(names, n, &cap, f, fl)) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        }
    }
    if (!rc && *n == 0) rc = sl_err_set(err, SL_EDATA, "%s: no labels found", path);
    if (!rc) qsort(*names, (size_t)*n, sizeof **names, cmp_str);
out:
    if (rc) {
        for (int i = 0; i < *n; i++) free((*names)[i]);
        free(*names);
        *names = NULL;
        *n = 0;
    }
    tsv_close(&t);
    return rc;
}

static int class_index(const sl_nn_bert_config *h, const char *s, size_t l) {
    for (int c = 0; c < h->num_labels; c++)
        if (strlen(h->labels[c]) == l && !strncmp(h->labels[c], s, l)) return c;
    return -1;
}

/* Encode the label field of one row into out (1 or C floats); -1 with err on a bad value. */
static int parse_label(const sl_nn_bert_config *h, const char *f, size_t fl, float *out, const char *path,
                       size_t line, sl_err *err) {
    if (h->problem == SL_NN_SINGLE_LABEL) {
        int c = class_index(h, f, fl);
        if (c < 0)
            return sl_err_set(err, SL_EDATA, "%s:%zu: label '%.*s' is not one of the %d classes", path, line,
                              (int)fl, f, h->num_labels);
        out[0] = (float)c;
    } else if (h->problem == SL_NN_MULTI_LABEL) {
        memset(out, 0, (size_t)h->num_labels * sizeof(float));
        for (size_t a = 0; a < fl;) {
            size_t b = a;
            while (b < fl && f[b] != ',') b++;
            if (b > a) {
                int c = class_index(h, f + a, b - a);
                if (c < 0)
                    return sl_err_set(err, SL_EDATA, "%s:%zu: label '%.*s' is not one of the %d classes",
                                      path, line, (int)(b - a), f + a, h->num_labels);
                out[c] = 1.0f;
            }
            a = b + 1;
        }
    } else {
        char tmp[64];
        if (fl == 0 || fl >= sizeof tmp)
            return sl_err_set(err, SL_EDATA, "%s:%zu: label: expected a number", path, line);
        memcpy(tmp, f, fl);
        tmp[fl] = 0;
        char *end;
        errno = 0;
        double v = strtod(tmp, &end);
        if (*end || errno || !isfinite(v))
            return sl_err_set(err, SL_EDATA, "%s:%zu: label '%s': expected a finite number", path, line, tmp);
        for (int c = 0; c < h->num_labels; c++) out[c] = (float)v;
    }
    return 0;
}

int sl_nn_dataset_load(const char *path, const sl_nn_tokenizer *tok, int max_len,
                       const sl_nn_bert_config *head, int need_labels, sl_nn_dataset *ds, sl_err *err) {
    memset(ds, 0, sizeof *ds);
    tsv t;
    char *text = NULL;
    int rc = tsv_open(path, &t, err);
    if (rc) goto out;
    if (need_labels && t.c_label < 0) {
        rc = sl_err_set(err, SL_EDATA, "%s:1: no 'label' column", path);
        goto out;
    }
    size_t rows = 0;
    for (size_t i = 1; i < t.n_lines; i++) rows += t.lines[i][0] != 0;
    if (!rows) {
        rc = sl_err_set(err, SL_EDATA, "%s: no rows after the header", path);
        goto out;
    }
    const int C = head->num_labels, per = head->problem == SL_NN_SINGLE_LABEL ? 1 : C;
    ds->max_len = max_len;
    ds->num_labels = C;
    ds->problem = head->problem;
    ds->ids = calloc(rows * (size_t)max_len, sizeof(int32_t));
    ds->mask = calloc(rows * (size_t)max_len, sizeof(int32_t));
    ds->len = calloc(rows, sizeof(int));
    ds->id = calloc(rows, sizeof(char *));
    ds->label_text = calloc(rows, sizeof(char *));
    ds->line = calloc(rows, sizeof(size_t));
    ds->labels = t.c_label >= 0 ? calloc(rows * (size_t)per, sizeof(float)) : NULL;
    if (!ds->ids || !ds->mask || !ds->len || !ds->id || !ds->label_text || !ds->line ||
        (t.c_label >= 0 && !ds->labels)) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory for %zu rows", rows);
        goto out;
    }
    int labels_ok = ds->labels != NULL;
    for (size_t i = 1; i < t.n_lines; i++) {
        if (!t.lines[i][0]) continue;
        size_t r = ds->n;
        const char *f;
        size_t fl;
        ds->line[r] = i + 1;
        if (field(t.lines[i], t.c_id, &f, &fl) || !(ds->id[r] = strndup(f, fl))) {
            rc = sl_err_set(err, SL_EDATA, "%s:%zu: too few columns", path, i + 1);
            goto out;
        }
        ds->n++;
        if (field(t.lines[i], t.c_seq, &f, &fl)) {
            rc = sl_err_set(err, SL_EDATA, "%s:%zu: too few columns (no sequence)", path, i + 1);
            goto out;
        }
        free(text);
        text = strndup(f, fl);
        if (!text) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = sl_nn_tokenizer_encode(tok, text, max_len, ds->ids + r * max_len, ds->mask + r * max_len,
                                         &ds->len[r], err))) {
            sl_err_prefix(err, "%s:%zu: sequence: ", path, i + 1);
            goto out;
        }
        if (t.c_label >= 0) {
            if (field(t.lines[i], t.c_label, &f, &fl)) {
                rc = sl_err_set(err, SL_EDATA, "%s:%zu: too few columns (no label)", path, i + 1);
                goto out;
            }
            ds->label_text[r] = strndup(f, fl);
            if (labels_ok && parse_label(head, f, fl, ds->labels + r * per, path, i + 1, err)) {
                if (need_labels) {
                    rc = err ? err->code : SL_EDATA;
                    goto out;
                }
                labels_ok = 0;
            }
        } else {
            ds->label_text[r] = strdup("");
        }
        if (!ds->label_text[r]) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (!labels_ok) {
        free(ds->labels);
        ds->labels = NULL;
    }
out:
    free(text);
    tsv_close(&t);
    if (rc) sl_nn_dataset_free(ds);
    return rc;
}

void sl_nn_dataset_free(sl_nn_dataset *ds) {
    if (!ds) return;
    for (size_t i = 0; i < ds->n; i++) {
        free(ds->id[i]);
        if (ds->label_text) free(ds->label_text[i]);
    }
    free(ds->ids);
    free(ds->mask);
    free(ds->len);
    free(ds->id);
    free(ds->label_text);
    free(ds->line);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}
