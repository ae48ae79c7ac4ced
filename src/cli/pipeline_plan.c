/* The stages of a `seqlora run` pipeline, planning and running them (pipeline.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline.h"
#include "runner.h"
#include "steps/step.h"
#include "store/store.h"
#include "util/fs.h"

static sl_pipe_stage *add_stage(sl_pipeline *p, const char *label, const char *step, json_t *params) {
    sl_pipe_stage *n = realloc(p->stages, (p->n + 1) * sizeof *n);
    if (!n) {
        json_decref(params);
        return NULL;
    }
    p->stages = n;
    sl_pipe_stage *s = &p->stages[p->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->label, sizeof s->label, "%s", label);
    s->kind = SL_PIPE_STEP;
    s->step = step;
    s->params = params;
    return s;
}

static void in_path(sl_pipe_stage *s, const char *role, const char *path) {
    s->in[s->n_in++] = (sl_pipe_in){role, strdup(path), -1, NULL};
}

static void in_from(sl_pipe_stage *s, const char *role, size_t from, const char *output) {
    s->in[s->n_in++] = (sl_pipe_in){role, NULL, (int)from, output};
}

static int out_to(sl_pipe_stage *s, const char *name, const char *outdir, const char *rel) {
    char *d = rel ? sl_fs_join(outdir, rel) : NULL;
    if (rel && !d) return SL_ENOMEM;
    s->out[s->n_out++] = (sl_pipe_out){name, d};
    return 0;
}

static const json_t *cfg(const json_t *c, const char *section, const char *key) {
    return json_object_get(json_object_get(c, section), key);
}

static json_t *join_list(const json_t *arr) {
    size_t i, len = 0;
    json_t *x;
    char buf[1024] = "";
    json_array_foreach(arr, i, x) {
        len += (size_t)snprintf(buf + len, len < sizeof buf ? sizeof buf - len : 0, "%s%s", i ? "," : "",
                                json_string_value(x));
    }
    return json_string(buf);
}

int sl_pipeline_build(const json_t *c, const char *outdir, sl_pipeline *p, sl_err *err) {
    memset(p, 0, sizeof *p);
    p->i_kmerize = p->i_split_test = p->i_split_val = p->i_pretrain = p->i_train = p->i_eval_model =
        p->i_package = SIZE_MAX;
    p->config = json_deep_copy(c);
    p->outdir = strdup(outdir);
    if (!p->config || !p->outdir) return sl_err_set(err, SL_ENOMEM, "out of memory");
    const json_t *data = json_object_get(c, "data");
    sl_pipe_stage *s;
#define NEED(x)                                                                                              \
    do {                                                                                                     \
        if (!(x)) return sl_err_set(err, SL_ENOMEM, "out of memory");                                        \
    } while (0)

    const char *mode = json_string_value(json_object_get(data, "mode"));
    if (mode && !strcmp(mode, "sample")) {
        /* sample level: (sexcheck →) (clean →) + clinical → kmerize (per-sample consensus) */
        const char *vcf = json_string_value(json_object_get(data, "vcf"));
        size_t i_sex = SIZE_MAX, i_clean = SIZE_MAX;
        const json_t *sx = json_object_get(c, "sexcheck"), *cl = json_object_get(c, "clean");
        if (json_is_true(json_object_get(sx, "enabled"))) {
            json_t *xp = json_pack("{s:O}", "build", json_object_get(sx, "build"));
            NEED(xp);
            NEED(s = add_stage(p, "sexcheck", "sexcheck", xp));
            in_path(s, "vcf", vcf);
            NEED(!out_to(s, "sexcheck.tsv", outdir, "data/sexcheck.tsv"));
            i_sex = p->n - 1;
        }
        if (json_is_true(json_object_get(cl, "enabled"))) {
            json_t *cp =
                json_pack("{s:O, s:O, s:O}", "min_qual", json_object_get(cl, "min_qual"), "min_dp",
                          json_object_get(cl, "min_dp"), "dp_field", json_object_get(cl, "dp_field"));
            NEED(cp);
            NEED(s = add_stage(p, "clean", "clean", cp));
            in_path(s, "vcf", vcf);
            if (i_sex != SIZE_MAX) in_from(s, "sex_table", i_sex, "sexcheck.tsv");
            NEED(!out_to(s, "clean.vcf.gz", outdir, "data/clean.vcf.gz"));
            i_clean = p->n - 1;
        }
        json_t *lp = json_pack("{s:O, s:O}", "id_column", json_object_get(data, "id_column"), "label_column",
                               json_object_get(data, "label_column"));
        NEED(lp);
        const json_t *labels = json_object_get(data, "labels");
        if (json_is_object(labels)) json_object_set(lp, "map", (json_t *)labels);
        NEED(s = add_stage(p, "clinical", "clinical", lp));
        in_path(s, "tsv", json_string_value(json_object_get(data, "clinical")));
        NEED(!out_to(s, "labels.tsv", outdir, "data/labels.tsv"));
        size_t i_clin = p->n - 1;
        json_t *kp =
            json_pack("{s:s, s:O, s:O, s:O, s:O}", "mode", "sample", "tokens", cfg(c, "kmer", "tokens"), "k",
                      cfg(c, "kmer", "k"), "n_policy", json_object_get(data, "n_policy"), "haplotype",
                      json_object_get(data, "haplotype"));
        NEED(kp);
        if (json_is_string(json_object_get(data, "region")))
            json_object_set(kp, "region", json_object_get(data, "region"));
        if (json_is_string(json_object_get(data, "transcript")))
            json_object_set(kp, "transcript", json_object_get(data, "transcript"));
        NEED(s = add_stage(p, "kmerize", "kmerize", kp));
        if (i_clean != SIZE_MAX)
            in_from(s, "vcf", i_clean, "clean.vcf.gz");
        else
            in_path(s, "vcf", vcf);
        in_path(s, "reference", json_string_value(json_object_get(data, "reference")));
        in_from(s, "labels", i_clin, "labels.tsv");
        if (json_is_string(json_object_get(data, "annotation")))
            in_path(s, "annotation", json_string_value(json_object_get(data, "annotation")));
        if (json_is_string(json_object_get(data, "regions")))
            in_path(s, "bed", json_string_value(json_object_get(data, "regions")));
    } else {
        /* variant level: variants + reference → dataset.tsv */
        json_t *kp = json_pack(
            "{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "mode", "variant", "tokens", cfg(c, "kmer", "tokens"),
            "k", cfg(c, "kmer", "k"), "n_policy", json_object_get(data, "n_policy"), "window",
            json_object_get(data, "window"), "strand", json_object_get(data, "strand"), "label_field",
            json_object_get(data, "label_field"), "group_field", json_object_get(data, "group_field"));
        NEED(kp);
        const json_t *labels = json_object_get(data, "labels");
        if (json_is_object(labels)) json_object_set(kp, "map", (json_t *)labels);
        NEED(s = add_stage(p, "kmerize", "kmerize", kp));
        in_path(s, "vcf", json_string_value(json_object_get(data, "variants")));
        in_path(s, "reference", json_string_value(json_object_get(data, "reference")));
    }
    NEED(!out_to(s, "dataset.tsv", outdir, "data/dataset.tsv"));
    NEED(!out_to(s, "summary.json", outdir, "data/dataset.summary.json"));
    p->i_kmerize = p->n - 1;

    /* split: development (train + validation) vs test, by group */
    const json_t *group = cfg(c, "split", "group_by");
    json_t *sp = json_pack("{s:O, s:O}", "test_fraction", cfg(c, "split", "test_fraction"), "seed",
                           cfg(c, "split", "seed"));
    NEED(sp);
    if (json_is_string(group)) json_object_set(sp, "group_by", (json_t *)group);
    NEED(s = add_stage(p, "split test", "split", sp));
    in_from(s, "dataset", p->i_kmerize, "dataset.tsv");
    NEED(!out_to(s, "train.tsv", outdir, "data/development.tsv"));
    NEED(!out_to(s, "test.tsv", outdir, "data/test.tsv"));
    p->i_split_test = p->n - 1;

    /* split: train vs validation (early stopping, best epoch), by group, within development */
    double vf = json_number_value(cfg(c, "split", "validation_fraction"));
    if (vf > 0) {
        json_t *vp = json_pack("{s:f, s:O}", "test_fraction", vf, "seed", cfg(c, "split", "seed"));
        NEED(vp);
        if (json_is_string(group)) json_object_set(vp, "group_by", (json_t *)group);
        NEED(s = add_stage(p, "split validation", "split", vp));
        in_from(s, "dataset", p->i_split_test, "train.tsv");
        NEED(!out_to(s, "train.tsv", outdir, "data/train.tsv"));
        NEED(!out_to(s, "test.tsv", outdir, "data/validation.tsv"));
        p->i_split_val = p->n - 1;
    }

    /* base model */
    const json_t *base = json_object_get(c, "base");
    size_t i_base = SIZE_MAX;
    const char *base_path = json_string_value(base);
    if (!base_path) {
        const json_t *pre = json_object_get(base, "pretrain");
        const json_t *init = json_object_get(pre ? pre : base, "init");
        json_t *ip = json_deep_copy(init);
        NEED(ip);
        json_object_set(ip, "kmer", (json_t *)cfg(c, "kmer", "k"));
        NEED(s = add_stage(p, "init model", "init_model", ip));
        NEED(!out_to(s, "model", outdir, pre ? "model/init" : "model/base"));
        i_base = p->n - 1;
        p->random_base = 1;
        if (pre) {
            /* MLM pretraining of the initialised model on the reference (or base.pretrain.fasta) */
            json_t *pp = json_pack("{s:O}", "kmer", cfg(c, "kmer", "k"));
            NEED(pp);
            static const char *const keys[] = {"window",
                                               "windows_per_epoch",
                                               "epochs",
                                               "batch_size",
                                               "lr",
                                               "warmup_steps",
                                               "weight_decay",
                                               "mlm_probability",
                                               "max_grad_norm",
                                               "seed",
                                               "checkpoint_every",
                                               NULL};
            for (const char *const *k = keys; *k; k++) json_object_set(pp, *k, json_object_get(pre, *k));
            const char *fa = json_string_value(json_object_get(pre, "fasta"));
            if (!fa) fa = json_string_value(json_object_get(data, "reference"));
            NEED(s = add_stage(p, "pretrain", "pretrain", pp));
            in_path(s, "fasta", fa);
            in_from(s, "init_from", i_base, "model");
            NEED(!out_to(s, "model", outdir, "model/base"));
            NEED(!out_to(s, "metrics.jsonl", outdir, "model/pretrain_metrics.jsonl"));
            i_base = p->i_pretrain = p->n - 1;
            p->random_base = 0;
            p->pretrained = 1;
        }
    }

    /* train */
    const json_t *lora = json_object_get(c, "lora"), *tr = json_object_get(c, "train");
    json_t *tp = json_pack(
        "{s:O, s:O, s:O, s:o, s:b, s:b, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:s, s:s}",
        "lora_r", json_object_get(lora, "r"), "lora_alpha", json_object_get(lora, "alpha"), "lora_dropout",
        json_object_get(lora, "dropout"), "target_modules",
        join_list(json_object_get(lora, "target_modules")), "use_rslora", 0, "train_pooler", 0, "lr",
        json_object_get(tr, "lr"), "weight_decay", json_object_get(tr, "weight_decay"), "max_grad_norm",
        json_object_get(tr, "max_grad_norm"), "epochs", json_object_get(tr, "epochs"), "batch_size",
        json_object_get(tr, "batch_size"), "grad_accum", json_object_get(tr, "grad_accum"), "warmup_steps",
        json_object_get(tr, "warmup_steps"), "max_length", json_object_get(tr, "max_length"), "patience",
        json_object_get(tr, "patience"), "seed", json_object_get(tr, "seed"), "problem_type",
        "single_label_classification", "base_name", "base");
    NEED(tp);
    if (vf > 0) json_object_set(tp, "metric", (json_t *)json_object_get(tr, "metric"));
    if (json_integer_value(json_object_get(tr, "checkpoint_every")) > 0)
        json_object_set(tp, "checkpoint_every", (json_t *)json_object_get(tr, "checkpoint_every"));
    /* the class order: the label map's distinct values, sorted (the positive class of a binary task is the
     * second, as `seqlora train` orders them) */
    NEED(s = add_stage(p, "train", "train", tp));
    if (base_path)
        in_path(s, "base", base_path);
    else
        in_from(s, "base", i_base, "model");
    in_from(s, "train", vf > 0 ? p->i_split_val : p->i_split_test, "train.tsv");
    if (vf > 0) in_from(s, "eval", p->i_split_val, "test.tsv");
    NEED(!out_to(s, "adapter", outdir, "model/adapter"));
    NEED(!out_to(s, "metrics.jsonl", outdir, "model/metrics.jsonl"));
    p->i_train = p->n - 1;

    /* evaluate the model on the held-out test set */
    const json_t *ev = json_object_get(c, "evaluate");
    json_t *ep =
        json_pack("{s:s, s:O, s:O, s:O}", "task", "auto", "bootstrap", json_object_get(ev, "bootstrap"),
                  "ci_level", json_object_get(ev, "ci_level"), "seed", json_object_get(ev, "seed"));
    NEED(ep);
    const json_t *pos = json_object_get(ev, "positive_class");
    if (json_is_string(pos)) json_object_set(ep, "positive_class", (json_t *)pos);
    NEED(s = add_stage(p, "evaluate model", "evaluate", ep));
    if (base_path)
        in_path(s, "base_model", base_path);
    else
        in_from(s, "base_model", i_base, "model");
    in_from(s, "adapter", p->i_train, "adapter");
    in_from(s, "dataset", p->i_split_test, "test.tsv");
    in_from(s, "history", p->i_train, "metrics.jsonl");
    NEED(!out_to(s, "report", outdir, "report/model"));
    p->i_eval_model = p->n - 1;

    /* package: adapter + base (reference or embedded) + the test report → model.tar.gz */
    const json_t *pk = json_object_get(c, "package");
    if (json_is_true(json_object_get(pk, "enabled"))) {
        json_t *pp = json_pack("{s:O, s:s}", "embed_base", json_object_get(pk, "embed_base"), "base_name",
                               base_path       ? base_path
                               : p->pretrained ? "pretrained by seqlora run (MLM on its reference sequence)"
                                               : "init");
        NEED(pp);
        if (!(mode && !strcmp(mode, "sample")))
            json_object_set(pp, "window", json_object_get(data, "window"));
        if (json_is_number(json_object_get(pk, "threshold")))
            json_object_set_new(pp, "threshold",
                                json_real(json_number_value(json_object_get(pk, "threshold"))));
        if (json_is_string(pos)) json_object_set(pp, "positive_class", (json_t *)pos);
        NEED(s = add_stage(p, "package", "package", pp));
        if (base_path)
            in_path(s, "base", base_path);
        else
            in_from(s, "base", i_base, "model");
        in_from(s, "adapter", p->i_train, "adapter");
        in_from(s, "report", p->i_eval_model, "report");
        NEED(!out_to(s, "model.tar.gz", outdir, "model.tar.gz"));
        p->i_package = p->n - 1;
    }

    /* baselines: numeric score columns and a category column, each a predictions table + the same evaluate */
    const json_t *bl = json_object_get(c, "baselines");
    size_t i;
    json_t *x;
    json_t *cols = json_array();
    NEED(cols);
    json_array_foreach(json_object_get(bl, "scores"), i, x) json_array_append(cols, x);
    if (json_is_string(json_object_get(bl, "category")))
        json_array_append(cols, json_object_get(bl, "category"));
    json_array_foreach(cols, i, x) {
        if (p->n_baselines == 8) break;
        const char *col = json_string_value(x);
        int score = i < json_array_size(json_object_get(bl, "scores"));
        char label[48], rel[256];
        snprintf(label, sizeof label, "baseline %s", col);
        NEED(s = add_stage(p, label, NULL, NULL));
        s->kind = SL_PIPE_BASELINE;
        s->baseline_column = strdup(col);
        s->baseline_score = score;
        snprintf(rel, sizeof rel, "baselines/%s.predictions.tsv", col);
        s->baseline_out = sl_fs_join(outdir, rel);
        NEED(s->baseline_column && s->baseline_out);
        size_t i_bl = p->n - 1;
        json_t *bp = json_deep_copy(ep);
        NEED(bp);
        snprintf(label, sizeof label, "evaluate %s", col);
        NEED(s = add_stage(p, label, "evaluate", bp));
        in_path(s, "predictions", p->stages[i_bl].baseline_out);
        snprintf(rel, sizeof rel, "report/%s", col);
        NEED(!out_to(s, "report", outdir, rel));
        p->i_baseline_eval[p->n_baselines] = p->n - 1;
        p->baseline_names[p->n_baselines++] = strdup(col);
    }
    json_decref(cols);
    for (size_t k = 0; k < p->n; k++)
        for (size_t j = 0; j < p->stages[k].n_in; j++)
            if (p->stages[k].in[j].from < 0 && !p->stages[k].in[j].path)
                return sl_err_set(err, SL_ENOMEM, "out of memory");
    return 0;
#undef NEED
}

void sl_pipeline_free(sl_pipeline *p) {
    for (size_t k = 0; k < p->n; k++) {
        sl_pipe_stage *s = &p->stages[k];
        json_decref(s->params);
        json_decref(s->record);
        for (size_t j = 0; j < s->n_in; j++) free(s->in[j].path);
        for (size_t j = 0; j < s->n_out; j++) free(s->out[j].dest);
        free(s->baseline_column);
        free(s->baseline_out);
    }
    for (size_t k = 0; k < p->n_baselines; k++) free(p->baseline_names[k]);
    free(p->stages);
    json_decref(p->config);
    free(p->outdir);
    memset(p, 0, sizeof *p);
}

/* The runner inputs of stage k: paths as given, earlier outputs as sha256: references. Returns 1 when all
 * are known, 0 when an earlier stage has not produced its output yet. refs[] holds the reference strings. */
static int stage_inputs(const sl_pipeline *p, const sl_pipe_stage *s, sl_run_input *in, char refs[][72]) {
    for (size_t j = 0; j < s->n_in; j++) {
        in[j].role = s->in[j].role;
        if (s->in[j].from < 0) {
            in[j].path = s->in[j].path;
            continue;
        }
        const json_t *rec = p->stages[s->in[j].from].record;
        const char *d = rec ? sl_runner_output_digest(rec, s->in[j].output) : NULL;
        if (!d) return 0;
        snprintf(refs[j], 72, "sha256:%s", d);
        in[j].path = refs[j];
    }
    return 1;
}

/* A baseline stage is "known" once its source stages are; it is cheap and always recomputed. */
static int baseline_ready(const sl_pipeline *p) {
    return p->stages[p->i_split_test].record != NULL;
}

static int write_baseline(sl_pipeline *p, sl_pipe_stage *s, const char *dev, const char *test,
                          const char *out, sl_err *err);

/* For a dry run: the development and test splits from the store into `dir` (when the split is cached). */
static int plan_splits(const sl_pipeline *p, const sl_run_opts *opts, const char *dir, char **dev,
                       char **test, sl_err *err) {
    const json_t *rec = p->stages[p->i_split_test].record;
    const char *d1 = sl_runner_output_digest(rec, "train.tsv"),
               *d2 = sl_runner_output_digest(rec, "test.tsv");
    if (!d1 || !d2) return sl_err_set(err, SL_EINTERNAL, "the split record has no train.tsv/test.tsv");
    sl_store *st = NULL;
    int rc = sl_store_open(opts->store_dir ? opts->store_dir : sl_runner_default_store(), &st, err);
    *dev = sl_fs_join(dir, "development.tsv");
    *test = sl_fs_join(dir, "test.tsv");
    if (!rc && (!*dev || !*test)) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc) rc = sl_store_materialise_file(st, d1, *dev, err);
    if (!rc) rc = sl_store_materialise_file(st, d2, *test, err);
    sl_store_close(st);
    return rc;
}

int sl_pipeline_plan(sl_pipeline *p, const sl_run_opts *opts, sl_err *err) {
    char *tmp = NULL, *dev = NULL, *test = NULL, *table = NULL;
    int rc = 0;
    for (size_t k = 0; !rc && k < p->n; k++) {
        sl_pipe_stage *s = &p->stages[k];
        s->state = 0;
        if (s->kind == SL_PIPE_BASELINE) {
            /* the baseline table is computed here, in a temporary folder, when the split is known */
            free(table);
            table = NULL;
            if (!baseline_ready(p)) continue;
            if (!tmp) {
                const char *t = getenv("TMPDIR");
                rc = sl_fs_mkdtemp(t && *t ? t : "/tmp", "seqlora-plan-", &tmp, err);
                if (!rc) rc = plan_splits(p, opts, tmp, &dev, &test, err);
                if (rc) break;
            }
            char name[300];
            snprintf(name, sizeof name, "%s.predictions.tsv", s->baseline_column);
            table = sl_fs_join(tmp, name);
            if (!table) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                break;
            }
            rc = write_baseline(p, s, dev, test, table, err);
            if (rc) {
                rc = sl_err_prefix(err, "stage '%s'", s->label);
                break;
            }
            if (s->state == 4) { /* not applicable (a score baseline of a multi-class task) */
                p->stages[k + 1].state = 4;
                k++;
            } else {
                s->state = 2;
            }
            continue;
        }
        const sl_step *step = sl_step_find(s->step);
        if (!step) {
            rc = sl_err_set(err, SL_EINTERNAL, "stage '%s': this build has no step '%s'", s->label, s->step);
            break;
        }
        sl_run_input in[SL_PIPE_MAX_IN];
        char refs[SL_PIPE_MAX_IN][72];
        int known = stage_inputs(p, s, in, refs);
        if (s->n_in &&
            !strcmp(s->in[0].role, "predictions")) { /* a baseline's table: the one just computed */
            known = table != NULL;
            in[0].path = table;
        }
        if (!known) continue;
        sl_run_plan plan;
        rc = sl_runner_plan(step, s->params, in, s->n_in, opts, &plan, err);
        if (rc) {
            rc = sl_err_prefix(err, "stage '%s'", s->label);
            break;
        }
        memcpy(s->key, plan.key, sizeof s->key);
        s->state = plan.cached ? 1 : 2;
        json_decref(s->record);
        s->record = plan.record;
    }
    if (tmp) {
        sl_err e2;
        sl_fs_remove_tree(tmp, &e2);
    }
    free(tmp);
    free(dev);
    free(test);
    free(table);
    return rc;
}

/* Labels of the task (sorted distinct labels of the development set) for the baselines. */
static int write_baseline(sl_pipeline *p, sl_pipe_stage *s, const char *dev, const char *test,
                          const char *out, sl_err *err) {
    char **labels = NULL;
    size_t n = 0;
    int rc = sl_pipeline_dataset_labels(dev, &labels, &n, err);
    if (rc) return rc;
    char *dir = sl_fs_dirname(out);
    rc = dir ? sl_fs_mkdirs(dir, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    free(dir);
    if (!rc && s->baseline_score) {
        if (n != 2) {
            fprintf(
                stderr,
                "seqlora: note: baseline %s: a score baseline needs a binary task, the data has %zu classes: "
                "skipped\n",
                s->baseline_column, n);
            s->state = 4;
        } else {
            const json_t *pos = json_object_get(json_object_get(p->config, "evaluate"), "positive_class");
            const char *cls[2] = {labels[0], labels[1]};
            if (json_is_string(pos) && !strcmp(json_string_value(pos), labels[0])) {
                cls[0] = labels[1];
                cls[1] = labels[0];
            }
            size_t dropped = 0;
            rc = sl_pipeline_score_baseline(test, s->baseline_column, cls, out, &dropped, err);
            if (!rc && dropped)
                fprintf(stderr, "seqlora: note: baseline %s: %zu test rows without a value were left out\n",
                        s->baseline_column, dropped);
        }
    } else if (!rc) {
        rc = sl_pipeline_category_baseline(dev, test, s->baseline_column, (const char *const *)labels, n, out,
                                           err);
    }
    for (size_t i = 0; i < n; i++) free(labels[i]);
    free(labels);
    return rc;
}

static int run_baseline(sl_pipeline *p, sl_pipe_stage *s, sl_err *err) {
    return write_baseline(p, s, p->stages[p->i_split_test].out[0].dest,
                          p->stages[p->i_split_test].out[1].dest, s->baseline_out, err);
}

int sl_pipeline_run(sl_pipeline *p, const sl_run_opts *opts, sl_err *err) {
    size_t width = 0;
    for (size_t k = 0; k < p->n; k++)
        if (strlen(p->stages[k].label) > width) width = strlen(p->stages[k].label);
    for (size_t k = 0; k < p->n; k++) {
        sl_pipe_stage *s = &p->stages[k];
        int rc;
        if (s->kind == SL_PIPE_BASELINE) {
            double t0 = 0;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            t0 = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
            rc = run_baseline(p, s, err);
            if (rc) return sl_err_prefix(err, "stage '%s'", s->label);
            if (s->state == 4) { /* skipped, and its evaluation with it */
                p->stages[k + 1].state = 4;
                if (!opts->quiet)
                    fprintf(stderr, "  %-*s  skipped\n  %-*s  skipped\n", (int)width, s->label, (int)width,
                            p->stages[k + 1].label);
                k++;
                continue;
            }
            clock_gettime(CLOCK_MONOTONIC, &ts);
            s->seconds = (double)ts.tv_sec + ts.tv_nsec * 1e-9 - t0;
            s->state = 3;
            if (!opts->quiet)
                fprintf(stderr, "  %-*s  %-6s  %7.1f s  %s\n", (int)width, s->label, "wrote", s->seconds,
                        s->baseline_out);
            continue;
        }
        const sl_step *step = sl_step_find(s->step);
        if (!step)
            return sl_err_set(err, SL_EINTERNAL, "stage '%s': this build has no step '%s'", s->label,
                              s->step);
        sl_run_input in[SL_PIPE_MAX_IN];
        char refs[SL_PIPE_MAX_IN][72];
        if (!stage_inputs(p, s, in, refs))
            return sl_err_set(err, SL_EINTERNAL, "stage '%s': an input has not been produced", s->label);
        sl_run_output out[SL_PIPE_MAX_OUT];
        for (size_t j = 0; j < s->n_out; j++) {
            out[j] = (sl_run_output){s->out[j].name, s->out[j].dest};
            if (s->out[j].dest) {
                char *dir = sl_fs_dirname(s->out[j].dest);
                rc = dir ? sl_fs_mkdirs(dir, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
                free(dir);
                if (rc) return rc;
            }
        }
        sl_run_opts o = *opts;
        o.quiet = 1;
        sl_run_result res;
        rc = sl_runner_run(step, s->params, in, s->n_in, out, s->n_out, &o, &res, err);
        if (rc) {
            if (!opts->quiet) fprintf(stderr, "  %-*s  failed\n", (int)width, s->label);
            return sl_err_prefix(err, "stage '%s'", s->label);
        }
        memcpy(s->key, res.key, sizeof s->key);
        s->seconds = res.seconds;
        s->state = res.cached ? 1 : 3;
        json_decref(s->record);
        s->record = res.record;
        if (!opts->quiet)
            fprintf(stderr, "  %-*s  %-6s  %7.1f s  %.12s\n", (int)width, s->label,
                    res.cached ? "cached" : "ran", s->seconds, s->key);
    }
    return 0;
}
