/* The `package` step: a trained adapter and its base model → one deployable, verifiable model bundle
 * (MODEL.tar.gz, see nn/bundle.h and nn/bundle_model.h):
 *
 *   bundle.json                the task (labels, positive class, threshold, max length), tokenizer settings
 *                              (kind, k, files), windowing, the base-model reference (name, family, SHA-256
 *                              of each file)
 *   adapter/                   the PEFT adapter as trained (adapter_config.json, adapter_model.safetensors,
 *                              seqlora_head.json)
 *   tokenizer/                 the base model's tokenizer files
 *   base/                      config.json + the weights: model.safetensors, pytorch_model.bin or a sharded
 *                              checkpoint (only with embed_base)
 *   merged/                    a plain Hugging Face checkpoint with the LoRA deltas folded in (only with
 * merged) report/                    metrics.json and the SVG plots of `seqlora evaluate` (when given)
 *   MODEL_CARD.md              intended use, data, metrics with confidence intervals, limitations
 *   ro-crate-metadata.json     RO-Crate 1.1 provenance: every file with its SHA-256, the inputs, the action
 *   SHA256SUMS                 checked on load
 *
 * Inputs:  base (dir), adapter (dir), report (dir, optional), metrics (file, optional: a metrics.json).
 * Output:  model.tar.gz — its bytes depend only on the inputs and parameters.
 * Params:  threshold (0.7), positive_class (default the second class), embed_base (false), merged (false),
 *          kmer (0 = detect from the vocabulary, -1 = none), window, stride (0 = defaults), base_name. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_info.h"
#include "nn/bundle.h"
#include "nn/bundle_model.h"
#include "nn/infer.h"
#include "nn/merge.h"
#include "step.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

typedef struct {
    sl_nn_bundle_entry *e;
    char **owned; /* names and paths we allocated */
    size_t n, cap, n_owned, cap_owned;
} entries;

static char *own(entries *l, char *s) {
    if (!s) return NULL;
    if (l->n_owned == l->cap_owned) {
        size_t nc = l->cap_owned ? l->cap_owned * 2 : 64;
        char **o = realloc(l->owned, nc * sizeof(*o));
        if (!o) {
            free(s);
            return NULL;
        }
        l->owned = o;
        l->cap_owned = nc;
    }
    return l->owned[l->n_owned++] = s;
}

static int add_entry(entries *l, const char *name, const char *path, sl_err *err) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        sl_nn_bundle_entry *e = realloc(l->e, nc * sizeof(*e));
        if (!e) return sl_err_set(err, SL_ENOMEM, "out of memory");
        l->e = e;
        l->cap = nc;
    }
    const char *n = own(l, strdup(name)), *p = own(l, strdup(path));
    if (!n || !p) return sl_err_set(err, SL_ENOMEM, "out of memory");
    l->e[l->n++] = (sl_nn_bundle_entry){n, p};
    return 0;
}

static void entries_free(entries *l) {
    for (size_t i = 0; i < l->n_owned; i++) free(l->owned[i]);
    free(l->owned);
    free(l->e);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file directly in `dir` as "<prefix>/<name>" (sub-directories are not followed). */
static int add_dir(entries *l, const char *dir, const char *prefix, sl_err *err) {
    DIR *d = opendir(dir);
    if (!d) return sl_err_errno(err, SL_EIO, errno, "%s: cannot read the directory", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *p = sl_fs_join(dir, de->d_name);
        if (!p) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        int file = sl_fs_is_file(p);
        free(p);
        if (!file) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (!rc) qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; !rc && i < n; i++) {
        char name[600], *p = sl_fs_join(dir, names[i]);
        snprintf(name, sizeof name, "%s/%s", prefix, names[i]);
        rc = p ? add_entry(l, name, p, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
        free(p);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

static int file_hex(const char *path, char hex[SL_SHA256_HEX_LEN + 1], uint64_t *size, sl_err *err) {
    uint8_t d[SL_SHA256_LEN];
    int rc = sl_sha256_file(path, d, size, err);
    if (!rc) sl_sha256_to_hex(d, hex);
    return rc;
}

/* ---- the model card ------------------------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static int sb(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return -1;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
        size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *np = realloc(b->p, nc);
        if (!np) return -1;
        b->p = np;
        b->cap = nc;
    }
}

static void card_metrics(sbuf *b, const json_t *metrics) {
    const json_t *mt = json_object_get(metrics, "metrics");
    const json_t *iv = json_object_get(json_object_get(metrics, "bootstrap"), "intervals");
    const json_t *bs = json_object_get(metrics, "bootstrap");
    if (!json_is_object(mt)) {
        sb(b, "The metrics file given has no `metrics` object.\n\n");
        return;
    }
    const char *task = json_string_value(json_object_get(metrics, "task"));
    json_int_t n = json_integer_value(json_object_get(metrics, "n"));
    sb(b, "Evaluated by `seqlora evaluate` on %lld held-out examples (task: %s).", (long long)n,
       task ? task : "?");
    if (json_is_object(bs))
        sb(b, " Intervals: %g%% %s bootstrap, %lld resamples, stratified by %s.",
           100 * json_number_value(json_object_get(bs, "level")),
           json_string_value(json_object_get(bs, "method")) ? json_string_value(json_object_get(bs, "method"))
                                                            : "",
           (long long)json_integer_value(json_object_get(bs, "resamples")),
           json_string_value(json_object_get(bs, "stratified_by"))
               ? json_string_value(json_object_get(bs, "stratified_by"))
               : "-");
    sb(b, "\n\n| metric | value | CI lower | CI upper |\n|---|---|---|---|\n");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)mt, k, v) {
        if (!json_is_number(v)) {
            sb(b, "| %s | undefined | | |\n", k);
            continue;
        }
        const json_t *ci = json_object_get(iv, k);
        if (json_is_object(ci))
            sb(b, "| %s | %.4f | %.4f | %.4f |\n", k, json_number_value(v),
               json_number_value(json_object_get(ci, "lower")),
               json_number_value(json_object_get(ci, "upper")));
        else
            sb(b, "| %s | %.4f | | |\n", k, json_number_value(v));
    }
    sb(b, "\n");
}

static char *model_card(const json_t *meta, const json_t *metrics) {
    sbuf b = {0};
    const json_t *task = json_object_get(meta, "task"), *base = json_object_get(meta, "base"),
                 *lora = json_object_get(meta, "lora");
    const char *bname = json_string_value(json_object_get(base, "name"));
    size_t ai;
    sb(&b, "# Model card: seqlora LoRA classifier\n\n");
    sb(&b, "## Intended use\n\nResearch use only, **not a diagnostic**. The model scores DNA sequences for "
           "the task it "
           "was fine-tuned on (below); its outputs are not validated for clinical decisions and must not be "
           "used to "
           "diagnose, treat or counsel anyone.\n\n");
    sb(&b, "## Model\n\n- base model: %s\n", bname && *bname ? bname : "(unnamed; see the SHA-256 below)");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(base, "files"), k, v)
        sb(&b, "  - `%s` SHA-256 `%s`\n", k, json_string_value(v));
    sb(&b, "- base weights embedded: %s\n", json_is_true(json_object_get(base, "embedded")) ? "yes" : "no");
    sb(&b, "- LoRA: r = %lld, alpha = %g, target modules: %s\n",
       (long long)json_integer_value(json_object_get(lora, "r")),
       json_number_value(json_object_get(lora, "alpha")),
       json_string_value(json_object_get(lora, "target_modules"))
           ? json_string_value(json_object_get(lora, "target_modules"))
           : "");
    sb(&b, "- merged checkpoint included: %s\n",
       json_is_string(json_object_get(meta, "merged")) ? "yes (`merged/`)" : "no");
    sb(&b, "- problem type: %s; classes:", json_string_value(json_object_get(task, "problem_type")));
    json_array_foreach(json_object_get(task, "labels"), ai, v) sb(&b, " `%s`", json_string_value(v));
    const char *pos = json_string_value(json_object_get(task, "positive_class"));
    sb(&b,
       "\n- decision: positive class `%s` when its probability is above %g (\"High risk\"), else \"Low "
       "risk\"\n",
       pos ? pos : "-", json_number_value(json_object_get(task, "threshold")));
    const json_t *tok = json_object_get(meta, "tokenizer");
    const char *kind = json_string_value(json_object_get(tok, "kind"));
    long long kmer = (long long)json_integer_value(json_object_get(tok, "kmer"));
    char how[160];
    const char *input = json_string_value(json_object_get(tok, "input"));
    int protein = input && !strcmp(input, "protein");
    if (protein)
        snprintf(how, sizeof how, "tokenised by the model's ESM tokenizer (one token per residue)");
    else if (kmer > 0)
        snprintf(how, sizeof how, "tokenised as overlapping %lld-mers", kmer);
    else if (kind && !strcmp(kind, "esm"))
        snprintf(how, sizeof how,
                 "the bases as they are, tokenised by the model's ESM tokenizer "
                 "(non-overlapping 6-mers from the left, single-base fallback)");
    else if (kind && !strcmp(kind, "bpe"))
        snprintf(how, sizeof how, "the bases as they are, tokenised by the model's BPE tokenizer");
    else
        snprintf(how, sizeof how, "the bases as they are, one token per character");
    sb(&b,
       "- base model family: %s\n- input: %s; %s, at most %lld tokens per window; longer sequences are "
       "scored in windows of %lld %s every %lld and the probabilities averaged\n\n",
       json_string_value(json_object_get(base, "family")) ? json_string_value(json_object_get(base, "family"))
                                                          : "bert",
       protein ? "protein (one-letter residues, upper-cased)" : "DNA (A, C, G, T, N; upper-cased)", how,
       (long long)json_integer_value(json_object_get(task, "max_length")),
       (long long)json_integer_value(json_object_get(json_object_get(meta, "inference"), "window")),
       protein ? "residues" : "bases",
       (long long)json_integer_value(json_object_get(json_object_get(meta, "inference"), "stride")));
    sb(&b, "## Data\n\nThe training and evaluation data are those of the `train` and `evaluate` actions "
           "whose outputs "
           "went into this bundle; `seqlora store log` / `seqlora store prov` on the adapter give their full "
           "lineage "
           "(sources, filters, splits). ");
    if (metrics) {
        const json_t *cl = json_object_get(metrics, "classes");
        if (json_is_array(cl)) {
            sb(&b, "Evaluation classes:");
            json_array_foreach(cl, ai, v) sb(&b, " `%s`", json_string_value(v));
            sb(&b, ".");
        }
    }
    sb(&b, "\n\n## Metrics\n\n");
    if (metrics)
        card_metrics(&b, metrics);
    else
        sb(&b, "No evaluation report was packaged: this model is **unvalidated**.\n\n");
    sb(&b, "## Limitations\n\n"
           "- Research use, not a diagnostic. Performance outside the population, sequencing technology, "
           "genome build "
           "and region of the training data is unknown.\n"
           "- Small case/control cohorts give wide confidence intervals; the intervals above are for the "
           "evaluation set "
           "only.\n"
           "- Probabilities are not calibrated unless the report says so; the threshold is a policy choice.\n"
           "- Sequences longer than one window are scored as the mean over overlapping windows, which the "
           "model never "
           "saw during training.\n\n");
    sb(&b, "Packaged by seqlora %s.\n", SEQLORA_VERSION);
    return b.p;
}

/* ---- RO-Crate ---------------------------------------------------------------------------------- */

static json_t *ro_crate(const entries *l, const json_t *meta, sl_err *err) {
    json_t *graph = json_array(), *parts = json_array();
    json_array_append_new(graph, json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "@id", "ro-crate-metadata.json",
                                           "@type", "CreativeWork", "conformsTo", "@id",
                                           "https://w3id.org/ro/crate/1.1", "about", "@id", "./"));
    json_t *files = json_array(), *objects = json_array();
    for (size_t i = 0; i < l->n; i++) {
        char hex[SL_SHA256_HEX_LEN + 1];
        uint64_t size = 0;
        if (file_hex(l->e[i].path, hex, &size, err)) {
            json_decref(graph);
            json_decref(parts);
            json_decref(files);
            json_decref(objects);
            return NULL;
        }
        json_array_append_new(parts, json_pack("{s:s}", "@id", l->e[i].name));
        json_array_append_new(files, json_pack("{s:s,s:s,s:s,s:s}", "@id", l->e[i].name, "@type", "File",
                                               "sha256", hex, "contentSize", ""));
        char sz[32];
        snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
        json_object_set_new(json_array_get(files, json_array_size(files) - 1), "contentSize",
                            json_string(sz));
    }
    const json_t *base = json_object_get(meta, "base");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(base, "files"), k, v) {
        char id[300];
        snprintf(id, sizeof id, "#base-model/%s", k);
        json_array_append_new(objects, json_pack("{s:s}", "@id", id));
        json_array_append_new(
            files, json_pack("{s:s,s:s,s:s,s:O}", "@id", id, "@type", "File", "name", k, "sha256", v));
    }
    json_array_append_new(objects, json_pack("{s:s}", "@id", "adapter/adapter_model.safetensors"));
    const char *bname = json_string_value(json_object_get(base, "name"));
    json_array_append_new(
        graph, json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:s}}", "@id", "./", "@type", "Dataset", "name",
                         "seqlora model bundle", "description",
                         "A LoRA-fine-tuned sequence classifier for research use, not a diagnostic.",
                         "hasPart", parts, "mentions", "@id", "#package"));
    json_array_append_new(graph, json_pack("{s:s,s:s,s:s,s:{s:s},s:o,s:[{s:s}]}", "@id", "#package", "@type",
                                           "CreateAction", "name", "seqlora package", "instrument", "@id",
                                           "#seqlora", "object", objects, "result", "@id", "./"));
    json_array_append_new(graph,
                          json_pack("{s:s,s:s,s:s,s:s}", "@id", "#seqlora", "@type", "SoftwareApplication",
                                    "name", "seqlora", "version", SEQLORA_VERSION));
    if (bname && *bname) json_object_set_new(json_array_get(graph, 2), "description", json_string(bname));
    size_t i;
    json_array_foreach(files, i, v) json_array_append(graph, v);
    json_decref(files);
    return json_pack("{s:s,s:o}", "@context", "https://w3id.org/ro/crate/1.1/context", "@graph", graph);
}

/* ---- the base model's files ---------------------------------------------------------------------- */

static int push_name(char ***v, size_t *n, const char *name, sl_err *err) {
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv) return sl_err_set(err, SL_ENOMEM, "out of memory");
    *v = nv;
    if (!(nv[*n] = strdup(name))) return sl_err_set(err, SL_ENOMEM, "out of memory");
    (*n)++;
    return 0;
}

/* The files of `base` a bundle refers to: config.json and the weights the engines load (in their order:
 * model.safetensors, pytorch_model.bin, or a sharded checkpoint's index + its shards, sorted). */
static int base_files(const char *base, char ***names, size_t *n, sl_err *err) {
    static const char *const single[] = {"model.safetensors", "pytorch_model.bin"};
    static const char *const index[] = {"model.safetensors.index.json", "pytorch_model.bin.index.json"};
    *names = NULL;
    *n = 0;
    int rc = push_name(names, n, "config.json", err);
    for (int i = 0; !rc && i < 2; i++) {
        char *p = sl_fs_join(base, single[i]);
        if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
        int there = sl_fs_is_file(p);
        free(p);
        if (there) return push_name(names, n, single[i], err);
    }
    for (int i = 0; !rc && i < 2; i++) {
        char *p = sl_fs_join(base, index[i]);
        if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
        if (!sl_fs_is_file(p)) {
            free(p);
            continue;
        }
        json_t *j = sl_json_load_file(p, err), *wm = json_object_get(j, "weight_map");
        free(p);
        if (!j) return err->code;
        if (!json_is_object(wm)) {
            json_decref(j);
            return sl_err_set(err, SL_EDATA, "%s/%s: no 'weight_map' object", base, index[i]);
        }
        size_t first = *n + 1;
        rc = push_name(names, n, index[i], err);
        const char *k;
        json_t *v;
        json_object_foreach(wm, k, v) {
            const char *f = json_string_value(v);
            int seen = 0;
            for (size_t j2 = first; !rc && f && j2 < *n; j2++) seen |= !strcmp((*names)[j2], f);
            if (!rc && f && !seen)
                rc = sl_nn_bundle_name_ok(f) && !strchr(f, '/')
                         ? push_name(names, n, f, err)
                         : sl_err_set(err, SL_EDATA, "%s/%s: shard name '%s' is not a plain file name", base,
                                      index[i], f);
        }
        json_decref(j);
        if (!rc) qsort(*names + first, *n - first, sizeof(char *), cmp_str);
        return rc;
    }
    if (!rc)
        rc = sl_err_set(err, SL_ENOTFOUND,
                        "%s: no model weights (expected model.safetensors, pytorch_model.bin or a sharded "
                        "*.index.json)",
                        base);
    return rc;
}

/* The merged checkpoint into `dir`: from the BERT engine, or from the files for the other families. */
static int merge(const sl_nn_infer *s, const char *base, const char *adapter, const char *dir, sl_err *err) {
    if (sl_nn_infer_model(s)) return sl_nn_merge_write(sl_nn_infer_model(s), base, base, dir, err);
    const int C = sl_nn_infer_num_outputs(s);
    const char **labels = calloc((size_t)C + 1, sizeof(char *));
    if (!labels) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (int i = 0; i < C; i++) labels[i] = sl_nn_infer_label(s, i);
    int rc = sl_nn_merge_write_files(base, adapter, sl_nn_infer_spec(s), sl_nn_infer_family(s), labels, C,
                                     sl_nn_infer_problem(s), base, dir, err);
    free(labels);
    return rc;
}

/* ---- the step ---------------------------------------------------------------------------------- */

static int write_text(const char *dir, const char *name, const char *text, char **path, sl_err *err) {
    *path = sl_fs_join(dir, name);
    if (!*path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    return sl_fs_write_atomic(*path, text, strlen(text), err);
}

static int run_package(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    const json_t *P = ctx->params;
    const char *base = sl_step_input(ctx, "base"), *adapter = sl_step_input(ctx, "adapter"),
               *report = sl_step_input(ctx, "report"), *metrics_file = sl_step_input(ctx, "metrics");
    if (!base || !adapter)
        return sl_err_set(err, SL_EUSAGE, "package: the inputs 'base' and 'adapter' are required");
    double threshold;
    int embed = 0, merged = 0, rc;
    long long kmer = 0, window = 0, stride = 0;
    const char *positive = NULL, *base_name = NULL;
    if ((rc = sl_json_get_real(P, "threshold", 0.7, &threshold, err)) ||
        (rc = sl_json_get_bool(P, "embed_base", 0, &embed, err)) ||
        (rc = sl_json_get_bool(P, "merged", 0, &merged, err)) ||
        (rc = sl_json_get_int(P, "kmer", 0, &kmer, err)) ||
        (rc = sl_json_get_int(P, "window", 0, &window, err)) ||
        (rc = sl_json_get_int(P, "stride", 0, &stride, err)) ||
        (rc = sl_json_get_str(P, "positive_class", NULL, &positive, err)) ||
        (rc = sl_json_get_str(P, "base_name", NULL, &base_name, err)))
        return rc;
    if (!(threshold >= 0 && threshold <= 1))
        return sl_err_set(err, SL_EUSAGE, "package: threshold %g is not in [0, 1]", threshold);
    if (kmer < -1 || kmer > 12 || window < 0 || stride < 0 || window > 1000000 || stride > 1000000)
        return sl_err_set(err, SL_EUSAGE, "package: kmer must be in -1..12, window and stride >= 0");

    sl_nn_infer *s = NULL;
    entries l = {0};
    json_t *meta = NULL, *metrics = NULL, *crate = NULL;
    char *stage = NULL, *card = NULL, *p = NULL, *out = NULL;
    json_t *bn_holder = NULL; /* owns base_name when it comes from adapter_config.json */
    sl_nn_infer_opts io = {.model_dir = base,
                           .adapter_dir = adapter,
                           .kmer = (int)kmer,
                           .window = (int)window,
                           .stride = (int)stride,
                           .max_batch = 1,
                           .threads = ctx->threads};
    if ((rc = sl_nn_infer_open(&io, &s, err))) goto out;
    const int C = sl_nn_infer_num_outputs(s);
    sl_nn_problem prob = sl_nn_infer_problem(s);
    if (prob == SL_NN_SINGLE_LABEL && C == 2 && !positive) positive = sl_nn_infer_label(s, 1);
    if (positive) {
        int found = 0;
        for (int i = 0; i < C; i++) found |= !strcmp(sl_nn_infer_label(s, i), positive);
        if (!found) {
            rc = sl_err_set(err, SL_EUSAGE, "package: positive class '%s' is not one of the model's classes",
                            positive);
            goto out;
        }
    }
    if ((rc = sl_fs_mkdtemp(ctx->workdir, "package-", &stage, err))) goto out;

    /* base reference: config.json and the weights file(s) the engines load */
    json_t *bfiles = json_object();
    char **wnames = NULL;
    size_t n_w = 0;
    if (!bfiles || (rc = base_files(base, &wnames, &n_w, err))) {
        json_decref(bfiles);
        if (!bfiles) goto nomem;
        goto out;
    }
    for (size_t i = 0; i < n_w && !rc; i++) {
        char hex[SL_SHA256_HEX_LEN + 1], name[600];
        free(p);
        if (!(p = sl_fs_join(base, wnames[i]))) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        if ((rc = file_hex(p, hex, NULL, err))) break;
        json_object_set_new(bfiles, wnames[i], json_string(hex));
        snprintf(name, sizeof name, "base/%s", wnames[i]);
        if (embed) rc = add_entry(&l, name, p, err);
    }
    for (size_t i = 0; i < n_w; i++) free(wnames[i]);
    free(wnames);
    if (rc) {
        json_decref(bfiles);
        goto out;
    }
    if (!base_name || !*base_name) {
        free(p);
        if (!(p = sl_fs_join(adapter, "adapter_config.json"))) goto nomem;
        json_t *ac = sl_json_load_file(p, err);
        if (!ac) {
            rc = err->code;
            json_decref(bfiles);
            goto out;
        }
        const char *bn = json_string_value(json_object_get(ac, "base_model_name_or_path"));
        bn_holder = json_string(bn ? bn : "");
        json_decref(ac);
        base_name = json_string_value(bn_holder);
    }
    meta = json_object();
    const sl_nn_lora_spec *spec = sl_nn_infer_spec(s);
    json_t *labels = json_array();
    for (int i = 0; i < C; i++) json_array_append_new(labels, json_string(sl_nn_infer_label(s, i)));
    json_object_set_new(meta, "format", json_string(SL_NN_MODEL_FORMAT));
    json_object_set_new(meta, "task",
                        json_pack("{s:s,s:o,s:o,s:f,s:i}", "problem_type", sl_nn_problem_name(prob), "labels",
                                  labels, "positive_class", positive ? json_string(positive) : json_null(),
                                  "threshold", threshold, "max_length", sl_nn_infer_max_length(s)));
    json_t *tfiles = json_array();
    for (int i = 0; sl_nn_tokenizer_files[i]; i++) {
        free(p);
        if (!(p = sl_fs_join(base, sl_nn_tokenizer_files[i]))) goto nomem;
        if (sl_fs_is_file(p)) json_array_append_new(tfiles, json_string(sl_nn_tokenizer_files[i]));
    }
    json_object_set_new(meta, "tokenizer",
                        json_pack("{s:s,s:s,s:s,s:i,s:o}", "dir", "tokenizer", "kind",
                                  sl_nn_infer_tokenizer_kind(s), "input",
                                  sl_nn_infer_is_protein(s) ? "protein" : "dna", "kmer", sl_nn_infer_kmer(s),
                                  "files", tfiles));
    json_object_set_new(
        meta, "inference",
        json_pack("{s:i,s:i}", "window", sl_nn_infer_window(s), "stride", sl_nn_infer_stride(s)));
    json_object_set_new(meta, "base",
                        json_pack("{s:s,s:s,s:b,s:o}", "name", base_name ? base_name : "", "family",
                                  sl_nn_infer_family(s), "embedded", embed, "files", bfiles));
    json_object_set_new(meta, "adapter", json_string("adapter"));
    json_object_set_new(meta, "lora",
                        json_pack("{s:i,s:f,s:b,s:s}", "r", spec->r, "alpha", (double)spec->alpha,
                                  "use_rslora", spec->use_rslora, "target_modules", spec->target_names));

    /* adapter and tokenizer files */
    if ((rc = add_dir(&l, adapter, "adapter", err))) goto out;
    for (int i = 0; sl_nn_tokenizer_files[i]; i++) {
        free(p);
        if (!(p = sl_fs_join(base, sl_nn_tokenizer_files[i]))) goto nomem;
        char name[128];
        snprintf(name, sizeof name, "tokenizer/%s", sl_nn_tokenizer_files[i]);
        if (sl_fs_is_file(p) && (rc = add_entry(&l, name, p, err))) goto out;
    }
    /* merged checkpoint */
    if (merged) {
        free(p);
        if (!(p = sl_fs_join(stage, "merged"))) goto nomem;
        if ((rc = sl_fs_mkdirs(p, err)) || (rc = merge(s, base, adapter, p, err)) ||
            (rc = add_dir(&l, p, "merged", err)))
            goto out;
        json_object_set_new(meta, "merged", json_string("merged"));
    } else {
        json_object_set_new(meta, "merged", json_null());
    }
    /* the evaluation report */
    if (report) {
        if ((rc = add_dir(&l, report, "report", err))) goto out;
        free(p);
        if (!(p = sl_fs_join(report, "metrics.json"))) goto nomem;
        if (sl_fs_is_file(p) && !(metrics = sl_json_load_file(p, err))) {
            rc = err->code;
            goto out;
        }
    }
    if (metrics_file) {
        int have = 0;
        for (size_t i = 0; i < l.n; i++) have |= !strcmp(l.e[i].name, "report/metrics.json");
        if (have) {
            rc = sl_err_set(err, SL_EUSAGE,
                            "package: both the report directory and --metrics give report/metrics.json");
            goto out;
        }
        json_decref(metrics);
        if (!(metrics = sl_json_load_file(metrics_file, err))) {
            rc = err->code;
            goto out;
        }
        if ((rc = add_entry(&l, "report/metrics.json", metrics_file, err))) goto out;
    }
    if (metrics && !json_is_object(json_object_get(metrics, "metrics"))) {
        rc = sl_err_set(err, SL_EDATA,
                        "package: the metrics file has no 'metrics' object (expected `seqlora evaluate`'s "
                        "metrics.json)");
        goto out;
    }
    json_object_set_new(meta, "report", metrics || report ? json_string("report") : json_null());
    json_object_set_new(meta, "seqlora_version", json_string(SEQLORA_VERSION));

    /* generated files */
    free(p);
    if (!(p = sl_fs_join(stage, "bundle.json"))) goto nomem;
    if ((rc = sl_json_write_file(p, meta, 1, err)) || (rc = add_entry(&l, "bundle.json", p, err))) goto out;
    if (!(card = model_card(meta, metrics))) goto nomem;
    free(p);
    if ((rc = write_text(stage, "MODEL_CARD.md", card, &p, err)) ||
        (rc = add_entry(&l, "MODEL_CARD.md", p, err)))
        goto out;
    if (!(crate = ro_crate(&l, meta, err))) {
        rc = err->code ? err->code : SL_ENOMEM;
        goto out;
    }
    free(p);
    if (!(p = sl_fs_join(stage, "ro-crate-metadata.json"))) goto nomem;
    if ((rc = sl_json_write_file(p, crate, 1, err)) || (rc = add_entry(&l, "ro-crate-metadata.json", p, err)))
        goto out;

    if (!(out = sl_step_out_path(ctx, "model.tar.gz"))) goto nomem;
    if ((rc = sl_nn_bundle_write(out, l.e, l.n, err))) goto out;
    json_object_set_new(ctx->summary, "files", json_integer((json_int_t)l.n + 1));
    json_object_set_new(ctx->summary, "merged", json_boolean(merged));
    json_object_set_new(ctx->summary, "embedded_base", json_boolean(embed));
    goto out;
nomem:
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
out:
    if (stage) {
        sl_err e2;
        sl_err_clear(&e2);
        sl_fs_remove_tree(stage, &e2);
    }
    free(stage);
    free(card);
    free(p);
    free(out);
    json_decref(meta);
    json_decref(metrics);
    json_decref(crate);
    json_decref(bn_holder);
    entries_free(&l);
    sl_nn_infer_free(s);
    return rc;
}

static const sl_step_io package_inputs[] = {
    {"base", SL_IO_DIR},
    {"adapter", SL_IO_DIR},
    {"report", SL_IO_DIR | SL_IO_OPTIONAL},
    {"metrics", SL_IO_FILE | SL_IO_OPTIONAL},
    {NULL, 0},
};

static const sl_step_io package_outputs[] = {
    {"model.tar.gz", SL_IO_FILE},
    {NULL, 0},
};

const sl_step sl_step_package = {
    .name = "package",
    .version = 1,
    .summary =
        "a deployable model bundle: adapter, task, tokenizer, base reference, metrics, model card, RO-Crate",
    .inputs = package_inputs,
    .outputs = package_outputs,
    .run = run_package,
};
