/* A small SVG writer for line plots (ROC and precision-recall curves, loss and metric per epoch). No
 * dependency: the output is plain SVG 1.1 that browsers and Inkscape open and that parses as XML.
 *
 * The plotted numbers travel with the picture: each series is a <polyline> (class "series") carrying
 * data-name, data-x and data-y attributes that list its values exactly (space-separated, 17 significant
 * digits, "nan" for a missing value), so a reader can recover and check what was drawn. */
#ifndef SEQLORA_NN_PLOTS_H
#define SEQLORA_NN_PLOTS_H

#include <stddef.h>

#include "util/error.h"

typedef struct sl_nn_series {
    const char *name; /* legend text (e.g. "AUC = 0.8123"); escaped on output */
    const double *x, *y;
    size_t n; /* points; a NaN in x or y breaks the line there */
    int step; /* 1: draw as a step function (value held until the next x, as PR curves are plotted) */
} sl_nn_series;

typedef struct sl_nn_plot {
    const char *title, *xlabel, *ylabel;
    double xmin, xmax, ymin, ymax; /* axis ranges; NaN = from the data */
    int diagonal;                  /* 1: draw the y = x chance line (ROC) */
    int markers;                   /* 1: a dot at every point (short series such as epochs) */
} sl_nn_plot;

/* Render the plot as an SVG document into a malloc'd NUL-terminated string (*svg; caller frees). */
int sl_nn_svg_render(const sl_nn_plot *plot, const sl_nn_series *series, size_t n_series, char **svg,
                     sl_err *err);

/* Render and write atomically to `path`. */
int sl_nn_svg_write(const char *path, const sl_nn_plot *plot, const sl_nn_series *series, size_t n_series,
                    sl_err *err);

#endif
