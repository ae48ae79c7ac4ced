/* seqlora pretrain: masked-language-model pretraining of a BERT k-mer model (the `pretrain` step). */
#include <stdio.h>
#include <stdlib.h>

#include "cli_options.h"
#include "commands.h"

static const char header[] =
    "usage: seqlora pretrain --fasta FILE [--fasta FILE...] (--config BERT_CONFIG.json | --init-from DIR)\n"
    "                        -o MODEL_DIR [options]\n\n"
    "Masked-language-model pretraining (all weights) of a BERT model on overlapping k-mer tokens of\n"
    "random windows of the given sequences, both strands. Masking as DNABERT: spans of k tokens so a\n"
    "masked k-mer cannot be read off its neighbours; 80% [MASK] / 10% random k-mer / 10% kept.\n"
    "Writes a Hugging Face BertForMaskedLM directory (config.json, model.safetensors, vocab.txt,\n"
    "tokenizer files) that `seqlora train --base` and transformers load. A killed run resumes.\n\n";

int sl_cmd_pretrain(int argc, char **argv) {
    enum { MAXF = 64 };
    const char *fasta_v[MAXF];
    sl_cli_list fasta = {fasta_v, 0, MAXF};
    const char *config = NULL, *init = NULL, *out = NULL, *metrics = NULL;
    long long kmer = 6, window = 512, wpe = 0, epochs = 1, bs = 8, warm = 0, seed = 42, ck = 50;
    double lr = 4e-4, wd = 0.01, clip = 1.0, prob = 0.15;
    const sl_cli_opt opts[] = {
        {.name = "fasta",
         .arg = "FILE",
         .help = "sequences (FASTA, plain or gzip/bgzip/bz2/xz/zstd; repeatable)",
         .list = &fasta,
         .flags = SL_CLI_REQUIRED},
        {.name = "config",
         .arg = "FILE",
         .help = "from scratch: a BertConfig JSON (hidden_size, num_hidden_layers,\n"
                 "num_attention_heads, intermediate_size, max_position_embeddings,\n"
                 "initializer_range); the vocabulary is DNABERT's k-mer one",
         .str = &config},
        {.name = "init-from",
         .arg = "DIR",
         .help = "continue from this model directory instead",
         .str = &init},
        SL_CLI_OPT_OUTPUT(&out, "DIR", "the model directory to write (required)", SL_CLI_REQUIRED),
        SL_CLI_OPT_METRICS(&metrics, "per-epoch MLM loss (default: MODEL_DIR/metrics.jsonl)"),
        SL_CLI_OPT_KMER("kmer", &kmer, "k of the tokens (6)"),
        SL_CLI_INT_OPT("window", "N", "tokens per window incl. [CLS]/[SEP] (512)", &window, 3, 100000,
                       "window"),
        SL_CLI_INT_OPT("windows-per-epoch", "N",
                       "(default: enough to cover every sequence's both strands once)", &wpe, 0, 100000000,
                       "windows_per_epoch"),
        SL_CLI_OPT_EPOCHS(&epochs, "(1)"),
        SL_CLI_OPT_BATCH_SIZE(&bs, "(8)"),
        SL_CLI_OPT_LR(&lr, "peak learning rate (4e-4), linear warm-up then decay"),
        SL_CLI_OPT_WARMUP(&warm, "(0)"),
        SL_CLI_OPT_WEIGHT_DECAY(&wd, "AdamW weight decay, not on biases/LayerNorm (0.01)"),
        SL_CLI_OPT_MAX_GRAD_NORM(&clip, "clip the total gradient norm (1.0; 0 = off)"),
        SL_CLI_REAL_OPT("mlm-probability", "P", "fraction of tokens masked (0.15)", &prob, 0, 1,
                        SL_CLI_LO_OPEN | SL_CLI_HI_OPEN, "mlm_probability"),
        SL_CLI_OPT_SEED(&seed, "N", "(42)"),
        SL_CLI_OPT_CHECKPOINT(&ck, "checkpoint every N steps as well as at epoch ends (50)", 0),
        {0},
    };
    const sl_cli_command cmd = {.name = "pretrain", .header = header, .opts = opts, .width = 24};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    if (!config == !init)
        return sl_cli_fail(
            &a, sl_err_set(&a.err, SL_EUSAGE, "pretrain: give exactly one of --config and --init-from"));
    char *mpath = sl_cli_default_in(metrics, out, "metrics.jsonl");
    if (!mpath) return sl_cli_fail(&a, sl_err_set(&a.err, SL_ENOMEM, "out of memory"));
    sl_run_input inputs[MAXF + 1];
    size_t n_in = 0;
    for (int i = 0; i < fasta.n; i++) inputs[n_in++] = (sl_run_input){"fasta", fasta.v[i]};
    if (config) inputs[n_in++] = (sl_run_input){"config", config};
    if (init) inputs[n_in++] = (sl_run_input){"init_from", init};
    sl_run_output outputs[2] = {{"model", out}, {"metrics.jsonl", mpath}};
    rc = sl_cli_run_step("pretrain", a.params, inputs, n_in, outputs, 2, &a.common, NULL);
    sl_cli_args_free(&a);
    if (rc == 0) printf("%s\n", out);
    free(mpath);
    return rc;
}
