/* Helpers shared by the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Every target defines LLVMFuzzerTestOneInput(). In a -DSEQLORA_FUZZ=ON build (clang) it is linked with
 * libFuzzer; in every build it is also linked with replay_main.c, which feeds the committed seed corpus and
 * the recorded crash inputs through it once (the always-on regression tests).
 *
 * Many parsers take a path, not a buffer: fz_file() writes the input into a private scratch folder of the
 * process (under $TMPDIR, default /tmp; removed at exit) and returns the path. Not thread-safe (libFuzzer
 * runs one input at a time per process). */
#ifndef SEQLORA_TESTS_FUZZ_UTIL_H
#define SEQLORA_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The scratch folder of this process (created on first use; aborts when it cannot be created, which
 * is a broken test machine rather than a finding). */
const char *fz_dir(void);

/* Write `n` bytes to <scratch>/<name> (replacing it) and return the path (static storage per name slot:
 * valid until the next fz_file/fz_path call with the same name). Aborts on I/O failure. */
const char *fz_file(const char *name, const void *data, size_t n);

/* <scratch>/<name> without writing it (removed first when it exists, file or folder). */
const char *fz_path(const char *name);

/* Split data at each occurrence of the separator line "\n%%\n" into at most max parts (the last part
 * keeps the rest). Parts point into data; returns the number of parts (≥ 1). Seeds stay readable text. */
size_t fz_split(const uint8_t *data, size_t n, const uint8_t **part, size_t *len, size_t max);

/* A NUL-terminated malloc'd copy of data (for parsers taking C strings). Aborts on OOM. */
char *fz_strdup(const uint8_t *data, size_t n);

#endif
