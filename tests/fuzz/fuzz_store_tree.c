/* Fuzz target: tree manifests (src/store/tree.c). The input is stored as a blob and materialised as a
 * folder. Beyond not crashing: nothing may be written outside the destination (no "..", absolute paths
 * or escapes through the manifest) and a failed materialisation leaves nothing behind. The store holds
 * two known blobs ("hello\n" and the empty file) so that seeds can name real content. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_store_common.h"

/* Names allowed in `dir` (NULL-terminated); abort on anything else. */
static void only(const char *dir, const char *const *allowed) {
    DIR *d = opendir(dir);
    if (!d) abort();
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) ok |= !strcmp(*a, e->d_name);
        if (!ok) {
            fprintf(stderr, "unexpected %s/%s after materialising a tree\n", dir, e->d_name);
            abort();
        }
    }
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_store *s = fz_store();
    sl_err err;
    char hex[65];
    static char known[2][65];
    if (!known[0][0] && (sl_store_put_buf(s, "hello\n", 6, known[0], NULL, &err) ||
                         sl_store_put_buf(s, "", 0, known[1], NULL, &err)))
        abort();
    if (sl_store_put_buf(s, data, size, hex, NULL, &err)) return 0;
    const char *parent = fz_path("tree-out");
    if (mkdir(parent, 0700)) abort();
    char dest[4300];
    snprintf(dest, sizeof dest, "%s/d", parent);
    int rc = sl_store_materialise_tree(s, hex, dest, &err);
    static const char *const in_parent_ok[] = {"d", NULL};
    static const char *const in_parent_failed[] = {NULL};
    only(parent, rc ? in_parent_failed : in_parent_ok);
    static const char *const scratch[] = {"store", "tree-out", NULL};
    only(fz_dir(), scratch);
    if (strcmp(hex, known[0]) && strcmp(hex, known[1])) { /* keep the store small */
        char *p = sl_store_blob_path(s, hex);
        if (p) unlink(p);
        free(p);
        sl_store_index_del_blob(s, hex, &err);
    }
    return 0;
}
