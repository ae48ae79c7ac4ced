/* A test driver for any family engine (model.h): what tests/nn/tool_common.h describes, so that
 * test_dnabert2_parity.py can compare it with its PyTorch reference + PEFT + torch.optim.AdamW. Not
 * installed; used by ctest.
 *
 *   family_tool SPEC.json OUT.json */
#include "tool_common.h"

int main(int argc, char **argv) {
    static const sl_tool_opts opts = {.name = "family_tool", .keep_target_names = 1};
    return sl_tool_main(argc, argv, &opts);
}
