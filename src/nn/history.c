#include "history.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plots.h"
#include "util/fs.h"

static const char *const skipped_keys[] = {"epoch", "step",          "seconds",      "time",
                                           "lr",    "learning_rate", "tokens_per_s", NULL};

static int is_skipped(const char *key) {
    for (int i = 0; skipped_keys[i]; i++)
        if (!strcmp(key, skipped_keys[i])) return 1;
    return 0;
}

typedef struct {
    char *name;
    double *y; /* one value per plotted line (NaN when missing) */
} hseries;

static int write_plot(const char *path, const char *title, const char *ylabel, const double *x, size_t n,
                      hseries *hs, size_t nh, int want_loss, sl_err *err) {
    sl_nn_series *s = calloc(nh ? nh : 1, sizeof *s);
    if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
    size_t m = 0;
    for (size_t k = 0; k < nh; k++) {
        if ((strstr(hs[k].name, "loss") != NULL) != want_loss) continue;
        s[m].name = hs[k].name;
        s[m].x = x;
        s[m].y = hs[k].y;
        s[m].n = n;
        m++;
    }
    sl_nn_plot p = {.title = title,
                    .xlabel = "epoch",
                    .ylabel = ylabel,
                    .xmin = NAN,
                    .xmax = NAN,
                    .ymin = NAN,
                    .ymax = NAN,
                    .markers = 1};
    int rc = sl_nn_svg_write(path, &p, s, m, err);
    free(s);
    return rc;
}

int sl_nn_history_plot(const char *jsonl, const char *loss_svg, const char *metric_svg, int *wrote_metric,
                       sl_err *err) {
    *wrote_metric = 0;
    char *data = NULL;
    size_t len = 0;
    int rc = sl_fs_read_all(jsonl, &data, &len, err);
    if (rc) return sl_err_prefix(err, "training history");

    /* Parse every non-blank line. */
    size_t n_obj = 0, cap = 0;
    json_t **objs = NULL;
    size_t lineno = 0;
    for (char *p = data; p < data + len;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        char *end = nl ? nl : data + len;
        *end = '\0';
        lineno++;
        char *q = p;
        while (*q == ' ' || *q == '\t' || *q == '\r') q++;
        if (*q) {
            json_error_t je;
            json_t *o = json_loads(q, 0, &je);
            if (!o || !json_is_object(o)) {
                rc = sl_err_set(err, SL_EDATA, "%s:%zu: expected one JSON object per line%s%s", jsonl, lineno,
                                o ? "" : ": ", o ? "" : je.text);
                json_decref(o);
                goto done;
            }
            if (n_obj == cap) {
                cap = cap ? 2 * cap : 64;
                json_t **no = realloc(objs, cap * sizeof *objs);
                if (!no) {
                    json_decref(o);
                    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                    goto done;
                }
                objs = no;
            }
            objs[n_obj++] = o;
        }
        p = end + 1;
    }

    {
        int any_epoch = 0;
        for (size_t i = 0; i < n_obj; i++) any_epoch |= json_is_number(json_object_get(objs[i], "epoch"));
        double *x = malloc((n_obj ? n_obj : 1) * sizeof *x);
        size_t n = 0;
        hseries *hs = NULL;
        size_t nh = 0;
        if (!x) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        /* Keep the lines that are plotted; collect series names in order of appearance. */
        json_t **rows = malloc((n_obj ? n_obj : 1) * sizeof *rows);
        if (!rows) {
            free(x);
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n_obj; i++) {
            json_t *e = json_object_get(objs[i], "epoch");
            if (any_epoch && !json_is_number(e)) continue;
            x[n] = any_epoch ? json_number_value(e) : (double)(i + 1);
            rows[n++] = objs[i];
        }
        for (size_t r = 0; r < n && !rc; r++) {
            const char *key;
            json_t *v;
            json_object_foreach(rows[r], key, v) {
                if (!json_is_number(v) || is_skipped(key)) continue;
                size_t k = 0;
                while (k < nh && strcmp(hs[k].name, key)) k++;
                if (k == nh) {
                    hseries *nhs = realloc(hs, (nh + 1) * sizeof *hs);
                    if (!nhs) {
                        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                        break;
                    }
                    hs = nhs;
                    hs[nh].name = strdup(key);
                    hs[nh].y = malloc((n ? n : 1) * sizeof(double));
                    nh++;
                    if (!hs[k].name || !hs[k].y) {
                        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                        break;
                    }
                    for (size_t j = 0; j < n; j++) hs[k].y[j] = NAN;
                }
                hs[k].y[r] = json_number_value(v);
            }
        }
        if (!rc) rc = write_plot(loss_svg, "Training loss", "loss", x, n, hs, nh, 1, err);
        if (!rc) {
            int metrics = 0;
            for (size_t k = 0; k < nh; k++) metrics += strstr(hs[k].name, "loss") == NULL;
            if (metrics && metric_svg) {
                rc = write_plot(metric_svg, "Evaluation metrics", "value", x, n, hs, nh, 0, err);
                if (!rc) *wrote_metric = 1;
            }
        }
        for (size_t k = 0; k < nh; k++) {
            free(hs[k].name);
            free(hs[k].y);
        }
        free(hs);
        free(rows);
        free(x);
    }
done:
    for (size_t i = 0; i < n_obj; i++) json_decref(objs[i]);
    free(objs);
    free(data);
    return rc;
}
