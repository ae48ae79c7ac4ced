/* seqlora run: the whole pipeline from one JSON config, each step cached (docs/run.md). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "commands.h"
#include "pipeline.h"
#include "util/fs.h"
#include "util/json.h"

static const char header[] =
    "usage: seqlora run [CONFIG.json] [--dry-run] [-o OUTDIR] [options]\n\n"
    "Run a whole pipeline from one JSON config (docs/run.md, schema docs/config.schema.json).\n"
    "Variant mode: kmerize -> split (test, then validation) -> base model -> train (LoRA) ->\n"
    "evaluate -> package (base.pretrain: init model -> MLM pretrain on the reference -> train),\n"
    "plus baselines (a score column such as CADD, a category column) evaluated\n"
    "the same way. Sample mode: (sexcheck ->) clean -> clinical -> kmerize -> ... as above.\n"
    "Every step is a cached step of the store: a second run is all cache hits, and a killed run\n"
    "restarts where it stopped (training resumes from its checkpoint).\n"
    "Without CONFIG, runs the embedded demo: BRCA1 saturation genome editing variants (Findlay et\n"
    "al. 2018), LOF vs FUNC, test exons never seen in training, next to CADD and a consequence\n"
    "baseline, on a small BERT MLM-pretrained first on the bundled 200 kb BRCA1 region (no\n"
    "genome-wide pretrained model ships with seqlora).\n\n";

static void print_plan(const sl_pipeline *p, FILE *out) {
    size_t width = 5;
    for (size_t k = 0; k < p->n; k++)
        if (strlen(p->stages[k].label) > width) width = strlen(p->stages[k].label);
    fprintf(out, "%-*s  %-12s  %-10s  %s\n", (int)width, "stage", "step", "status", "action key");
    size_t cached = 0, run = 0, later = 0, skipped = 0;
    for (size_t k = 0; k < p->n; k++) {
        const sl_pipe_stage *s = &p->stages[k];
        int bl = s->kind == SL_PIPE_BASELINE;
        const char *st = s->state == 4   ? "skipped"
                         : bl            ? (s->state == 2 ? "computed" : "run later")
                         : s->state == 1 ? "cached"
                         : s->state == 2 ? "run"
                                         : "run later";
        if (s->state == 4)
            skipped += !bl;
        else if (!bl && s->state == 1)
            cached++;
        else if (!bl && s->state == 2)
            run++;
        else if (!bl)
            later++;
        const char *what = s->state == 4 ? "(not applicable to this task)"
                           : bl          ? "(not a step: a table from the development and test splits)"
                           : s->state    ? s->key
                                         : "(known once an earlier step has run)";
        fprintf(out, "%-*s  %-12s  %-10s  %s\n", (int)width, s->label, bl ? "-" : s->step, st, what);
    }
    fprintf(out, "%zu cached, %zu to run, %zu after them", cached, run, later);
    if (skipped) fprintf(out, ", %zu skipped", skipped);
    fprintf(out, "\n");
}

/* --device/--precision: the stages that run the model (train, the model's evaluation) run there. Resolved
 * before anything is written; only a CUDA device changes their parameters (and so their keys), as for
 * `seqlora train` (every model family runs on CUDA). */
static int device_params(const char *device, const char *precision, const sl_cli_common *c, json_t **out,
                         sl_err *err) {
    *out = json_object();
    return *out ? sl_cli_device_params(device, precision, c, *out, err)
                : sl_err_set(err, SL_ENOMEM, "out of memory");
}

static int apply_device(sl_pipeline *p, const json_t *dp, sl_err *err) {
    size_t stages[2] = {p->i_train, p->i_eval_model};
    for (size_t k = 0; json_object_size(dp) && k < 2; k++)
        if (stages[k] != SIZE_MAX && json_object_update(p->stages[stages[k]].params, (json_t *)dp))
            return sl_err_set(err, SL_ENOMEM, "out of memory");
    return 0;
}

int sl_cmd_run(int argc, char **argv) {
    const char *outdir = "seqlora-run", *device = NULL, *precision = NULL;
    int dry = 0, print = 0;
    const sl_cli_opt opts[] = {
        SL_CLI_OPT_OUTPUT(&outdir, "DIR",
                          "where the outputs go (default ./seqlora-run): data/, model/, report/,\n"
                          "baselines/, model.tar.gz, report.md, summary.json",
                          0),
        {.name = "dry-run",
         .help = "print the plan (each step cached or to run, with its key) and stop",
         .flag = &dry},
        {.name = "print-config",
         .help = "print the effective config (defaults filled, paths absolute) and stop",
         .flag = &print},
        SL_CLI_OPT_DEVICE(&device, "where train and the model's evaluation run: auto (default: the first\n"
                                   "GPU when one is usable, else the CPU with a note), cpu, cuda, cuda:N"),
        SL_CLI_OPT_PRECISION(
            &precision, "fp32 (default), bf16, fp16: the base's GEMMs (CPU: fp32, bf16 with AVX512-BF16)"),
        {0},
    };
    const sl_cli_command cmd = {.name = "run",
                                .header = header,
                                .opts = opts,
                                .width = 19,
                                .footer =
                                    "stdout: the report.md path (--json: summary.json's content; --dry-run: "
                                    "the plan).\n\n",
                                .max_args = 1};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    sl_cli_args_free(&a); /* no step parameters: each stage has its own */
    const sl_cli_common common = a.common;
    sl_err err;
    sl_err_clear(&err);
    const char *config_path = a.first < argc ? argv[a.first] : NULL;
    json_t *config = NULL;
    rc = sl_pipeline_config_load(config_path, &config, &err);
    if (rc) return sl_cli_report(rc, &err);
    if (print) {
        char *s = json_dumps(config, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
        if (s) puts(s);
        free(s);
        json_decref(config);
        return 0;
    }
    json_t *dp = NULL;
    if ((rc = device_params(device, precision, &common, &dp, &err))) {
        json_decref(dp);
        json_decref(config);
        return sl_cli_report(rc, &err);
    }
    rc = sl_fs_mkdirs(outdir, &err);
    char *abs = rc ? NULL : realpath(outdir, NULL);
    if (!rc && !abs) rc = sl_err_errno(&err, SL_EIO, errno, "cannot resolve %s", outdir);
    sl_pipeline p;
    if (!rc) rc = sl_pipeline_build(config, abs, &p, &err);
    json_decref(config);
    free(abs);
    if (!rc && (rc = apply_device(&p, dp, &err))) sl_pipeline_free(&p);
    json_decref(dp);
    if (rc) return sl_cli_report(rc, &err);
    sl_run_opts ropts = {common.store, common.no_cache, sl_cli_threads(&common), common.quiet};
    if (dry) {
        rc = sl_pipeline_plan(&p, &ropts, &err);
        if (!rc) print_plan(&p, stdout);
        sl_pipeline_free(&p);
        return sl_cli_report(rc, &err);
    }
    if (!common.quiet) {
        const char *d = json_string_value(json_object_get(p.config, "description"));
        fprintf(stderr, "seqlora run%s%s\n", d && *d ? ": " : "", d ? d : "");
        fprintf(stderr, "store: %s, outputs: %s, threads: %d\n",
                common.store ? common.store : sl_runner_default_store(), p.outdir, ropts.threads);
        if (p.pretrained)
            fprintf(stderr,
                    "note: the base model is pretrained here (MLM on the reference sequence only): a small "
                    "demo base, not a genome-wide DNABERT\n");
        if (p.random_base)
            fprintf(stderr,
                    "note: the base model is randomly initialised (no pretrained checkpoint given): a weak "
                    "baseline, not the real use\n");
    }
    rc = sl_pipeline_run(&p, &ropts, &err);
    if (!rc) rc = sl_pipeline_report(&p, common.quiet ? NULL : stderr, &err);
    if (!rc) {
        char *md = sl_fs_join(p.outdir, common.json ? "summary.json" : "report.md");
        if (common.json) {
            char *text = NULL;
            size_t len = 0;
            if (md && !sl_fs_read_all(md, &text, &len, &err)) fwrite(text, 1, len, stdout);
            free(text);
        } else if (md) {
            printf("%s\n", md);
        }
        free(md);
    }
    sl_pipeline_free(&p);
    return sl_cli_report(rc, &err);
}
