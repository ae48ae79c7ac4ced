/* File-system helpers with the durability rules the store relies on: a file is published only after its
 * bytes are on disk (write temp → fsync → rename → fsync of the directory). */
#ifndef SEQLORA_UTIL_FS_H
#define SEQLORA_UTIL_FS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* mkdir -p with mode 0777 (the umask applies). Existing directories are fine. */
int sl_fs_mkdirs(const char *path, sl_err *err);

/* Write `len` bytes to `path` atomically: a temp file in the same directory, fsync, rename over `path`,
 * fsync of the directory. On failure nothing is left at `path` (or its old content stays). */
int sl_fs_write_atomic(const char *path, const void *data, size_t len, sl_err *err);

/* write(2) all bytes, retrying on EINTR and short writes. */
int sl_fs_write_all(int fd, const void *data, size_t len, const char *what, sl_err *err);

/* fsync a directory so a rename/link/unlink in it is durable. */
int sl_fs_fsync_dir(const char *dir, sl_err *err);

/* Read a whole file into a malloc'd buffer (NUL-terminated for convenience; *len excludes the NUL). */
int sl_fs_read_all(const char *path, char **data, size_t *len, sl_err *err);

/* Copy src to dst via a temp file + fsync + rename (so dst is never half-written). Mode 0644 minus umask. */
int sl_fs_copy_atomic(const char *src, const char *dst, sl_err *err);

/* rm -rf. A missing path is not an error. */
int sl_fs_remove_tree(const char *path, sl_err *err);

/* A new empty directory `<parent>/<prefix>XXXXXX`; *out is malloc'd. */
int sl_fs_mkdtemp(const char *parent, const char *prefix, char **out, sl_err *err);

/* Path helpers: malloc'd "a/b"; 1 when the path exists / is a directory / is a regular file. */
char *sl_fs_join(const char *a, const char *b);
int sl_fs_exists(const char *path);
int sl_fs_is_dir(const char *path);
int sl_fs_is_file(const char *path);

/* The directory part of a path (malloc'd; "." when there is none). */
char *sl_fs_dirname(const char *path);

#endif
