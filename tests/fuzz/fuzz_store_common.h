/* One store per fuzzing process, in the scratch folder (fuzz_util.h), shared by the store targets. */
#ifndef SEQLORA_TESTS_FUZZ_STORE_COMMON_H
#define SEQLORA_TESTS_FUZZ_STORE_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "store/store.h"

static inline sl_store *fz_store(void) {
    static sl_store *s;
    if (s) return s;
    sl_err err;
    if (sl_store_open(fz_path("store"), &s, &err)) {
        fprintf(stderr, "cannot open the fuzz store: %s\n", err.msg);
        abort();
    }
    return s;
}

#endif
