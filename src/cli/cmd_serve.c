/* seqlora serve: the HTTP API of a packaged model (see serve.h for the files of the server). */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_options.h"
#include "commands.h"
#include "nn/backend.h"
#include "serve.h"
#include "util/log.h"

static const char header[] =
    "usage: seqlora serve --model MODEL.tar.gz [--host 127.0.0.1] [--port 8000] [--threads N]\n"
    "                     [--token-file F] [--max-body BYTES] [--request-timeout 30] [--base DIR]\n"
    "                     [--device auto|cpu|cuda[:N]] [--precision fp32|bf16|fp16]\n\n"
    "Serve a bundle from `seqlora package` over HTTP (libmicrohttpd):\n"
    "  POST /predict_risk   {\"brca1_sequence\": \"...\"} → status, brca1_sequence (upper case),\n"
    "                       breast_cancer_risk_probability (4 decimals), interpretation\n"
    "  POST /v1/predict     {\"sequences\": [{\"id\", \"sequence\"}]} or {\"variants\": [...]}\n"
    "  GET  /healthz, /v1/model, /openapi.json, /docs\n"
    "The URL is printed on stdout once the server listens; one access-log line per request goes to\n"
    "stderr. SIGTERM or SIGINT stops accepting, lets open requests finish, and exits 0 (one that comes\n"
    "while the model loads: exit 0 once it is loaded, without listening).\n\n";

/* The stop signals, written by the handler (async-signal-safe: write(2) only) and read by the main thread. */
static int stop_pipe[2] = {-1, -1};

static void on_stop(int sig) {
    const unsigned char c = (unsigned char)sig;
    const int saved = errno;
    if (write(stop_pipe[1], &c, 1) < 0) { /* full: a signal is pending already */
    }
    errno = saved;
}

/* Create the pipe (non-blocking, close-on-exec) and catch SIGTERM/SIGINT. 0, or -1 with errno set. */
static int stop_pipe_open(void) {
    if (stop_pipe[0] < 0 && pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK)) return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    return sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) ? -1 : 0;
}

/* The first stop signal received: wait for one when `block`, else 0 when none came yet. */
static int stop_pipe_wait(int block) {
    for (;;) {
        unsigned char c;
        ssize_t n = read(stop_pipe[0], &c, 1);
        if (n == 1) return c;
        if (n < 0 && errno == EINTR) continue;
        if (!block) return 0;
        struct pollfd p = {.fd = stop_pipe[0], .events = POLLIN};
        if (poll(&p, 1, -1) < 0 && errno != EINTR) return SIGTERM; /* cannot wait: stop */
    }
}

int sl_cmd_serve(int argc, char **argv) {
    const char *model = NULL, *base = NULL, *host = "127.0.0.1", *token_file = NULL, *device = NULL,
               *precision = NULL;
    long long port = 8000, threads = 4, max_body = 1 << 20, timeout = 30;
    int quiet = 0;
    const sl_cli_opt opts[] = {
        {.name = "model",
         .arg = "FILE",
         .help = "the model bundle (required; checksums verified on load)",
         .str = &model,
         .flags = SL_CLI_REQUIRED},
        SL_CLI_OPT_BASE(&base, "the base model, when the bundle does not embed it (SHA-256 checked)", 0),
        {.name = "host",
         .arg = "ADDR",
         .help = "IPv4 or IPv6 address to listen on (default 127.0.0.1)",
         .str = &host},
        SL_CLI_INT_OPT("port", "N", "TCP port (default 8000; 0 = any free port)", &port, 0, 65535, NULL),
        SL_CLI_INT_OPT("threads", "N",
                       "connection threads, and engine threads for each scoring (default 4);\n"
                       "requests are scored one at a time",
                       &threads, 1, 256, NULL),
        {.name = "token-file",
         .arg = "F",
         .help = "require 'Authorization: Bearer <first line of F>' on /predict_risk,\n"
                 "/v1/predict and /v1/model",
         .str = &token_file},
        SL_CLI_INT_OPT("max-body", "BYTES", "largest request body (default 1048576); larger is 413",
                       &max_body, 64, 1LL << 30, NULL),
        SL_CLI_INT_OPT("request-timeout", "S", "close connections idle for S seconds (default 30)", &timeout,
                       1, 86400, NULL),
        SL_CLI_OPT_DEVICE(&device, "where the model runs: auto (default, as train/predict: the first GPU\n"
                                   "when one is usable, else the CPU with a one-line note), cpu, cuda,\n"
                                   "cuda:N (exit 2 when that device is not usable); see docs/gpu.md"),
        SL_CLI_OPT_PRECISION(
            &precision, "fp32 (default), bf16, fp16: the base's GEMMs (CPU: fp32, bf16 with AVX512-BF16)\n"
                        "/healthz and /v1/model report the device and precision in use"),
        {.name = "quiet", .help = "no access log", .flag = &quiet},
        {0},
    };
    /* not a step: no store, cache or $SEQLORA_THREADS; --threads and --quiet are serve's own */
    const sl_cli_command cmd = {.name = "serve", .header = header, .opts = opts, .width = 24, .no_common = 1};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    sl_cli_args_free(&a); /* no step parameters */
    sl_err err;
    sl_err_clear(&err);
    /* SIGTERM/SIGINT are caught from here on, in whichever thread the kernel picks: OpenBLAS starts its
     * threads before main (with the signals unblocked) and the CUDA runtime may too, so blocking them for a
     * sigwait leaves a window where the default action kills the server; the handler writes the signal to
     * a pipe that this thread reads instead */
    if (stop_pipe_open()) return sl_cli_report(sl_err_errno(&err, SL_EIO, errno, "serve: signal pipe"), &err);
    /* the device before the model: a refused --device is exit 2 without extracting anything */
    sl_nn_device dev;
    int prec;
    char note[1400];
    if ((rc = sl_nn_device_select(device, precision, &dev, &prec, note, sizeof note, &err)))
        return sl_cli_report(rc, &err);
    if (note[0] && !quiet) sl_log_info("%s", note);
    const int cuda = dev.kind == SL_NN_DEVICE_CUDA;

    sl_serve s;
    memset(&s, 0, sizeof s);
    s.max_body = (size_t)max_body;
    s.quiet = quiet;
    pthread_mutex_init(&s.model_lock, NULL);
    if (token_file && (rc = sl_serve_read_token(token_file, &s.token, &err))) return sl_cli_report(rc, &err);
    /* requests are scored one at a time under the model lock; the engine splits each over `threads` */
    sl_nn_bundle_model_opts mo = {.bundle = model,
                                  .base_dir = base,
                                  .threads = (int)threads,
                                  .cuda = cuda,
                                  .cuda_device = cuda ? (dev.index < 0 ? 0 : dev.index) : -1,
                                  .precision = prec};
    if ((rc = sl_nn_bundle_model_open(&mo, &s.model, &err))) {
        free(s.token);
        return sl_cli_report(rc, &err);
    }
    /* what the session runs on, for /healthz, /v1/model and the start line */
    const int ordinal = sl_nn_infer_cuda_device(s.model->infer);
    if (ordinal >= 0)
        snprintf(s.device, sizeof s.device, "cuda:%d", ordinal);
    else
        snprintf(s.device, sizeof s.device, "cpu");
    s.precision = sl_nn_precision_name(sl_nn_infer_precision(s.model->infer));
    s.model_info = sl_serve_model_info(&s);

    /* a stop signal that came while loading: exit now, without listening */
    int early = stop_pipe_wait(0);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = NULL;
    int bound = 0;
    if (early > 0)
        fprintf(stderr, "seqlora serve: %s while loading the model: exiting\n",
                early == SIGTERM ? "SIGTERM" : "SIGINT");
    else
        rc = sl_serve_start(&s, host, (int)port, (int)threads, (int)timeout, &d, &bound, &err);
    if (!rc && early <= 0) {
        const char *fmt = strchr(host, ':') ? "http://[%s]:%d\n" : "http://%s:%d\n";
        printf(fmt, host, bound);
        fflush(stdout);
        fprintf(stderr, "seqlora serve: model %s (%s weights) on %s (%s), listening on %s port %d\n",
                s.model->digest, s.model->weights, s.device, s.precision, host, bound);
        int sig = stop_pipe_wait(1);
        fprintf(stderr, "seqlora serve: %s: finishing open requests, then exiting\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT");
        sl_serve_stop(d, (int)timeout);
    }
    json_decref(s.model_info);
    sl_nn_bundle_model_close(s.model);
    free(s.token);
    pthread_mutex_destroy(&s.model_lock);
    return rc ? sl_cli_report(rc, &err) : 0;
}
