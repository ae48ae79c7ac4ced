/* The model bundle container: deterministic tar.gz + SHA256SUMS (see bundle.h). */
#include "bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/sha256.h"

#define SUMS "SHA256SUMS"
/* Extraction limits against hostile archives (decompression bombs): far above any real model. */
#define MAX_ENTRIES 100000
#define MAX_TOTAL_BYTES (256ULL << 30)

int sl_nn_bundle_name_ok(const char *name) {
    if (!name || !*name || name[0] == '/' || strlen(name) > 250) return 0;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\') return 0;
    const char *c = name;
    for (;;) {
        const char *e = strchr(c, '/');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) return 0;
        if (!e) return 1;
        c = e + 1;
    }
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const sl_nn_bundle_entry *)a)->name, ((const sl_nn_bundle_entry *)b)->name);
}

static int ar_fail(struct archive *a, sl_err *err, const char *what, const char *path) {
    return sl_err_set(err, SL_EIO, "%s: %s: %s", path, what,
                      archive_error_string(a) ? archive_error_string(a) : "failed");
}

static int add_data(struct archive *a, const char *name, const void *data, size_t len, const char *out_path,
                    sl_err *err) {
    struct archive_entry *e = archive_entry_new();
    if (!e) return sl_err_set(err, SL_ENOMEM, "out of memory");
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int rc = 0;
    if (archive_write_header(a, e) != ARCHIVE_OK)
        rc = ar_fail(a, err, "writing a tar header", out_path);
    else if (len && archive_write_data(a, data, len) != (la_ssize_t)len)
        rc = ar_fail(a, err, "writing data", out_path);
    archive_entry_free(e);
    return rc;
}

int sl_nn_bundle_write(const char *out_path, const sl_nn_bundle_entry *entries, size_t n, sl_err *err) {
    sl_nn_bundle_entry *e = malloc((n ? n : 1) * sizeof(*e));
    char *sums = NULL, *tmp = NULL, **data = NULL;
    size_t *lens = NULL, sums_len = 0;
    struct archive *a = NULL;
    int fd = -1, rc = 0;
    data = calloc(n ? n : 1, sizeof(char *));
    lens = calloc(n ? n : 1, sizeof(size_t));
    sums = malloc(n * 320 + 1);
    if (!e || !data || !lens || !sums) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(e, entries, n * sizeof(*e));
    qsort(e, n, sizeof(*e), cmp_entry);
    for (size_t i = 0; i < n; i++) {
        if (!sl_nn_bundle_name_ok(e[i].name) || !strcmp(e[i].name, SUMS)) {
            rc = sl_err_set(err, SL_EUSAGE, "bundle: invalid entry name '%s'", e[i].name ? e[i].name : "");
            goto out;
        }
        if (i && !strcmp(e[i].name, e[i - 1].name)) {
            rc = sl_err_set(err, SL_EUSAGE, "bundle: duplicate entry name '%s'", e[i].name);
            goto out;
        }
        if ((rc = sl_fs_read_all(e[i].path, &data[i], &lens[i], err))) goto out;
        uint8_t d[SL_SHA256_LEN];
        char hex[SL_SHA256_HEX_LEN + 1];
        sl_sha256_buf(data[i], lens[i], d);
        sl_sha256_to_hex(d, hex);
        sums_len += (size_t)sprintf(sums + sums_len, "%s  %s\n", hex, e[i].name);
    }
    size_t tl = strlen(out_path) + 16;
    tmp = malloc(tl);
    if (!tmp) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(tmp, tl, "%s.tmpXXXXXX", out_path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = sl_err_errno(err, SL_EIO, errno, "%s: cannot create a temporary file", out_path);
        free(tmp);
        tmp = NULL;
        goto out;
    }
    (void)fchmod(fd, 0644);
    a = archive_write_new();
    if (!a) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if (archive_write_set_format_ustar(a) != ARCHIVE_OK || archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
        archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        rc = ar_fail(a, err, "setting up the archive", out_path);
        goto out;
    }
    int sums_done = 0;
    for (size_t i = 0; i <= n; i++) {
        /* SHA256SUMS takes its place in name order */
        if (!sums_done && (i == n || strcmp(SUMS, e[i].name) < 0)) {
            if ((rc = add_data(a, SUMS, sums, sums_len, out_path, err))) goto out;
            sums_done = 1;
        }
        if (i < n && (rc = add_data(a, e[i].name, data[i], lens[i], out_path, err))) goto out;
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        rc = ar_fail(a, err, "finishing the archive", out_path);
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = sl_err_errno(err, SL_EIO, errno, "%s: fsync", out_path);
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, out_path) != 0) {
        rc = sl_err_errno(err, SL_EIO, errno, "%s: rename", out_path);
        goto out;
    }
    free(tmp);
    tmp = NULL;
out:
    if (a) archive_write_free(a);
    if (fd >= 0) close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    for (size_t i = 0; data && i < n; i++) free(data[i]);
    free(data);
    free(lens);
    free(sums);
    free(e);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------------ */

typedef struct {
    char **name;
    char (*hex)[SL_SHA256_HEX_LEN + 1];
    size_t n, cap;
} namelist;

static int nl_add(namelist *l, const char *name, const char *hex) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        char **nn = realloc(l->name, nc * sizeof(*nn));
        if (nn) l->name = nn;
        char(*nh)[SL_SHA256_HEX_LEN + 1] = realloc(l->hex, nc * sizeof(*nh));
        if (nh) l->hex = nh;
        if (!nn || !nh) return -1;
        l->cap = nc;
    }
    if (!(l->name[l->n] = strdup(name))) return -1;
    snprintf(l->hex[l->n], sizeof(l->hex[0]), "%s", hex ? hex : "");
    l->n++;
    return 0;
}

static void nl_free(namelist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->name[i]);
    free(l->name);
    free(l->hex);
}

static int extract_one(struct archive *a, const char *bundle, const char *dest, const char *name,
                       char hex[SL_SHA256_HEX_LEN + 1], unsigned long long *total, sl_err *err) {
    char *path = sl_fs_join(dest, name), *dir = path ? sl_fs_dirname(path) : NULL;
    int rc = 0, fd = -1;
    if (!path || !dir) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = sl_fs_mkdirs(dir, err))) goto out;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = errno == EEXIST ? sl_err_set(err, SL_EDATA, "%s: entry '%s' appears twice", bundle, name)
                             : sl_err_errno(err, SL_EIO, errno, "%s: cannot create", path);
        goto out;
    }
    sl_sha256 *h = sl_sha256_new();
    if (!h) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    char buf[65536];
    for (;;) {
        la_ssize_t r = archive_read_data(a, buf, sizeof buf);
        if (r == 0) break;
        if (r < 0) {
            rc = sl_err_set(err, SL_EDATA, "%s: entry '%s': %s", bundle, name,
                            archive_error_string(a) ? archive_error_string(a) : "read error");
            break;
        }
        *total += (unsigned long long)r;
        if (*total > MAX_TOTAL_BYTES) {
            rc = sl_err_set(err, SL_EDATA, "%s: more than %llu GiB when unpacked (not a model bundle)",
                            bundle, MAX_TOTAL_BYTES >> 30);
            break;
        }
        sl_sha256_update(h, buf, (size_t)r);
        if ((rc = sl_fs_write_all(fd, buf, (size_t)r, path, err))) break;
    }
    uint8_t d[SL_SHA256_LEN];
    sl_sha256_final(h, d);
    sl_sha256_free(h);
    sl_sha256_to_hex(d, hex);
out:
    if (fd >= 0) close(fd);
    free(path);
    free(dir);
    return rc;
}

static int verify(const char *bundle, const char *dest, const namelist *got, sl_err *err) {
    char *path = sl_fs_join(dest, SUMS), *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (!path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!sl_fs_is_file(path)) {
        free(path);
        return sl_err_set(err, SL_EINTEGRITY, "%s: no %s checksum list", bundle, SUMS);
    }
    if ((rc = sl_fs_read_all(path, &text, &len, err))) {
        free(path);
        return rc;
    }
    free(path);
    unsigned char *seen = calloc(got->n ? got->n : 1, 1);
    if (!seen) {
        free(text);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    size_t lineno = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        if (strlen(line) < SL_SHA256_HEX_LEN + 3 || line[SL_SHA256_HEX_LEN] != ' ' ||
            line[SL_SHA256_HEX_LEN + 1] != ' ') {
            rc = sl_err_set(err, SL_EINTEGRITY, "%s: %s line %zu: expected '<sha256>  <name>'", bundle, SUMS,
                            lineno);
            goto out;
        }
        line[SL_SHA256_HEX_LEN] = 0;
        const char *hex = line, *name = line + SL_SHA256_HEX_LEN + 2;
        size_t i = 0;
        while (i < got->n && strcmp(got->name[i], name)) i++;
        if (i == got->n) {
            rc = sl_err_set(err, SL_EINTEGRITY, "%s: %s lists '%s', which the bundle does not hold", bundle,
                            SUMS, name);
            goto out;
        }
        if (strcmp(got->hex[i], hex)) {
            rc =
                sl_err_set(err, SL_EINTEGRITY, "%s: '%s' has SHA-256 %s, %s lists %s (the bundle is damaged)",
                           bundle, name, got->hex[i], SUMS, hex);
            goto out;
        }
        seen[i] = 1;
    }
    for (size_t i = 0; i < got->n; i++)
        if (!seen[i] && strcmp(got->name[i], SUMS)) {
            rc = sl_err_set(err, SL_EINTEGRITY, "%s: '%s' is not in %s", bundle, got->name[i], SUMS);
            goto out;
        }
out:
    free(seen);
    free(text);
    return rc;
}

int sl_nn_bundle_extract(const char *bundle_path, const char *dest, sl_err *err) {
    struct archive *a = archive_read_new();
    if (!a) return sl_err_set(err, SL_ENOMEM, "out of memory");
    namelist got = {0};
    int rc = 0;
    unsigned long long total = 0;
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, bundle_path, 65536) != ARCHIVE_OK) {
        rc = sl_err_set(err, errno == ENOENT ? SL_ENOTFOUND : SL_EDATA, "%s: not a readable model bundle: %s",
                        bundle_path, archive_error_string(a) ? archive_error_string(a) : "open failed");
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK) {
            rc = sl_err_set(err, SL_EDATA, "%s: not a valid model bundle (tar.gz): %s", bundle_path,
                            archive_error_string(a) ? archive_error_string(a) : "bad header");
            goto out;
        }
        const char *name = archive_entry_pathname(e);
        if (!sl_nn_bundle_name_ok(name)) {
            rc =
                sl_err_set(err, SL_EDATA, "%s: entry '%s' has an unsafe name", bundle_path, name ? name : "");
            goto out;
        }
        if (archive_entry_filetype(e) != AE_IFREG) {
            rc = sl_err_set(err, SL_EDATA, "%s: entry '%s' is not a regular file", bundle_path, name);
            goto out;
        }
        if (got.n >= MAX_ENTRIES) {
            rc = sl_err_set(err, SL_EDATA, "%s: more than %d entries (not a model bundle)", bundle_path,
                            MAX_ENTRIES);
            goto out;
        }
        char hex[SL_SHA256_HEX_LEN + 1];
        if ((rc = extract_one(a, bundle_path, dest, name, hex, &total, err))) goto out;
        if (nl_add(&got, name, hex)) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
    }
    rc = verify(bundle_path, dest, &got, err);
out:
    archive_read_free(a);
    nl_free(&got);
    return rc;
}
