/* seqlora pretrain: masked-language-model pretraining of a BERT k-mer model (the `pretrain` step). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "commands.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: seqlora pretrain --fasta FILE [--fasta FILE...] (--config BERT_CONFIG.json | --init-from "
        "DIR)\n"
        "                        -o MODEL_DIR [options]\n\n"
        "Masked-language-model pretraining (all weights) of a BERT model on overlapping k-mer tokens of\n"
        "random windows of the given sequences, both strands. Masking as DNABERT: spans of k tokens so a\n"
        "masked k-mer cannot be read off its neighbours; 80%% [MASK] / 10%% random k-mer / 10%% kept.\n"
        "Writes a Hugging Face BertForMaskedLM directory (config.json, model.safetensors, vocab.txt,\n"
        "tokenizer files) that `seqlora train --base` and transformers load. A killed run resumes.\n\n"
        "options:\n"
        "  --fasta FILE            sequences (FASTA, plain or gzip/bgzip/bz2/xz/zstd; repeatable)\n"
        "  --config FILE           from scratch: a BertConfig JSON (hidden_size, num_hidden_layers,\n"
        "                          num_attention_heads, intermediate_size, max_position_embeddings,\n"
        "                          initializer_range); the vocabulary is DNABERT's k-mer one\n"
        "  --init-from DIR         continue from this model directory instead\n"
        "  -o, --output DIR        the model directory to write (required)\n"
        "  --metrics FILE          per-epoch MLM loss (default: MODEL_DIR/metrics.jsonl)\n"
        "  --kmer K                k of the tokens (6)\n"
        "  --window N              tokens per window incl. [CLS]/[SEP] (512)\n"
        "  --windows-per-epoch N   (default: enough to cover every sequence's both strands once)\n"
        "  --epochs N              (1)\n"
        "  --batch-size N          (8)\n"
        "  --lr LR                 peak learning rate (4e-4), linear warm-up then decay\n"
        "  --warmup-steps N        (0)\n"
        "  --weight-decay W        AdamW weight decay, not on biases/LayerNorm (0.01)\n"
        "  --max-grad-norm N       clip the total gradient norm (1.0; 0 = off)\n"
        "  --mlm-probability P     fraction of tokens masked (0.15)\n"
        "  --seed N                (42)\n"
        "  --checkpoint-every N    checkpoint every N steps as well as at epoch ends "
        "(50)\n\n" SL_CLI_COMMON_HELP);
}

enum {
    OPT_FASTA = 0x2201,
    OPT_CONFIG,
    OPT_INIT,
    OPT_METRICS,
    OPT_KMER,
    OPT_WINDOW,
    OPT_WPE,
    OPT_EPOCHS,
    OPT_BS,
    OPT_LR,
    OPT_WARM,
    OPT_WD,
    OPT_CLIP,
    OPT_PROB,
    OPT_SEED,
    OPT_CKPT,
};

int sl_cmd_pretrain(int argc, char **argv) {
    static const struct option longopts[] = {
        {"fasta", required_argument, 0, OPT_FASTA},
        {"config", required_argument, 0, OPT_CONFIG},
        {"init-from", required_argument, 0, OPT_INIT},
        {"output", required_argument, 0, 'o'},
        {"metrics", required_argument, 0, OPT_METRICS},
        {"kmer", required_argument, 0, OPT_KMER},
        {"window", required_argument, 0, OPT_WINDOW},
        {"windows-per-epoch", required_argument, 0, OPT_WPE},
        {"epochs", required_argument, 0, OPT_EPOCHS},
        {"batch-size", required_argument, 0, OPT_BS},
        {"lr", required_argument, 0, OPT_LR},
        {"warmup-steps", required_argument, 0, OPT_WARM},
        {"weight-decay", required_argument, 0, OPT_WD},
        {"max-grad-norm", required_argument, 0, OPT_CLIP},
        {"mlm-probability", required_argument, 0, OPT_PROB},
        {"seed", required_argument, 0, OPT_SEED},
        {"checkpoint-every", required_argument, 0, OPT_CKPT},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    enum { MAXF = 64 };
    const char *fasta[MAXF];
    int nf = 0;
    const char *config = NULL, *init = NULL, *out = NULL, *metrics = NULL;
    long long kmer = 6, window = 512, wpe = 0, epochs = 1, bs = 8, warm = 0, seed = 42, ck = 50;
    double lr = 4e-4, wd = 0.01, clip = 1.0, prob = 0.15;
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        rc = 0;
        switch (opt) {
            case OPT_FASTA:
                if (nf == MAXF) return sl_cli_usage_error("pretrain: at most %d --fasta files", MAXF);
                fasta[nf++] = optarg;
                break;
            case OPT_CONFIG:
                config = optarg;
                break;
            case OPT_INIT:
                init = optarg;
                break;
            case 'o':
                out = optarg;
                break;
            case OPT_METRICS:
                metrics = optarg;
                break;
            case OPT_KMER:
                rc = sl_cli_parse_int("--kmer", optarg, 3, 8, &kmer, &err);
                break;
            case OPT_WINDOW:
                rc = sl_cli_parse_int("--window", optarg, 3, 100000, &window, &err);
                break;
            case OPT_WPE:
                rc = sl_cli_parse_int("--windows-per-epoch", optarg, 0, 100000000, &wpe, &err);
                break;
            case OPT_EPOCHS:
                rc = sl_cli_parse_int("--epochs", optarg, 1, 100000, &epochs, &err);
                break;
            case OPT_BS:
                rc = sl_cli_parse_int("--batch-size", optarg, 1, 65536, &bs, &err);
                break;
            case OPT_LR:
                rc = sl_cli_parse_real("--lr", optarg, &lr, &err);
                break;
            case OPT_WARM:
                rc = sl_cli_parse_int("--warmup-steps", optarg, 0, 1LL << 40, &warm, &err);
                break;
            case OPT_WD:
                rc = sl_cli_parse_real("--weight-decay", optarg, &wd, &err);
                break;
            case OPT_CLIP:
                rc = sl_cli_parse_real("--max-grad-norm", optarg, &clip, &err);
                break;
            case OPT_PROB:
                rc = sl_cli_parse_real("--mlm-probability", optarg, &prob, &err);
                break;
            case OPT_SEED:
                rc = sl_cli_parse_int("--seed", optarg, 0, 1LL << 62, &seed, &err);
                break;
            case OPT_CKPT:
                rc = sl_cli_parse_int("--checkpoint-every", optarg, 0, 1LL << 40, &ck, &err);
                break;
            case 'h':
                usage(stdout);
                return 0;
            default:
                rc = sl_cli_common_opt(&common, opt, optarg, &err);
                if (rc < 0) return sl_cli_report(rc, &err);
                if (rc == 0) {
                    usage(stderr);
                    return 2;
                }
                rc = 0;
        }
        if (rc) return sl_cli_report(SL_EUSAGE, &err);
    }
    if (optind < argc) return sl_cli_usage_error("pretrain: unexpected argument '%s'", argv[optind]);
    if (!nf || !out)
        return sl_cli_usage_error("pretrain: --fasta and -o are required (see seqlora pretrain --help)");
    if (!config == !init) return sl_cli_usage_error("pretrain: give exactly one of --config and --init-from");
    if (!(lr > 0 && lr < 10)) return sl_cli_usage_error("--lr: expected a value in (0, 10)");
    if (!(wd >= 0 && wd < 10)) return sl_cli_usage_error("--weight-decay: expected a value in [0, 10)");
    if (!(clip >= 0)) return sl_cli_usage_error("--max-grad-norm: expected a value >= 0");
    if (!(prob > 0 && prob < 1)) return sl_cli_usage_error("--mlm-probability: expected a value in (0, 1)");
    json_t *params = json_object();
    json_object_set_new(params, "kmer", json_integer(kmer));
    json_object_set_new(params, "window", json_integer(window));
    json_object_set_new(params, "windows_per_epoch", json_integer(wpe));
    json_object_set_new(params, "epochs", json_integer(epochs));
    json_object_set_new(params, "batch_size", json_integer(bs));
    json_object_set_new(params, "lr", json_real(lr));
    json_object_set_new(params, "warmup_steps", json_integer(warm));
    json_object_set_new(params, "weight_decay", json_real(wd));
    json_object_set_new(params, "max_grad_norm", json_real(clip));
    json_object_set_new(params, "mlm_probability", json_real(prob));
    json_object_set_new(params, "seed", json_integer(seed));
    json_object_set_new(params, "checkpoint_every", json_integer(ck));
    sl_run_input inputs[MAXF + 1];
    size_t n_in = 0;
    for (int i = 0; i < nf; i++) inputs[n_in++] = (sl_run_input){"fasta", fasta[i]};
    if (config) inputs[n_in++] = (sl_run_input){"config", config};
    if (init) inputs[n_in++] = (sl_run_input){"init_from", init};
    char *mdefault = NULL;
    if (!metrics) {
        size_t l = strlen(out) + 32;
        mdefault = malloc(l);
        if (!mdefault) return sl_cli_report(sl_err_set(&err, SL_ENOMEM, "out of memory"), &err);
        snprintf(mdefault, l, "%s/metrics.jsonl", out);
        metrics = mdefault;
    }
    sl_run_output outputs[2] = {{"model", out}, {"metrics.jsonl", metrics}};
    rc = sl_cli_run_step("pretrain", params, inputs, n_in, outputs, 2, &common, NULL);
    json_decref(params);
    if (rc == 0) printf("%s\n", out);
    free(mdefault);
    return rc;
}
