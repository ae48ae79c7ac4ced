/* Runs the `evaluate` step's function directly (no store): eval_step_driver OUTDIR PARAMS_JSON ROLE=PATH...
 * The Python tests use it to check the step against scikit-learn independently of the runner; the CLI
 * (`seqlora evaluate`) goes through the runner to this same function. Prints errors as the CLI does and
 * exits with the same status. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps/step.h"
#include "util/error.h"
#include "util/fs.h"

extern const sl_step sl_step_evaluate;

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: eval_step_driver OUTDIR PARAMS_JSON ROLE=PATH...\n");
        return 2;
    }
    sl_err err;
    sl_err_clear(&err);
    json_error_t je;
    json_t *params = json_loads(argv[2], 0, &je);
    if (!params) {
        fprintf(stderr, "eval_step_driver: bad params JSON: %s\n", je.text);
        return 2;
    }
    sl_step_input_t inputs[8];
    size_t n = 0;
    for (int i = 3; i < argc && n < 8; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = '\0';
        inputs[n].role = argv[i];
        inputs[n].path = eq + 1;
        n++;
    }
    int rc = sl_fs_mkdirs(argv[1], &err);
    json_t *summary = json_object();
    sl_step_ctx ctx = {.params = params,
                       .outdir = argv[1],
                       .workdir = NULL,
                       .threads = 1,
                       .inputs = inputs,
                       .n_inputs = n,
                       .summary = summary,
                       .err = &err};
    if (!rc) rc = sl_step_evaluate.run(&ctx);
    json_decref(params);
    json_decref(summary);
    if (rc) {
        fprintf(stderr, "seqlora: error: %s\n", err.msg);
        return sl_err_exit_status(rc);
    }
    return 0;
}
