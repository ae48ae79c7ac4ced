/* The HTTP side of `seqlora serve` on libmicrohttpd: body collection with a size limit, routing, the
 * endpoints, the bearer token and one access-log line per request (see serve.h). */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

typedef struct req {
    struct timespec start;
    char *body;
    size_t len, cap;
    int too_large;
    unsigned status;
    size_t bytes_out;
    char method[16];
    char url[160];
} req;

static double now_ms(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, req *q, sl_serve_reply *r) {
    char *text = NULL;
    const char *body = r->body;
    if (r->json) {
        text = sl_serve_dump(r->json);
        json_decref(r->json);
        r->json = NULL;
        if (!text) {
            r->status = 500;
            body = "{\"status\":\"error\",\"error\":\"out of memory\"}";
        } else {
            body = text;
        }
        r->content_type = "application/json";
    }
    size_t len = body ? strlen(body) : 0;
    struct MHD_Response *resp =
        text ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "text/plain");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->close) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (r->status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (r->status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->body ? r->body : "GET, POST");
    q->status = r->status;
    q->bytes_out = len;
    enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Count the request's Content-Length and Transfer-Encoding headers. */
typedef struct {
    int n_cl, n_te, differ;
    const char *first_cl;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    framing *f = cls;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        if (f->n_cl++ && strcmp(f->first_cl, value ? value : "")) f->differ = 1;
        if (f->n_cl == 1) f->first_cl = value ? value : "";
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->n_te++;
    }
    return MHD_YES;
}

typedef enum { R_HEALTH, R_MODEL, R_OPENAPI, R_DOCS, R_RISK, R_PREDICT, R_NONE } route;

static route find_route(const char *url, const char **method) {
    static const struct {
        const char *url, *method;
        route r;
    } tab[] = {
        {"/healthz", "GET", R_HEALTH}, {"/v1/model", "GET", R_MODEL},     {"/openapi.json", "GET", R_OPENAPI},
        {"/docs", "GET", R_DOCS},      {"/predict_risk", "POST", R_RISK}, {"/v1/predict", "POST", R_PREDICT},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(url, tab[i].url)) {
            *method = tab[i].method;
            return tab[i].r;
        }
    return R_NONE;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    sl_serve *s = cls;
    req *q = *con_cls;
    sl_serve_reply r = {0};
    if (!q) { /* first call: headers only */
        q = calloc(1, sizeof(*q));
        if (!q) return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &q->start);
        snprintf(q->method, sizeof q->method, "%s", method);
        snprintf(q->url, sizeof q->url, "%s", url);
        *con_cls = q;
        /* RFC 9112 6.3: differing Content-Lengths, or Content-Length with Transfer-Encoding, make the message
         * boundary ambiguous (request smuggling behind a proxy that reads it the other way): refuse and close
         */
        framing f = {0};
        MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
        if (f.differ || (f.n_cl && f.n_te)) {
            sl_serve_error(&r, 400, NULL, "ambiguous message framing (%s); the connection is closed",
                           f.differ ? "Content-Length headers with different values"
                                    : "both Content-Length and Transfer-Encoding");
            r.close = 1;
            return send_reply(c, q, &r);
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->max_body) {
            sl_serve_error(&r, 413, NULL, "request body of %s bytes exceeds the limit of %zu", cl,
                           s->max_body);
            return send_reply(c, q, &r);
        }
        return MHD_YES;
    }
    if (*upload_size) { /* body data */
        if (!q->too_large && q->len + *upload_size > s->max_body) q->too_large = 1;
        if (!q->too_large) {
            if (q->len + *upload_size + 1 > q->cap) {
                size_t nc = (q->len + *upload_size + 1) * 2;
                if (nc > s->max_body + 1) nc = s->max_body + 1;
                char *nb = realloc(q->body, nc);
                if (!nb) return MHD_NO;
                q->body = nb;
                q->cap = nc;
            }
            memcpy(q->body + q->len, upload, *upload_size);
            q->len += *upload_size;
            q->body[q->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->status) return MHD_YES; /* already answered (413 from the headers) */
    if (q->too_large) {
        sl_serve_error(&r, 413, NULL, "request body exceeds the limit of %zu bytes", s->max_body);
        return send_reply(c, q, &r);
    }
    const char *want = NULL;
    route rt = find_route(url, &want);
    if (rt == R_NONE) {
        sl_serve_error(&r, 404, NULL, "no such endpoint: %s %s (see /docs)", method, url);
        return send_reply(c, q, &r);
    }
    if (strcmp(method, want) && !(rt != R_RISK && rt != R_PREDICT && !strcmp(method, "HEAD"))) {
        sl_serve_error(&r, 405, NULL, "%s takes %s, not %s", url, want, method);
        json_t *j = r.json;
        r.body = want;
        r.json = j;
        return send_reply(c, q, &r);
    }
    if ((rt == R_MODEL || rt == R_RISK || rt == R_PREDICT) &&
        !sl_serve_auth_ok(s->token,
                          MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION))) {
        sl_serve_error(&r, 401, NULL, "a valid bearer token is required (Authorization: Bearer <token>)");
        return send_reply(c, q, &r);
    }
    switch (rt) {
        case R_HEALTH:
            r.status = 200;
            r.json = json_pack("{s:s,s:s,s:s,s:s}", "status", "ok", "model", s->model->digest, "device",
                               s->device, "precision", s->precision);
            break;
        case R_MODEL:
            r.status = 200;
            r.json = json_incref(s->model_info);
            break;
        case R_OPENAPI:
            r.status = 200;
            r.body = sl_serve_openapi_json;
            r.content_type = "application/json";
            break;
        case R_DOCS:
            r.status = 200;
            r.body = sl_serve_docs_html;
            r.content_type = "text/html; charset=utf-8";
            break;
        case R_RISK:
            sl_serve_predict_risk(s, q->body, q->len, &r);
            break;
        case R_PREDICT:
            sl_serve_v1_predict(s, q->body, q->len, &r);
            break;
        case R_NONE:
            break;
    }
    return send_reply(c, q, &r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    sl_serve *s = cls;
    req *q = *con_cls;
    if (!q) return;
    if (!s->quiet) {
        char addr[INET6_ADDRSTRLEN] = "-";
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr,
                          sizeof addr);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, addr,
                          sizeof addr);
        }
        char ts[32];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(stderr, "%s %s \"%s %s\" %u %zu %.1fms%s\n", ts, addr, q->method, q->url, q->status,
                q->bytes_out, now_ms(&q->start),
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    }
    free(q->body);
    free(q);
    *con_cls = NULL;
}

int sl_serve_start(sl_serve *s, const char *host, int port, int threads, int timeout_s, struct MHD_Daemon **d,
                   int *bound_port, sl_err *err) {
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    const struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_AUTO | MHD_USE_TURBO;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        sa = (const struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        sa = (const struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        return sl_err_set(err, SL_EUSAGE, "serve: --host '%s' is not an IPv4 or IPv6 address", host);
    }
    *d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, sa,
                          MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 1 ? threads : 1),
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
                          completed, s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_END);
    if (!*d)
        return sl_err_set(err, SL_EIO, "serve: cannot listen on %s port %d (in use, or not allowed)", host,
                          port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(*d, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = di ? di->port : port;
    return 0;
}

void sl_serve_stop(struct MHD_Daemon *d, int grace_s) {
    if (!d) return;
    MHD_socket ls = MHD_quiesce_daemon(d); /* stop accepting; open connections go on */
    for (int i = 0; i < grace_s * 20; i++) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!di || di->num_connections == 0) break;
        struct timespec t = {0, 50 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    MHD_stop_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
}
