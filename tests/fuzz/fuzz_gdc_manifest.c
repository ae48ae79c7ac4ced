/* Fuzz target: GDC manifests (src/bio/gdc.h), parsed from memory, plus the data URL of each file id. */
#include <stdlib.h>
#include <string.h>

#include "bio/gdc.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_bio_gdc_manifest m;
    sl_err err;
    if (sl_bio_gdc_manifest_parse((const char *)data, size, "manifest.txt", &m, &err)) return 0;
    for (size_t i = 0; i < m.n; i++) {
        /* the documented guarantee the fetch step relies on to stay inside its output folder */
        const char *f = m.files[i].filename;
        if (!f || !*f || strchr(f, '/') || !strcmp(f, ".") || !strcmp(f, "..")) abort();
        free(sl_bio_gdc_data_url("https://api.gdc.cancer.gov", m.files[i].id));
        (void)sl_bio_gdc_is_uuid(m.files[i].id);
    }
    sl_bio_gdc_manifest_free(&m);
    return 0;
}
