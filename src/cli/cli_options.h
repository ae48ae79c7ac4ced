/* Table-driven options for the commands: one declaration per option gives its name, its argument, its
 * help line, where the value goes, the range a number must lie in, and the step parameter it sets. The
 * parser (getopt_long underneath, with the common options of cli_common.h and -h/--help added) checks
 * every value and names the option in its error; the help printer writes the option list from the same
 * table, so the help, the checks and the parameters cannot drift apart.
 *
 *   static const char *out = NULL;  long long epochs = 10;  double lr = 3e-4;
 *   const sl_cli_opt opts[] = {
 *       SL_CLI_OPT_OUTPUT(&out, "DIR", "the adapter directory to write (required)", SL_CLI_REQUIRED),
 *       SL_CLI_OPT_EPOCHS(&epochs, "(10)"),
 *       SL_CLI_OPT_LR(&lr, "peak learning rate (3e-4)"),
 *       {0},
 *   };
 *   const sl_cli_command cmd = {.name = "train", .header = TRAIN_HEADER, .opts = opts, .width = 24};
 *   sl_cli_args a;
 *   int rc = sl_cli_parse(&cmd, argc, argv, &a);
 *   if (rc != SL_CLI_GO_ON) return rc;  // 0 after --help, 2 on a usage error (message printed)
 *   ... a.params: every option with .param, with its value or default; a.common: --store, --quiet ...
 *
 * The shared options (SL_CLI_OPT_* below) are declared once here so that train, pretrain, init-model,
 * predict, evaluate and run accept the same names with the same ranges and messages; kmerize, split, clean,
 * clinical, sexcheck, fetch, package, score and serve parse with the same table. A parameter the step
 * defaults itself is declared SL_CLI_IF_GIVEN, so that a command line without the option keeps its action
 * key. Not thread-safe (getopt_long's globals). */
#ifndef SEQLORA_CLI_CLI_OPTIONS_H
#define SEQLORA_CLI_CLI_OPTIONS_H

#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "cli_common.h"

/* A repeatable string option (--fasta A --fasta B): the values in order, at most `max`. */
typedef struct sl_cli_list {
    const char **v;
    int n, max;
} sl_cli_list;

enum {
    SL_CLI_LO_OPEN = 1,   /* a real must be > lo (else >= lo) */
    SL_CLI_HI_OPEN = 2,   /* a real must be < hi (else <= hi) */
    SL_CLI_OMIT_ZERO = 4, /* leave the parameter out when the value is 0 */
    SL_CLI_REQUIRED = 8,  /* the command needs it (a usage error names every missing one) */
    SL_CLI_IF_GIVEN = 16, /* set the parameter only when the option is given (the step's default applies
                           * otherwise, and the action key is that of a command line without it) */
    SL_CLI_NEGATE = 32,   /* a flag that stores 0 (--no-stratify beside --stratify, same destination) */
    SL_CLI_NONE_OK = 64,  /* a real that also takes the word "none": stored as NAN, the parameter null */
};

/* One option. Exactly one of str/list/num/real/flag is set: it says the kind and receives the value (its
 * initial value is the default). A table ends with an entry whose name is NULL. */
typedef struct sl_cli_opt {
    const char *name;     /* long name without "--" */
    int short_name;       /* one-letter alias ('o'), or 0 */
    const char *arg;      /* the argument in the help ("DIR"); NULL for a flag */
    const char *help;     /* the description; "\n" continues it on a new line under the description */
    const char **str;     /* a string, as given */
    sl_cli_list *list;    /* a repeatable string */
    long long *num;       /* an integer in [imin, imax] */
    double *real;         /* a finite number in lo..hi (ends open or closed by flags) */
    int *flag;            /* set to 1 when given */
    long long imin, imax; /* range of num */
    double lo, hi;        /* range of real (use INFINITY for no upper bound) */
    unsigned flags;       /* SL_CLI_* */
    const char *param;    /* the step parameter set by sl_cli_params, or NULL */
    const char *section;  /* a heading printed on its own line before the option ("variant mode:"), or NULL */
} sl_cli_opt;

/* A command: its help is `header`, "options:\n" (unless the first option has a section), the option list
 * (descriptions at column `width` + 2), a blank line, `footer` (when not NULL) and SL_CLI_COMMON_HELP. */
typedef struct sl_cli_command {
    const char *name;   /* as in messages: "train" */
    const char *header; /* usage line(s) and description, ending with a blank line */
    const sl_cli_opt *opts;
    int width;          /* width of the option column */
    const char *footer; /* text after the list (e.g. what goes to stdout), ending with a blank line */
    int max_args;       /* positional arguments allowed (0: none) */
    int no_common;      /* not a step (serve): none of the common options, only -h/--help, which ends the
                         * option list in the help (no SL_CLI_COMMON_HELP); $SEQLORA_THREADS unchecked.
                         * The table may then declare its own --threads/--quiet. */
} sl_cli_command;

#define SL_CLI_GO_ON (-1)

/* What sl_cli_parse hands a command. */
typedef struct sl_cli_args {
    sl_cli_common common; /* the common options */
    int first;            /* index in argv of the first positional argument */
    json_t *params;       /* the step parameters of the options (see sl_cli_params); owned */
    sl_err err;           /* cleared, for the command's own errors */
} sl_cli_args;

/* Parse argv[1..] (argv[0] is the command name): every option of cmd->opts, the common options into
 * a->common (none with cmd->no_common), -h/--help. Returns SL_CLI_GO_ON with `a` filled (a->params:
 * sl_cli_params of the options; free with sl_cli_args_free or sl_cli_fail), or the exit status to return now
 * (nothing to free): 0 after printing the help on stdout, 2 after a usage error, said on stderr: an unknown
 * option (getopt's message and the help), a bad value
 * ("seqlora: error: --lr: expected a number in (0, 10), got 'x'"), more than cmd->max_args positional
 * arguments, a SL_CLI_REQUIRED option missing ("train: --base and -o are required (see seqlora train
 * --help)"). Values of the same option given twice: the last wins (lists append). */
int sl_cli_parse(const sl_cli_command *cmd, int argc, char **argv, sl_cli_args *a);

/* Free what a successful sl_cli_parse left in `a` (its params). */
void sl_cli_args_free(sl_cli_args *a);

/* For a command that failed with `rc` (a negative SL_E* with a->err filled): print the error, free `a`,
 * and return the exit status. */
int sl_cli_fail(sl_cli_args *a, int rc);

/* Print the help of `cmd` (see sl_cli_command). */
void sl_cli_help(const sl_cli_command *cmd, FILE *out);

/* The step parameters of `opts` (a new JSON object): every option that has .param, integers as JSON
 * integers, reals as reals (null for a SL_CLI_NONE_OK "none"), flags as booleans, strings when set (an
 * unset string is left out), SL_CLI_OMIT_ZERO numbers when not 0. `given` (one entry per option, or NULL
 * for "all given") says which options were on the command line, for SL_CLI_IF_GIVEN. NULL with err set
 * (SL_ENOMEM) when out of memory. */
json_t *sl_cli_params(const sl_cli_opt *opts, const unsigned char *given, sl_err *err);

/* The VALUE=LABEL values of a repeatable --map option as the object {"VALUE": "LABEL", ...} in
 * params[key] (nothing when the list is empty; the last of a repeated VALUE wins). SL_EUSAGE naming `opt`
 * for a value without '=' or with an empty side, SL_ENOMEM. */
int sl_cli_map_param(const sl_cli_list *l, const char *opt, json_t *params, const char *key, sl_err *err);

/* The values of a repeatable option as the array params[key] (nothing when the list is empty); `sep` not
 * NULL also splits each value at these characters (--samples A,B), dropping empty pieces. SL_ENOMEM. */
int sl_cli_list_param(const sl_cli_list *l, const char *sep, json_t *params, const char *key, sl_err *err);

/* Check one value of `o` and store it: 0, or SL_EUSAGE with err naming the option and the range. */
int sl_cli_opt_set(const sl_cli_opt *o, const char *value, sl_err *err);

/* --device/--precision for a run: resolve them (sl_nn_device_select), log its note unless c->quiet, and for
 * a CUDA device put "device": "cuda" and "precision" into `params` and select that GPU for the steps; for
 * the CPU put "precision": "bf16" there when the run is bf16 (a CPU fp32 run carries neither, so its action
 * key is unchanged, docs/gpu.md). Errors: SL_EUSAGE naming the option, as sl_nn_device_select. */
int sl_cli_device_params(const char *device, const char *precision, const sl_cli_common *c, json_t *params,
                         sl_err *err);

/* "<dir>/<name>" when `path` is NULL, else a copy of path; malloc'd (NULL when out of memory). For the
 * outputs that default to a file inside the output folder (metrics.jsonl). */
char *sl_cli_default_in(const char *path, const char *dir, const char *name);

/* ---- the shared options: same name, argument, range and parameter in every command ---------------- */

#define SL_CLI_INT_OPT(nm, ar, h, dest, mn, mx, pr)                                                          \
    { .name = nm, .arg = ar, .help = h, .num = dest, .imin = mn, .imax = mx, .param = pr }
#define SL_CLI_REAL_OPT(nm, ar, h, dest, l, u, fl, pr)                                                       \
    { .name = nm, .arg = ar, .help = h, .real = dest, .lo = l, .hi = u, .flags = fl, .param = pr }

#define SL_CLI_OPT_OUTPUT(dest, ar, h, fl)                                                                   \
    { .name = "output", .short_name = 'o', .arg = ar, .help = h, .str = dest, .flags = fl }
#define SL_CLI_OPT_BASE(dest, h, fl)                                                                         \
    { .name = "base", .arg = "DIR", .help = h, .str = dest, .flags = fl }
#define SL_CLI_OPT_METRICS(dest, h)                                                                          \
    { .name = "metrics", .arg = "FILE", .help = h, .str = dest }
#define SL_CLI_OPT_DEVICE(dest, h)                                                                           \
    { .name = "device", .arg = "D", .help = h, .str = dest }
#define SL_CLI_OPT_PRECISION(dest, h)                                                                        \
    { .name = "precision", .arg = "P", .help = h, .str = dest }
#define SL_CLI_OPT_SEED(dest, ar, h) SL_CLI_INT_OPT("seed", ar, h, dest, 0, 1LL << 62, "seed")
#define SL_CLI_OPT_EPOCHS(dest, h) SL_CLI_INT_OPT("epochs", "N", h, dest, 1, 100000, "epochs")
#define SL_CLI_OPT_BATCH_SIZE(dest, h) SL_CLI_INT_OPT("batch-size", "N", h, dest, 1, 65536, "batch_size")
#define SL_CLI_OPT_WARMUP(dest, h) SL_CLI_INT_OPT("warmup-steps", "N", h, dest, 0, 1LL << 40, "warmup_steps")
#define SL_CLI_OPT_CHECKPOINT(dest, h, fl)                                                                   \
    {                                                                                                        \
        .name = "checkpoint-every", .arg = "N", .help = h, .num = dest, .imin = 0, .imax = 1LL << 40,        \
        .flags = fl, .param = "checkpoint_every"                                                             \
    }
#define SL_CLI_OPT_LR(dest, h)                                                                               \
    SL_CLI_REAL_OPT("lr", "LR", h, dest, 0, 10, SL_CLI_LO_OPEN | SL_CLI_HI_OPEN, "lr")
#define SL_CLI_OPT_WEIGHT_DECAY(dest, h)                                                                     \
    SL_CLI_REAL_OPT("weight-decay", "W", h, dest, 0, 10, SL_CLI_HI_OPEN, "weight_decay")
#define SL_CLI_OPT_MAX_GRAD_NORM(dest, h)                                                                    \
    SL_CLI_REAL_OPT("max-grad-norm", "N", h, dest, 0, INFINITY, 0, "max_grad_norm")
#define SL_CLI_OPT_KMER(nm, dest, h) SL_CLI_INT_OPT(nm, "K", h, dest, 3, 8, "kmer")

#endif
