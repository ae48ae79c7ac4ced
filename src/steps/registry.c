/* The table of built-in steps. Add one line per step (and its extern declaration). */
#include <string.h>

#include "step.h"

/* extern const sl_step sl_step_fetch; ... one per step file */
extern const sl_step sl_step_fetch;
extern const sl_step sl_step_fetch_ensembl;
extern const sl_step sl_step_evaluate;
extern const sl_step sl_step_train;
extern const sl_step sl_step_predict;
extern const sl_step sl_step_package;
extern const sl_step sl_step_score;

extern const sl_step sl_step_clean;
extern const sl_step sl_step_sexcheck;
extern const sl_step sl_step_clinical;
extern const sl_step sl_step_kmerize;
extern const sl_step sl_step_split;
extern const sl_step sl_step_init_model;
extern const sl_step sl_step_pretrain;

static const sl_step *const all_steps[] = {
    &sl_step_clean,
    &sl_step_sexcheck,
    &sl_step_clinical,
    &sl_step_kmerize,
    &sl_step_split,
    &sl_step_fetch,
    &sl_step_fetch_ensembl,
    &sl_step_evaluate,
    &sl_step_train,
    &sl_step_predict,
    &sl_step_package,
    &sl_step_score,
    &sl_step_init_model,
    &sl_step_pretrain,
    NULL,
};

const sl_step *const *sl_step_all(void) {
    return all_steps;
}

const sl_step *sl_step_find(const char *name) {
    for (size_t i = 0; all_steps[i]; i++)
        if (!strcmp(all_steps[i]->name, name)) return all_steps[i];
    return NULL;
}
