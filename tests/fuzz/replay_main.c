/* Replays fuzz inputs through a target's LLVMFuzzerTestOneInput without libFuzzer: the always-on
 * regression test of every fuzz target (seed corpus + recorded crash inputs), in normal and ASan builds.
 *
 *   fuzz_replay_<target> PATH...   (files, or folders whose regular files are replayed in name order)
 *
 * Exit 0 when every input ran (a crash or a sanitizer report aborts the process, failing the test);
 * exit 2 when a path cannot be read, or when no input at all was found (an empty corpus must not pass). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long replayed;

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 2;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) return 2;
    /* an exact-size copy, so ASan catches reads past the end of the input as libFuzzer would */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) return 2;
    memcpy(exact, buf, n);
    free(buf);
    fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    replayed++;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 2;
    }
    if (!S_ISDIR(st.st_mode)) return replay_file(path);
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, by_name);
    if (n < 0) {
        perror(path);
        return 2;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.' && strcmp(ents[i]->d_name, "README.md")) {
            char child[4096];
            snprintf(child, sizeof child, "%s/%s", path, ents[i]->d_name);
            struct stat cs;
            if (stat(child, &cs) == 0 && S_ISREG(cs.st_mode) && replay_file(child)) rc = 2;
        }
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int main(int argc, char **argv) {
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (replay(argv[i])) rc = 2;
    printf("%ld inputs replayed without a crash\n", replayed);
    if (!replayed) {
        fprintf(stderr, "no input found: an empty corpus proves nothing\n");
        return 2;
    }
    return rc;
}
