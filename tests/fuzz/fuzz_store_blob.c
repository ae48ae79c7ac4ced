/* Fuzz target: blob files as the store reads them (src/store/blob.c): the zstd frame header
 * (sl_store_blob_file_info) and the verified streaming read (sl_store_read_blob_file) — a blob file is
 * accepted only when its bytes hash to the name it is read under, whatever the file holds. */
#include <string.h>

#include "fuzz_store_common.h"
#include "store/store_internal.h"
#include "util/sha256.h"

typedef struct {
    sl_sha256 *h;
    size_t n;
} sink_state;

static int sink(void *user, const void *data, size_t len, sl_err *err) {
    (void)err;
    sink_state *st = user;
    sl_sha256_update(st->h, data, len);
    st->n += len;
    return 0;
}

static void read_as(const char *path, const char *hex) {
    sink_state st = {sl_sha256_new(), 0};
    if (!st.h) abort();
    sl_err err;
    int rc = sl_store_read_blob_file(path, hex, sink, &st, &err);
    uint8_t d[SL_SHA256_LEN];
    char got[65];
    sl_sha256_final(st.h, d);
    sl_sha256_free(st.h);
    sl_sha256_to_hex(d, got);
    if (!rc && strcmp(got, hex)) abort(); /* accepted bytes that do not hash to the blob's name */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_file("blob", data, size);
    sl_err err;
    sl_store_blob_info info;
    sl_store_blob_file_info(path, &info, &err);
    uint8_t d[SL_SHA256_LEN];
    char raw[65];
    sl_sha256_buf(data, size, d);
    sl_sha256_to_hex(d, raw);
    read_as(path, raw); /* a raw (uncompressed) blob of exactly these bytes: may be accepted */
    read_as(path, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); /* empty */
    read_as(path, "0000000000000000000000000000000000000000000000000000000000000000");
    return 0;
}
