/* A progress bar on stderr, drawn only when stderr is a terminal (never in logs or pipelines) and the log
 * level lets info lines through (not under --quiet).
 * Not thread-safe: update it from one thread. */
#ifndef SEQLORA_UTIL_PROGRESS_H
#define SEQLORA_UTIL_PROGRESS_H

#include <stdint.h>

typedef struct sl_progress {
    const char *label;
    uint64_t total;
    uint64_t done;
    double start;
    double last_draw;
    int enabled;
    char extra[160];
} sl_progress;

/* Start a bar for `total` units (0 = unknown). */
void sl_progress_start(sl_progress *p, const char *label, uint64_t total);
/* Set the position and an optional status text (e.g. "loss 0.41 lr 3e-4"); redraws at most 10 times a second. */
void sl_progress_update(sl_progress *p, uint64_t done, const char *extra);
/* Clear the bar line. */
void sl_progress_finish(sl_progress *p);

/* Monotonic seconds. */
double sl_now_seconds(void);

#endif
