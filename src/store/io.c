/* Store I/O: the few system calls that publish content, each with a fault-injection hook for the tests
 * (SEQLORA_FAULT, see store_internal.h), and the publish protocol (temp file → fsync → link → dir fsync). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"
#include "util/fs.h"

static struct {
    int parsed;
    char op[16];
    long nth;
    int err;
    long count;
} fault;

/* umask() can only be read by setting it, which races with other threads creating files; read it once
 * (sl_store_open calls this before a process starts its threads). */
static mode_t process_umask;
static pthread_once_t umask_once = PTHREAD_ONCE_INIT;
static void read_umask(void) {
    process_umask = umask(0);
    umask(process_umask);
}

mode_t sl_store_umask(void) {
    pthread_once(&umask_once, read_umask);
    return process_umask;
}

mode_t sl_store_published_mode(void) {
    return 0444 & ~sl_store_umask();
}

int sl_store_fault_next(const char *op) {
    if (!fault.parsed) {
        fault.parsed = 1;
        const char *spec = getenv("SEQLORA_FAULT");
        if (spec && *spec) {
            char errname[16] = "";
            if (sscanf(spec, "%15[a-z]:%ld:%15[A-Z]", fault.op, &fault.nth, errname) >= 2 && fault.nth > 0)
                fault.err = !strcmp(errname, "EIO") ? EIO : ENOSPC;
        }
    }
    if (!fault.err || strcmp(op, fault.op)) return 0;
    return ++fault.count == fault.nth ? fault.err : 0;
}

int sl_store_io_write(int fd, const void *data, size_t len, const char *what, sl_err *err) {
    int e = sl_store_fault_next("write");
    if (e) return sl_err_errno(err, SL_EIO, e, "cannot write %s", what);
    return sl_fs_write_all(fd, data, len, what, err);
}

int sl_store_io_fsync(int fd, const char *what, sl_err *err) {
    int e = sl_store_fault_next("fsync");
    if (!e && fsync(fd) != 0) e = errno;
    return e ? sl_err_errno(err, SL_EIO, e, "cannot fsync %s", what) : 0;
}

int sl_store_io_rename(const char *from, const char *to, sl_err *err) {
    int e = sl_store_fault_next("rename");
    if (!e && rename(from, to) != 0) e = errno;
    return e ? sl_err_errno(err, SL_EIO, e, "cannot rename %s to %s", from, to) : 0;
}

int sl_store_io_link(const char *from, const char *to, sl_err *err) {
    int e = sl_store_fault_next("link");
    if (!e && link(from, to) != 0) e = errno;
    if (!e) return 0;
    if (e == EEXIST) return 1;
    if (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == EXDEV || e == EMLINK) {
        /* File systems without hard links (some FUSE, CIFS): rename, which may replace an equal file. */
        struct stat st;
        if (stat(to, &st) == 0) return 1;
        return sl_store_io_rename(from, to, err);
    }
    return sl_err_errno(err, SL_EIO, e, "cannot link %s to %s", from, to);
}

int sl_store_tmpfile(sl_store *s, const char *tag, char **path, sl_err *err) {
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    size_t n = strlen(s->root) + strlen(tag) + strlen(host) + 64;
    char *p = malloc(n);
    if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
    snprintf(p, n, "%s/tmp/%s.%s.%ld.XXXXXX", s->root, tag, host, (long)getpid());
    int fd = mkostemp(p, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(p);
        return sl_err_errno(err, SL_EIO, e, "cannot create a temporary file in %s/tmp", s->root);
    }
    *path = p;
    return fd;
}

int sl_store_publish(const char *tmp, const char *final, sl_err *err) {
    char *dir = sl_fs_dirname(final);
    if (!dir) {
        unlink(tmp);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int rc = sl_fs_mkdirs(dir, err);
    if (!rc) rc = sl_store_io_link(tmp, final, err);
    if (rc >= 0) {
        int existed = rc;
        unlink(tmp);
        if (!existed) {
            int e = sl_store_fault_next("fsync");
            int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (!e && (fd < 0 || fsync(fd) != 0)) e = errno;
            if (fd >= 0) close(fd);
            /* The file itself is complete and fsynced; only its name may not be durable. It stays (another
             * process may already rely on it) but the caller does not index it. */
            if (e && e != EINVAL) rc = sl_err_errno(err, SL_EIO, e, "cannot fsync directory %s", dir);
        }
        if (rc >= 0) rc = existed;
    } else {
        unlink(tmp);
    }
    free(dir);
    return rc;
}

int sl_store_write_small(sl_store *s, const char *final, const void *data, size_t len, int replace,
                         sl_err *err) {
    char *tmp = NULL;
    int fd = sl_store_tmpfile(s, "small", &tmp, err);
    if (fd < 0) return fd;
    fchmod(fd, sl_store_published_mode());
    int rc = sl_store_io_write(fd, data, len, final, err);
    if (!rc) rc = sl_store_io_fsync(fd, final, err);
    if (close(fd) != 0 && !rc) rc = sl_err_errno(err, SL_EIO, errno, "cannot close %s", tmp);
    if (rc) {
        unlink(tmp);
        free(tmp);
        return rc;
    }
    if (replace) {
        char *dir = sl_fs_dirname(final);
        rc = dir ? sl_fs_mkdirs(dir, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
        if (!rc) rc = sl_store_io_rename(tmp, final, err);
        if (!rc) rc = sl_fs_fsync_dir(dir, err);
        if (rc) unlink(tmp);
        free(dir);
    } else {
        rc = sl_store_publish(tmp, final, err);
    }
    free(tmp);
    return rc < 0 ? rc : 0;
}

int sl_store_sniff_codec(const unsigned char *h, size_t n) {
    if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b) return SL_STORE_CODEC_RAW; /* gzip, BGZF */
    if (n >= 4 && h[0] == 'P' && h[1] == 'K' && ((h[2] == 3 && h[3] == 4) || (h[2] == 5 && h[3] == 6)))
        return SL_STORE_CODEC_RAW; /* zip (and the empty zip) */
    if (n >= 6 && !memcmp(h,
                          "\xfd"
                          "7zXZ\0",
                          6))
        return SL_STORE_CODEC_RAW;                                 /* xz */
    if (n >= 3 && !memcmp(h, "BZh", 3)) return SL_STORE_CODEC_RAW; /* bzip2 */
    return SL_STORE_CODEC_ZSTD;
}
