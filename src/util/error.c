#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sl_err_clear(sl_err *err) {
    if (!err) return;
    err->code = SL_OK;
    err->msg[0] = '\0';
}

static int vset(sl_err *err, int code, const char *fmt, va_list ap) {
    if (!err) return code;
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return code;
}

int sl_err_set(sl_err *err, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int sl_err_errno(sl_err *err, int code, int errnum, const char *fmt, ...) {
    if (!err) return code;
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(errnum));
    return code;
}

int sl_err_prefix(sl_err *err, const char *fmt, ...) {
    if (!err) return SL_EINTERNAL;
    char old[SL_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n + 2 < sizeof err->msg) {
        size_t room = sizeof err->msg - (size_t)n;
        size_t len = strnlen(old, room - 3);
        memcpy(err->msg + n, ": ", 2);
        memcpy(err->msg + n + 2, old, len);
        err->msg[(size_t)n + 2 + len] = '\0';
    }
    return err->code;
}

int sl_err_exit_status(int code) {
    switch (code) {
        case SL_OK: return 0;
        case SL_EUSAGE: return 2;
        case SL_EDATA: return 3;
        case SL_EINTEGRITY: return 4;
        case SL_ECANCELED: return 130;
        default: return 1;
    }
}

const char *sl_err_code_name(int code) {
    switch (code) {
        case SL_OK: return "ok";
        case SL_EUSAGE: return "usage";
        case SL_EDATA: return "data";
        case SL_EINTEGRITY: return "integrity";
        case SL_EIO: return "io";
        case SL_ENOMEM: return "memory";
        case SL_ENOTFOUND: return "not found";
        case SL_ENET: return "network";
        case SL_EINTERNAL: return "internal";
        case SL_ECANCELED: return "canceled";
        default: return "unknown";
    }
}
