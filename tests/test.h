/* A minimal unit-test harness: CHECK* record a failure with file:line and go on; TEST_MAIN runs the listed
 * tests and exits non-zero when any check failed. */
#ifndef SEQLORA_TESTS_TEST_H
#define SEQLORA_TESTS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures = 0;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                         \
            test_failures++;                                                                                 \
        }                                                                                                    \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                                   \
    do {                                                                                                     \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                                \
        if (va_ != vb_) {                                                                                    \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, va_, vb_); \
            test_failures++;                                                                                 \
        }                                                                                                    \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                                   \
    do {                                                                                                     \
        const char *sa_ = (a), *sb_ = (b);                                                                   \
        if (!sa_ || !sb_ || strcmp(sa_, sb_)) {                                                              \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b,        \
                    sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                                             \
            test_failures++;                                                                                 \
        }                                                                                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                                \
    do {                                                                                                     \
        double da_ = (a), db_ = (b);                                                                         \
        if (!(fabs(da_ - db_) <= (tol))) {                                                                   \
            fprintf(stderr, "%s:%d: |%s - %s| <= %g failed: %.9g vs %.9g\n", __FILE__, __LINE__, #a, #b,     \
                    (double)(tol), da_, db_);                                                                \
            test_failures++;                                                                                 \
        }                                                                                                    \
    } while (0)

#define RUN_TEST(fn)                                                                                         \
    do {                                                                                                     \
        int before_ = test_failures;                                                                         \
        fn();                                                                                                \
        fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn);                         \
    } while (0)

#define TEST_RESULT() (test_failures ? (fprintf(stderr, "%d check(s) failed\n", test_failures), 1) : 0)

/* TEST_RESULT, except that a run whose checks all passed but which could not run some of them (`done` is 0:
 * e.g. no AVX-512 on this CPU for a vectorised-vs-portable comparison) exits 77, which tests registered with
 * SKIP_RETURN_CODE 77 report as Skipped rather than Passed. */
#define TEST_RESULT_UNLESS_SKIPPED(done, why)                                                                \
    (test_failures ? TEST_RESULT() : (done) ? 0 : (fprintf(stderr, "SKIPPED in part: %s\n", why), 77))

#endif
