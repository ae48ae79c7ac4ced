#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *sl_fs_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    size_t n = la;
    if (n && p[n - 1] != '/') p[n++] = '/';
    memcpy(p + n, b, lb + 1);
    return p;
}

int sl_fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int sl_fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sl_fs_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *sl_fs_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int sl_fs_mkdirs(const char *path, sl_err *err) {
    char *p = strdup(path);
    if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            free(p);
            return sl_err_errno(err, SL_EIO, e, "cannot create directory %s", path);
        }
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) rc = sl_err_errno(err, SL_EIO, errno, "cannot create directory %s", p);
    else if (!sl_fs_is_dir(p)) rc = sl_err_set(err, SL_EIO, "%s exists and is not a directory", p);
    free(p);
    return rc;
}

int sl_fs_write_all(int fd, const void *data, size_t len, const char *what, sl_err *err) {
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sl_err_errno(err, SL_EIO, errno, "cannot write %s", what);
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int sl_fs_fsync_dir(const char *dir, sl_err *err) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sl_err_errno(err, SL_EIO, errno, "cannot open directory %s", dir);
    int rc = 0;
    /* Some file systems (and some FUSE mounts) refuse fsync on directories; that is not data loss. */
    if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP)
        rc = sl_err_errno(err, SL_EIO, errno, "cannot fsync directory %s", dir);
    close(fd);
    return rc;
}

/* Open a unique temp file next to `path` (same file system, so rename is atomic). */
static int open_temp_beside(const char *path, char **tmp_out, sl_err *err) {
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) return sl_err_set(err, SL_ENOMEM, "out of memory");
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return sl_err_errno(err, SL_EIO, e, "cannot create a temporary file beside %s", path);
    }
    /* mkostemp creates 0600; published files follow the user's umask like any other file. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    *tmp_out = tmp;
    return fd;
}

static int publish_temp(int fd, char *tmp, const char *path, sl_err *err) {
    int rc = 0;
    if (fsync(fd) != 0) rc = sl_err_errno(err, SL_EIO, errno, "cannot fsync %s", path);
    if (close(fd) != 0 && !rc) rc = sl_err_errno(err, SL_EIO, errno, "cannot close %s", path);
    if (!rc && rename(tmp, path) != 0) rc = sl_err_errno(err, SL_EIO, errno, "cannot rename into %s", path);
    if (rc) {
        unlink(tmp);
    } else {
        char *dir = sl_fs_dirname(path);
        rc = dir ? sl_fs_fsync_dir(dir, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
        free(dir);
    }
    free(tmp);
    return rc;
}

int sl_fs_write_atomic(const char *path, const void *data, size_t len, sl_err *err) {
    char *tmp = NULL;
    int fd = open_temp_beside(path, &tmp, err);
    if (fd < 0) return fd;
    int rc = sl_fs_write_all(fd, data, len, path, err);
    if (rc) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return rc;
    }
    return publish_temp(fd, tmp, path, err);
}

int sl_fs_copy_atomic(const char *src, const char *dst, sl_err *err) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return sl_err_errno(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, errno, "cannot open %s", src);
    char *tmp = NULL;
    int fd = open_temp_beside(dst, &tmp, err);
    if (fd < 0) {
        close(in);
        return fd;
    }
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    int rc = buf ? 0 : sl_err_set(err, SL_ENOMEM, "out of memory");
    while (!rc) {
        ssize_t n = read(in, buf, CHUNK);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = sl_err_errno(err, SL_EIO, errno, "cannot read %s", src);
        } else if (n == 0) {
            break;
        } else {
            rc = sl_fs_write_all(fd, buf, (size_t)n, dst, err);
        }
    }
    free(buf);
    close(in);
    if (rc) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return rc;
    }
    return publish_temp(fd, tmp, dst, err);
}

int sl_fs_read_all(const char *path, char **data, size_t *len, sl_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sl_err_errno(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, errno, "cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    int rc = buf ? 0 : sl_err_set(err, SL_ENOMEM, "out of memory reading %s", path);
    while (!rc) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory reading %s", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = sl_err_errno(err, SL_EIO, errno, "cannot read %s", path);
        } else if (r == 0) {
            break;
        } else {
            n += (size_t)r;
        }
    }
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *data = buf;
    if (len) *len = n;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int sl_fs_remove_tree(const char *path, sl_err *err) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return sl_err_errno(err, SL_EIO, errno, "cannot remove %s", path);
    return 0;
}

int sl_fs_mkdtemp(const char *parent, const char *prefix, char **out, sl_err *err) {
    size_t n = strlen(parent) + strlen(prefix) + 9;
    char *p = malloc(n);
    if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
    snprintf(p, n, "%s/%sXXXXXX", parent, prefix);
    if (!mkdtemp(p)) {
        int e = errno;
        free(p);
        return sl_err_errno(err, SL_EIO, e, "cannot create a temporary directory in %s", parent);
    }
    *out = p;
    return 0;
}
