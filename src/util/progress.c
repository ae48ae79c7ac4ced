#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

double sl_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void sl_progress_start(sl_progress *p, const char *label, uint64_t total) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->start = sl_now_seconds();
    p->enabled = isatty(STDERR_FILENO) && sl_log_get_level() >= SL_LOG_INFO; /* not under --quiet */
}

static void draw(sl_progress *p) {
    double elapsed = sl_now_seconds() - p->start;
    if (p->total) {
        double frac = (double)p->done / (double)p->total;
        int width = 30, fill = (int)(frac * width);
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '-';
        bar[width] = '\0';
        double eta = frac > 0 ? elapsed / frac - elapsed : 0;
        fprintf(stderr, "\r\033[K%s [%s] %llu/%llu %s ETA %.0fs", p->label, bar, (unsigned long long)p->done,
                (unsigned long long)p->total, p->extra, eta);
    } else {
        fprintf(stderr, "\r\033[K%s %llu %s %.0fs", p->label, (unsigned long long)p->done, p->extra, elapsed);
    }
    fflush(stderr);
}

void sl_progress_update(sl_progress *p, uint64_t done, const char *extra) {
    p->done = done;
    if (extra) snprintf(p->extra, sizeof p->extra, "%s", extra);
    if (!p->enabled) return;
    double now = sl_now_seconds();
    if (now - p->last_draw < 0.1 && done != p->total) return;
    p->last_draw = now;
    draw(p);
}

void sl_progress_finish(sl_progress *p) {
    if (!p->enabled) return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
}
