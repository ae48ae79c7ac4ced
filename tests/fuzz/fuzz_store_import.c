/* Fuzz target: `seqlora store import` archives (src/store/archive.c, libarchive underneath). Whatever
 * the archive holds, what gets published must be valid: after the import, `verify` over the whole store
 * finds nothing bad and nothing missing. */
#include "fuzz_store_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_store *s = fz_store();
    const char *in = fz_file("import.tar", data, size);
    size_t nb = 0, nr = 0;
    sl_err err;
    sl_store_import(s, in, &nb, &nr, &err);
    if (nb || nr) {
        sl_store_verify_report rep;
        if (sl_store_verify(s, 100, NULL, NULL, &rep, &err)) abort();
        if (rep.bad_blobs || rep.bad_records || rep.missing) {
            fprintf(stderr, "import published bad content: %zu bad blobs, %zu bad records, %zu missing\n",
                    rep.bad_blobs, rep.bad_records, rep.missing);
            abort();
        }
    }
    return 0;
}
