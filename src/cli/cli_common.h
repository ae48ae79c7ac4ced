/* What every subcommand shares: the common options, error reporting, and the call into the runner.
 *
 * Conventions for a command file cmd_<name>.c:
 *   - options declared in a cli_options.h table and parsed by sl_cli_parse (which handles the common
 *     options); a command not on the table uses getopt_long with SL_CLI_COMMON_LONGOPTS and hands unknown
 *     options to sl_cli_common_opt() in the default case;
 *   - `-h/--help` prints usage to stdout and returns 0; a usage error prints "seqlora: error: ..." and
 *     returns 2 (sl_cli_usage_error);
 *   - the command turns flags into canonical parameters + input files and calls sl_cli_run_step(), which
 *     runs the step through the runner and materialises the outputs where the user asked. */
#ifndef SEQLORA_CLI_CLI_COMMON_H
#define SEQLORA_CLI_CLI_COMMON_H

#include <getopt.h>
#include <jansson.h>

#include "runner.h"
#include "util/error.h"

enum {
    SL_OPT_STORE = 0x1001,
    SL_OPT_THREADS,
    SL_OPT_NO_CACHE,
    SL_OPT_JSON,
    SL_OPT_QUIET,
};

#define SL_CLI_COMMON_LONGOPTS                                                                               \
    {"store", required_argument, 0, SL_OPT_STORE}, {"threads", required_argument, 0, SL_OPT_THREADS},        \
        {"no-cache", no_argument, 0, SL_OPT_NO_CACHE}, {"json", no_argument, 0, SL_OPT_JSON}, {              \
        "quiet", no_argument, 0, SL_OPT_QUIET                                                                \
    }

/* Help text for the common options, to append to each command's usage. */
#define SL_CLI_COMMON_HELP                                                                                   \
    "common options:\n"                                                                                      \
    "  --store DIR     artifact store (default: $SEQLORA_STORE, else ./store)\n"                             \
    "  --threads N     thread budget, BLAS included (default: $SEQLORA_THREADS, else all cores); never\n"    \
    "                  changes results\n"                                                                    \
    "  --no-cache      run the step even when the store has its result\n"                                    \
    "  --json          machine-readable output on stdout where the command has any\n"                        \
    "  --quiet         no progress or cache lines on stderr\n"                                               \
    "  -h, --help      this help\n"

typedef struct sl_cli_common {
    const char *store; /* NULL = default */
    int threads;       /* 0 = all cores */
    int no_cache;
    int json;
    int quiet;
} sl_cli_common;

/* Defaults (threads from $SEQLORA_THREADS when set: an integer in [0, 4096], 0 = all cores; any other
 * value leaves threads at -1, which sl_cli_common_check reports). */
void sl_cli_common_init(sl_cli_common *c);

/* 0, or SL_EUSAGE with err naming $SEQLORA_THREADS, the range and its value when the variable was not a
 * valid thread count and no --threads replaced it. sl_cli_parse and sl_cli_run_step call it. */
int sl_cli_common_check(const sl_cli_common *c, sl_err *err);

/* Handle one getopt_long result if it is a common option: returns 1 when handled, 0 when `opt` is not a
 * common option, or a negative SL_EUSAGE with err filled. --quiet also lowers the log level to warnings,
 * which silences the steps' info lines (per-epoch losses) and progress bars. */
int sl_cli_common_opt(sl_cli_common *c, int opt, const char *arg, sl_err *err);

/* The thread count to use (resolves 0 to the number of online CPUs). */
int sl_cli_threads(const sl_cli_common *c);

/* Print "seqlora: error: <msg>" (when rc != 0) and return the exit status for rc. */
int sl_cli_report(int rc, const sl_err *err);

/* Print "seqlora: error: <formatted>" and return 2 (usage). */
int sl_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a whole-string integer/real option value; the error names the option. */
int sl_cli_parse_int(const char *opt, const char *s, long long min, long long max, long long *out,
                     sl_err *err);
int sl_cli_parse_real(const char *opt, const char *s, double *out, sl_err *err);

/* Run the step named `step_name` through the runner with the common options; prints errors.
 * Returns the process exit status. `result` may be NULL. */
int sl_cli_run_step(const char *step_name, const json_t *params, const sl_run_input *inputs, size_t n_inputs,
                    const sl_run_output *outputs, size_t n_outputs, const sl_cli_common *c,
                    sl_run_result *result);

#endif
