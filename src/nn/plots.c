#include "plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

/* Canvas geometry (pixels). */
enum { W = 640, H = 480, LEFT = 70, RIGHT = 20, TOP = 40, BOTTOM = 60 };

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static void put_escaped(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
            case '&':
                fputs("&amp;", f);
                break;
            case '<':
                fputs("&lt;", f);
                break;
            case '>':
                fputs("&gt;", f);
                break;
            case '"':
                fputs("&quot;", f);
                break;
            case '\'':
                fputs("&apos;", f);
                break;
            default:
                /* XML 1.0 forbids most control characters even when escaped. */
                if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r')
                    fputc('?', f);
                else
                    fputc(*s, f);
        }
    }
}

static void put_values(FILE *f, const double *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (i) fputc(' ', f);
        if (isnan(v[i]))
            fputs("nan", f);
        else if (isinf(v[i]))
            fputs(v[i] > 0 ? "inf" : "-inf", f);
        else
            fprintf(f, "%.17g", v[i]);
    }
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about 5 ticks over `span`. */
static double tick_step(double span) {
    double raw = span / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void data_range(const sl_nn_series *s, size_t ns, int axis_y, double *lo, double *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            double v = axis_y ? s[k].y[i] : s[k].x[i];
            if (!isfinite(v)) continue;
            if (v < *lo) *lo = v;
            if (v > *hi) *hi = v;
        }
    if (*lo > *hi) {
        *lo = 0;
        *hi = 1;
    }
    if (*lo == *hi) {
        double pad = *lo == 0 ? 1 : fabs(*lo) * 0.1;
        *lo -= pad;
        *hi += pad;
    }
}

int sl_nn_svg_render(const sl_nn_plot *plot, const sl_nn_series *series, size_t n_series, char **svg,
                     sl_err *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return sl_err_set(err, SL_ENOMEM, "cannot open a memory stream for an SVG plot");

    double x0 = plot->xmin, x1 = plot->xmax, y0 = plot->ymin, y1 = plot->ymax, lo, hi;
    data_range(series, n_series, 0, &lo, &hi);
    if (isnan(x0)) x0 = lo;
    if (isnan(x1)) x1 = hi;
    data_range(series, n_series, 1, &lo, &hi);
    if (isnan(y0)) y0 = lo;
    if (isnan(y1)) y1 = hi;
    if (!(x1 > x0)) x1 = x0 + 1;
    if (!(y1 > y0)) y1 = y0 + 1;
    const double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
#define PX(v) (LEFT + ((v)-x0) / (x1 - x0) * pw)
#define PY(v) (TOP + ph - ((v)-y0) / (y1 - y0) * ph)

    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fputs("<title>", f);
    put_escaped(f, plot->title);
    fputs("</title>\n<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"white\"/>\n", f);

    /* Axes, ticks and grid. */
    fprintf(f,
            "<g class=\"axes\" stroke=\"#000\" fill=\"none\">\n<rect x=\"%d\" y=\"%d\" width=\"%g\" "
            "height=\"%g\"/>\n",
            LEFT, TOP, pw, ph);
    fputs("</g>\n<g class=\"ticks\" font-size=\"11\">\n", f);
    double st = tick_step(x1 - x0);
    for (double t = ceil(x0 / st) * st; t <= x1 + st * 1e-9; t += st) {
        double px = PX(t);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%g\" stroke=\"#ddd\"/>", px, TOP, px,
                TOP + ph);
        fprintf(f, "<text x=\"%.2f\" y=\"%g\" text-anchor=\"middle\">%g</text>\n", px, TOP + ph + 16,
                fabs(t) < st * 1e-9 ? 0.0 : t);
    }
    st = tick_step(y1 - y0);
    for (double t = ceil(y0 / st) * st; t <= y1 + st * 1e-9; t += st) {
        double py = PY(t);
        fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\" stroke=\"#ddd\"/>", LEFT, py, LEFT + pw,
                py);
        fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%g</text>\n", LEFT - 6, py + 4,
                fabs(t) < st * 1e-9 ? 0.0 : t);
    }
    fputs("</g>\n", f);
    fprintf(f, "<text x=\"%g\" y=\"%d\" text-anchor=\"middle\" font-size=\"15\">", LEFT + pw / 2, TOP - 14);
    put_escaped(f, plot->title);
    fprintf(f, "</text>\n<text x=\"%g\" y=\"%d\" text-anchor=\"middle\">", LEFT + pw / 2, H - 18);
    put_escaped(f, plot->xlabel);
    fprintf(f, "</text>\n<text x=\"16\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 16 %g)\">",
            TOP + ph / 2, TOP + ph / 2);
    put_escaped(f, plot->ylabel);
    fputs("</text>\n", f);
    if (plot->diagonal)
        fprintf(f,
                "<line class=\"chance\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#999\" "
                "stroke-dasharray=\"4 4\"/>\n",
                PX(0.0), PY(0.0), PX(1.0), PY(1.0));

    /* Series: the drawn polyline (pixels) plus the exact values. */
    fputs("<g class=\"plot-area\" fill=\"none\" stroke-width=\"2\">\n", f);
    for (size_t k = 0; k < n_series; k++) {
        const sl_nn_series *s = &series[k];
        const char *color = palette[k % (sizeof palette / sizeof *palette)];
        fprintf(f, "<polyline class=\"series\" stroke=\"%s\" data-name=\"", color);
        put_escaped(f, s->name);
        fputs("\" data-x=\"", f);
        put_values(f, s->x, s->n);
        fputs("\" data-y=\"", f);
        put_values(f, s->y, s->n);
        fputs("\" points=\"", f);
        int first = 1;
        double prev_y = NAN;
        for (size_t i = 0; i < s->n; i++) {
            if (!isfinite(s->x[i]) || !isfinite(s->y[i])) continue; /* gaps are skipped */
            if (s->step && !first && isfinite(prev_y)) fprintf(f, " %.2f,%.2f", PX(s->x[i]), PY(prev_y));
            fprintf(f, "%s%.2f,%.2f", first ? "" : " ", PX(s->x[i]), PY(s->y[i]));
            prev_y = s->y[i];
            first = 0;
        }
        fprintf(f, "\" stroke-linejoin=\"round\"/>\n");
        if (plot->markers)
            for (size_t i = 0; i < s->n; i++)
                if (isfinite(s->x[i]) && isfinite(s->y[i]))
                    fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\" stroke=\"none\"/>\n",
                            PX(s->x[i]), PY(s->y[i]), color);
    }
    fputs("</g>\n", f);

    /* Legend, bottom right inside the plot area. */
    if (n_series) {
        double lx = LEFT + pw - 210, ly = TOP + ph - 12 - 18.0 * (double)(n_series - 1);
        fputs("<g class=\"legend\">\n", f);
        for (size_t k = 0; k < n_series; k++) {
            const char *color = palette[k % (sizeof palette / sizeof *palette)];
            double y = ly + 18.0 * (double)k;
            fprintf(
                f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2\"/>",
                lx, y - 4, lx + 22, y - 4, color);
            fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">", lx + 28, y);
            put_escaped(f, series[k].name);
            fputs("</text>\n", f);
        }
        fputs("</g>\n", f);
    }
    fputs("</svg>\n", f);
#undef PX
#undef PY
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return sl_err_set(err, SL_ENOMEM, "cannot render an SVG plot");
    }
    *svg = buf;
    return 0;
}

int sl_nn_svg_write(const char *path, const sl_nn_plot *plot, const sl_nn_series *series, size_t n_series,
                    sl_err *err) {
    char *svg = NULL;
    int rc = sl_nn_svg_render(plot, series, n_series, &svg, err);
    if (rc) return rc;
    rc = sl_fs_write_atomic(path, svg, strlen(svg), err);
    free(svg);
    return rc;
}
