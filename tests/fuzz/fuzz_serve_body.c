/* Fuzz target: the request bodies of `seqlora serve` (src/cli/serve_json.c): the first byte picks the
 * endpoint (/predict_risk or /v1/predict), the rest is the body, scored by a tiny packaged model
 * (tests/fuzz/data/tiny-model.tar.gz). Every answer must be a JSON object with an HTTP status in 200..599. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "serve.h"

#ifndef SEQLORA_FUZZ_DATA
#define SEQLORA_FUZZ_DATA "tests/fuzz/data"
#endif

static sl_serve *server(void) {
    static sl_serve s;
    static int ready;
    if (ready) return &s;
    sl_nn_bundle_model_opts o = {0};
    o.bundle = SEQLORA_FUZZ_DATA "/tiny-model.tar.gz";
    o.tmp_dir = fz_dir();
    o.threads = 1;
    sl_err err;
    if (sl_nn_bundle_model_open(&o, &s.model, &err)) {
        fprintf(stderr, "fuzz serve: %s\n", err.msg);
        abort();
    }
    pthread_mutex_init(&s.model_lock, NULL);
    s.max_body = 1 << 20;
    s.quiet = 1;
    s.model_info = sl_serve_model_info(&s);
    ready = 1;
    return &s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    sl_serve *s = server();
    sl_serve_reply r = {0};
    if (data[0] & 1)
        sl_serve_v1_predict(s, (const char *)data + 1, size - 1, &r);
    else
        sl_serve_predict_risk(s, (const char *)data + 1, size - 1, &r);
    if (r.status < 200 || r.status > 599 || (!r.json && !r.body)) abort();
    if (r.json) {
        char *text = sl_serve_dump(r.json);
        if (!text) abort();
        free(text);
        json_decref(r.json);
    }
    return 0;
}
