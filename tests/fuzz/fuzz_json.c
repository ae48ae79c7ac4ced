/* Fuzz target: canonical JSON (src/util/json.h) — the encoding every cache key and record is hashed
 * from — and the typed parameter getters. Checks that canonical output re-parses to an equal value and
 * is a fixed point (canonical(parse(canonical(v))) == canonical(v)), which keys rely on. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_error_t je;
    json_t *v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v) return 0;
    char *c1 = sl_json_canonical(v);
    if (c1) {
        json_t *w = json_loads(c1, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        if (!w) abort(); /* canonical output that does not parse */
        char *c2 = sl_json_canonical(w);
        if (!c2 || strcmp(c1, c2)) abort(); /* not a fixed point: the same value could get two keys */
        free(c2);
        json_decref(w);
        free(c1);
    }
    if (json_is_object(v)) {
        sl_err err;
        long long i;
        double d;
        int b;
        const char *s;
        const char *key;
        json_t *x;
        json_object_foreach(v, key, x) {
            sl_json_get_int(v, key, 0, &i, &err);
            sl_json_get_real(v, key, 0, &d, &err);
            sl_json_get_bool(v, key, 0, &b, &err);
            sl_json_get_str(v, key, "", &s, &err);
        }
    }
    json_decref(v);
    return 0;
}
