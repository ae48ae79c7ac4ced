/* The shared driver of the engine test tools (tests/nn/engine_tool.c for BERT, tests/families/esm_tool.c for
 * ESM / Nucleotide Transformer, tests/families/family_tool.c for DNABERT-2 and any family): it runs what a
 * JSON spec asks (forward, backward, AdamW steps on given token ids) on the family engine of the model
 * directory through model.h, the way train and predict run it, and writes logits, losses and gradients as
 * JSON for the Python parity scripts. Not installed.
 *
 *   TOOL SPEC.json OUT.json
 *
 * SPEC: {"model_dir", "init_adapter" (opt), "write_adapter" (opt), "seed", "problem_type", "num_labels"
 *        (opt), "lora": {"r", "alpha", "dropout", "targets": [..], "rslora", "pooler"}, "batches": [{"ids":
 *        [[..]], "mask": [[..]], "labels": [..] or [[..]]}], "steps", "accum", "lr", "weight_decay",
 *        "warmup", "total", "max_grad_norm", "threads", "precision" ("fp32" default, or "bf16": the CPU
 *        engine's bf16 mode, sl_nn_model_use_bf16)}
 * OUT: {"n_train", "trainable_line" (PEFT's print_trainable_parameters), "logits", "loss", "grads": {name:
 *       [..]}, "losses", "final_logits"} + the tool's extras.
 * An error while setting up (LoRA targets, adapter config, load, the first forward) gives OUT.json
 * {"error": message} and exit status 2 (the bad-input tests read it); other failures exit 1. */
#ifndef SEQLORA_TESTS_NN_TOOL_COMMON_H
#define SEQLORA_TESTS_NN_TOOL_COMMON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/model.h"
#include "util/error.h"

/* What differs between the tools. */
typedef struct sl_tool_opts {
    const char *name;      /* the tool's name, for messages */
    int keep_target_names; /* record the given target names in the spec (written back to the adapter) */
    void (*extras)(sl_nn_model *m, json_t *out); /* tool-specific keys of OUT (may be NULL) */
} sl_tool_opts;

/* Run the tool: parse argv, do what the spec asks, write OUT.json. Returns the exit status. */
int sl_tool_main(int argc, char **argv, const sl_tool_opts *opts);

#endif
