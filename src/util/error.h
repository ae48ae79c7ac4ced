/* Errors with context. Every fallible function returns 0 or a negative SL_E* code and, on failure,
 * fills an sl_err with a message a user can act on (which file, line, field, and what was expected).
 * Libraries never print or exit; the CLI turns the code into an exit status (sl_err_exit_status). */
#ifndef SEQLORA_UTIL_ERROR_H
#define SEQLORA_UTIL_ERROR_H

#include <stddef.h>

enum {
    SL_OK = 0,
    SL_EUSAGE = -1,     /* bad command line or parameters (exit 2) */
    SL_EDATA = -2,      /* malformed or inconsistent input data (exit 3) */
    SL_EINTEGRITY = -3, /* checksum mismatch, corrupted store content (exit 4) */
    SL_EIO = -4,        /* file system or OS failure (exit 1) */
    SL_ENOMEM = -5,     /* allocation failed (exit 1) */
    SL_ENOTFOUND = -6,  /* a named thing does not exist (exit 1) */
    SL_ENET = -7,       /* network / transfer failure (exit 1) */
    SL_EINTERNAL = -8,  /* a bug: an invariant did not hold (exit 1) */
    SL_ECANCELED = -9,  /* interrupted by a signal (exit 130) */
};

#define SL_ERR_MSG_MAX 2048

typedef struct sl_err {
    int code;                 /* 0 or one of the SL_E* values */
    char msg[SL_ERR_MSG_MAX]; /* human-readable, without a trailing newline */
} sl_err;

/* Reset to "no error". */
void sl_err_clear(sl_err *err);

/* Record an error (printf-style message) and return `code`, so callers can write
 * `return sl_err_set(err, SL_EDATA, "%s:%d: expected ...", path, line);`. `err` may be NULL. */
int sl_err_set(sl_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like sl_err_set, with ": <strerror(errnum)>" appended. */
int sl_err_errno(sl_err *err, int code, int errnum, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Prepend context to an existing message ("while reading X: <old message>"); returns err->code. */
int sl_err_prefix(sl_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The process exit status for an error code: 0 ok, 1 general, 2 usage, 3 bad input data, 4 integrity,
 * 130 interrupted. */
int sl_err_exit_status(int code);

/* A short name for a code ("data", "integrity", ...). */
const char *sl_err_code_name(int code);

#endif
