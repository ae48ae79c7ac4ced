#include "cli_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "steps/step.h"
#include "util/log.h"

void sl_cli_common_init(sl_cli_common *c) {
    c->store = NULL;
    c->threads = 0;
    c->no_cache = 0;
    c->json = 0;
    c->quiet = 0;
    const char *t = getenv("SEQLORA_THREADS");
    long long v = 0;
    sl_err err;
    if (t && *t) c->threads = sl_cli_parse_int("SEQLORA_THREADS", t, 0, 4096, &v, &err) ? -1 : (int)v;
}

int sl_cli_common_check(const sl_cli_common *c, sl_err *err) {
    if (c->threads >= 0) return 0;
    const char *t = getenv("SEQLORA_THREADS");
    long long v = 0;
    return sl_cli_parse_int("$SEQLORA_THREADS", t ? t : "", 0, 4096, &v, err) ? SL_EUSAGE : 0;
}

int sl_cli_parse_int(const char *opt, const char *s, long long min, long long max, long long *out,
                     sl_err *err) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || end == s || *end || v < min || v > max)
        return sl_err_set(err, SL_EUSAGE, "%s: expected an integer in [%lld, %lld], got '%s'", opt, min, max,
                          s);
    *out = v;
    return 0;
}

int sl_cli_parse_real(const char *opt, const char *s, double *out, sl_err *err) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !end || end == s || *end || v != v)
        return sl_err_set(err, SL_EUSAGE, "%s: expected a number, got '%s'", opt, s);
    *out = v;
    return 0;
}

int sl_cli_common_opt(sl_cli_common *c, int opt, const char *arg, sl_err *err) {
    long long v = 0;
    switch (opt) {
        case SL_OPT_STORE:
            c->store = arg;
            return 1;
        case SL_OPT_THREADS:
            if (sl_cli_parse_int("--threads", arg, 0, 4096, &v, err)) return SL_EUSAGE;
            c->threads = (int)v;
            return 1;
        case SL_OPT_NO_CACHE:
            c->no_cache = 1;
            return 1;
        case SL_OPT_JSON:
            c->json = 1;
            return 1;
        case SL_OPT_QUIET: /* also the steps' own info lines (per-epoch losses, resume notes) */
            c->quiet = 1;
            if (sl_log_get_level() > SL_LOG_WARN) sl_log_set_level(SL_LOG_WARN);
            return 1;
        default:
            return 0;
    }
}

int sl_cli_threads(const sl_cli_common *c) {
    if (c->threads > 0) return c->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int sl_cli_report(int rc, const sl_err *err) {
    if (rc == 0) return 0;
    fprintf(stderr, "seqlora: error: %s\n", err && err->msg[0] ? err->msg : sl_err_code_name(rc));
    return sl_err_exit_status(rc);
}

int sl_cli_usage_error(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "seqlora: error: %s\n", msg);
    return 2;
}

int sl_cli_run_step(const char *step_name, const json_t *params, const sl_run_input *inputs, size_t n_inputs,
                    const sl_run_output *outputs, size_t n_outputs, const sl_cli_common *c,
                    sl_run_result *result) {
    sl_err err;
    sl_err_clear(&err);
    if (sl_cli_common_check(c, &err)) return sl_cli_report(SL_EUSAGE, &err);
    const sl_step *step = sl_step_find(step_name);
    if (!step) return sl_cli_report(sl_err_set(&err, SL_EINTERNAL, "no step named '%s'", step_name), &err);
    sl_run_opts opts = {
        .store_dir = c->store, .no_cache = c->no_cache, .threads = sl_cli_threads(c), .quiet = c->quiet};
    sl_run_result local = {0};
    sl_run_result *res = result ? result : &local;
    int rc = sl_runner_run(step, params, inputs, n_inputs, outputs, n_outputs, &opts, res, &err);
    if (!result && local.record) json_decref(local.record);
    return sl_cli_report(rc, &err);
}
