/* The ESM engine's test driver: what tests/nn/tool_common.h describes, so that test_esm_parity.py can compare
 * it with transformers' EsmForSequenceClassification + PEFT + torch.optim.AdamW. Extra output "n_total"
 * (every parameter as PEFT counts them; absent when the model is not of the ESM family). Not installed;
 * used by ctest.
 *
 *   esm_tool SPEC.json OUT.json */
#include "nn/esm.h"
#include "tool_common.h"

static void extras(sl_nn_model *m, json_t *out) {
    const sl_nn_esm *e = sl_nn_model_esm(m);
    if (e) json_object_set_new(out, "n_total", json_integer((json_int_t)sl_nn_esm_n_total(e)));
}

int main(int argc, char **argv) {
    static const sl_tool_opts opts = {.name = "esm_tool", .keep_target_names = 1, .extras = extras};
    return sl_tool_main(argc, argv, &opts);
}
