#include "download.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build_info.h"
#include "util/fs.h"

enum { MAX_REDIRECTS = 10, MAX_RESTARTS = 3, ERRBODY_MAX = 300 };
static const double BACKOFF_CAP_S = 60.0, RETRY_AFTER_CAP_S = 120.0;

/* ---- global init ------------------------------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void) {
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int ensure_global(sl_err *err) {
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return sl_err_set(err, SL_ENET, "cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
    return 0;
}

/* ---- small helpers ------------------------------------------------------------------------------ */

void sl_bio_dl_opts_init(sl_bio_dl_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->connect_timeout_s = 30;
    opts->stall_timeout_s = 60;
    opts->retries = 5;
    opts->retry_delay_s = 1.0;
}

int sl_bio_is_hex(const char *s, size_t n) {
    if (!s) return 0;
    size_t i = 0;
    for (; s[i]; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return i == n;
}

static int has_prefix_ci(const char *s, const char *prefix) {
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int is_http_url(const char *url) {
    return has_prefix_ci(url, "http://") || has_prefix_ci(url, "https://");
}

int sl_bio_download_scheme_ok(const char *url) {
    return url && (is_http_url(url) || has_prefix_ci(url, "ftp://") || has_prefix_ci(url, "file://"));
}

/* The URL for messages: any user:password part removed. */
static void display_url(const char *url, char *out, size_t n) {
    snprintf(out, n, "%s", url);
    CURLU *u = curl_url();
    if (!u) return;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        char *user = NULL;
        if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK && user) {
            curl_url_set(u, CURLUPART_USER, NULL, 0);
            curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
            char *clean = NULL;
            if (curl_url_get(u, CURLUPART_URL, &clean, 0) == CURLUE_OK && clean)
                snprintf(out, n, "%s", clean);
            curl_free(clean);
        }
        curl_free(user);
    }
    curl_url_cleanup(u);
}

/* "scheme://host:port" of a URL (malloc'd), NULL when it does not parse. */
static char *origin_of(const char *url) {
    CURLU *u = curl_url();
    if (!u) return NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == 0 &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == 0 &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == 0) {
        size_t n = strlen(scheme) + strlen(host) + strlen(port) + 8;
        out = malloc(n);
        if (out) {
            snprintf(out, n, "%s://%s:%s", scheme, host, port);
            for (char *p = out; *p; p++) *p = (char)tolower((unsigned char)*p);
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out;
}

/* Replace every occurrence of `secret` in the message by "<redacted>". */
static void scrub_secret(sl_err *err, const char *secret) {
    if (!err || !secret || !*secret) return;
    size_t sl = strlen(secret);
    char out[SL_ERR_MSG_MAX];
    size_t o = 0;
    const char *p = err->msg;
    while (*p && o + 1 < sizeof out) {
        if (!strncmp(p, secret, sl)) {
            const char *r = "<redacted>";
            for (; *r && o + 1 < sizeof out; r++) out[o++] = *r;
            p += sl;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    memcpy(err->msg, out, o + 1);
}

static void sleep_seconds(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- one transfer ------------------------------------------------------------------------------- */

typedef struct sink {
    CURL *h;
    int is_http;
    int fd;    /* file mode: the partial file (O_APPEND), else -1 */
    char *mem; /* memory mode */
    size_t mem_len, mem_cap, mem_max;
    uint64_t offset;   /* bytes already in the partial file when the transfer started */
    uint64_t received; /* payload bytes written by this transfer */
    uint64_t total;    /* expected final size for progress (0 = unknown) */
    int local_fail;    /* the write callback failed: *lerr holds why */
    sl_err lerr;
    const char *path; /* partial file, for messages */
    char status[128]; /* last HTTP status line */
    char errbody[ERRBODY_MAX + 1];
    size_t errlen;
    const sl_bio_dl_opts *opts;
} sink;

static int response_ok(const sink *s) {
    if (!s->is_http) return 1;
    long code = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 300;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *user) {
    sink *s = user;
    size_t len = size * nmemb;
    if (!response_ok(s)) { /* an error page or a redirect body: keep the start for the message */
        size_t room = ERRBODY_MAX - s->errlen, k = len < room ? len : room;
        memcpy(s->errbody + s->errlen, p, k);
        s->errlen += k;
        s->errbody[s->errlen] = '\0';
        return len;
    }
    if (s->fd >= 0) {
        if (sl_fs_write_all(s->fd, p, len, s->path, &s->lerr)) {
            s->local_fail = 1;
            return 0;
        }
    } else {
        if (s->mem_len + len > s->mem_max) {
            sl_err_set(&s->lerr, SL_EDATA, "the response is larger than the limit of %zu bytes", s->mem_max);
            s->local_fail = 1;
            return 0;
        }
        if (s->mem_len + len + 1 > s->mem_cap) {
            size_t cap = s->mem_cap ? s->mem_cap : 65536;
            while (cap < s->mem_len + len + 1) cap *= 2;
            char *m = realloc(s->mem, cap);
            if (!m) {
                sl_err_set(&s->lerr, SL_ENOMEM, "out of memory reading a response");
                s->local_fail = 1;
                return 0;
            }
            s->mem = m;
            s->mem_cap = cap;
        }
        memcpy(s->mem + s->mem_len, p, len);
        s->mem_len += len;
    }
    s->received += len;
    if (s->opts->progress) {
        uint64_t total = s->total;
        if (!total) {
            curl_off_t cl = -1;
            if (curl_easy_getinfo(s->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl > 0)
                total = s->offset + (uint64_t)cl;
        }
        s->opts->progress(s->opts->progress_user, s->offset + s->received, total);
    }
    return len;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *user) {
    sink *s = user;
    size_t len = size * nmemb;
    if (len > 5 && !strncmp(p, "HTTP/", 5)) {
        size_t k = len < sizeof s->status - 1 ? len : sizeof s->status - 1;
        memcpy(s->status, p, k);
        while (k && (s->status[k - 1] == '\r' || s->status[k - 1] == '\n')) k--;
        s->status[k] = '\0';
        s->errlen = 0; /* a new response (after 100 Continue or a redirect) */
        s->errbody[0] = '\0';
    }
    return len;
}

typedef enum { XF_OK, XF_RETRY, XF_RESTART, XF_REDIRECT, XF_FAIL } xfer_result;

static int transient_curl(CURLcode rc) {
    switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_FTP_ACCEPT_TIMEOUT:
            return 1;
        default:
            return 0;
    }
}

/* The error body as printable text for a message ("" when empty). */
static void body_snippet(const sink *s, char *out, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < s->errlen && o + 1 < n; i++) {
        unsigned char c = (unsigned char)s->errbody[i];
        out[o++] = (c >= 32 && c < 127) ? (char)c : ' ';
    }
    while (o && out[o - 1] == ' ') o--;
    out[o] = '\0';
}

/* One request. On XF_REDIRECT *redirect is the malloc'd target. On XF_RETRY *retry_after is the server's
 * Retry-After (seconds, 0 when none) and `err` says what went wrong (for the final message). */
static xfer_result transfer_once(sink *s, const char *url, struct curl_slist *headers, char **redirect,
                                 double *retry_after, sl_err *err) {
    CURL *h = s->h;
    char shown[1024], ebuf[CURL_ERROR_SIZE] = "";
    display_url(url, shown, sizeof shown);
    curl_easy_reset(h);
    s->is_http = is_http_url(url);
    s->received = 0;
    s->status[0] = '\0';
    s->errlen = 0;
    s->errbody[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,ftp,file");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s->opts->connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->opts->stall_timeout_s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "seqlora/" SEQLORA_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    if (headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (s->offset) curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)s->offset);

    CURLcode rc = curl_easy_perform(h);
    const char *cmsg = ebuf[0] ? ebuf : curl_easy_strerror(rc);
    if (s->local_fail) {
        if (err) *err = s->lerr;
        sl_err_prefix(err, "%s", shown);
        return XF_FAIL;
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    char snippet[ERRBODY_MAX + 1];
    body_snippet(s, snippet, sizeof snippet);
    const char *status = s->status[0] ? s->status : "no status line";
    *retry_after = 0;

    if (rc == CURLE_RANGE_ERROR || rc == CURLE_BAD_DOWNLOAD_RESUME) {
        sl_err_set(err, SL_ENET, "%s: the server cannot resume at byte %llu (%s)", shown,
                   (unsigned long long)s->offset, cmsg);
        return XF_RESTART;
    }
    if (s->is_http && code > 0 && (rc == CURLE_OK || !response_ok(s))) {
        if (code >= 200 && code < 300) {
            if (rc == CURLE_OK) return XF_OK;
        } else if (code >= 300 && code < 400) {
            char *loc = NULL;
            if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
                *redirect = strdup(loc);
                if (!*redirect) {
                    sl_err_set(err, SL_ENOMEM, "out of memory");
                    return XF_FAIL;
                }
                return XF_REDIRECT;
            }
            sl_err_set(err, SL_ENET, "%s: redirect (%s) without a Location", shown, status);
            return XF_FAIL;
        } else if (code == 408 || code == 429 || code >= 500) {
            curl_off_t ra = 0;
            if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
                *retry_after = (double)ra;
            sl_err_set(err, SL_ENET, "%s: server answered '%s'%s%s", shown, status, snippet[0] ? ": " : "",
                       snippet);
            return XF_RETRY;
        } else if (code == 416 && s->offset) {
            sl_err_set(err, SL_ENET, "%s: the server cannot resume at byte %llu ('%s')", shown,
                       (unsigned long long)s->offset, status);
            return XF_RESTART;
        } else {
            int ecode = (code == 404 || code == 410) ? SL_ENOTFOUND : SL_ENET;
            sl_err_set(err, ecode, "%s: server answered '%s'%s%s", shown, status, snippet[0] ? ": " : "",
                       snippet);
            if (code == 401 || code == 403) {
                size_t n = strlen(err->msg);
                snprintf(err->msg + n, sizeof err->msg - n,
                         " (is an access token needed, or has it expired?)");
            }
            return XF_FAIL;
        }
    }
    if (rc == CURLE_OK) return XF_OK;
    if (transient_curl(rc) || (!s->is_http && has_prefix_ci(url, "ftp://") && code >= 400 && code < 500)) {
        sl_err_set(err, SL_ENET, "%s: %s", shown, cmsg);
        return XF_RETRY;
    }
    int ecode = SL_ENET;
    if (rc == CURLE_FILE_COULDNT_READ_FILE || rc == CURLE_REMOTE_FILE_NOT_FOUND) ecode = SL_ENOTFOUND;
    if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) ecode = SL_EUSAGE;
    sl_err_set(err, ecode, "%s: %s", shown, cmsg);
    return XF_FAIL;
}

/* ---- the retry loop ----------------------------------------------------------------------------- */

typedef struct fetch_state {
    int attempts, resumed;
    uint64_t bytes;
} fetch_state;

static int file_size(int fd, uint64_t *size, const char *path, sl_err *err) {
    struct stat st;
    if (fstat(fd, &st)) return sl_err_errno(err, SL_EIO, errno, "cannot stat %s", path);
    *size = (uint64_t)st.st_size;
    return 0;
}

static int truncate_file(sink *s, sl_err *err) {
    if (s->fd < 0) {
        s->mem_len = 0;
        return 0;
    }
    if (ftruncate(s->fd, 0)) return sl_err_errno(err, SL_EIO, errno, "cannot truncate %s", s->path);
    return 0;
}

static struct curl_slist *build_headers(const sl_bio_dl_opts *opts, int with_secret, int *fail) {
    struct curl_slist *list = NULL, *t;
    *fail = 0;
    for (const char *const *h = opts->headers; h && *h; h++) {
        if (!(t = curl_slist_append(list, *h))) goto oom;
        list = t;
    }
    if (with_secret && opts->secret_header && opts->secret_value) {
        size_t n = strlen(opts->secret_header) + strlen(opts->secret_value) + 3;
        char *line = malloc(n);
        if (!line) goto oom;
        snprintf(line, n, "%s: %s", opts->secret_header, opts->secret_value);
        t = curl_slist_append(list, line);
        memset(line, 0, n);
        free(line);
        if (!t) goto oom;
        list = t;
    }
    return list;
oom:
    curl_slist_free_all(list);
    *fail = 1;
    return NULL;
}

/* Transfer until the sink holds the whole resource (or a permanent error). `expect_size` < 0 = unknown. */
static int fetch_loop(sink *s, const char *url, int64_t expect_size, fetch_state *st, sl_err *err) {
    const sl_bio_dl_opts *o = s->opts;
    char *origin = origin_of(url);
    char *cur = strdup(url);
    if (!cur) {
        free(origin);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int failures = 0, restarts = 0, redirects = 0, rc = 0;
    uint64_t last_short = UINT64_MAX;
    double delay = o->retry_delay_s;
    for (;;) {
        uint64_t have = 0;
        if (s->fd >= 0) {
            if ((rc = file_size(s->fd, &have, s->path, err))) break;
            /* a partial file of a previous try that is already whole; an empty one proves nothing (the
             * resource may not exist), so an expected size of 0 always asks the source */
            if (expect_size >= 0 && have > 0 && have == (uint64_t)expect_size) break;
            if (expect_size >= 0 && have > (uint64_t)expect_size) {
                if ((rc = truncate_file(s, err))) break;
                have = 0;
            }
        } else {
            s->mem_len = 0;
        }
        s->offset = have;
        s->total = expect_size > 0 ? (uint64_t)expect_size : 0;
        s->local_fail = 0;
        char *cur_origin = origin_of(cur);
        int same_origin = origin && cur_origin && !strcmp(origin, cur_origin);
        free(cur_origin);
        int hfail = 0;
        struct curl_slist *headers = build_headers(o, same_origin, &hfail);
        if (hfail) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        st->attempts++;
        if (have) st->resumed++;
        char *redirect = NULL;
        double retry_after = 0;
        sl_err terr;
        sl_err_clear(&terr);
        xfer_result x = transfer_once(s, cur, headers, &redirect, &retry_after, &terr);
        curl_slist_free_all(headers);
        st->bytes += s->received;

        if (x == XF_OK && s->fd >= 0 && expect_size >= 0) {
            uint64_t now = 0;
            if ((rc = file_size(s->fd, &now, s->path, err))) break;
            /* short of the expected size: the stream was cut, so resume, unless the last try ended at the
             * same place (the source itself is shorter: verification will say so) */
            if (now < (uint64_t)expect_size && now != last_short) {
                last_short = now;
                char shown[1024];
                display_url(cur, shown, sizeof shown);
                sl_err_set(&terr, SL_ENET, "%s: the transfer ended after %llu of %lld bytes", shown,
                           (unsigned long long)now, (long long)expect_size);
                x = XF_RETRY;
            }
        }
        if (x == XF_OK) break;
        if (x == XF_FAIL) {
            *err = terr;
            rc = terr.code ? terr.code : SL_ENET;
            break;
        }
        if (x == XF_REDIRECT) {
            st->attempts--;
            if (++redirects > MAX_REDIRECTS || !is_http_url(redirect)) {
                char shown[1024];
                display_url(cur, shown, sizeof shown);
                rc = sl_err_set(err, SL_ENET, "%s: %s", shown,
                                redirects > MAX_REDIRECTS ? "more than 10 redirects"
                                                          : "redirect to a non-http(s) location refused");
                free(redirect);
                break;
            }
            free(cur);
            cur = redirect;
            continue;
        }
        if (x == XF_RESTART) {
            if (++restarts > MAX_RESTARTS) {
                *err = terr;
                rc = SL_ENET;
                break;
            }
            if ((rc = truncate_file(s, err))) break;
            continue;
        }
        /* XF_RETRY */
        if (failures >= o->retries) {
            *err = terr;
            rc = SL_ENET;
            sl_err_prefix(err, "giving up after %d attempt%s", st->attempts, st->attempts == 1 ? "" : "s");
            break;
        }
        failures++;
        double wait = delay < BACKOFF_CAP_S ? delay : BACKOFF_CAP_S;
        if (retry_after > wait) wait = retry_after < RETRY_AFTER_CAP_S ? retry_after : RETRY_AFTER_CAP_S;
        sleep_seconds(wait);
        delay *= 2;
        /* start over at the original URL: a redirect target may have been short-lived */
        char *again = strdup(url);
        if (!again) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
        }
        free(cur);
        cur = again;
        redirects = 0;
    }
    free(cur);
    free(origin);
    return rc;
}

/* ---- verification -------------------------------------------------------------------------------- */

static void to_hex(const unsigned char *d, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hash_file(const char *path, sl_bio_dl_stats *st, sl_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sl_err_errno(err, SL_EIO, errno, "cannot open %s", path);
    EVP_MD_CTX *a = EVP_MD_CTX_new(), *b = EVP_MD_CTX_new();
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    int rc = 0;
    if (!a || !b || !buf || EVP_DigestInit_ex(a, EVP_sha256(), NULL) != 1 ||
        EVP_DigestInit_ex(b, EVP_md5(), NULL) != 1)
        rc = sl_err_set(err, SL_ENOMEM, "cannot set up hashing of %s", path);
    uint64_t total = 0;
    while (!rc) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = sl_err_errno(err, SL_EIO, errno, "cannot read %s", path);
            break;
        }
        if (n == 0) break;
        EVP_DigestUpdate(a, buf, (size_t)n);
        EVP_DigestUpdate(b, buf, (size_t)n);
        total += (uint64_t)n;
    }
    if (!rc) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(a, d, &len);
        to_hex(d, len, st->sha256);
        EVP_DigestFinal_ex(b, d, &len);
        to_hex(d, len, st->md5);
        st->size = total;
    }
    free(buf);
    EVP_MD_CTX_free(a);
    EVP_MD_CTX_free(b);
    close(fd);
    return rc;
}

static int verify(const char *shown, const sl_bio_dl_expect *ex, const sl_bio_dl_stats *st, sl_err *err) {
    if (!ex) return 0;
    if (ex->size >= 0 && st->size != (uint64_t)ex->size)
        return sl_err_set(err, SL_EINTEGRITY, "%s: expected %lld bytes, got %llu", shown, (long long)ex->size,
                          (unsigned long long)st->size);
    if (ex->sha256 && strcasecmp(ex->sha256, st->sha256))
        return sl_err_set(err, SL_EINTEGRITY, "%s: expected sha256 %s, got %s (%llu bytes)", shown,
                          ex->sha256, st->sha256, (unsigned long long)st->size);
    if (ex->md5 && strcasecmp(ex->md5, st->md5))
        return sl_err_set(err, SL_EINTEGRITY, "%s: expected md5 %s, got %s (%llu bytes)", shown, ex->md5,
                          st->md5, (unsigned long long)st->size);
    return 0;
}

/* ---- public entry points ------------------------------------------------------------------------- */

static int check_args(const char *url, const sl_bio_dl_expect *ex, sl_err *err) {
    if (!url || !*url) return sl_err_set(err, SL_EUSAGE, "no URL given");
    if (!sl_bio_download_scheme_ok(url))
        return sl_err_set(err, SL_EUSAGE,
                          "%s: unsupported URL scheme (expected file://, http://, https:// or ftp://)", url);
    if (ex && ex->sha256 && !sl_bio_is_hex(ex->sha256, 64))
        return sl_err_set(err, SL_EUSAGE, "expected sha256 '%s' is not 64 hex digits", ex->sha256);
    if (ex && ex->md5 && !sl_bio_is_hex(ex->md5, 32))
        return sl_err_set(err, SL_EUSAGE, "expected md5 '%s' is not 32 hex digits", ex->md5);
    return 0;
}

int sl_bio_download_file(const char *url, const char *part_path, const sl_bio_dl_expect *expect,
                         const sl_bio_dl_opts *opts, sl_bio_dl_stats *stats, sl_err *err) {
    sl_bio_dl_opts defaults;
    if (!opts) {
        sl_bio_dl_opts_init(&defaults);
        opts = &defaults;
    }
    int rc = check_args(url, expect, err);
    if (rc || (rc = ensure_global(err))) return rc;
    char shown[1024];
    display_url(url, shown, sizeof shown);
    sink s;
    memset(&s, 0, sizeof s);
    s.opts = opts;
    s.path = part_path;
    s.fd = open(part_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s.fd < 0) return sl_err_errno(err, SL_EIO, errno, "cannot open %s", part_path);
    if (!(s.h = curl_easy_init())) {
        close(s.fd);
        return sl_err_set(err, SL_ENOMEM, "cannot create a curl handle");
    }
    sl_bio_dl_stats st;
    memset(&st, 0, sizeof st);
    int64_t esize = expect ? expect->size : -1;
    for (int pass = 0;; pass++) {
        fetch_state fs = {0, 0, 0};
        rc = fetch_loop(&s, url, esize, &fs, err);
        st.attempts += fs.attempts;
        st.resumed += fs.resumed;
        st.bytes_transferred += fs.bytes;
        if (rc) break;
        if ((rc = hash_file(part_path, &st, err))) break;
        if (!(rc = verify(shown, expect, &st, err))) break;
        /* A mismatch: the partial bytes cannot be trusted. Start from zero once when they came from an
         * earlier transfer (a resume), otherwise the source itself is wrong. */
        if (pass == 0 && fs.resumed + (fs.attempts == 0) > 0) {
            sl_err_clear(err);
            if ((rc = truncate_file(&s, err))) break;
            continue;
        }
        break;
    }
    curl_easy_cleanup(s.h);
    if (close(s.fd) && !rc) rc = sl_err_errno(err, SL_EIO, errno, "cannot close %s", part_path);
    if (rc == SL_EINTEGRITY) unlink(part_path);
    if (rc)
        scrub_secret(err, opts->secret_value);
    else if (stats)
        *stats = st;
    return rc;
}

int sl_bio_download_mem(const char *url, size_t max_bytes, const sl_bio_dl_opts *opts, char **body,
                        size_t *len, sl_err *err) {
    sl_bio_dl_opts defaults;
    if (!opts) {
        sl_bio_dl_opts_init(&defaults);
        opts = &defaults;
    }
    *body = NULL;
    *len = 0;
    int rc = check_args(url, NULL, err);
    if (rc || (rc = ensure_global(err))) return rc;
    sink s;
    memset(&s, 0, sizeof s);
    s.opts = opts;
    s.fd = -1;
    s.mem_max = max_bytes;
    s.path = "(memory)";
    if (!(s.h = curl_easy_init())) return sl_err_set(err, SL_ENOMEM, "cannot create a curl handle");
    fetch_state fs = {0, 0, 0};
    rc = fetch_loop(&s, url, -1, &fs, err);
    curl_easy_cleanup(s.h);
    if (!rc && !s.mem) {
        s.mem = malloc(1);
        if (!s.mem) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (rc) {
        free(s.mem);
        scrub_secret(err, opts->secret_value);
        return rc;
    }
    s.mem[s.mem_len] = '\0';
    *body = s.mem;
    *len = s.mem_len;
    return 0;
}
