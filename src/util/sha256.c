#include "sha256.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sl_sha256 {
    EVP_MD_CTX *md;
};

sl_sha256 *sl_sha256_new(void) {
    sl_sha256 *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->md = EVP_MD_CTX_new();
    if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c->md);
        free(c);
        return NULL;
    }
    return c;
}

void sl_sha256_update(sl_sha256 *ctx, const void *data, size_t len) {
    if (len) EVP_DigestUpdate(ctx->md, data, len);
}

void sl_sha256_final(sl_sha256 *ctx, uint8_t out[SL_SHA256_LEN]) {
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx->md, out, &n);
}

void sl_sha256_free(sl_sha256 *ctx) {
    if (!ctx) return;
    EVP_MD_CTX_free(ctx->md);
    free(ctx);
}

void sl_sha256_buf(const void *data, size_t len, uint8_t out[SL_SHA256_LEN]) {
    unsigned int n = 0;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

int sl_sha256_file(const char *path, uint8_t out[SL_SHA256_LEN], uint64_t *size_out, sl_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sl_err_errno(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, errno, "cannot open %s", path);
    sl_sha256 *ctx = sl_sha256_new();
    if (!ctx) {
        close(fd);
        return sl_err_set(err, SL_ENOMEM, "out of memory hashing %s", path);
    }
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    uint64_t total = 0;
    int rc = 0;
    if (!buf) rc = sl_err_set(err, SL_ENOMEM, "out of memory hashing %s", path);
    while (!rc) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = sl_err_errno(err, SL_EIO, errno, "cannot read %s", path);
            break;
        }
        if (n == 0) break;
        sl_sha256_update(ctx, buf, (size_t)n);
        total += (uint64_t)n;
    }
    if (!rc) {
        sl_sha256_final(ctx, out);
        if (size_out) *size_out = total;
    }
    free(buf);
    sl_sha256_free(ctx);
    close(fd);
    return rc;
}

void sl_sha256_to_hex(const uint8_t digest[SL_SHA256_LEN], char hex[SL_SHA256_HEX_LEN + 1]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SL_SHA256_LEN; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[SL_SHA256_HEX_LEN] = '\0';
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int sl_is_sha256_hex(const char *s) {
    if (!s) return 0;
    for (int i = 0; i < SL_SHA256_HEX_LEN; i++)
        if (hexval((unsigned char)s[i]) < 0) return 0;
    return s[SL_SHA256_HEX_LEN] == '\0';
}

int sl_sha256_from_hex(const char *hex, uint8_t digest[SL_SHA256_LEN]) {
    if (!sl_is_sha256_hex(hex)) return SL_EDATA;
    for (int i = 0; i < SL_SHA256_LEN; i++)
        digest[i] = (uint8_t)(hexval((unsigned char)hex[2 * i]) << 4 | hexval((unsigned char)hex[2 * i + 1]));
    return 0;
}
