/* Fuzz target: the trainer's metrics.jsonl read by the history plots (src/nn/history.h). */
#include "fuzz_util.h"
#include "nn/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_file("metrics.jsonl", data, size);
    int wrote = 0;
    sl_err err;
    sl_nn_history_plot(path, fz_path("loss.svg"), fz_path("metric.svg"), &wrote, &err);
    return 0;
}
