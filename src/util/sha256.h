/* SHA-256 through OpenSSL's EVP interface. The digest of the uncompressed bytes names every blob. */
#ifndef SEQLORA_UTIL_SHA256_H
#define SEQLORA_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SL_SHA256_LEN 32
#define SL_SHA256_HEX_LEN 64

typedef struct sl_sha256 sl_sha256; /* opaque streaming context */

/* Streaming use: new → update* → final (writes 32 bytes) → free. new returns NULL on allocation failure. */
sl_sha256 *sl_sha256_new(void);
void sl_sha256_update(sl_sha256 *ctx, const void *data, size_t len);
void sl_sha256_final(sl_sha256 *ctx, uint8_t out[SL_SHA256_LEN]);
void sl_sha256_free(sl_sha256 *ctx);

/* One-shot digest of a buffer. */
void sl_sha256_buf(const void *data, size_t len, uint8_t out[SL_SHA256_LEN]);

/* Digest of a whole file; fills *size_out with its length when not NULL. */
int sl_sha256_file(const char *path, uint8_t out[SL_SHA256_LEN], uint64_t *size_out, sl_err *err);

/* Lower-case hex (64 chars + NUL) and back. sl_sha256_from_hex returns SL_EDATA for anything that is not
 * exactly 64 hex digits. */
void sl_sha256_to_hex(const uint8_t digest[SL_SHA256_LEN], char hex[SL_SHA256_HEX_LEN + 1]);
int sl_sha256_from_hex(const char *hex, uint8_t digest[SL_SHA256_LEN]);

/* True when s is exactly 64 lower- or upper-case hex digits. */
int sl_is_sha256_hex(const char *s);

#endif
