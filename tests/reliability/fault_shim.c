/* LD_PRELOAD fault injection for any code in the process (htslib, LMDB, zstd, stdio-free paths of our own
 * code), beyond the store's SEQLORA_FAULT hook: makes the Nth call of one system call on a regular file
 * fail.
 *
 *   SEQLORA_SHIM_FAULT="op:N[:ERRNO]"   op = write | fsync | rename | link | close | open
 *                                       (write covers write/pwrite/writev/pwritev; fsync covers fdatasync;
 *                                        open counts only opens that create: O_CREAT)
 *                                       ERRNO = ENOSPC (default) | EIO | EDQUOT
 *   SEQLORA_SHIM_LOG=FILE               append "fired <op> <N>" to FILE when the fault fires
 *
 * Only calls on regular files count (pipes, terminals and sockets are left alone, so stderr still works).
 * A failed close still closes the descriptor, as on NFS. Calls glibc makes internally (stdio's buffered
 * writes) are not interposed. Test-only code: not linked into seqlora. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static char op[16];
static long nth, count;
static int err_value, parsed, fired;

static void parse(void) {
    if (parsed) return;
    parsed = 1;
    const char *spec = getenv("SEQLORA_SHIM_FAULT");
    char name[16] = "";
    if (!spec || sscanf(spec, "%15[a-z]:%ld:%15[A-Z]", op, &nth, name) < 2 || nth < 1) {
        op[0] = 0;
        return;
    }
    err_value = !strcmp(name, "EIO") ? EIO : !strcmp(name, "EDQUOT") ? EDQUOT : ENOSPC;
}

static int regular_fd(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* 1 when this call (of kind `kind`, on a regular file) must fail. */
static int hit(const char *kind) {
    parse();
    if (!op[0] || fired || strcmp(op, kind)) return 0;
    if (++count != nth) return 0;
    fired = 1;
    const char *log = getenv("SEQLORA_SHIM_LOG");
    if (log) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            char line[64];
            int n = snprintf(line, sizeof line, "fired %s %ld\n", kind, nth);
            ssize_t w = write(fd, line, (size_t)n); /* op is "write": this fd is not counted, fired is set */
            (void)w;
            close(fd);
        }
    }
    errno = err_value;
    return 1;
}

#define REAL(ret, name, ...)                                                                                 \
    static ret (*real_##name)(__VA_ARGS__);                                                                  \
    if (!real_##name) *(void **)&real_##name = dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n) {
    REAL(ssize_t, write, int, const void *, size_t);
    if (regular_fd(fd) && hit("write")) return -1;
    return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
    if (regular_fd(fd) && hit("write")) return -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    REAL(ssize_t, pwrite64, int, const void *, size_t, off_t);
    if (regular_fd(fd) && hit("write")) return -1;
    return real_pwrite64(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    REAL(ssize_t, writev, int, const struct iovec *, int);
    if (regular_fd(fd) && hit("write")) return -1;
    return real_writev(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t);
    if (regular_fd(fd) && hit("write")) return -1;
    return real_pwritev(fd, iov, cnt, off);
}

int fsync(int fd) {
    REAL(int, fsync, int);
    if (regular_fd(fd) && hit("fsync")) return -1;
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(int, fdatasync, int);
    if (regular_fd(fd) && hit("fsync")) return -1;
    return real_fdatasync(fd);
}

int close(int fd) {
    REAL(int, close, int);
    if (regular_fd(fd) && hit("close")) {
        int e = errno;
        real_close(fd);
        errno = e;
        return -1;
    }
    return real_close(fd);
}

int rename(const char *from, const char *to) {
    REAL(int, rename, const char *, const char *);
    if (hit("rename")) return -1;
    return real_rename(from, to);
}

int link(const char *from, const char *to) {
    REAL(int, link, const char *, const char *);
    if (hit("link")) return -1;
    return real_link(from, to);
}

static int open_common(int (*real)(const char *, int, ...), const char *path, int flags, mode_t mode) {
    if ((flags & O_CREAT) && hit("open")) return -1;
    return real(path, flags, mode);
}

int open(const char *path, int flags, ...) {
    REAL(int, open, const char *, int, ...);
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return open_common(real_open, path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    REAL(int, open64, const char *, int, ...);
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return open_common(real_open64, path, flags, mode);
}
