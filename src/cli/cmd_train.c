/* seqlora train: LoRA fine-tuning into a PEFT adapter (the `train` step). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "commands.h"
#include "nn/backend.h"
#include "util/log.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: seqlora train --base DIR --train TSV [--eval TSV] -o ADAPTER_DIR [options]\n\n"
        "Fine-tune a BERT-family Hugging Face model (DNABERT, ProtBERT, ...) with LoRA exactly as PEFT\n"
        "does, and write a PEFT adapter (adapter_config.json + adapter_model.safetensors) that\n"
        "PeftModel.from_pretrained loads. Datasets: TSV with header id<TAB>sequence<TAB>label.\n"
        "With --eval, the adapter of the best epoch (by --metric) is kept and training stops early\n"
        "after --patience epochs without improvement. A killed run resumes from its checkpoint.\n\n"
        "options:\n"
        "  --base DIR              base model directory (config.json, model.safetensors, vocab.txt)\n"
        "  --train TSV             training set (required)\n"
        "  --eval TSV              evaluation set for early stopping and the best adapter\n"
        "  -o, --output DIR        the adapter directory to write (required)\n"
        "  --metrics FILE          where to put metrics.jsonl (default: ADAPTER_DIR/metrics.jsonl)\n"
        "  --init-adapter DIR      start from this PEFT adapter (its LoRA settings are used)\n"
        "  --lora-r N              LoRA rank (16)\n"
        "  --lora-alpha A          LoRA alpha (32)\n"
        "  --lora-dropout P        dropout on the LoRA input (0.1)\n"
        "  --target-modules LIST   query,key,value,attention.output.dense,intermediate.dense,output.dense\n"
        "                          (PEFT suffix matching; default query,value)\n"
        "  --use-rslora            scale by alpha/sqrt(r) instead of alpha/r\n"
        "  --train-pooler          also train the pooler (saved in modules_to_save)\n"
        "  --lr LR                 peak learning rate (3e-4), linear decay after warmup\n"
        "  --weight-decay W        AdamW decoupled weight decay (0.01)\n"
        "  --max-grad-norm N       clip the total gradient L2 norm (1.0; 0 = off)\n"
        "  --epochs N              (10)\n"
        "  --batch-size N          (8)\n"
        "  --grad-accum N          micro-batches per optimizer step (1)\n"
        "  --warmup-steps N        (0)\n"
        "  --max-length N          tokens per sequence incl. [CLS]/[SEP] (512)\n"
        "  --patience N            epochs without improvement before stopping (3; 0 = never)\n"
        "  --seed N                (42)\n"
        "  --metric NAME           auc, accuracy, f1, mcc, loss (classification); mse, r2, loss "
        "(regression)\n"
        "  --problem-type T        single_label_classification (default), multi_label_classification,\n"
        "                          regression\n"
        "  --labels A,B            class names in index order (default: sorted unique training labels;\n"
        "                          for binary tasks the second class is the positive one)\n"
        "  --checkpoint-every N    also checkpoint every N optimizer steps (default: each epoch "
        "only)\n"
        "  --device D              auto (default: the first GPU when one is usable, else the CPU with a\n"
        "                          note), cpu, cuda, cuda:N (exit 2 when not usable); BERT-family bases\n"
        "  --precision P           fp32 (default), bf16, fp16: the frozen base's GEMMs on CUDA (CPU: fp32)\n"
        "\n" SL_CLI_COMMON_HELP);
}

enum {
    OPT_BASE = 0x2101,
    OPT_TRAIN,
    OPT_EVAL,
    OPT_METRICS,
    OPT_INIT,
    OPT_R,
    OPT_ALPHA,
    OPT_DROP,
    OPT_TARGETS,
    OPT_RSLORA,
    OPT_POOLER,
    OPT_LR,
    OPT_WD,
    OPT_CLIP,
    OPT_EPOCHS,
    OPT_BS,
    OPT_ACC,
    OPT_WARM,
    OPT_MAXLEN,
    OPT_PAT,
    OPT_SEED,
    OPT_METRIC,
    OPT_PT,
    OPT_LABELS,
    OPT_CKPT,
    OPT_DEVICE,
    OPT_PRECISION,
};

static const char *base_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    const char *s = dir + n;
    while (s > dir && s[-1] != '/') s--;
    static char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)(dir + n - s), s);
    return buf;
}

int sl_cmd_train(int argc, char **argv) {
    static const struct option longopts[] = {
        {"base", required_argument, 0, OPT_BASE},
        {"train", required_argument, 0, OPT_TRAIN},
        {"eval", required_argument, 0, OPT_EVAL},
        {"output", required_argument, 0, 'o'},
        {"metrics", required_argument, 0, OPT_METRICS},
        {"init-adapter", required_argument, 0, OPT_INIT},
        {"lora-r", required_argument, 0, OPT_R},
        {"lora-alpha", required_argument, 0, OPT_ALPHA},
        {"lora-dropout", required_argument, 0, OPT_DROP},
        {"target-modules", required_argument, 0, OPT_TARGETS},
        {"use-rslora", no_argument, 0, OPT_RSLORA},
        {"train-pooler", no_argument, 0, OPT_POOLER},
        {"lr", required_argument, 0, OPT_LR},
        {"weight-decay", required_argument, 0, OPT_WD},
        {"max-grad-norm", required_argument, 0, OPT_CLIP},
        {"epochs", required_argument, 0, OPT_EPOCHS},
        {"batch-size", required_argument, 0, OPT_BS},
        {"grad-accum", required_argument, 0, OPT_ACC},
        {"warmup-steps", required_argument, 0, OPT_WARM},
        {"max-length", required_argument, 0, OPT_MAXLEN},
        {"patience", required_argument, 0, OPT_PAT},
        {"seed", required_argument, 0, OPT_SEED},
        {"metric", required_argument, 0, OPT_METRIC},
        {"problem-type", required_argument, 0, OPT_PT},
        {"labels", required_argument, 0, OPT_LABELS},
        {"checkpoint-every", required_argument, 0, OPT_CKPT},
        {"device", required_argument, 0, OPT_DEVICE},
        {"precision", required_argument, 0, OPT_PRECISION},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    const char *base = NULL, *train = NULL, *eval = NULL, *out = NULL, *metrics = NULL, *init = NULL;
    const char *targets = "query,value", *metric = NULL, *pt = "single_label_classification", *labels = NULL;
    const char *device = NULL, *precision = NULL;
    long long r = 16, epochs = 10, bs = 8, acc = 1, warm = 0, maxlen = 512, pat = 3, seed = 42, ck = 0;
    double alpha = 32, drop = 0.1, lr = 3e-4, wd = 0.01, clip = 1.0;
    int rslora = 0, pooler = 0, opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        rc = 0;
        switch (opt) {
            case OPT_BASE:
                base = optarg;
                break;
            case OPT_TRAIN:
                train = optarg;
                break;
            case OPT_EVAL:
                eval = optarg;
                break;
            case 'o':
                out = optarg;
                break;
            case OPT_METRICS:
                metrics = optarg;
                break;
            case OPT_INIT:
                init = optarg;
                break;
            case OPT_TARGETS:
                targets = optarg;
                break;
            case OPT_RSLORA:
                rslora = 1;
                break;
            case OPT_POOLER:
                pooler = 1;
                break;
            case OPT_METRIC:
                metric = optarg;
                break;
            case OPT_PT:
                pt = optarg;
                break;
            case OPT_LABELS:
                labels = optarg;
                break;
            case OPT_DEVICE:
                device = optarg;
                break;
            case OPT_PRECISION:
                precision = optarg;
                break;
            case OPT_R:
                rc = sl_cli_parse_int("--lora-r", optarg, 1, 4096, &r, &err);
                break;
            case OPT_ALPHA:
                rc = sl_cli_parse_real("--lora-alpha", optarg, &alpha, &err);
                break;
            case OPT_DROP:
                rc = sl_cli_parse_real("--lora-dropout", optarg, &drop, &err);
                break;
            case OPT_LR:
                rc = sl_cli_parse_real("--lr", optarg, &lr, &err);
                break;
            case OPT_WD:
                rc = sl_cli_parse_real("--weight-decay", optarg, &wd, &err);
                break;
            case OPT_CLIP:
                rc = sl_cli_parse_real("--max-grad-norm", optarg, &clip, &err);
                break;
            case OPT_EPOCHS:
                rc = sl_cli_parse_int("--epochs", optarg, 1, 100000, &epochs, &err);
                break;
            case OPT_BS:
                rc = sl_cli_parse_int("--batch-size", optarg, 1, 65536, &bs, &err);
                break;
            case OPT_ACC:
                rc = sl_cli_parse_int("--grad-accum", optarg, 1, 65536, &acc, &err);
                break;
            case OPT_WARM:
                rc = sl_cli_parse_int("--warmup-steps", optarg, 0, 1LL << 40, &warm, &err);
                break;
            case OPT_MAXLEN:
                rc = sl_cli_parse_int("--max-length", optarg, 3, 1000000, &maxlen, &err);
                break;
            case OPT_PAT:
                rc = sl_cli_parse_int("--patience", optarg, 0, 100000, &pat, &err);
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
    if (optind < argc) return sl_cli_usage_error("train: unexpected argument '%s'", argv[optind]);
    if (!base || !train || !out)
        return sl_cli_usage_error("train: --base, --train and -o are required (see seqlora train --help)");
    if (!(alpha > 0)) return sl_cli_usage_error("--lora-alpha: expected a positive number");
    if (!(drop >= 0 && drop < 1)) return sl_cli_usage_error("--lora-dropout: expected a value in [0, 1)");
    if (!(lr > 0 && lr < 10)) return sl_cli_usage_error("--lr: expected a value in (0, 10)");
    if (!(wd >= 0 && wd < 10)) return sl_cli_usage_error("--weight-decay: expected a value in [0, 10)");
    if (!(clip >= 0)) return sl_cli_usage_error("--max-grad-norm: expected a value >= 0");
    /* the device: resolved here, so that only a CUDA run carries device/precision in its action key */
    sl_nn_device dev;
    int prec;
    char note[1400];
    if ((rc = sl_nn_device_select(device, precision, base, &dev, &prec, note, sizeof note, &err)))
        return sl_cli_report(rc, &err);
    if (note[0] && !common.quiet) sl_log_info("%s", note);

    json_t *params = json_object();
    json_object_set_new(params, "lora_r", json_integer(r));
    json_object_set_new(params, "lora_alpha", json_real(alpha));
    json_object_set_new(params, "lora_dropout", json_real(drop));
    json_object_set_new(params, "target_modules", json_string(targets));
    json_object_set_new(params, "use_rslora", json_boolean(rslora));
    json_object_set_new(params, "train_pooler", json_boolean(pooler));
    json_object_set_new(params, "lr", json_real(lr));
    json_object_set_new(params, "weight_decay", json_real(wd));
    json_object_set_new(params, "max_grad_norm", json_real(clip));
    json_object_set_new(params, "epochs", json_integer(epochs));
    json_object_set_new(params, "batch_size", json_integer(bs));
    json_object_set_new(params, "grad_accum", json_integer(acc));
    json_object_set_new(params, "warmup_steps", json_integer(warm));
    json_object_set_new(params, "max_length", json_integer(maxlen));
    json_object_set_new(params, "patience", json_integer(pat));
    json_object_set_new(params, "seed", json_integer(seed));
    if (metric) json_object_set_new(params, "metric", json_string(metric));
    json_object_set_new(params, "problem_type", json_string(pt));
    if (labels) json_object_set_new(params, "labels", json_string(labels));
    if (ck) json_object_set_new(params, "checkpoint_every", json_integer(ck));
    json_object_set_new(params, "base_name", json_string(base_name(base)));
    if (dev.kind == SL_NN_DEVICE_CUDA) {
        json_object_set_new(params, "device", json_string("cuda"));
        json_object_set_new(params, "precision", json_string(sl_nn_precision_name(prec)));
        sl_nn_cuda_set_ordinal(dev.index);
    }
    sl_run_input inputs[4];
    size_t n_in = 0;
    inputs[n_in++] = (sl_run_input){"base", base};
    inputs[n_in++] = (sl_run_input){"train", train};
    if (eval) inputs[n_in++] = (sl_run_input){"eval", eval};
    if (init) inputs[n_in++] = (sl_run_input){"init_adapter", init};
    char *mdefault = NULL;
    if (!metrics) {
        size_t l = strlen(out) + 32;
        mdefault = malloc(l);
        if (!mdefault) return sl_cli_report(sl_err_set(&err, SL_ENOMEM, "out of memory"), &err);
        snprintf(mdefault, l, "%s/metrics.jsonl", out);
        metrics = mdefault;
    }
    sl_run_output outputs[2] = {{"adapter", out}, {"metrics.jsonl", metrics}};
    rc = sl_cli_run_step("train", params, inputs, n_in, outputs, 2, &common, NULL);
    json_decref(params);
    if (rc == 0) printf("%s\n", out);
    free(mdefault);
    return rc;
}
