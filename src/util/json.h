/* Canonical JSON (on jansson). The action key hashes the canonical encoding of the parameters, so two
 * spellings of the same parameters (key order, whitespace) must give the same bytes:
 *   - object keys sorted by their UTF-8 bytes, no whitespace, UTF-8 output (no \u escapes beyond what
 *     JSON requires);
 *   - integers as integers; reals with 17 significant digits (round-trips every double exactly);
 *   - NaN and infinities are not representable in JSON and are rejected by jansson at construction. */
#ifndef SEQLORA_UTIL_JSON_H
#define SEQLORA_UTIL_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

/* The canonical encoding of `value` as a NUL-terminated malloc'd string (caller frees), or NULL on
 * allocation failure. */
char *sl_json_canonical(const json_t *value);

/* Read and parse a JSON file; the error names the file, line and column. Returns a new reference or NULL. */
json_t *sl_json_load_file(const char *path, sl_err *err);

/* Write `value` to `path` atomically (temp file, fsync, rename), indented for people when `pretty`, else
 * canonical. A trailing newline is written. */
int sl_json_write_file(const char *path, const json_t *value, int pretty, sl_err *err);

/* Typed getters for parameters with defaults. A present key of the wrong type is a usage error that
 * names the key. */
int sl_json_get_int(const json_t *obj, const char *key, long long def, long long *out, sl_err *err);
int sl_json_get_real(const json_t *obj, const char *key, double def, double *out, sl_err *err);
int sl_json_get_bool(const json_t *obj, const char *key, int def, int *out, sl_err *err);
/* The returned string is owned by `obj`; `def` may be NULL. */
int sl_json_get_str(const json_t *obj, const char *key, const char *def, const char **out, sl_err *err);

#endif
