/* The end of `seqlora run`: summary.json, report.md and a short summary for people (pipeline.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bio/tsv.h"
#include "pipeline.h"
#include "util/fs.h"
#include "util/json.h"

/* Rows per label and distinct values of `group` (NULL = none) of a dataset TSV, as a JSON object
 * {"rows": n, "labels": {label: n}, "groups": [...]} (a new reference), or NULL with err set. */
static json_t *dataset_counts(const char *path, const char *group, sl_err *err) {
    sl_bio_tsv *r = NULL;
    if (sl_bio_tsv_open(path, &r, err)) return NULL;
    json_t *labels = json_object(), *groups = json_object();
    long long rows = 0;
    int rc = sl_bio_tsv_next(r, err);
    int li = rc == 1 ? sl_bio_tsv_find(r, "label") : -1,
        gi = rc == 1 && group ? sl_bio_tsv_find(r, group) : -1;
    if (rc == 1 && li < 0) rc = sl_err_set(err, SL_EDATA, "%s:1: no 'label' column", path);
    while (rc == 1 && (rc = sl_bio_tsv_next(r, err)) == 1) {
        if ((size_t)li >= r->nfields || (gi >= 0 && (size_t)gi >= r->nfields)) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: too few fields", path, r->lineno);
            break;
        }
        rows++;
        const char *l = r->fields[li];
        json_object_set_new(labels, l, json_integer(json_integer_value(json_object_get(labels, l)) + 1));
        if (gi >= 0) json_object_set_new(groups, r->fields[gi], json_true());
    }
    sl_bio_tsv_close(r);
    if (rc < 0) {
        json_decref(labels);
        json_decref(groups);
        return NULL;
    }
    json_t *g = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(groups, k, v) json_array_append_new(g, json_string(k));
    json_decref(groups);
    return json_pack("{s:I, s:o, s:o}", "rows", (json_int_t)rows, "labels", labels, "groups", g);
}

static json_t *load_metrics(const sl_pipeline *p, size_t stage) {
    if (stage == SIZE_MAX || stage >= p->n || !p->stages[stage].out[0].dest) return NULL;
    if (p->stages[stage].state != 1 && p->stages[stage].state != 3) return NULL; /* skipped or not run */
    char *path = sl_fs_join(p->stages[stage].out[0].dest, "metrics.json");
    sl_err e;
    json_t *m = path ? sl_json_load_file(path, &e) : NULL;
    free(path);
    return m;
}

static void fmt_metric(const json_t *m, const char *name, char *buf, size_t n) {
    const json_t *v = json_object_get(json_object_get(m, "metrics"), name);
    const json_t *ci = json_object_get(json_object_get(json_object_get(m, "bootstrap"), "intervals"), name);
    if (!json_is_number(v)) {
        snprintf(buf, n, "n/a");
        return;
    }
    if (json_is_number(json_object_get(ci, "lower")))
        snprintf(buf, n, "%.3f [%.3f, %.3f]", json_number_value(v),
                 json_number_value(json_object_get(ci, "lower")),
                 json_number_value(json_object_get(ci, "upper")));
    else
        snprintf(buf, n, "%.3f", json_number_value(v));
}

static const char *headline(const json_t *m) {
    const char *task = json_string_value(json_object_get(m, "task"));
    if (task && !strcmp(task, "binary")) return "roc_auc";
    return "roc_auc_ovr_macro";
}

static const char *second(const json_t *m) {
    const char *task = json_string_value(json_object_get(m, "task"));
    if (task && !strcmp(task, "binary")) return "average_precision";
    return "f1_macro";
}

/* A path relative to the output folder (for links in report.md). */
static const char *rel(const sl_pipeline *p, const char *path) {
    size_t n = strlen(p->outdir);
    return !strncmp(path, p->outdir, n) && path[n] == '/' ? path + n + 1 : path;
}

int sl_pipeline_report(const sl_pipeline *p, FILE *out, sl_err *err) {
    const json_t *c = p->config;
    const char *group = json_string_value(json_object_get(json_object_get(c, "split"), "group_by"));
    json_t *sum = json_object();
    json_object_set(sum, "config", (json_t *)c);
    /* data */
    json_t *data = json_object();
    /* the files this run materialised (never a stale file of an earlier run in the same folder) */
    const char *sets[5][2] = {
        {"dataset", NULL}, {"train", NULL}, {"validation", NULL}, {"test", NULL}, {"development", NULL}};
    if (p->i_kmerize != SIZE_MAX) sets[0][1] = p->stages[p->i_kmerize].out[0].dest;
    if (p->i_split_test != SIZE_MAX) {
        sets[4][1] = p->stages[p->i_split_test].out[0].dest;
        sets[3][1] = p->stages[p->i_split_test].out[1].dest;
        sets[1][1] = sets[4][1];
    }
    if (p->i_split_val != SIZE_MAX) {
        sets[1][1] = p->stages[p->i_split_val].out[0].dest;
        sets[2][1] = p->stages[p->i_split_val].out[1].dest;
    }
    for (size_t i = 0; i < 5; i++) {
        if (!sets[i][1] || !sl_fs_is_file(sets[i][1])) continue;
        json_t *cnt = dataset_counts(sets[i][1], group, err);
        if (!cnt) {
            json_decref(data);
            json_decref(sum);
            return SL_EDATA;
        }
        json_object_set_new(data, sets[i][0], cnt);
    }
    json_object_set_new(sum, "data", data);
    /* steps */
    json_t *steps = json_array();
    for (size_t k = 0; k < p->n; k++) {
        const sl_pipe_stage *s = &p->stages[k];
        json_t *o = json_pack("{s:s, s:s, s:f}", "stage", s->label, "status",
                              s->state == 1   ? "cached"
                              : s->state == 3 ? (s->kind == SL_PIPE_BASELINE ? "wrote" : "ran")
                              : s->state == 4 ? "skipped"
                                              : "planned",
                              "seconds", s->seconds);
        if (s->kind == SL_PIPE_STEP && s->key[0]) json_object_set_new(o, "key", json_string(s->key));
        if (s->record && json_object_get(s->record, "summary"))
            json_object_set(o, "summary", json_object_get(s->record, "summary"));
        json_array_append_new(steps, o);
    }
    json_object_set_new(sum, "steps", steps);
    const json_t *trs = p->i_train != SIZE_MAX && p->stages[p->i_train].record
                            ? json_object_get(p->stages[p->i_train].record, "summary")
                            : NULL;
    /* metrics */
    json_t *results = json_array();
    json_t *mm = load_metrics(p, p->i_eval_model);
    const char *base = json_string_value(json_object_get(c, "base"));
    char model_name[256];
    if (p->random_base) {
        const json_t *in = json_object_get(json_object_get(c, "base"), "init");
        snprintf(model_name, sizeof model_name,
                 "LoRA on a randomly initialised BERT (%lld layer%s, hidden %lld)",
                 json_integer_value(json_object_get(in, "num_hidden_layers")),
                 json_integer_value(json_object_get(in, "num_hidden_layers")) == 1 ? "" : "s",
                 json_integer_value(json_object_get(in, "hidden_size")));
    } else if (p->pretrained) {
        const json_t *in = json_object_get(json_object_get(json_object_get(c, "base"), "pretrain"), "init");
        snprintf(model_name, sizeof model_name,
                 "LoRA on a BERT pretrained here (MLM, %lld layer%s, hidden %lld)",
                 json_integer_value(json_object_get(in, "num_hidden_layers")),
                 json_integer_value(json_object_get(in, "num_hidden_layers")) == 1 ? "" : "s",
                 json_integer_value(json_object_get(in, "hidden_size")));
    } else {
        snprintf(model_name, sizeof model_name, "LoRA on %s", base ? base : "?");
    }
    /* the pretraining step's summary (base.pretrain) */
    const json_t *prs = p->i_pretrain != SIZE_MAX && p->stages[p->i_pretrain].record
                            ? json_object_get(p->stages[p->i_pretrain].record, "summary")
                            : NULL;
    json_t *ms[9];
    const char *names[9];
    const char *dirs[9];
    size_t nm = 0;
    ms[nm] = mm;
    names[nm] = model_name;
    dirs[nm++] = p->i_eval_model != SIZE_MAX ? p->stages[p->i_eval_model].out[0].dest : NULL;
    for (size_t b = 0; b < p->n_baselines; b++) {
        ms[nm] = load_metrics(p, p->i_baseline_eval[b]);
        names[nm] = p->baseline_names[b];
        dirs[nm++] = p->stages[p->i_baseline_eval[b]].out[0].dest;
    }
    for (size_t i = 0; i < nm; i++) {
        if (!ms[i]) continue;
        json_array_append_new(results,
                              json_pack("{s:s, s:s, s:O, s:O, s:O}", "name", names[i], "report",
                                        dirs[i] ? dirs[i] : "", "metrics", json_object_get(ms[i], "metrics"),
                                        "n", json_object_get(ms[i], "n"), "bootstrap",
                                        json_object_get(ms[i], "bootstrap")));
    }
    json_object_set_new(sum, "results", results);
    json_object_set_new(sum, "random_base", json_boolean(p->random_base));
    json_object_set_new(sum, "pretrained_base", json_boolean(p->pretrained));
    if (prs) json_object_set(sum, "pretrain", (json_t *)prs);

    /* report.md */
    FILE *md = NULL;
    char *md_path = sl_fs_join(p->outdir, "report.md.tmp"), *md_final = sl_fs_join(p->outdir, "report.md");
    int rc = md_path && md_final ? 0 : sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc && !(md = fopen(md_path, "w"))) rc = sl_err_errno(err, SL_EIO, errno, "cannot write %s", md_path);
    if (!rc) {
        const char *desc = json_string_value(json_object_get(c, "description"));
        fprintf(md, "# seqlora run%s%s\n\n", desc && *desc ? ": " : "", desc ? desc : "");
        if (p->random_base)
            fprintf(
                md,
                "**The base model was randomly initialised** (`base: {\"init\": ...}`): it has never seen "
                "DNA, "
                "so LoRA fine-tunes adapters on top of random features. This shows the pipeline end to end; "
                "a pretrained DNABERT checkpoint (`\"base\": \"path/to/dnabert6\"`) is the real use.\n\n");
        else if (p->pretrained && prs)
            fprintf(
                md,
                "**The base model was pretrained here** (`base: {\"pretrain\": ...}`): a small BERT "
                "initialised by `init_model`, then masked-language-model pretraining (`pretrain`) on `%s`: "
                "%lld steps over %lld epochs of %lld windows, %lld parameters, mean MLM loss %.3f in the "
                "first epoch and %.3f in the last (ln of the vocabulary size is a uniform guess). It has "
                "seen only this sequence, not a genome: a pretrained DNABERT checkpoint "
                "(`\"base\": \"path/to/dnabert6\"`) is the real use.\n\n",
                rel(p, p->stages[p->i_pretrain].in[0].path),
                json_integer_value(json_object_get(prs, "steps")),
                json_integer_value(json_object_get(prs, "epochs")),
                json_integer_value(json_object_get(prs, "windows_per_epoch")),
                json_integer_value(json_object_get(prs, "parameters")),
                json_number_value(json_object_get(prs, "first_epoch_mlm_loss")),
                json_number_value(json_object_get(prs, "last_epoch_mlm_loss")));
        else
            fprintf(md, "Base model: `%s`.\n\n", base ? base : "?");
        fprintf(md, "## Data\n\n| set | rows | per label | %s |\n|---|---|---|---|\n",
                group ? group : "groups");
        const char *key;
        json_t *v;
        json_object_foreach(data, key, v) {
            if (!strcmp(key, "development")) continue;
            fprintf(md, "| %s | %lld | ", key, json_integer_value(json_object_get(v, "rows")));
            const char *lk;
            json_t *lv;
            int first = 1;
            json_object_foreach(json_object_get(v, "labels"), lk, lv) {
                fprintf(md, "%s%s %lld", first ? "" : ", ", lk, json_integer_value(lv));
                first = 0;
            }
            fprintf(md, " | ");
            size_t gi;
            json_t *g;
            size_t ng = json_array_size(json_object_get(v, "groups"));
            if (group && ng <= 12) {
                json_array_foreach(json_object_get(v, "groups"), gi, g)
                    fprintf(md, "%s%s", gi ? " " : "", json_string_value(g));
            } else {
                fprintf(md, "%zu", ng);
            }
            fprintf(md, " |\n");
        }
        if (group)
            fprintf(md,
                    "\nThe split keeps every `%s` on one side: no test group is seen in training or "
                    "validation.\n",
                    group);
        if (mm) {
            const char *h = headline(mm), *s2 = second(mm);
            int lvl =
                (int)(json_number_value(json_object_get(json_object_get(mm, "bootstrap"), "level")) * 100 +
                      0.5);
            fprintf(md,
                    "\n## Test results (held-out set, %d%% bootstrap intervals)\n\n| predictor | %s | %s | "
                    "accuracy | MCC | n |\n|---|---|---|---|---|---|\n",
                    lvl, h, s2);
            for (size_t i = 0; i < nm; i++) {
                if (!ms[i]) continue;
                char a[64], b[64], acc[64], mcc[64];
                fmt_metric(ms[i], h, a, sizeof a);
                fmt_metric(ms[i], s2, b, sizeof b);
                fmt_metric(ms[i], "accuracy", acc, sizeof acc);
                fmt_metric(ms[i], "mcc", mcc, sizeof mcc);
                fprintf(md, "| %s | %s | %s | %s | %s | %lld |\n", names[i], a, b, acc, mcc,
                        json_integer_value(json_object_get(ms[i], "n")));
            }
            fprintf(
                md,
                "\nBaselines: a score column is evaluated through its rank among the test rows (AUROC is the "
                "score's own); a category column predicts each class' rate among the training rows of its "
                "category (Laplace-smoothed). Accuracy and MCC of a score baseline are at its median rank, "
                "not a "
                "tuned cut-off.\n");
            fprintf(md, "\n## Plots\n\n");
            for (size_t i = 0; i < nm; i++) {
                if (!ms[i] || !dirs[i]) continue;
                static const char *const plots[] = {"roc.svg", "pr.svg", "loss.svg", "metrics_history.svg"};
                for (size_t j = 0; j < 4; j++) {
                    char *pp = sl_fs_join(dirs[i], plots[j]);
                    if (pp && sl_fs_is_file(pp))
                        fprintf(md, "- %s: [%s](%s)\n", names[i], plots[j], rel(p, pp));
                    free(pp);
                }
            }
        }
        if (trs)
            fprintf(md, "\n## Training\n\n`%s`; %lld epochs run",
                    json_string_value(json_object_get(trs, "trainable")),
                    json_integer_value(json_object_get(trs, "epochs")));
        if (trs && json_object_get(trs, "best_epoch"))
            fprintf(md, ", best epoch %lld (validation %s %.4f)",
                    json_integer_value(json_object_get(trs, "best_epoch")),
                    json_string_value(json_object_get(json_object_get(c, "train"), "metric")),
                    json_number_value(json_object_get(trs, "best_metric")));
        if (trs) fprintf(md, ".\n");
        if (p->i_package != SIZE_MAX && p->stages[p->i_package].out[0].dest)
            fprintf(md,
                    "\n## Bundle\n\n[`%s`](%s): adapter, tokenizer, task, base reference%s, the test report, "
                    "a model "
                    "card and RO-Crate provenance (`seqlora score --model %s ...` uses it).\n",
                    rel(p, p->stages[p->i_package].out[0].dest), rel(p, p->stages[p->i_package].out[0].dest),
                    json_is_true(json_object_get(json_object_get(c, "package"), "embed_base"))
                        ? " and weights"
                        : "",
                    rel(p, p->stages[p->i_package].out[0].dest));
        fprintf(md, "\n## Steps\n\n| stage | status | seconds | action key |\n|---|---|---|---|\n");
        for (size_t k = 0; k < p->n; k++) {
            const sl_pipe_stage *s = &p->stages[k];
            fprintf(md, "| %s | %s | %.1f | %.12s |\n", s->label,
                    s->state == 1                 ? "cached"
                    : s->kind == SL_PIPE_BASELINE ? "wrote"
                                                  : "ran",
                    s->seconds, s->kind == SL_PIPE_STEP ? s->key : "");
        }
        fprintf(
            md,
            "\n`seqlora store log sha256:<digest>` on any output prints its lineage back to the input files "
            "(`summary.json` lists every step's key).\n");
        if (fclose(md) != 0) rc = sl_err_errno(err, SL_EIO, errno, "cannot write %s", md_path);
        if (!rc && rename(md_path, md_final) != 0)
            rc = sl_err_errno(err, SL_EIO, errno, "cannot write %s", md_final);
    }
    if (!rc) {
        char *sp = sl_fs_join(p->outdir, "summary.json");
        rc = sp ? sl_json_write_file(sp, sum, 1, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
        free(sp);
    }
    /* the text summary */
    if (!rc && out) {
        json_t *ds = json_object_get(data, "dataset");
        if (ds) {
            fprintf(out, "\ndata: %lld examples", json_integer_value(json_object_get(ds, "rows")));
            const char *sets2[] = {"train", "validation", "test"};
            for (size_t i = 0; i < 3; i++) {
                json_t *x = json_object_get(data, sets2[i]);
                if (x) fprintf(out, ", %s %lld", sets2[i], json_integer_value(json_object_get(x, "rows")));
            }
            fprintf(out, "\n");
        }
        if (prs)
            fprintf(out, "pretrain: %lld steps, MLM loss %.3f (first epoch) -> %.3f (last epoch)\n",
                    json_integer_value(json_object_get(prs, "steps")),
                    json_number_value(json_object_get(prs, "first_epoch_mlm_loss")),
                    json_number_value(json_object_get(prs, "last_epoch_mlm_loss")));
        if (trs)
            fprintf(out, "model: %s%s\n", json_string_value(json_object_get(trs, "trainable")),
                    p->random_base  ? " (base randomly initialised: see report.md)"
                    : p->pretrained ? " (base pretrained here on the reference: see report.md)"
                                    : "");
        if (mm) {
            const char *h = headline(mm);
            for (size_t i = 0; i < nm; i++) {
                if (!ms[i]) continue;
                char a[64];
                fmt_metric(ms[i], h, a, sizeof a);
                fprintf(out, "test %s %-9s %s\n", h, a, names[i]);
            }
        }
        if (p->i_package != SIZE_MAX && p->stages[p->i_package].out[0].dest)
            fprintf(out, "bundle: %s\n", p->stages[p->i_package].out[0].dest);
        fprintf(out, "outputs: %s (report.md, summary.json, model/adapter, report/)\n", p->outdir);
    }
    for (size_t i = 0; i < nm; i++) json_decref(ms[i]);
    if (rc && md_path) remove(md_path);
    free(md_path);
    free(md_final);
    json_decref(sum);
    return rc;
}
