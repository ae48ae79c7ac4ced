/* The model bundle container: a deterministic gzip-compressed tar (ustar) with a SHA256SUMS list.
 *
 * Writing: entries are sorted by name (strcmp), every entry is a regular file with mode 0644, uid/gid 0, no
 * user/group names and mtime 0, and the gzip header carries no timestamp, so the bytes of the bundle
 * depend only on the names and contents of its files. `SHA256SUMS` (lines "<hex>  <name>", sha256sum's
 * format, sorted by name) lists every other entry and is written with them.
 *
 * Reading: every entry must be a regular file with a relative name without "..", "." or empty components
 * (anything else is SL_EDATA); the files are extracted under a destination directory and then checked
 * against SHA256SUMS: a missing list, a listed file missing, an unlisted file, or a digest mismatch is
 * SL_EINTEGRITY naming the file. More than 100,000 entries or 256 GiB unpacked is SL_EDATA (a hostile
 * archive, not a model).
 *
 * The contents (bundle.json, the adapter, ...) are described in package.c / docs/deploy.md; this module only
 * knows files. */
#ifndef SEQLORA_NN_BUNDLE_H
#define SEQLORA_NN_BUNDLE_H

#include <stddef.h>

#include "util/error.h"

typedef struct sl_nn_bundle_entry {
    const char *name; /* the name inside the bundle, e.g. "adapter/adapter_config.json" */
    const char *path; /* the file on disk */
} sl_nn_bundle_entry;

/* Write the bundle `out_path` (atomically: temp file, fsync, rename) holding the `n` files plus SHA256SUMS.
 * Duplicate or invalid names, or the name SHA256SUMS, are SL_EUSAGE. */
int sl_nn_bundle_write(const char *out_path, const sl_nn_bundle_entry *entries, size_t n, sl_err *err);

/* Extract `bundle_path` into the existing empty directory `dest` and verify it (see above). On failure
 * `dest` may hold some files; the caller removes it. */
int sl_nn_bundle_extract(const char *bundle_path, const char *dest, sl_err *err);

/* 1 when `name` is acceptable as an entry name (relative, no "..", "." or empty components, printable). */
int sl_nn_bundle_name_ok(const char *name);

#endif
