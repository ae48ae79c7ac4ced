/* The BERT engine's test driver: what tests/nn/tool_common.h describes, so that test_engine_parity.py can
 * compare it with transformers + PEFT + torch.optim.AdamW. The adapter it writes lists the adapted module
 * paths, not the target names the spec gave. Not installed; used by ctest only.
 *
 *   engine_tool SPEC.json OUT.json */
#include "tool_common.h"

int main(int argc, char **argv) {
    static const sl_tool_opts opts = {.name = "engine_tool", .keep_target_names = 0};
    return sl_tool_main(argc, argv, &opts);
}
