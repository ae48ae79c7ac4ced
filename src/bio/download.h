/* Downloads over file://, http(s):// and ftp:// (libcurl), with retries, resume and verification.
 *
 * The model is a fixed-output fetch: a URL plus what the bytes must be (size, SHA-256, MD5). Bytes go to a
 * "partial" file that survives an interrupted process; the next call continues from its end (HTTP Range,
 * FTP REST, file offset) instead of starting again. Only when the whole file is there and matches every
 * expectation does the call succeed; a mismatch removes the partial file and fails with SL_EINTEGRITY.
 *
 * Transient failures (HTTP 5xx/408/429, timeouts, stalled or reset connections, truncated bodies) are retried
 * with exponential backoff; permanent ones (other 4xx, unknown host, missing file, bad URL) fail at once.
 * Redirects are followed (at most 10, http(s) only); a secret header (e.g. GDC's X-Auth-Token) is sent only
 * to the scheme, host and port of the first URL and never appears in any error message.
 *
 * Thread-safety: every function may be called from several threads at once (each call uses its own curl
 * handle; global initialisation happens once, under pthread_once). */
#ifndef SEQLORA_BIO_DOWNLOAD_H
#define SEQLORA_BIO_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Transfer settings. None of them changes the bytes of a successful download, so none belongs in a cache key.
 */
typedef struct sl_bio_dl_opts {
    long connect_timeout_s;     /* per connection attempt (default 30) */
    long stall_timeout_s;       /* abort a transfer that moves under 1 byte/s for this long (default 60) */
    int retries;                /* further attempts after a transient failure (default 5) */
    double retry_delay_s;       /* the first backoff delay; doubled per attempt, capped at 60 s (default 1) */
    const char *const *headers; /* extra request headers ("Name: value"), NULL-terminated; may be NULL */
    const char *secret_header;  /* name of a header carrying a secret ("X-Auth-Token"), or NULL */
    const char *secret_value;   /* its value; borrowed, never copied into messages */
    /* Called as bytes arrive (done counts the whole file, resumed part included; total 0 = unknown).
     * May be NULL. Called from the thread that runs the download. */
    void (*progress)(void *user, uint64_t done, uint64_t total);
    void *progress_user;
} sl_bio_dl_opts;

/* The defaults above. */
void sl_bio_dl_opts_init(sl_bio_dl_opts *opts);

/* What the bytes must be. Hex digests are matched case-insensitively. */
typedef struct sl_bio_dl_expect {
    const char *sha256; /* 64 hex digits, or NULL */
    const char *md5;    /* 32 hex digits, or NULL */
    int64_t size;       /* bytes, or -1 when unknown */
} sl_bio_dl_expect;

/* What happened (for summaries and tests). */
typedef struct sl_bio_dl_stats {
    int attempts;               /* transfers started (1 when the first one succeeded; 0 when the partial
                                   file was already complete) */
    int resumed;                /* transfers that continued from a non-empty partial file */
    uint64_t bytes_transferred; /* bytes received by this call */
    uint64_t size;              /* final size of the file */
    char sha256[65];            /* lower-case hex of the final file */
    char md5[33];
} sl_bio_dl_stats;

/* Download `url` into `part_path`, continuing from the bytes already there, then verify it against `expect`
 * (may be NULL). On success `part_path` holds exactly the verified bytes and `stats` (may be NULL) is filled.
 * When the expected size is known and the partial file already has it, no transfer is made. When a resumed
 * file fails verification it is removed and downloaded once more from the start before giving up.
 * Errors: SL_EUSAGE (unsupported or malformed URL, bad expectation), SL_ENOTFOUND (404/410, missing file),
 * SL_ENET (other HTTP errors, connection failures after the retries), SL_EINTEGRITY (size or digest
 * mismatch; `part_path` is removed), SL_EIO (local file errors). The message names the URL (without any
 * user:password part), the attempt count and the server's status and reason. */
int sl_bio_download_file(const char *url, const char *part_path, const sl_bio_dl_expect *expect,
                         const sl_bio_dl_opts *opts, sl_bio_dl_stats *stats, sl_err *err);

/* Download `url` into memory (at most `max_bytes`; more is an SL_EDATA error). *body is malloc'd and
 * NUL-terminated (the caller frees it); *len excludes the NUL. Same retry and error rules as above. */
int sl_bio_download_mem(const char *url, size_t max_bytes, const sl_bio_dl_opts *opts, char **body,
                        size_t *len, sl_err *err);

/* 1 when `url` uses a scheme this module fetches (file, http, https, ftp), else 0. */
int sl_bio_download_scheme_ok(const char *url);

/* 1 when `s` is exactly `n` hex digits (either case), else 0. */
int sl_bio_is_hex(const char *s, size_t n);

#endif
