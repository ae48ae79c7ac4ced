/* Fuzz target: the predictions TSV reader of `evaluate` (src/nn/pred_table.h). The first byte picks the
 * task (auto, binary, multiclass, multilabel, regression); the rest is the file. */
#include "fuzz_util.h"
#include "nn/pred_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    sl_nn_task task = (sl_nn_task)(data[0] % 5);
    const char *path = fz_file("predictions.tsv", data + 1, size - 1);
    sl_nn_pred_table t;
    sl_err err;
    if (sl_nn_pred_table_read(path, task, &t, &err)) return 0;
    sl_nn_pred_table_free(&t);
    return 0;
}
