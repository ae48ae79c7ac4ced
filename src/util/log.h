/* Logging to stderr. stdout is for what a user pipes; every message for people goes through here.
 * Thread-safe (one fprintf per message). */
#ifndef SEQLORA_UTIL_LOG_H
#define SEQLORA_UTIL_LOG_H

typedef enum { SL_LOG_ERROR = 0, SL_LOG_WARN = 1, SL_LOG_INFO = 2, SL_LOG_DEBUG = 3 } sl_log_level;

/* Messages above `level` are dropped. Default SL_LOG_INFO; SEQLORA_LOG=debug|info|warn|error overrides
 * at the first call of sl_log_init. */
void sl_log_set_level(sl_log_level level);
sl_log_level sl_log_get_level(void);
void sl_log_init(void);

/* "seqlora: warning: ..." etc. A newline is added. */
void sl_log(sl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define sl_log_error(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)
#define sl_log_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_log_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_log_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)

#endif
