/* pytorch_model.bin reading under the sanitizers: a torch.save-shaped zip written here with libarchive
 * (a hand-assembled protocol-2 pickle of {"w": 2x3 float tensor viewed transposed, "n": int64 [2]}),
 * read back; a pickle naming os.system refused; every truncation and every single-byte change of the
 * pickle ends in a clean load or an error, never a crash or a leak. Parity with torch.save itself is in
 * test_torch_pickle_peer.py. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/torch_pickle.h"
#include "test.h"
#include "util/fs.h"

static char tmpdir[4096];

typedef struct {
    unsigned char b[1024];
    size_t n;
} bytes;

static void put(bytes *p, const void *s, size_t n) {
    memcpy(p->b + p->n, s, n);
    p->n += n;
}
/* A string literal that may hold NUL bytes. */
#define PUTLIT(p, lit) put((p), (lit), sizeof(lit) - 1)
static void put_str(bytes *p, const char *s) {
    put(p, s, strlen(s));
}
static void put_byte(bytes *p, unsigned char c) {
    p->b[p->n++] = c;
}
/* BINUNICODE */
static void put_unicode(bytes *p, const char *s) {
    unsigned char len[4] = {(unsigned char)strlen(s), 0, 0, 0};
    put_byte(p, 'X');
    put(p, len, 4);
    put_str(p, s);
}

/* The pickle torch.save writes for an OrderedDict of two tensors (same opcodes, fewer memo entries). */
static bytes state_dict_pickle(const char *evil_global) {
    bytes p = {.n = 0};
    PUTLIT(&p, "\x80\x02");
    put_str(&p, evil_global ? evil_global : "ccollections\nOrderedDict\n");
    PUTLIT(&p, "q\x00)R("); /* BINPUT 0, EMPTY_TUPLE, REDUCE, MARK */
    /* "w": _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 6), 0, (3, 2), (1, 3), False,
     * OrderedDict()) */
    put_unicode(&p, "w");
    put_str(&p, "ctorch._utils\n_rebuild_tensor_v2\nq\x01((");
    put_unicode(&p, "storage");
    put_str(&p, "ctorch\nFloatStorage\n");
    put_unicode(&p, "0");
    put_unicode(&p, "cpu");
    PUTLIT(&p, "K\x06tQK\x00K\x03K\x02\x86K\x01K\x03\x86\x89h\x00)Rtq\x02R");
    /* "n": LongStorage '1', 2 elements, contiguous */
    put_unicode(&p, "n");
    PUTLIT(&p, "h\x01((");
    put_unicode(&p, "storage");
    put_str(&p, "ctorch\nLongStorage\n");
    put_unicode(&p, "1");
    put_unicode(&p, "cpu");
    PUTLIT(&p, "K\x02tQK\x00K\x02\x85K\x01\x85\x89h\x00)RtR");
    PUTLIT(&p, "u}bq\x03."); /* SETITEMS, BUILD with an empty state, BINPUT, STOP */
    return p;
}

static int write_zip(const char *path, const bytes *pkl) {
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    archive_write_zip_set_compression_store(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) return -1;
    float w[6] = {1, 2, 3, 4, 5, 6};
    long long n[2] = {-7, 9};
    struct {
        const char *name;
        const void *data;
        size_t len;
    } e[] = {{"archive/data.pkl", pkl->b, pkl->n},
             {"archive/data/0", w, sizeof w},
             {"archive/data/1", n, sizeof n},
             {"archive/version", "3\n", 2}};
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
        struct archive_entry *ent = archive_entry_new();
        archive_entry_set_pathname(ent, e[i].name);
        archive_entry_set_size(ent, (la_int64_t)e[i].len);
        archive_entry_set_filetype(ent, AE_IFREG);
        archive_entry_set_perm(ent, 0644);
        archive_write_header(a, ent);
        archive_write_data(a, e[i].data, e[i].len);
        archive_entry_free(ent);
    }
    archive_write_close(a);
    archive_write_free(a);
    return 0;
}

static void test_read(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/ok.bin", tmpdir);
    bytes p = state_dict_pickle(NULL);
    CHECK_EQ_INT(write_zip(path, &p), 0);
    sl_nn_pt_file *f = NULL;
    sl_err err;
    int rc = sl_nn_pt_open(path, &f, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_EQ_INT(sl_nn_pt_count(f), 2);
    const sl_nn_st_tensor *w = sl_nn_pt_find(f, "w");
    CHECK(w && w->dtype == SL_NN_ST_F32 && w->ndim == 2 && w->shape[0] == 3 && w->shape[1] == 2);
    if (w) {
        /* the transposed view of [[1,2,3],[4,5,6]] */
        const float want[6] = {1, 4, 2, 5, 3, 6};
        CHECK(memcmp(w->data, want, sizeof want) == 0);
    }
    const sl_nn_st_tensor *n = sl_nn_pt_find(f, "n");
    CHECK(n && n->dtype == SL_NN_ST_I64 && n->numel == 2 && ((const long long *)n->data)[0] == -7);
    CHECK(sl_nn_pt_find(f, "x") == NULL);
    CHECK_EQ_STR(sl_nn_pt_tensor_at(f, 0)->name, "w");
    sl_nn_pt_close(f);
}

static void test_refused(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/evil.bin", tmpdir);
    bytes p = state_dict_pickle("cos\nsystem\n");
    CHECK_EQ_INT(write_zip(path, &p), 0);
    sl_nn_pt_file *f = NULL;
    sl_err err;
    CHECK_EQ_INT(sl_nn_pt_open(path, &f, &err), SL_EDATA);
    CHECK(strstr(err.msg, "os.system") != NULL);
    snprintf(path, sizeof path, "%s/missing.bin", tmpdir);
    CHECK_EQ_INT(sl_nn_pt_open(path, &f, &err), SL_ENOTFOUND);
    snprintf(path, sizeof path, "%s/notzip.bin", tmpdir);
    sl_fs_write_atomic(path, "hello world, not a zip", 22, &err);
    CHECK_EQ_INT(sl_nn_pt_open(path, &f, &err), SL_EDATA);
}

static void test_mutations(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/mut.bin", tmpdir);
    bytes good = state_dict_pickle(NULL);
    int loads = 0, errors = 0, other = 0;
    sl_err err;
    for (size_t cut = 0; cut < good.n; cut++) { /* every truncation */
        bytes p = good;
        p.n = cut;
        write_zip(path, &p);
        sl_nn_pt_file *f = NULL;
        int rc = sl_nn_pt_open(path, &f, &err);
        if (rc == 0)
            loads++, sl_nn_pt_close(f);
        else if (rc == SL_EDATA)
            errors++;
        else
            other++;
    }
    CHECK_EQ_INT(loads, 0);
    for (size_t at = 0; at < good.n; at++) { /* every position, three replacement bytes */
        static const unsigned char repl[] = {0x00, 0x7f, 0xff};
        for (int r = 0; r < 3; r++) {
            bytes p = good;
            p.b[at] = repl[r];
            write_zip(path, &p);
            sl_nn_pt_file *f = NULL;
            int rc = sl_nn_pt_open(path, &f, &err);
            if (rc == 0)
                loads++, sl_nn_pt_close(f);
            else if (rc == SL_EDATA)
                errors++;
            else
                other++;
        }
    }
    CHECK_EQ_INT(other, 0);
    CHECK(errors > 0);
    fprintf(stderr, "  mutations: %d loaded, %d refused\n", loads, errors);
}

int main(void) {
    const char *base = getenv("SEQLORA_TEST_TMP");
    if (!base) base = "/tmp";
    sl_err err;
    sl_fs_mkdirs(base, &err);
    char *dir = NULL;
    if (sl_fs_mkdtemp(base, "pt-", &dir, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "%s", dir);
    RUN_TEST(test_read);
    RUN_TEST(test_refused);
    RUN_TEST(test_mutations);
    sl_fs_remove_tree(dir, &err);
    free(dir);
    return TEST_RESULT();
}
