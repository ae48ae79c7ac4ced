/* `seqlora serve`: the HTTP API of a packaged model on libmicrohttpd. Internal to src/cli; split by concern:
 *   cmd_serve.c       options, model loading, daemon start, signals and graceful shutdown
 *   serve_routes.c    the request handler: body collection and limits, routing, the endpoints, access log
 *   serve_json.c      request parsing and validation, response bodies (JSON)
 *   serve_docs.c      the static OpenAPI document and the /docs page (compiled in, no CDN)
 *   serve_auth.c      bearer-token check (constant time) and token-file loading
 *
 * Concurrency: libmicrohttpd runs a pool of threads; the model (the engine is not re-entrant) is used under
 * `model_lock`, everything else is per request or read-only. */
#ifndef SEQLORA_CLI_SERVE_H
#define SEQLORA_CLI_SERVE_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#include "nn/bundle_model.h"
#include "util/error.h"

#define SL_SERVE_MAX_BATCH 1000 /* sequences or variants per /v1/predict request */
#define SL_SERVE_MAX_WINDOWS                                                                                 \
    4096 /* model windows per request: bounds the time one request holds the model                           \
          */

typedef struct sl_serve {
    sl_nn_bundle_model *model;
    pthread_mutex_t model_lock;
    char *token;           /* NULL = no authentication */
    size_t max_body;       /* bytes */
    int quiet;             /* no access log */
    json_t *model_info;    /* the /v1/model body, built once */
    char device[32];       /* where the model runs: "cpu" or "cuda:N" (/healthz, /v1/model) */
    const char *precision; /* "fp32", "bf16" or "fp16" (static) */
} sl_serve;

/* An HTTP answer: status and a JSON body (new reference), or a static body with a content type. */
typedef struct sl_serve_reply {
    unsigned status;
    json_t *json;
    const char *body; /* static text when json is NULL */
    const char *content_type;
    int close; /* send "Connection: close" */
} sl_serve_reply;

/* serve_json.c: the endpoints' logic on a parsed body. Each fills `r` (status + JSON), never fails otherwise.
 */
void sl_serve_predict_risk(sl_serve *s, const char *body, size_t len, sl_serve_reply *r);
void sl_serve_v1_predict(sl_serve *s, const char *body, size_t len, sl_serve_reply *r);
json_t *sl_serve_model_info(const sl_serve *s);
/* {"status": "error", "error": msg} (+ "field" when not NULL) with `status`. */
void sl_serve_error(sl_serve_reply *r, unsigned status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Serialise a reply body (malloc'd, caller frees). */
char *sl_serve_dump(const json_t *j);

/* serve_docs.c */
extern const char sl_serve_openapi_json[];
extern const char sl_serve_docs_html[];

/* serve_auth.c */
/* 1 when the Authorization header value `hdr` is "Bearer <token>" (compared in constant time). */
int sl_serve_auth_ok(const char *token, const char *hdr);
/* Read the first line of `path` as the token (trailing CR/LF/space stripped); an empty token is SL_EUSAGE. */
int sl_serve_read_token(const char *path, char **token, sl_err *err);

/* serve_routes.c: start/stop the daemon. `host` is an IPv4 or IPv6 literal. port 0 = any free port;
 * *bound_port receives the port. */
struct MHD_Daemon;
int sl_serve_start(sl_serve *s, const char *host, int port, int threads, int timeout_s, struct MHD_Daemon **d,
                   int *bound_port, sl_err *err);
/* Stop accepting, wait up to `grace_s` for open connections to finish, then stop. */
void sl_serve_stop(struct MHD_Daemon *d, int grace_s);

#endif
