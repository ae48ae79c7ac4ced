/* Fuzz target: the restricted unpickler of PyTorch checkpoints (src/nn/torch_pickle.h). The input is the
 * `data.pkl` pickle; the harness wraps it in the zip layout torch.save writes (archive/data.pkl,
 * archive/byteorder, archive/data/0..3 storages of 256 bytes), so that mutations reach the unpickler rather
 * than dying in the zip reader. Every accepted tensor is converted to f32 (bounds of the storage views). */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "nn/torch_pickle.h"

static int add(struct archive *a, const char *name, const void *data, size_t n) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)n);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    int rc = archive_write_header(a, e) == ARCHIVE_OK &&
             (n == 0 || archive_write_data(a, data, n) == (la_ssize_t)n);
    archive_entry_free(e);
    return rc ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_file("pytorch_model.bin", "", 0);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    archive_write_set_options(a, "zip:compression=store");
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) abort();
    static unsigned char storage[256];
    for (size_t i = 0; i < sizeof storage; i++) storage[i] = (unsigned char)(i * 37 + 11);
    int rc = add(a, "archive/data.pkl", data, size) || add(a, "archive/byteorder", "little", 6) ||
             add(a, "archive/data/0", storage, sizeof storage) || add(a, "archive/data/1", storage, 64) ||
             add(a, "archive/data/2", storage, 16) || add(a, "archive/data/3", storage, 0) ||
             add(a, "archive/version", "3\n", 2);
    if (archive_write_close(a) != ARCHIVE_OK || rc) abort();
    archive_write_free(a);

    sl_nn_pt_file *f = NULL;
    sl_err err;
    if (sl_nn_pt_open(path, &f, &err)) return 0;
    for (size_t i = 0; i < sl_nn_pt_count(f); i++) {
        const sl_nn_st_tensor *t = sl_nn_pt_tensor_at(f, i);
        if (!t || !t->name) abort();
        if (t->numel && !t->data) abort(); /* an accepted tensor has its bytes */
        volatile unsigned char sum = 0;
        for (size_t b = 0; b < t->nbytes; b++)
            sum ^= ((const unsigned char *)t->data)[b]; /* ASan: in bounds */
        (void)sum;
        if (sl_nn_pt_find(f, t->name) == NULL) abort();
    }
    sl_nn_pt_close(f);
    return 0;
}
