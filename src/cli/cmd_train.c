/* seqlora train: LoRA fine-tuning into a PEFT adapter (the `train` step). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "commands.h"

static const char header[] =
    "usage: seqlora train --base DIR --train TSV [--eval TSV] -o ADAPTER_DIR [options]\n\n"
    "Fine-tune a BERT-family Hugging Face model (DNABERT, ProtBERT, ...) with LoRA exactly as PEFT\n"
    "does, and write a PEFT adapter (adapter_config.json + adapter_model.safetensors) that\n"
    "PeftModel.from_pretrained loads. Datasets: TSV with header id<TAB>sequence<TAB>label.\n"
    "With --eval, the adapter of the best epoch (by --metric) is kept and training stops early\n"
    "after --patience epochs without improvement. A killed run resumes from its checkpoint.\n\n";

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
    const char *base = NULL, *train = NULL, *eval = NULL, *out = NULL, *metrics = NULL, *init = NULL;
    const char *targets = "query,value", *metric = NULL, *pt = "single_label_classification", *labels = NULL;
    const char *device = NULL, *precision = NULL;
    long long r = 16, epochs = 10, bs = 8, acc = 1, warm = 0, maxlen = 512, pat = 3, seed = 42, ck = 0;
    double alpha = 32, drop = 0.1, lr = 3e-4, wd = 0.01, clip = 1.0;
    int rslora = 0, pooler = 0;
    const sl_cli_opt opts[] = {
        SL_CLI_OPT_BASE(&base, "base model directory (config.json, model.safetensors, vocab.txt)",
                        SL_CLI_REQUIRED),
        {.name = "train",
         .arg = "TSV",
         .help = "training set (required)",
         .str = &train,
         .flags = SL_CLI_REQUIRED},
        {.name = "eval",
         .arg = "TSV",
         .help = "evaluation set for early stopping and the best adapter",
         .str = &eval},
        SL_CLI_OPT_OUTPUT(&out, "DIR", "the adapter directory to write (required)", SL_CLI_REQUIRED),
        SL_CLI_OPT_METRICS(&metrics, "where to put metrics.jsonl (default: ADAPTER_DIR/metrics.jsonl)"),
        {.name = "init-adapter",
         .arg = "DIR",
         .help = "start from this PEFT adapter (its LoRA settings are used)",
         .str = &init},
        SL_CLI_INT_OPT("lora-r", "N", "LoRA rank (16)", &r, 1, 4096, "lora_r"),
        SL_CLI_REAL_OPT("lora-alpha", "A", "LoRA alpha (32)", &alpha, 0, INFINITY, SL_CLI_LO_OPEN,
                        "lora_alpha"),
        SL_CLI_REAL_OPT("lora-dropout", "P", "dropout on the LoRA input (0.1)", &drop, 0, 1, SL_CLI_HI_OPEN,
                        "lora_dropout"),
        {.name = "target-modules",
         .arg = "LIST",
         .help = "query,key,value,attention.output.dense,intermediate.dense,output.dense\n"
                 "(PEFT suffix matching; default query,value)",
         .str = &targets,
         .param = "target_modules"},
        {.name = "use-rslora",
         .help = "scale by alpha/sqrt(r) instead of alpha/r",
         .flag = &rslora,
         .param = "use_rslora"},
        {.name = "train-pooler",
         .help = "also train the pooler (saved in modules_to_save)",
         .flag = &pooler,
         .param = "train_pooler"},
        SL_CLI_OPT_LR(&lr, "peak learning rate (3e-4), linear decay after warmup"),
        SL_CLI_OPT_WEIGHT_DECAY(&wd, "AdamW decoupled weight decay (0.01)"),
        SL_CLI_OPT_MAX_GRAD_NORM(&clip, "clip the total gradient L2 norm (1.0; 0 = off)"),
        SL_CLI_OPT_EPOCHS(&epochs, "(10)"),
        SL_CLI_OPT_BATCH_SIZE(&bs, "(8)"),
        SL_CLI_INT_OPT("grad-accum", "N", "micro-batches per optimizer step (1)", &acc, 1, 65536,
                       "grad_accum"),
        SL_CLI_OPT_WARMUP(&warm, "(0)"),
        SL_CLI_INT_OPT("max-length", "N", "tokens per sequence incl. [CLS]/[SEP] (512)", &maxlen, 3, 1000000,
                       "max_length"),
        SL_CLI_INT_OPT("patience", "N", "epochs without improvement before stopping (3; 0 = never)", &pat, 0,
                       100000, "patience"),
        SL_CLI_OPT_SEED(&seed, "N", "(42)"),
        {.name = "metric",
         .arg = "NAME",
         .help = "auc, accuracy, f1, mcc, loss (classification); mse, r2, loss (regression)",
         .str = &metric,
         .param = "metric"},
        {.name = "problem-type",
         .arg = "T",
         .help = "single_label_classification (default), multi_label_classification,\nregression",
         .str = &pt,
         .param = "problem_type"},
        {.name = "labels",
         .arg = "A,B",
         .help = "class names in index order (default: sorted unique training labels;\n"
                 "for binary tasks the second class is the positive one)",
         .str = &labels,
         .param = "labels"},
        SL_CLI_OPT_CHECKPOINT(&ck, "also checkpoint every N optimizer steps (default: each epoch only)",
                              SL_CLI_OMIT_ZERO),
        SL_CLI_OPT_DEVICE(&device, "auto (default: the first GPU when one is usable, else the CPU with a\n"
                                   "note), cpu, cuda, cuda:N (exit 2 when not usable); BERT-family bases"),
        SL_CLI_OPT_PRECISION(
            &precision,
            "fp32 (default), bf16, fp16: the frozen base's GEMMs (CPU: fp32, bf16 with AVX512-BF16)"),
        {0},
    };
    const sl_cli_command cmd = {.name = "train", .header = header, .opts = opts, .width = 24};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    /* the device is resolved here, so that only a CUDA run carries device/precision in its action key */
    rc = sl_cli_device_params(device, precision, &a.common, a.params, &a.err);
    if (!rc && json_object_set_new(a.params, "base_name", json_string(base_name(base))))
        rc = sl_err_set(&a.err, SL_ENOMEM, "out of memory");
    char *mpath = rc ? NULL : sl_cli_default_in(metrics, out, "metrics.jsonl");
    if (!rc && !mpath) rc = sl_err_set(&a.err, SL_ENOMEM, "out of memory");
    if (rc) return sl_cli_fail(&a, rc);
    sl_run_input inputs[4];
    size_t n_in = 0;
    inputs[n_in++] = (sl_run_input){"base", base};
    inputs[n_in++] = (sl_run_input){"train", train};
    if (eval) inputs[n_in++] = (sl_run_input){"eval", eval};
    if (init) inputs[n_in++] = (sl_run_input){"init_adapter", init};
    sl_run_output outputs[2] = {{"adapter", out}, {"metrics.jsonl", mpath}};
    rc = sl_cli_run_step("train", a.params, inputs, n_in, outputs, 2, &a.common, NULL);
    sl_cli_args_free(&a);
    if (rc == 0) printf("%s\n", out);
    free(mpath);
    return rc;
}
