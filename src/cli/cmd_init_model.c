/* seqlora init-model: a randomly initialised BERT base with a DNABERT k-mer vocabulary (the `init_model`
 * step), for running a pipeline end to end without a pretrained checkpoint. */
#include <stdio.h>
#include <string.h>

#include "cli_options.h"
#include "commands.h"
#include "util/json.h"

static const char header[] =
    "usage: seqlora init-model [--config BERT_CONFIG.json] [--vocab-kmer K] [--seed N] -o DIR\n\n"
    "Write a BERT model directory (config.json, model.safetensors, vocab.txt, tokenizer_config.json)\n"
    "initialised as transformers initialises a new BertModel (weights normal(0, initializer_range),\n"
    "biases 0, LayerNorm 1/0), from a seeded Philox stream, with the vocabulary of a DNABERT k-mer\n"
    "model. The model knows nothing about DNA: use it to run a pipeline end to end; use a pretrained\n"
    "DNABERT checkpoint for real work.\n\n";

static int config_params(const char *path, json_t *params, sl_err *err) {
    static const char *const fields[] = {"hidden_size",
                                         "num_hidden_layers",
                                         "num_attention_heads",
                                         "intermediate_size",
                                         "max_position_embeddings",
                                         "initializer_range",
                                         NULL};
    json_t *c = sl_json_load_file(path, err);
    if (!c) return SL_EDATA;
    int rc = json_is_object(c) ? 0 : sl_err_set(err, SL_EDATA, "%s: expected a JSON object", path);
    for (const char *const *f = fields; !rc && *f; f++) {
        json_t *v = json_object_get(c, *f);
        if (!v) continue;
        if (!strcmp(*f, "initializer_range") ? !json_is_number(v) : !json_is_integer(v))
            rc = sl_err_set(err, SL_EDATA, "%s: field '%s': expected %s", path, *f,
                            !strcmp(*f, "initializer_range") ? "a number" : "an integer");
        else
            json_object_set_new(params, *f,
                                json_is_integer(v) ? json_integer(json_integer_value(v))
                                                   : json_real(json_number_value(v)));
    }
    json_decref(c);
    return rc;
}

int sl_cmd_init_model(int argc, char **argv) {
    const char *config = NULL, *out = NULL;
    long long k = 6, seed = 42;
    const sl_cli_opt opts[] = {
        {.name = "config",
         .arg = "FILE",
         .help = "a BertConfig JSON; its hidden_size, num_hidden_layers, num_attention_heads,\n"
                 "intermediate_size, max_position_embeddings, initializer_range are used\n"
                 "(default 64, 2, 4, 256, 512, 0.02)",
         .str = &config},
        SL_CLI_OPT_KMER("vocab-kmer", &k, "k of the k-mer vocabulary, 3..8 (6)"),
        SL_CLI_OPT_SEED(&seed, "N", "(42)"),
        SL_CLI_OPT_OUTPUT(&out, "DIR", "the model directory to write (required)", SL_CLI_REQUIRED),
        {0},
    };
    const sl_cli_command cmd = {.name = "init-model", .header = header, .opts = opts, .width = 18};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    if (config && (rc = config_params(config, a.params, &a.err))) return sl_cli_fail(&a, rc);
    sl_run_output outputs[1] = {{"model", out}};
    rc = sl_cli_run_step("init_model", a.params, NULL, 0, outputs, 1, &a.common, NULL);
    sl_cli_args_free(&a);
    if (rc == 0) printf("%s\n", out);
    return rc;
}
