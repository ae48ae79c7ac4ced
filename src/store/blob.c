/* Blobs: ingest (hash the raw bytes while compressing into a temp file, fsync, link into place), read
 * (decompress and re-hash), materialise as regular files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "store_internal.h"
#include "util/fs.h"
#include "util/sha256.h"

enum { CHUNK = 1 << 20, ZSTD_LEVEL = 3 };

static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

char *sl_store_blob_path(const sl_store *s, const char *hex) {
    size_t n = strlen(s->root) + 96;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/blobs/sha256/%.2s/%.2s/%s", s->root, hex, hex + 2, hex);
    return p;
}

int sl_store_blob_file_info(const char *path, sl_store_blob_info *info, sl_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sl_err_errno(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, errno, "cannot open %s", path);
    struct stat st;
    unsigned char head[18]; /* ZSTD_FRAMEHEADERSIZE_MAX */
    ssize_t n = fstat(fd, &st) == 0 ? pread(fd, head, sizeof head, 0) : -1;
    close(fd);
    if (n < 0) return sl_err_errno(err, SL_EIO, errno, "cannot read %s", path);
    info->stored = (uint64_t)st.st_size;
    if (n >= 4 && !memcmp(head, zstd_magic, 4)) {
        unsigned long long cs = ZSTD_getFrameContentSize(head, (size_t)n);
        if (cs == ZSTD_CONTENTSIZE_ERROR || cs == ZSTD_CONTENTSIZE_UNKNOWN)
            return sl_err_set(err, SL_EINTEGRITY, "%s: corrupt zstd frame header", path);
        info->codec = SL_STORE_CODEC_ZSTD;
        info->size = cs;
    } else {
        info->codec = SL_STORE_CODEC_RAW;
        info->size = (uint64_t)st.st_size;
    }
    return 0;
}

int sl_store_blob_exists(sl_store *s, const char *hex, sl_store_blob_info *info) {
    char *p = sl_store_blob_path(s, hex);
    if (!p) return 0;
    int ok;
    if (info) {
        sl_err e;
        ok = sl_store_blob_file_info(p, info, &e) == 0;
    } else {
        ok = access(p, F_OK) == 0;
    }
    free(p);
    return ok;
}

/* A source of bytes: a file descriptor or a buffer. */
typedef struct source {
    int fd;
    const unsigned char *buf;
    size_t len, pos;
    const char *what;
} source;

static ssize_t source_read(source *src, void *out, size_t cap) {
    if (src->fd < 0) {
        size_t n = src->len - src->pos < cap ? src->len - src->pos : cap;
        memcpy(out, src->buf + src->pos, n);
        src->pos += n;
        return (ssize_t)n;
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(src->fd, (char *)out + got, cap - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Compress (or copy) src into fd, hashing the raw bytes. */
static int write_blob(source *src, uint64_t size, int fd, const char *tmp, uint8_t digest[32],
                      sl_store_blob_info *info, sl_err *err) {
    unsigned char *in = malloc(CHUNK);
    size_t out_cap = ZSTD_CStreamOutSize();
    unsigned char *out = malloc(out_cap);
    sl_sha256 *h = sl_sha256_new();
    ZSTD_CCtx *z = NULL;
    int rc = in && out && h ? 0 : sl_err_set(err, SL_ENOMEM, "out of memory");
    uint64_t total = 0, stored = 0;
    int codec = -1;
    while (!rc) {
        ssize_t n = source_read(src, in, CHUNK);
        if (n < 0) {
            rc = sl_err_errno(err, SL_EIO, errno, "cannot read %s", src->what);
            break;
        }
        if (codec < 0) {
            codec = sl_store_sniff_codec(in, (size_t)n);
            if (codec == SL_STORE_CODEC_ZSTD) {
                z = ZSTD_createCCtx();
                if (!z) {
                    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                    break;
                }
                ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, ZSTD_LEVEL);
                ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
                ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 1);
                ZSTD_CCtx_setPledgedSrcSize(z, size);
            }
        }
        total += (uint64_t)n;
        sl_sha256_update(h, in, (size_t)n);
        int last = (size_t)n < CHUNK;
        if (codec == SL_STORE_CODEC_RAW) {
            rc = sl_store_io_write(fd, in, (size_t)n, tmp, err);
            stored += (uint64_t)n;
        } else {
            ZSTD_inBuffer ib = {in, (size_t)n, 0};
            size_t remaining;
            do {
                ZSTD_outBuffer ob = {out, out_cap, 0};
                remaining = ZSTD_compressStream2(z, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
                if (ZSTD_isError(remaining)) {
                    rc = sl_err_set(err, SL_EIO,
                                    "cannot compress %s: %s (did the file change while it was read?)",
                                    src->what, ZSTD_getErrorName(remaining));
                    break;
                }
                if (ob.pos) rc = sl_store_io_write(fd, out, ob.pos, tmp, err);
                stored += ob.pos;
            } while (!rc && (last ? remaining != 0 : ib.pos < ib.size));
        }
        if (last) break;
    }
    if (!rc && total != size)
        rc = sl_err_set(err, SL_EIO, "%s changed while it was read (%llu bytes, expected %llu)", src->what,
                        (unsigned long long)total, (unsigned long long)size);
    if (!rc) {
        sl_sha256_final(h, digest);
        info->size = total;
        info->stored = stored;
        info->codec = codec;
    }
    ZSTD_freeCCtx(z);
    sl_sha256_free(h);
    free(in);
    free(out);
    return rc;
}

static int put_source(sl_store *s, source *src, uint64_t size, char hex[65], sl_store_blob_info *info_out,
                      sl_err *err) {
    char *tmp = NULL;
    int fd = sl_store_tmpfile(s, "blob", &tmp, err);
    if (fd < 0) return fd;
    uint8_t digest[32];
    sl_store_blob_info info;
    int rc = write_blob(src, size, fd, tmp, digest, &info, err);
    if (!rc) fchmod(fd, sl_store_published_mode());
    if (!rc) rc = sl_store_io_fsync(fd, tmp, err);
    if (close(fd) != 0 && !rc) rc = sl_err_errno(err, SL_EIO, errno, "cannot close %s", tmp);
    char *final = NULL, *dir = NULL;
    if (!rc) {
        sl_sha256_to_hex(digest, hex);
        final = sl_store_blob_path(s, hex);
        dir = final ? sl_fs_dirname(final) : NULL;
        rc = dir ? sl_fs_mkdirs(dir, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (!rc) {
        rc = sl_store_io_link(tmp, final, err);
        if (rc == 1) {
            /* Someone published the same content first. Check it looks whole; a damaged one is replaced. */
            sl_store_blob_info have;
            sl_err e2;
            if (sl_store_blob_file_info(final, &have, &e2) == 0 && have.size == info.size) {
                rc = 0;
                utimensat(AT_FDCWD, final, NULL, 0); /* a fresh use: gc's grace period starts again */
            } else {
                sl_store_quarantine(s, final, &e2);
                rc = sl_store_io_rename(tmp, final, err);
                if (!rc) rc = sl_fs_fsync_dir(dir, err);
            }
        } else if (rc == 0) {
            int e = sl_store_fault_next("fsync");
            if (e)
                rc = sl_err_errno(err, SL_EIO, e, "cannot fsync directory %s", dir);
            else
                rc = sl_fs_fsync_dir(dir, err);
        }
    }
    unlink(tmp);
    free(tmp);
    free(final);
    free(dir);
    if (!rc) rc = sl_store_index_put_blob(s, hex, &info, err);
    if (!rc && info_out) *info_out = info;
    return rc;
}

int sl_store_put_file(sl_store *s, const char *path, char hex[65], sl_store_blob_info *info, sl_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sl_err_errno(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, errno, "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sl_err_set(err, SL_EUSAGE, "%s: not a regular file", path);
    }
    source src = {.fd = fd, .what = path};
    int rc = put_source(s, &src, (uint64_t)st.st_size, hex, info, err);
    close(fd);
    return rc ? sl_err_prefix(err, "cannot store %s in %s", path, s->root) : 0;
}

int sl_store_put_buf(sl_store *s, const void *data, size_t len, char hex[65], sl_store_blob_info *info,
                     sl_err *err) {
    source src = {.fd = -1, .buf = data, .len = len, .what = "a buffer"};
    return put_source(s, &src, len, hex, info, err);
}

int sl_store_read_blob(sl_store *s, const char *hex, sl_store_sink sink, void *user, sl_err *err) {
    if (!sl_is_sha256_hex(hex)) return sl_err_set(err, SL_EUSAGE, "'%s' is not a SHA-256 digest", hex);
    char *path = sl_store_blob_path(s, hex);
    if (!path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = sl_store_read_blob_file(path, hex, sink, user, err);
    free(path);
    return rc;
}

int sl_store_read_blob_file(const char *path, const char *hex, sl_store_sink sink, void *user, sl_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return sl_err_errno(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, errno, "blob %s: cannot open %s",
                            hex, path);
    }
    unsigned char *in = malloc(CHUNK);
    size_t out_cap = ZSTD_DStreamOutSize();
    unsigned char *out = malloc(out_cap);
    sl_sha256 *h = sl_sha256_new();
    ZSTD_DCtx *z = NULL;
    int rc = in && out && h ? 0 : sl_err_set(err, SL_ENOMEM, "out of memory");
    int first = 1, zstd = 0;
    size_t last_ret = 0;
    source src = {.fd = fd, .what = path};
    while (!rc) {
        ssize_t n = source_read(&src, in, CHUNK);
        if (n < 0) {
            rc = sl_err_errno(err, SL_EIO, errno, "cannot read %s", path);
            break;
        }
        if (first) {
            first = 0;
            zstd = n >= 4 && !memcmp(in, zstd_magic, 4);
            if (zstd && !(z = ZSTD_createDCtx())) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        }
        if (!zstd) {
            sl_sha256_update(h, in, (size_t)n);
            if (n && sink) rc = sink(user, in, (size_t)n, err);
        } else {
            ZSTD_inBuffer ib = {in, (size_t)n, 0};
            while (!rc && ib.pos < ib.size) {
                ZSTD_outBuffer ob = {out, out_cap, 0};
                last_ret = ZSTD_decompressStream(z, &ob, &ib);
                if (ZSTD_isError(last_ret)) {
                    rc = sl_err_set(err, SL_EINTEGRITY, "blob %s is corrupt (%s): %s", hex, path,
                                    ZSTD_getErrorName(last_ret));
                    break;
                }
                sl_sha256_update(h, out, ob.pos);
                if (ob.pos && sink) rc = sink(user, out, ob.pos, err);
            }
        }
        if ((size_t)n < CHUNK) break;
    }
    if (!rc && zstd && last_ret != 0)
        rc = sl_err_set(err, SL_EINTEGRITY, "blob %s is corrupt (%s): truncated zstd stream", hex, path);
    if (!rc) {
        uint8_t d[32];
        char got[65];
        sl_sha256_final(h, d);
        sl_sha256_to_hex(d, got);
        if (strcmp(got, hex))
            rc = sl_err_set(err, SL_EINTEGRITY, "blob %s is corrupt (%s): its content hashes to %s", hex,
                            path, got);
    }
    ZSTD_freeDCtx(z);
    sl_sha256_free(h);
    free(in);
    free(out);
    close(fd);
    return rc;
}

typedef struct membuf {
    char *data;
    size_t len, cap;
} membuf;

static int mem_sink(void *user, const void *data, size_t len, sl_err *err) {
    membuf *m = user;
    if (m->len + len + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + len + 1) cap *= 2;
        char *p = realloc(m->data, cap);
        if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, data, len);
    m->len += len;
    return 0;
}

int sl_store_read_blob_mem(sl_store *s, const char *hex, char **data, size_t *len, sl_err *err) {
    membuf m = {0};
    int rc = sl_store_read_blob(s, hex, mem_sink, &m, err);
    if (!rc && !m.data) rc = mem_sink(&m, "", 0, err);
    if (rc) {
        free(m.data);
        return rc;
    }
    m.data[m.len] = '\0';
    *data = m.data;
    if (len) *len = m.len;
    return 0;
}

typedef struct fd_sink_ctx {
    int fd;
    const char *what;
} fd_sink_ctx;

static int fd_sink(void *user, const void *data, size_t len, sl_err *err) {
    fd_sink_ctx *c = user;
    return sl_fs_write_all(c->fd, data, len, c->what, err);
}

int sl_store_materialise_file(sl_store *s, const char *hex, const char *dest, sl_err *err) {
    size_t n = strlen(dest) + 16;
    char *tmp = malloc(n);
    if (!tmp) return sl_err_set(err, SL_ENOMEM, "out of memory");
    snprintf(tmp, n, "%s.tmp.XXXXXX", dest);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int rc = sl_err_errno(err, SL_EIO, errno, "cannot create a temporary file beside %s", dest);
        free(tmp);
        return rc;
    }
    fchmod(fd, 0666 & ~sl_store_umask());
    fd_sink_ctx c = {fd, dest};
    int rc = sl_store_read_blob(s, hex, fd_sink, &c, err);
    if (!rc && fsync(fd) != 0) rc = sl_err_errno(err, SL_EIO, errno, "cannot fsync %s", dest);
    if (close(fd) != 0 && !rc) rc = sl_err_errno(err, SL_EIO, errno, "cannot close %s", dest);
    if (!rc && rename(tmp, dest) != 0) rc = sl_err_errno(err, SL_EIO, errno, "cannot rename into %s", dest);
    if (rc) unlink(tmp);
    free(tmp);
    return rc;
}

int sl_store_quarantine_blob(sl_store *s, const char *hex, sl_err *err) {
    char *p = sl_store_blob_path(s, hex);
    if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = sl_store_quarantine(s, p, err);
    free(p);
    if (!rc) rc = sl_store_index_del_blob(s, hex, err);
    return rc;
}
