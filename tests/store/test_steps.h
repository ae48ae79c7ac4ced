/* Test steps: test.concat v1 and test.tree v1 (see store_driver.c). */
#ifndef SEQLORA_TESTS_STORE_TEST_STEPS_H
#define SEQLORA_TESTS_STORE_TEST_STEPS_H
#include "steps/step.h"
extern const sl_step sl_test_concat_step;
extern const sl_step sl_test_tree_step;
#endif
