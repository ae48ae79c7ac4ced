/* Table-driven options (cli_options.h). */
#include "cli_options.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "util/log.h"

enum { OPT_BASE_VAL = 0x3000 };

static int takes_arg(const sl_cli_opt *o) {
    return !o->flag;
}

/* "a number in (0, 10)", "a number >= 0", "a positive number". */
static void real_range(const sl_cli_opt *o, char *buf, size_t n) {
    int lo_open = (o->flags & SL_CLI_LO_OPEN) != 0, hi_open = (o->flags & SL_CLI_HI_OPEN) != 0;
    if (isinf(o->hi)) {
        if (o->lo == 0 && lo_open)
            snprintf(buf, n, "a positive number");
        else
            snprintf(buf, n, "a number %s %g", lo_open ? ">" : ">=", o->lo);
    } else {
        snprintf(buf, n, "a number in %c%g, %g%c", lo_open ? '(' : '[', o->lo, o->hi, hi_open ? ')' : ']');
    }
}

int sl_cli_opt_set(const sl_cli_opt *o, const char *value, sl_err *err) {
    char opt[80];
    snprintf(opt, sizeof opt, "--%s", o->name);
    if (o->flag) {
        *o->flag = (o->flags & SL_CLI_NEGATE) ? 0 : 1;
        return 0;
    }
    if (!value || !*value) return sl_err_set(err, SL_EUSAGE, "%s: expected a value, got ''", opt);
    if (o->real && (o->flags & SL_CLI_NONE_OK) && !strcmp(value, "none")) {
        *o->real = NAN;
        return 0;
    }
    if (o->str) {
        *o->str = value;
    } else if (o->list) {
        if (o->list->n >= o->list->max)
            return sl_err_set(err, SL_EUSAGE, "%s: given more than %d times", opt, o->list->max);
        o->list->v[o->list->n++] = value;
    } else if (o->num) {
        return sl_cli_parse_int(opt, value, o->imin, o->imax, o->num, err) ? SL_EUSAGE : 0;
    } else if (o->real) {
        double v;
        int ok = sl_cli_parse_real(opt, value, &v, err) == 0 && isfinite(v);
        if (ok) ok = (o->flags & SL_CLI_LO_OPEN) ? v > o->lo : v >= o->lo;
        if (ok) ok = (o->flags & SL_CLI_HI_OPEN) ? v < o->hi : v <= o->hi;
        if (!ok) {
            char range[96];
            real_range(o, range, sizeof range);
            return sl_err_set(err, SL_EUSAGE, "%s: expected %s%s, got '%s'", opt, range,
                              (o->flags & SL_CLI_NONE_OK) ? " or 'none'" : "", value);
        }
        *o->real = v;
    } else {
        return sl_err_set(err, SL_EINTERNAL, "%s: the option table gives it no destination", opt);
    }
    return 0;
}

void sl_cli_help(const sl_cli_command *cmd, FILE *out) {
    fputs(cmd->header, out);
    if (!cmd->opts[0].section) fputs("options:\n", out); /* else the first section heads the list */
    for (const sl_cli_opt *o = cmd->opts; o->name; o++) {
        if (o->section) fprintf(out, "%s\n", o->section);
        char left[128];
        int n = o->short_name ? snprintf(left, sizeof left, "-%c, --%s", o->short_name, o->name)
                              : snprintf(left, sizeof left, "--%s", o->name);
        if (o->arg && n > 0 && (size_t)n < sizeof left)
            snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg);
        int pad = cmd->width - (int)strlen(left);
        fprintf(out, "  %s", left);
        if (o->help && *o->help) fprintf(out, "%*s", pad > 0 ? pad : 1, "");
        for (const char *h = o->help ? o->help : ""; *h; h++) {
            fputc(*h, out);
            if (*h == '\n') fprintf(out, "%*s", cmd->width + 2, "");
        }
        fputc('\n', out);
    }
    if (cmd->no_common) fprintf(out, "  %-*sthis help\n", cmd->width, "-h, --help");
    if (!cmd->no_common || cmd->footer) fputc('\n', out);
    if (cmd->footer) fputs(cmd->footer, out);
    if (!cmd->no_common) fputs(SL_CLI_COMMON_HELP, out);
}

/* A required option is missing when a string has no value (a default counts), a list no entry, and any
 * other kind was not on the command line. */
static int missing(const sl_cli_opt *o, int given) {
    if (!(o->flags & SL_CLI_REQUIRED)) return 0;
    if (o->str) return !*o->str;
    if (o->list) return !o->list->n;
    return !given;
}

/* A usage error naming every SL_CLI_REQUIRED option not given ("--base, --train and -o"), else GO_ON. */
static int missing_required(const sl_cli_command *cmd, const unsigned char *given) {
    char list[512] = "";
    size_t len = 0, n = 0, total = 0;
    for (size_t i = 0; cmd->opts[i].name; i++) total += (size_t)missing(&cmd->opts[i], given[i]);
    for (size_t i = 0; cmd->opts[i].name && len < sizeof list; i++) {
        const sl_cli_opt *o = &cmd->opts[i];
        if (!missing(o, given[i])) continue;
        const char *sep = n == 0 ? "" : n + 1 == total ? " and " : ", ";
        int w = o->short_name ? snprintf(list + len, sizeof list - len, "%s-%c", sep, o->short_name)
                              : snprintf(list + len, sizeof list - len, "%s--%s", sep, o->name);
        if (w > 0) len += (size_t)w;
        n++;
    }
    if (!n) return SL_CLI_GO_ON;
    return sl_cli_usage_error("%s: %s %s required (see seqlora %s --help)", cmd->name, list,
                              n > 1 ? "are" : "is", cmd->name);
}

void sl_cli_args_free(sl_cli_args *a) {
    json_decref(a->params);
    a->params = NULL;
}

int sl_cli_fail(sl_cli_args *a, int rc) {
    int status = sl_cli_report(rc, &a->err);
    sl_cli_args_free(a);
    return status;
}

int sl_cli_parse(const sl_cli_command *cmd, int argc, char **argv, sl_cli_args *a) {
    static const struct option common_opts[] = {SL_CLI_COMMON_LONGOPTS, {"help", no_argument, 0, 'h'}};
    size_t n_opts = 0, n_common = sizeof common_opts / sizeof common_opts[0];
    while (cmd->opts[n_opts].name) n_opts++;
    struct option *longopts = calloc(n_opts + n_common + 1, sizeof *longopts);
    char *shortopts = malloc(2 * n_opts + 2);
    unsigned char *given = calloc(n_opts + 1, 1);
    if (!longopts || !shortopts || !given) {
        free(longopts);
        free(shortopts);
        free(given);
        return sl_cli_usage_error("out of memory");
    }
    char *sp = shortopts;
    *sp++ = 'h';
    for (size_t i = 0; i < n_opts; i++) {
        const sl_cli_opt *o = &cmd->opts[i];
        longopts[i] = (struct option){o->name, takes_arg(o) ? required_argument : no_argument, 0,
                                      OPT_BASE_VAL + (int)i};
        if (o->short_name) {
            *sp++ = (char)o->short_name;
            if (takes_arg(o)) *sp++ = ':';
        }
    }
    *sp = '\0';
    if (cmd->no_common) /* -h/--help only */
        memcpy(longopts + n_opts, &common_opts[n_common - 1], sizeof common_opts[0]);
    else
        memcpy(longopts + n_opts, common_opts, sizeof common_opts);
    memset(a, 0, sizeof *a);
    sl_cli_common *common = &a->common;
    sl_cli_common_init(common);
    sl_err err;
    sl_err_clear(&err);
    int opt, status = SL_CLI_GO_ON;
    optind = 1;
    while (status == SL_CLI_GO_ON && (opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        const sl_cli_opt *o = NULL;
        if (opt >= OPT_BASE_VAL && opt < OPT_BASE_VAL + (int)n_opts) o = &cmd->opts[opt - OPT_BASE_VAL];
        for (size_t i = 0; !o && opt != '?' && i < n_opts; i++)
            if (cmd->opts[i].short_name == opt) o = &cmd->opts[i];
        if (o) {
            if (sl_cli_opt_set(o, optarg, &err)) status = sl_cli_report(SL_EUSAGE, &err);
            given[o - cmd->opts] = 1;
        } else if (opt == 'h') {
            sl_cli_help(cmd, stdout);
            status = 0;
        } else {
            int rc = cmd->no_common ? 0 : sl_cli_common_opt(common, opt, optarg, &err);
            if (rc < 0) {
                status = sl_cli_report(rc, &err);
            } else if (rc == 0) { /* getopt has said what is wrong */
                sl_cli_help(cmd, stderr);
                status = 2;
            }
        }
    }
    free(longopts);
    free(shortopts);
    a->first = optind;
    if (status == SL_CLI_GO_ON && argc - optind > cmd->max_args)
        status = sl_cli_usage_error("%s: unexpected argument '%s'", cmd->name, argv[optind + cmd->max_args]);
    if (status == SL_CLI_GO_ON) status = missing_required(cmd, given);
    if (status == SL_CLI_GO_ON && !cmd->no_common && sl_cli_common_check(common, &err))
        status = sl_cli_report(SL_EUSAGE, &err);
    if (status == SL_CLI_GO_ON) {
        a->params = sl_cli_params(cmd->opts, given, &a->err);
        if (!a->params) status = sl_cli_fail(a, SL_ENOMEM);
    }
    free(given);
    return status;
}

json_t *sl_cli_params(const sl_cli_opt *opts, const unsigned char *given, sl_err *err) {
    json_t *params = json_object();
    for (size_t i = 0; params && opts[i].name; i++) {
        const sl_cli_opt *o = &opts[i];
        if (!o->param || ((o->flags & SL_CLI_IF_GIVEN) && given && !given[i])) continue;
        json_t *v = NULL;
        if (o->num) {
            if ((o->flags & SL_CLI_OMIT_ZERO) && *o->num == 0) continue;
            v = json_integer(*o->num);
        } else if (o->real) {
            if ((o->flags & SL_CLI_OMIT_ZERO) && *o->real == 0) continue;
            v = isnan(*o->real) ? json_null() : json_real(*o->real);
        } else if (o->flag) {
            v = json_boolean(*o->flag);
        } else if (o->str) {
            if (!*o->str) continue;
            v = json_string(*o->str);
        } else {
            continue;
        }
        if (!v || json_object_set_new(params, o->param, v)) {
            json_decref(params);
            params = NULL;
        }
    }
    if (!params) sl_err_set(err, SL_ENOMEM, "out of memory while building the step parameters");
    return params;
}

int sl_cli_device_params(const char *device, const char *precision, const sl_cli_common *c, json_t *params,
                         sl_err *err) {
    sl_nn_device dev;
    int prec, rc;
    char note[1400];
    if ((rc = sl_nn_device_select(device, precision, &dev, &prec, note, sizeof note, err))) return rc;
    if (note[0] && !c->quiet) sl_log_info("%s", note);
    if (dev.kind != SL_NN_DEVICE_CUDA) {
        /* a CPU bf16 run computes other numbers than an fp32 one: its key says so; fp32's stays as it was */
        if (prec != SL_CUDA_FP32 &&
            json_object_set_new(params, "precision", json_string(sl_nn_precision_name(prec))))
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        return 0;
    }
    if (json_object_set_new(params, "device", json_string("cuda")) ||
        json_object_set_new(params, "precision", json_string(sl_nn_precision_name(prec))))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_cuda_set_ordinal(dev.index);
    return 0;
}

char *sl_cli_default_in(const char *path, const char *dir, const char *name) {
    if (path) return strdup(path);
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int sl_cli_map_param(const sl_cli_list *l, const char *opt, json_t *params, const char *key, sl_err *err) {
    if (!l->n) return 0;
    json_t *map = json_object();
    if (!map || json_object_set_new(params, key, map)) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (int i = 0; i < l->n; i++) {
        const char *s = l->v[i], *eq = strrchr(s, '=');
        if (!eq || eq == s || !eq[1])
            return sl_err_set(err, SL_EUSAGE, "%s: expected VALUE=LABEL, got '%s'", opt, s);
        char *k = strndup(s, (size_t)(eq - s));
        int bad = !k || json_object_set_new(map, k, json_string(eq + 1));
        free(k);
        if (bad) return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    return 0;
}

int sl_cli_list_param(const sl_cli_list *l, const char *sep, json_t *params, const char *key, sl_err *err) {
    if (!l->n) return 0;
    json_t *arr = json_array();
    if (!arr || json_object_set_new(params, key, arr)) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (int i = 0; i < l->n; i++) {
        const char *s = l->v[i];
        while (*s) {
            size_t len = sep ? strcspn(s, sep) : strlen(s);
            if (len && json_array_append_new(arr, json_stringn(s, len)))
                return sl_err_set(err, SL_ENOMEM, "out of memory");
            s += len;
            if (*s) s++;
        }
    }
    return 0;
}
