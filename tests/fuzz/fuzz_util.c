/* Scratch files and input splitting for the fuzz targets (see fuzz_util.h). */
#include "fuzz_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

static char *scratch;

static void cleanup(void) {
    if (scratch) sl_fs_remove_tree(scratch, NULL);
}

const char *fz_dir(void) {
    if (scratch) return scratch;
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/seqlora-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl)) {
        perror("fuzz scratch folder");
        abort();
    }
    scratch = strdup(tmpl);
    if (!scratch) abort();
    atexit(cleanup);
    return scratch;
}

#define SLOTS 16
static struct {
    char name[64];
    char path[4200];
} slot[SLOTS];

static char *slot_path(const char *name) {
    for (int i = 0; i < SLOTS; i++) {
        if (!slot[i].name[0]) {
            snprintf(slot[i].name, sizeof slot[i].name, "%s", name);
            snprintf(slot[i].path, sizeof slot[i].path, "%s/%s", fz_dir(), name);
        }
        if (!strcmp(slot[i].name, name)) return slot[i].path;
    }
    abort(); /* more names than slots: a bug in a target */
}

const char *fz_path(const char *name) {
    char *p = slot_path(name);
    struct stat st;
    if (lstat(p, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            sl_fs_remove_tree(p, NULL);
        else
            unlink(p);
    }
    return p;
}

const char *fz_file(const char *name, const void *data, size_t n) {
    const char *p = fz_path(name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) abort();
    const char *c = data;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) abort();
        c += w;
        n -= (size_t)w;
    }
    close(fd);
    return p;
}

size_t fz_split(const uint8_t *data, size_t n, const uint8_t **part, size_t *len, size_t max) {
    static const char sep[] = "\n%%\n";
    const size_t sl = sizeof sep - 1;
    size_t k = 0, start = 0;
    for (size_t i = 0; k + 1 < max && i + sl <= n; i++) {
        if (!memcmp(data + i, sep, sl)) {
            part[k] = data + start;
            len[k++] = i - start;
            start = i + sl;
            i = start - 1;
        }
    }
    part[k] = data + start;
    len[k++] = n - start;
    return k;
}

char *fz_strdup(const uint8_t *data, size_t n) {
    char *s = malloc(n + 1);
    if (!s) abort();
    if (n) memcpy(s, data, n);
    s[n] = 0;
    return s;
}
