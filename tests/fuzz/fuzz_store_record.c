/* Fuzz target: action records (src/store/record.c). The input is parsed as a record file as the store
 * reads it from actions/ (checksum and key checked). Then, so that fuzzing gets past the two hashes, the
 * same JSON object gets its true key and checksum and goes through check → put → get → each artifact:
 * a record the checker accepts must round-trip through the store unchanged. */
#include <jansson.h>
#include <string.h>

#include "fuzz_store_common.h"
#include "store/store_internal.h"
#include "util/sha256.h"

static void visit(void *user, const char *hex, int is_tree, int is_output) {
    (void)user;
    (void)is_tree;
    (void)is_output;
    if (!hex || !sl_is_sha256_hex(hex)) abort(); /* the check promised digests */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_err err;
    json_t *r = NULL;
    if (!sl_store_record_load_file(fz_file("record.json", data, size), NULL, &r, &err)) json_decref(r);

    json_error_t je;
    r = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(r)) {
        json_decref(r);
        return 0;
    }
    const char *step = json_string_value(json_object_get(r, "step"));
    char key[65], sum[65];
    if (step && json_is_integer(json_object_get(r, "version")) &&
        !sl_store_action_key(step, (int)json_integer_value(json_object_get(r, "version")),
                             json_object_get(r, "params"), json_object_get(r, "inputs"), key, &err)) {
        json_object_set_new(r, "key", json_string(key));
        if (!sl_store_record_checksum(r, sum, &err)) {
            json_object_set_new(r, "checksum", json_string(sum));
            if (!sl_store_record_check(r, key, &err)) {
                sl_store_record_each_artifact(r, visit, NULL);
                sl_store *s = fz_store();
                if (!sl_store_record_put(s, r, 1, &err)) {
                    json_t *back = NULL;
                    if (sl_store_record_get(s, key, &back, &err)) abort(); /* put said stored */
                    if (!json_equal(r, back)) abort();                     /* the store changed the record */
                    json_decref(back);
                }
            }
        }
    }
    json_decref(r);
    return 0;
}
