#include "pred_table.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

static const char *const task_names[] = {"auto", "binary", "multiclass", "multilabel", "regression"};

const char *sl_nn_task_name(sl_nn_task task) {
    return (unsigned)task < sizeof task_names / sizeof *task_names ? task_names[task] : "?";
}

int sl_nn_task_parse(const char *name, sl_nn_task *task, sl_err *err) {
    for (unsigned i = 0; i < sizeof task_names / sizeof *task_names; i++)
        if (!strcmp(name, task_names[i])) {
            *task = (sl_nn_task)i;
            return 0;
        }
    return sl_err_set(err, SL_EUSAGE,
                      "unknown task '%s' (expected auto, binary, multiclass, multilabel or regression)",
                      name);
}

void sl_nn_pred_table_free(sl_nn_pred_table *t) {
    if (t->classes)
        for (int c = 0; c < t->k; c++) free(t->classes[c]);
    free(t->classes);
    free(t->prob);
    free(t->label);
    free(t->multi);
    free(t->y);
    free(t->pred);
    free(t->line);
    memset(t, 0, sizeof *t);
}

/* Split `s` in place at tabs; returns the number of fields (up to max; more are counted, not stored). */
static size_t split_tabs(char *s, char **fields, size_t max) {
    size_t n = 0;
    for (;;) {
        if (n < max) fields[n] = s;
        n++;
        char *tab = strchr(s, '\t');
        if (!tab) break;
        *tab = '\0';
        s = tab + 1;
    }
    return n;
}

static int parse_number(const char *s, double *out) {
    if (!*s) return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno == ERANGE && fabs(v) > 1) return -1;
    if (!end || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Index of class `name` (length len) among t->classes, or -1. */
static int class_index(const sl_nn_pred_table *t, const char *name, size_t len) {
    for (int c = 0; c < t->k; c++)
        if (strlen(t->classes[c]) == len && !strncmp(t->classes[c], name, len)) return c;
    return -1;
}

static void class_list(const sl_nn_pred_table *t, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int c = 0; c < t->k && used + 1 < cap; c++) {
        int w = snprintf(buf + used, cap - used, "%s%s", c ? ", " : "", t->classes[c]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

typedef struct {
    char *data;
    char **fields;
    size_t max_fields;
    char **labels; /* per row, pointer into data */
    int col_label, col_pred;
    int *col_prob; /* k columns */
} parse_state;

int sl_nn_pred_table_read(const char *path, sl_nn_task task, sl_nn_pred_table *t, sl_err *err) {
    memset(t, 0, sizeof *t);
    parse_state st = {0};
    size_t len = 0;
    int rc = sl_fs_read_all(path, &st.data, &len, err);
    if (rc) return rc;

    /* Lines (in place). */
    size_t n_lines = 0, cap_lines = 0;
    char **lines = NULL;
    for (char *p = st.data; p < st.data + len;) {
        char *nl = memchr(p, '\n', (size_t)(st.data + len - p));
        char *end = nl ? nl : st.data + len;
        if (end > p && end[-1] == '\r') end[-1] = '\0';
        *end = '\0';
        if (n_lines == cap_lines) {
            cap_lines = cap_lines ? 2 * cap_lines : 1024;
            char **nlines = realloc(lines, cap_lines * sizeof *lines);
            if (!nlines) {
                rc = sl_err_set(err, SL_ENOMEM, "%s: out of memory", path);
                goto fail;
            }
            lines = nlines;
        }
        lines[n_lines++] = p;
        p = end + 1;
    }
    if (n_lines == 0 || !lines[0][0]) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s:1: empty file; expected a header 'id<TAB>label<TAB>prob_<class>...'", path);
        goto fail;
    }

    /* Header. */
    st.max_fields = 1;
    for (const char *q = lines[0]; *q; q++) st.max_fields += *q == '\t';
    st.fields = malloc(st.max_fields * sizeof *st.fields);
    st.col_prob = malloc(st.max_fields * sizeof *st.col_prob);
    t->classes = calloc(st.max_fields, sizeof *t->classes);
    if (!st.fields || !st.col_prob || !t->classes) {
        rc = sl_err_set(err, SL_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    size_t n_cols = split_tabs(lines[0], st.fields, st.max_fields);
    st.col_label = st.col_pred = -1;
    int have_id = 0;
    for (size_t c = 0; c < n_cols; c++) {
        const char *h = st.fields[c];
        if (!strcmp(h, "id")) have_id = 1;
        if (!strcmp(h, "label")) {
            if (st.col_label >= 0) {
                rc = sl_err_set(err, SL_EDATA, "%s:1: column 'label' appears twice", path);
                goto fail;
            }
            st.col_label = (int)c;
        } else if (!strcmp(h, "prediction")) {
            st.col_pred = (int)c;
        } else if (!strncmp(h, "prob_", 5)) {
            const char *name = h + 5;
            if (!*name || class_index(t, name, strlen(name)) >= 0) {
                rc = sl_err_set(err, SL_EDATA, "%s:1: column %zu '%s': %s", path, c + 1, h,
                                *name ? "class named twice" : "expected prob_<class name>");
                goto fail;
            }
            if (!(t->classes[t->k] = strdup(name))) {
                rc = sl_err_set(err, SL_ENOMEM, "%s: out of memory", path);
                goto fail;
            }
            st.col_prob[t->k++] = (int)c;
        }
    }
    if (!have_id || st.col_label < 0) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s:1: missing column '%s'; expected a header 'id<TAB>label<TAB>prob_<class>...' "
                        "or 'id<TAB>label<TAB>prediction'",
                        path, have_id ? "label" : "id");
        goto fail;
    }
    if (task == SL_NN_TASK_REGRESSION || (task == SL_NN_TASK_AUTO && st.col_pred >= 0 && t->k == 0)) {
        if (st.col_pred < 0) {
            rc = sl_err_set(err, SL_EDATA, "%s:1: missing column 'prediction' (needed for a regression task)",
                            path);
            goto fail;
        }
        task = SL_NN_TASK_REGRESSION;
    } else if (t->k == 0) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s:1: missing prob_<class> columns (or a 'prediction' column for regression)", path);
        goto fail;
    }

    /* Rows: parse the numbers, keep the label text for the second pass. */
    size_t n = 0;
    while (n_lines > 1 && !lines[n_lines - 1][0]) n_lines--; /* trailing blank lines */
    size_t rows = n_lines - 1;
    if (rows == 0) {
        rc = sl_err_set(err, SL_EDATA, "%s: no rows after the header", path);
        goto fail;
    }
    st.labels = malloc(rows * sizeof *st.labels);
    t->line = malloc(rows * sizeof *t->line);
    int k = task == SL_NN_TASK_REGRESSION ? 0 : t->k;
    if (k) {
        t->prob = malloc(rows * (size_t)k * sizeof *t->prob);
    } else {
        t->y = malloc(rows * sizeof *t->y);
        t->pred = malloc(rows * sizeof *t->pred);
    }
    if (!st.labels || !t->line || (k && !t->prob) || (!k && (!t->y || !t->pred))) {
        rc = sl_err_set(err, SL_ENOMEM, "%s: out of memory for %zu rows", path, rows);
        goto fail;
    }
    for (size_t li = 1; li < n_lines; li++) {
        size_t lineno = li + 1;
        if (!lines[li][0]) {
            rc = sl_err_set(err, SL_EDATA, "%s:%zu: empty line", path, lineno);
            goto fail;
        }
        size_t nf = split_tabs(lines[li], st.fields, st.max_fields);
        if (nf != n_cols) {
            rc = sl_err_set(err, SL_EDATA, "%s:%zu: %zu fields, expected %zu (as in the header)", path,
                            lineno, nf, n_cols);
            goto fail;
        }
        st.labels[n] = st.fields[st.col_label];
        t->line[n] = lineno;
        if (k) {
            double sum = 0;
            for (int c = 0; c < k; c++) {
                const char *s = st.fields[st.col_prob[c]];
                double v;
                if (parse_number(s, &v) || v < 0 || v > 1) {
                    rc = sl_err_set(err, SL_EDATA,
                                    "%s:%zu: column 'prob_%s': expected a probability in [0, 1], got '%s'",
                                    path, lineno, t->classes[c], s);
                    goto fail;
                }
                t->prob[n * (size_t)k + (size_t)c] = v;
                sum += v;
            }
            (void)sum;
        } else {
            const char *s = st.fields[st.col_pred];
            if (parse_number(s, &t->pred[n])) {
                rc = sl_err_set(err, SL_EDATA,
                                "%s:%zu: column 'prediction': expected a finite number, got '%s'", path,
                                lineno, s);
                goto fail;
            }
            s = st.labels[n];
            if (parse_number(s, &t->y[n])) {
                rc = sl_err_set(err, SL_EDATA,
                                "%s:%zu: column 'label': expected a finite number (regression), got '%s'",
                                path, lineno, s);
                goto fail;
            }
        }
        n++;
    }
    t->n = n;

    if (task == SL_NN_TASK_REGRESSION) {
        for (int c = 0; c < t->k; c++) free(t->classes[c]);
        t->k = 0;
        free(t->prob);
        t->prob = NULL;
        t->task = task;
        goto done;
    }
    {
        size_t with_label = 0;
        for (size_t i = 0; i < n; i++) with_label += st.labels[i][0] != '\0';
        if (!with_label) {
            rc = sl_err_set(err, SL_EDATA,
                            "%s: column 'label' is empty in every row: there is no truth to evaluate against "
                            "(predict on a dataset with labels)",
                            path);
            goto fail;
        }
    }
    if (task == SL_NN_TASK_AUTO) {
        task = t->k == 1 ? SL_NN_TASK_MULTILABEL : t->k == 2 ? SL_NN_TASK_BINARY : SL_NN_TASK_MULTICLASS;
        for (size_t i = 0; i < n; i++)
            if (!st.labels[i][0] || strchr(st.labels[i], ',')) {
                task = SL_NN_TASK_MULTILABEL;
                break;
            }
    }
    if (task == SL_NN_TASK_BINARY && t->k != 2) {
        rc = sl_err_set(err, SL_EDATA, "%s:1: a binary task needs exactly 2 prob_<class> columns, found %d",
                        path, t->k);
        goto fail;
    }
    if ((task == SL_NN_TASK_BINARY || task == SL_NN_TASK_MULTICLASS) && t->k < 2) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s:1: a single-label task needs at least 2 prob_<class> columns, found %d", path,
                        t->k);
        goto fail;
    }
    char names[512];
    class_list(t, names, sizeof names);
    if (task == SL_NN_TASK_MULTILABEL) {
        t->multi = calloc(n * (size_t)t->k, 1);
        if (!t->multi) {
            rc = sl_err_set(err, SL_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            const char *s = st.labels[i];
            while (*s) {
                const char *comma = strchr(s, ',');
                size_t l = comma ? (size_t)(comma - s) : strlen(s);
                int c = class_index(t, s, l);
                if (c < 0) {
                    rc = sl_err_set(err, SL_EDATA,
                                    "%s:%zu: column 'label': unknown class '%.*s' (classes: %s)", path,
                                    t->line[i], (int)l, s, names);
                    goto fail;
                }
                t->multi[i * (size_t)t->k + (size_t)c] = 1;
                s += l + (comma ? 1 : 0);
            }
        }
    } else {
        t->label = malloc(n * sizeof *t->label);
        if (!t->label) {
            rc = sl_err_set(err, SL_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            int c = class_index(t, st.labels[i], strlen(st.labels[i]));
            if (c < 0) {
                rc = sl_err_set(err, SL_EDATA, "%s:%zu: column 'label': unknown class '%s' (classes: %s)",
                                path, t->line[i], st.labels[i], names);
                goto fail;
            }
            t->label[i] = c;
        }
    }
    t->task = task;
done:
    free(lines);
    free(st.fields);
    free(st.col_prob);
    free(st.labels);
    free(st.data);
    return 0;
fail:
    free(lines);
    free(st.fields);
    free(st.col_prob);
    free(st.labels);
    free(st.data);
    sl_nn_pred_table_free(t);
    return rc;
}
