/* Fuzz target: a model's config.json (src/nn/bert_config.h), then a head replaced on what was read. */
#include "fuzz_util.h"
#include "nn/bert_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_file("config.json", data, size);
    sl_nn_bert_config cfg;
    sl_err err;
    if (sl_nn_bert_config_load(path, &cfg, &err)) return 0;
    for (int i = 0; i < cfg.num_labels; i++) (void)cfg.labels[i];
    (void)sl_nn_problem_name(cfg.problem);
    static const char *const names[2] = {"benign", "pathogenic"};
    sl_nn_bert_config_set_head(&cfg, 2, names, SL_NN_SINGLE_LABEL, &err);
    sl_nn_bert_config_free(&cfg);
    return 0;
}
