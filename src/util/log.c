#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sl_log_level current_level = SL_LOG_INFO;

void sl_log_set_level(sl_log_level level) {
    current_level = level;
}

sl_log_level sl_log_get_level(void) {
    return current_level;
}

void sl_log_init(void) {
    const char *env = getenv("SEQLORA_LOG");
    if (!env) return;
    if (!strcmp(env, "debug")) current_level = SL_LOG_DEBUG;
    else if (!strcmp(env, "info")) current_level = SL_LOG_INFO;
    else if (!strcmp(env, "warn")) current_level = SL_LOG_WARN;
    else if (!strcmp(env, "error")) current_level = SL_LOG_ERROR;
}

void sl_log(sl_log_level level, const char *fmt, ...) {
    if (level > current_level) return;
    static const char *const tag[] = {"error: ", "warning: ", "", "debug: "};
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "seqlora: %s%s\n", tag[level], line);
}
