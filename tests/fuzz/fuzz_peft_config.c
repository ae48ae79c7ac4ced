/* Fuzz target: adapter_config.json — the PEFT config reader/writer (src/nn/peft_config.h) and the LoRA
 * spec reader of adapters (src/nn/adapter.h) on the same bytes. */
#include <stdlib.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "nn/adapter.h"
#include "nn/peft_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fz_path("adapter");
    if (mkdir(dir, 0700)) abort();
    const char *path = fz_file("adapter/adapter_config.json", data, size);
    sl_err err;
    sl_nn_peft_config cfg; /* initialised by read, freed even on failure (peft_config.h) */
    if (!sl_nn_peft_config_read(path, &cfg, &err)) {
        free(sl_nn_peft_config_dumps(&cfg, &err));
        (void)sl_nn_peft_config_scaling(&cfg);
        (void)sl_nn_peft_config_targets(&cfg, "bert.encoder.layer.0.attention.self.query");
        (void)sl_nn_peft_config_targets(&cfg, "bert.pooler.dense");
        sl_nn_peft_config_write(fz_path("written.json"), &cfg, &err);
    }
    sl_nn_peft_config_free(&cfg);
    sl_nn_lora_spec spec;
    sl_nn_adapter_read_config(dir, &spec, &err);
    return 0;
}
