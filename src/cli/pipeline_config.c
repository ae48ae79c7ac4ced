/* The `seqlora run` config: schema, validation, defaults, paths, the embedded demo (pipeline.h).
 * docs/config.schema.json describes the same schema for other tools; tests/run checks the two agree. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline.h"
#include "util/fs.h"
#include "util/json.h"

typedef enum { K_OBJ, K_STR, K_INT, K_NUM, K_BOOL, K_PATH, K_MAP, K_LIST, K_BASE } kind;

typedef struct spec {
    const char *key;
    kind k;
    const char *def;     /* default as JSON text; NULL = required (K_OBJ: filled from its members) */
    double lo, hi;       /* K_INT/K_NUM: inclusive range */
    const char *choices; /* K_STR: "a|b|c" or NULL */
    int nullable;        /* null is a valid value (it means "off" / "none") */
    const struct spec *sub;
} spec;

#define END                                                                                                  \
    { NULL, K_OBJ, NULL, 0, 0, NULL, 0, NULL }

static const spec init_spec[] = {
    {"hidden_size", K_INT, "64", 1, 8192, NULL, 0, NULL},
    {"num_hidden_layers", K_INT, "2", 1, 128, NULL, 0, NULL},
    {"num_attention_heads", K_INT, "4", 1, 256, NULL, 0, NULL},
    {"intermediate_size", K_INT, "256", 1, 65536, NULL, 0, NULL},
    {"max_position_embeddings", K_INT, "512", 3, 65536, NULL, 0, NULL},
    {"initializer_range", K_NUM, "0.02", 1e-9, 10, NULL, 0, NULL},
    {"seed", K_INT, "42", 0, 4.6e18, NULL, 0, NULL},
    END,
};

/* base: {"pretrain": {...}}: init_model with `init`, then MLM pretraining on `fasta` (null = data.reference).
 * Defaults are the pretrain step's own (DNABERT's optimiser settings); the demo sets its size. */
static const spec pretrain_spec[] = {
    {"init", K_OBJ, NULL, 0, 0, NULL, 0, init_spec},
    {"fasta", K_PATH, "null", 0, 0, NULL, 1, NULL},
    {"window", K_INT, "512", 3, 100000, NULL, 0, NULL},
    {"windows_per_epoch", K_INT, "0", 0, 100000000, NULL, 0, NULL},
    {"epochs", K_INT, "1", 1, 100000, NULL, 0, NULL},
    {"batch_size", K_INT, "8", 1, 65536, NULL, 0, NULL},
    {"lr", K_NUM, "0.0004", 1e-12, 10, NULL, 0, NULL},
    {"warmup_steps", K_INT, "0", 0, 1e12, NULL, 0, NULL},
    {"weight_decay", K_NUM, "0.01", 0, 10, NULL, 0, NULL},
    {"mlm_probability", K_NUM, "0.15", 0.001, 0.999, NULL, 0, NULL},
    {"max_grad_norm", K_NUM, "1.0", 0, 1e9, NULL, 0, NULL},
    {"seed", K_INT, "42", 0, 4.6e18, NULL, 0, NULL},
    {"checkpoint_every", K_INT, "50", 0, 1e12, NULL, 0, NULL},
    END,
};

static const spec data_spec[] = {
    {"mode", K_STR, "\"variant\"", 0, 0, "variant|sample", 0, NULL},
    {"reference", K_PATH, NULL, 0, 0, NULL, 0, NULL},
    /* variant mode */
    {"variants", K_PATH, "null", 0, 0, NULL, 1, NULL},
    {"label_field", K_STR, "\"FUNC_CLASS\"", 0, 0, NULL, 0, NULL},
    {"labels", K_MAP, "{\"FUNC\": \"FUNC\", \"LOF\": \"LOF\"}", 0, 0, NULL, 1, NULL},
    {"group_field", K_STR, "\"EXON\"", 0, 0, NULL, 0, NULL},
    {"window", K_INT, "101", 7, 100000, NULL, 0, NULL},
    {"strand", K_STR, "\"+\"", 0, 0, "+|-", 0, NULL},
    {"n_policy", K_STR, "\"keep\"", 0, 0, "keep|drop|error", 0, NULL},
    /* sample mode */
    {"vcf", K_PATH, "null", 0, 0, NULL, 1, NULL},
    {"clinical", K_PATH, "null", 0, 0, NULL, 1, NULL},
    {"id_column", K_STR, "\"submitter_id\"", 0, 0, NULL, 0, NULL},
    {"label_column", K_STR, "\"sample_type\"", 0, 0, NULL, 0, NULL},
    {"annotation", K_PATH, "null", 0, 0, NULL, 1, NULL},
    {"regions", K_PATH, "null", 0, 0, NULL, 1, NULL},
    {"region", K_STR, "null", 0, 0, NULL, 1, NULL},
    {"transcript", K_STR, "null", 0, 0, NULL, 1, NULL},
    {"haplotype", K_STR, "\"1\"", 0, 0, "1|2|both|iupac", 0, NULL},
    END,
};

static const spec clean_spec[] = {
    {"enabled", K_BOOL, "true", 0, 0, NULL, 0, NULL},
    {"min_qual", K_NUM, "30", -1e9, 1e9, NULL, 1, NULL},
    {"min_dp", K_NUM, "10", -1e9, 1e9, NULL, 1, NULL},
    {"dp_field", K_STR, "\"INFO/DP\"", 0, 0, "INFO/DP|FORMAT/DP", 0, NULL},
    END,
};

static const spec sexcheck_spec[] = {
    {"enabled", K_BOOL, "false", 0, 0, NULL, 0, NULL},
    {"build", K_STR, "\"GRCh37\"", 0, 0, "GRCh37|GRCh38", 0, NULL},
    END,
};

static const spec kmer_spec[] = {
    {"tokens", K_STR, "\"kmer\"", 0, 0, "kmer|nt6|raw", 0, NULL},
    {"k", K_INT, "6", 3, 8, NULL, 0, NULL},
    END,
};

static const spec split_spec[] = {
    {"test_fraction", K_NUM, "0.3", 0.01, 0.99, NULL, 0, NULL},
    {"validation_fraction", K_NUM, "0.2", 0, 0.9, NULL, 0, NULL},
    {"group_by", K_STR, "\"exon\"", 0, 0, NULL, 1, NULL},
    {"seed", K_INT, "42", 0, 4.6e18, NULL, 0, NULL},
    END,
};

static const spec lora_spec[] = {
    {"r", K_INT, "16", 1, 4096, NULL, 0, NULL},
    {"alpha", K_NUM, "32", 1e-9, 1e9, NULL, 0, NULL},
    {"dropout", K_NUM, "0.1", 0, 0.999, NULL, 0, NULL},
    {"target_modules", K_LIST, "[\"query\", \"value\"]", 0, 0, NULL, 0, NULL},
    END,
};

static const spec train_spec[] = {
    {"lr", K_NUM, "0.0003", 1e-12, 10, NULL, 0, NULL},
    {"weight_decay", K_NUM, "0.01", 0, 10, NULL, 0, NULL},
    {"epochs", K_INT, "10", 1, 100000, NULL, 0, NULL},
    {"patience", K_INT, "3", 0, 100000, NULL, 0, NULL},
    {"batch_size", K_INT, "8", 1, 65536, NULL, 0, NULL},
    {"grad_accum", K_INT, "1", 1, 65536, NULL, 0, NULL},
    {"warmup_steps", K_INT, "0", 0, 1e12, NULL, 0, NULL},
    {"max_length", K_INT, "512", 3, 1000000, NULL, 0, NULL},
    {"max_grad_norm", K_NUM, "1.0", 0, 1e9, NULL, 0, NULL},
    {"metric", K_STR, "\"auc\"", 0, 0, "auc|accuracy|f1|mcc|loss", 0, NULL},
    {"seed", K_INT, "42", 0, 4.6e18, NULL, 0, NULL},
    {"checkpoint_every", K_INT, "0", 0, 1e12, NULL, 0, NULL},
    END,
};

static const spec evaluate_spec[] = {
    {"bootstrap", K_INT, "1000", 0, 1000000, NULL, 0, NULL},
    {"ci_level", K_NUM, "0.95", 0.5, 0.999, NULL, 0, NULL},
    {"seed", K_INT, "0", 0, 4.6e18, NULL, 0, NULL},
    {"positive_class", K_STR, "null", 0, 0, NULL, 1, NULL},
    END,
};

static const spec baselines_spec[] = {
    {"scores", K_LIST, "[\"cadd\"]", 0, 0, NULL, 1, NULL},
    {"category", K_STR, "\"consequence\"", 0, 0, NULL, 1, NULL},
    END,
};

static const spec package_spec[] = {
    {"enabled", K_BOOL, "true", 0, 0, NULL, 0, NULL},
    {"embed_base", K_BOOL, "false", 0, 0, NULL, 0, NULL},
    {"threshold", K_NUM, "null", 0, 1, NULL, 1, NULL},
    END,
};

static const spec top_spec[] = {
    {"description", K_STR, "\"\"", 0, 0, NULL, 0, NULL},
    {"data", K_OBJ, NULL, 0, 0, NULL, 0, data_spec},
    {"clean", K_OBJ, NULL, 0, 0, NULL, 0, clean_spec},
    {"sexcheck", K_OBJ, NULL, 0, 0, NULL, 0, sexcheck_spec},
    {"kmer", K_OBJ, NULL, 0, 0, NULL, 0, kmer_spec},
    {"split", K_OBJ, NULL, 0, 0, NULL, 0, split_spec},
    {"base", K_BASE, "{\"init\": {}}", 0, 0, NULL, 0, init_spec},
    {"lora", K_OBJ, NULL, 0, 0, NULL, 0, lora_spec},
    {"train", K_OBJ, NULL, 0, 0, NULL, 0, train_spec},
    {"evaluate", K_OBJ, NULL, 0, 0, NULL, 0, evaluate_spec},
    {"baselines", K_OBJ, NULL, 0, 0, NULL, 0, baselines_spec},
    {"package", K_OBJ, NULL, 0, 0, NULL, 0, package_spec},
    END,
};

static const char *kind_name(kind k) {
    switch (k) {
        case K_OBJ:
            return "an object";
        case K_STR:
            return "a string";
        case K_INT:
            return "an integer";
        case K_NUM:
            return "a number";
        case K_BOOL:
            return "true or false";
        case K_PATH:
            return "a file path (string)";
        case K_MAP:
            return "an object of strings";
        case K_LIST:
            return "a non-empty list of strings";
        case K_BASE:
            return "a model folder path (string), {\"init\": {...}} or {\"pretrain\": {...}}";
    }
    return "?";
}

static const char *json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
        case JSON_OBJECT:
            return "an object";
        case JSON_ARRAY:
            return "a list";
        case JSON_STRING:
            return "a string";
        case JSON_INTEGER:
            return "an integer";
        case JSON_REAL:
            return "a number";
        case JSON_TRUE:
        case JSON_FALSE:
            return "a boolean";
        case JSON_NULL:
            return "null";
    }
    return "?";
}

static int check_choice(const char *choices, const char *v) {
    size_t n = strlen(v);
    for (const char *c = choices; *c;) {
        const char *e = strchr(c, '|');
        size_t l = e ? (size_t)(e - c) : strlen(c);
        if (l == n && !strncmp(c, v, n)) return 1;
        c += l + (e ? 1 : 0);
    }
    return 0;
}

static char *resolve_path(const char *base_dir, const char *p) {
    if (!base_dir || p[0] == '/' || !strncmp(p, "sha256:", 7)) return strdup(p);
    return sl_fs_join(base_dir, p);
}

static int check_obj(const spec *sp, const json_t *user, const char *prefix, const char *origin,
                     const char *base_dir, json_t *out, sl_err *err);

/* Check one value against its spec and put the effective value into `out` under sp->key. */
static int check_value(const spec *sp, const json_t *v, const char *path, const char *origin,
                       const char *base_dir, json_t *out, sl_err *err) {
    if (json_is_null(v) && sp->nullable) {
        json_object_set_new(out, sp->key, json_null());
        return 0;
    }
#define BAD(...) sl_err_set(err, SL_EUSAGE, __VA_ARGS__)
    switch (sp->k) {
        case K_OBJ: {
            if (!json_is_object(v)) break;
            json_t *o = json_object();
            int rc = check_obj(sp->sub, v, path, origin, base_dir, o, err);
            if (rc) {
                json_decref(o);
                return rc;
            }
            json_object_set_new(out, sp->key, o);
            return 0;
        }
        case K_STR:
            if (!json_is_string(v)) break;
            if (sp->choices && !check_choice(sp->choices, json_string_value(v)))
                return BAD("%s: %s: expected one of %s, got '%s'", origin, path, sp->choices,
                           json_string_value(v));
            json_object_set(out, sp->key, (json_t *)v);
            return 0;
        case K_PATH: {
            if (!json_is_string(v) || !*json_string_value(v)) break;
            char *p = resolve_path(base_dir, json_string_value(v));
            if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
            json_object_set_new(out, sp->key, json_string(p));
            free(p);
            return 0;
        }
        case K_INT:
        case K_NUM: {
            if (sp->k == K_INT ? !json_is_integer(v) : !json_is_number(v)) break;
            double x = json_number_value(v);
            if (x < sp->lo || x > sp->hi)
                return BAD("%s: %s: expected a value in [%g, %g], got %g", origin, path, sp->lo, sp->hi, x);
            json_object_set_new(out, sp->key,
                                sp->k == K_INT ? json_integer(json_integer_value(v)) : json_real(x));
            return 0;
        }
        case K_BOOL:
            if (!json_is_boolean(v)) break;
            json_object_set(out, sp->key, (json_t *)v);
            return 0;
        case K_MAP: {
            if (!json_is_object(v) || !json_object_size(v)) break;
            const char *key;
            json_t *x;
            json_object_foreach((json_t *)v, key, x) {
                if (!json_is_string(x) || !*json_string_value(x))
                    return BAD("%s: %s.%s: expected a non-empty string (the class name), got %s", origin,
                               path, key, json_type_name(x));
            }
            json_object_set(out, sp->key, (json_t *)v);
            return 0;
        }
        case K_LIST: {
            if (!json_is_array(v) || !json_array_size(v)) break;
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x) {
                if (!json_is_string(x) || !*json_string_value(x) || strchr(json_string_value(x), ','))
                    return BAD("%s: %s[%zu]: expected a non-empty string without commas", origin, path, i);
            }
            json_object_set(out, sp->key, (json_t *)v);
            return 0;
        }
        case K_BASE: {
            if (json_is_string(v)) {
                spec ps = {sp->key, K_PATH, NULL, 0, 0, NULL, 0, NULL};
                return check_value(&ps, v, path, origin, base_dir, out, err);
            }
            if (!json_is_object(v) || json_object_size(v) != 1) break;
            /* {"init": {...}} or {"pretrain": {"init": {...}, ...}} */
            const char *which = json_object_iter_key(json_object_iter((json_t *)v));
            int pre = !strcmp(which, "pretrain");
            if (!pre && strcmp(which, "init"))
                return BAD("%s: %s: unknown key '%s' (expected \"init\" or \"pretrain\")", origin, path,
                           which);
            const json_t *inner = json_object_get(v, which);
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s", path, which);
            if (!json_is_object(inner))
                return BAD("%s: %s: expected an object, got %s", origin, sub, json_type_name(inner));
            json_t *o = json_object(), *w = json_object();
            int rc = check_obj(pre ? pretrain_spec : sp->sub, inner, sub, origin, base_dir, o, err);
            const json_t *io = pre ? json_object_get(o, "init") : o;
            if (!rc) {
                long long h = json_integer_value(json_object_get(io, "hidden_size"));
                long long a = json_integer_value(json_object_get(io, "num_attention_heads"));
                if (h % a)
                    rc = BAD(
                        "%s: %s%s.hidden_size: expected a multiple of num_attention_heads (%lld), got %lld",
                        origin, sub, pre ? ".init" : "", a, h);
            }
            if (rc) {
                json_decref(o);
                json_decref(w);
                return rc;
            }
            json_object_set_new(w, which, o);
            json_object_set_new(out, sp->key, w);
            return 0;
        }
    }
    return BAD("%s: %s: expected %s%s, got %s", origin, path, kind_name(sp->k),
               sp->nullable ? " or null" : "", json_type_name(v));
#undef BAD
}

static int check_obj(const spec *sp, const json_t *user, const char *prefix, const char *origin,
                     const char *base_dir, json_t *out, sl_err *err) {
    char path[256];
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)user, key, v) {
        const spec *s = sp;
        while (s->key && strcmp(s->key, key)) s++;
        if (!s->key) {
            snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
            size_t n = 0;
            char known[512] = "";
            for (const spec *t = sp; t->key; t++)
                n += (size_t)snprintf(known + n, n < sizeof known ? sizeof known - n : 0, "%s%s",
                                      t == sp ? "" : ", ", t->key);
            return sl_err_set(err, SL_EUSAGE, "%s: unknown key '%s' (known here: %s)", origin, path, known);
        }
    }
    for (const spec *s = sp; s->key; s++) {
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", s->key);
        const json_t *uv = json_object_get(user, s->key);
        json_t *def = NULL;
        if (!uv) {
            if (s->k == K_OBJ) {
                def = json_object();
            } else if (s->def) {
                def = json_loads(s->def, JSON_DECODE_ANY, NULL);
            } else {
                continue; /* required: checked by the caller, which knows what the mode needs */
            }
            if (!def) return sl_err_set(err, SL_EINTERNAL, "config default of %s does not parse", path);
            uv = def;
        }
        int rc = check_value(s, uv, path, origin, base_dir, out, err);
        json_decref(def);
        if (rc) return rc;
    }
    return 0;
}

int sl_pipeline_config_check(const json_t *user, const char *origin, const char *base_dir, json_t **out,
                             sl_err *err) {
    *out = NULL;
    if (!json_is_object(user)) return sl_err_set(err, SL_EUSAGE, "%s: expected a JSON object", origin);
    json_t *o = json_object();
    if (!o) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = check_obj(top_spec, user, "", origin, base_dir, o, err);
    json_t *data = json_object_get(o, "data");
    if (!rc && !json_object_get(data, "reference"))
        rc = sl_err_set(err, SL_EUSAGE, "%s: data.reference: required (the reference FASTA)", origin);
    const char *mode = json_string_value(json_object_get(data, "mode"));
    int sample = mode && !strcmp(mode, "sample");
    if (!rc && !sample && !json_is_string(json_object_get(data, "variants")))
        rc = sl_err_set(err, SL_EUSAGE,
                        "%s: data.variants: required in variant mode (the labelled variant VCF)", origin);
    if (!rc && sample && !json_is_string(json_object_get(data, "vcf")))
        rc = sl_err_set(err, SL_EUSAGE, "%s: data.vcf: required in sample mode (the multi-sample VCF)",
                        origin);
    if (!rc && sample && !json_is_string(json_object_get(data, "clinical")))
        rc = sl_err_set(err, SL_EUSAGE, "%s: data.clinical: required in sample mode (the clinical table)",
                        origin);
    if (!rc && sample &&
        json_is_string(json_object_get(data, "annotation")) +
                json_is_string(json_object_get(data, "regions")) +
                json_is_string(json_object_get(data, "region")) !=
            1)
        rc = sl_err_set(err, SL_EUSAGE,
                        "%s: data: sample mode needs exactly one of annotation, regions, region", origin);
    if (!rc) {
        json_t *tm = json_object_get(json_object_get(o, "lora"), "target_modules");
        /* BERT and ESM / Nucleotide Transformer module names, then DNABERT-2's (the train step checks them
         * against the base's family) */
        static const char *const ok[] = {"query",
                                         "key",
                                         "value",
                                         "attention.output.dense",
                                         "intermediate.dense",
                                         "output.dense",
                                         "Wqkv",
                                         "gated_layers",
                                         "wo",
                                         NULL};
        size_t i;
        json_t *x;
        json_array_foreach(tm, i, x) {
            int good = 0;
            for (const char *const *k = ok; *k && !good; k++) good = !strcmp(*k, json_string_value(x));
            if (!good)
                rc = sl_err_set(err, SL_EUSAGE,
                                "%s: lora.target_modules[%zu]: expected one of query, key, value, "
                                "attention.output.dense, intermediate.dense, output.dense (BERT, ESM) or "
                                "Wqkv, attention.output.dense, gated_layers, wo (DNABERT-2), got '%s'",
                                origin, i, json_string_value(x));
            if (rc) break;
        }
    }
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

json_t *sl_pipeline_config_defaults(void) {
    json_t *user =
        json_pack("{s:{s:s, s:s}}", "data", "reference", "REFERENCE.fa", "variants", "VARIANTS.vcf");
    json_t *out = NULL;
    sl_err e;
    sl_pipeline_config_check(user, "defaults", NULL, &out, &e);
    json_decref(user);
    return out;
}

/* The demo: Findlay 2018 BRCA1 SGE variants on the GRCh37 region, LOF vs FUNC, split by exon, a small BERT
 * MLM-pretrained first on the bundled 200 kb region (768 steps), sized to finish in minutes on two cores
 * (docs/run.md has the measurements). Only what differs from the defaults. */
static const char demo_config[] =
    "{\n"
    "  \"description\": \"Embedded demo: BRCA1 saturation genome editing (Findlay et al. 2018), LOF vs FUNC, "
    "held-out exons\",\n"
    "  \"data\": {\n"
    "    \"reference\": \"GRCh37_chr17_41100001-41300000.fa\",\n"
    "    \"variants\": \"findlay2018_sge.GRCh37.vcf\",\n"
    "    \"label_field\": \"FUNC_CLASS\",\n"
    "    \"labels\": {\"FUNC\": \"FUNC\", \"LOF\": \"LOF\"},\n"
    "    \"group_field\": \"EXON\",\n"
    "    \"window\": 101,\n"
    "    \"strand\": \"-\"\n"
    "  },\n"
    "  \"split\": {\"test_fraction\": 0.3, \"validation_fraction\": 0.2, \"group_by\": \"exon\"},\n"
    "  \"base\": {\"pretrain\": {\n"
    "    \"init\": {\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,\n"
    "             \"intermediate_size\": 256, \"max_position_embeddings\": 128},\n"
    "    \"window\": 128, \"windows_per_epoch\": 512, \"epochs\": 24, \"batch_size\": 16,\n"
    "    \"lr\": 0.003, \"warmup_steps\": 50}},\n"
    "  \"train\": {\"max_length\": 128, \"epochs\": 10, \"patience\": 3},\n"
    "  \"evaluate\": {\"positive_class\": \"LOF\"},\n"
    "  \"baselines\": {\"scores\": [\"cadd\"], \"category\": \"consequence\"},\n"
    "  \"package\": {\"enabled\": true, \"embed_base\": true}\n"
    "}\n";

const char *sl_pipeline_demo_config(void) {
    return demo_config;
}

#define DEMO_FASTA "GRCh37_chr17_41100001-41300000.fa"

static int has_demo(const char *dir) {
    char *p = sl_fs_join(dir, DEMO_FASTA);
    int ok = p && sl_fs_is_file(p);
    free(p);
    return ok;
}

char *sl_pipeline_demo_data_dir(sl_err *err) {
    const char *env = getenv("SEQLORA_DEMO_DATA");
    if (env && *env) {
        if (has_demo(env)) return realpath(env, NULL);
        sl_err_set(err, SL_ENOTFOUND, "$SEQLORA_DEMO_DATA=%s does not hold the demo data (%s)", env,
                   DEMO_FASTA);
        return NULL;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        static const char *const rel[] = {"/../data", "/../../data", "/../../../data",
                                          "/../share/seqlora/data", NULL};
        for (const char *const *r = rel; *r; r++) {
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof cand, "%s%s", exe, *r);
            if (has_demo(cand)) return realpath(cand, NULL);
        }
    }
    if (has_demo("data")) return realpath("data", NULL);
    sl_err_set(
        err, SL_ENOTFOUND,
        "the demo data (%s) was not found next to the seqlora binary (../data, ../../data, ../../../data, "
        "../share/seqlora/data) nor in ./data; set $SEQLORA_DEMO_DATA to its folder",
        DEMO_FASTA);
    return NULL;
}

int sl_pipeline_config_load(const char *path, json_t **out, sl_err *err) {
    *out = NULL;
    json_t *user = NULL;
    char *base_dir = NULL;
    const char *origin = path;
    if (!path) {
        base_dir = sl_pipeline_demo_data_dir(err);
        if (!base_dir) return SL_ENOTFOUND;
        json_error_t je;
        user = json_loads(demo_config, 0, &je);
        origin = "the embedded demo config";
        if (!user) {
            free(base_dir);
            return sl_err_set(err, SL_EINTERNAL, "the demo config does not parse: %s", je.text);
        }
    } else {
        if (!sl_fs_is_file(path)) return sl_err_set(err, SL_ENOTFOUND, "config %s: no such file", path);
        json_error_t je;
        user = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!user)
            return sl_err_set(err, SL_EUSAGE, "%s:%d:%d: not valid JSON: %s", path, je.line, je.column,
                              je.text);
        char *abs = realpath(path, NULL);
        base_dir = abs ? sl_fs_dirname(abs) : NULL;
        free(abs);
        if (!base_dir) {
            json_decref(user);
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
    }
    int rc = sl_pipeline_config_check(user, origin, base_dir, out, err);
    json_decref(user);
    free(base_dir);
    return rc;
}
