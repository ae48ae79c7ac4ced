/* seqlora fetch: a URL, a GDC manifest or an Ensembl sequence into the store (the `fetch` and `fetch_ensembl`
 * steps), materialised where the user asked. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "commands.h"
#include "fetch_gdc.h"
#include "steps/fetch.h"
#include "bio/ensembl.h"
#include "util/fs.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: seqlora fetch URL -o FILE [--sha256 HEX] [--md5 HEX] [--size N]\n"
        "       seqlora fetch --gdc-manifest MANIFEST.txt -o DIR [--gdc-token-file F] [--jobs N]\n"
        "       seqlora fetch --ensembl ID [--type genomic|cds|cdna|protein] -o FILE.fa\n\n"
        "Download into the artifact store and copy the result to -o. A URL (file://, http://, https://,\n"
        "ftp://) is cached by URL plus the expected checksums: give --sha256 or --md5 so a changed file\n"
        "upstream is an error, not a silent surprise. Transient failures are retried with backoff, an\n"
        "interrupted download resumes where it stopped, and nothing is stored unless size and checksums\n"
        "match (exit 4 when they do not).\n\n"
        "URL options:\n"
        "  -o, --output PATH       where to write the file (required; a directory with --gdc-manifest)\n"
        "  --sha256 HEX            expected SHA-256 of the file\n"
        "  --md5 HEX               expected MD5 of the file\n"
        "  --size N                expected size in bytes\n\n"
        "GDC options (each manifest entry <api>/data/<id> is its own cached fetch, md5 and size checked):\n"
        "  --gdc-manifest FILE     a GDC Data Portal manifest (id, filename, md5, size, state)\n"
        "  --gdc-token-file FILE   access token for controlled data (else $GDC_TOKEN; never logged or "
        "stored)\n"
        "  --gdc-url URL           the GDC API (default https://api.gdc.cancer.gov)\n"
        "  --jobs N                files downloaded at once (default 4)\n\n"
        "Ensembl options (GET <url>/sequence/id/ID?type=TYPE as FASTA):\n"
        "  --ensembl ID            an Ensembl stable ID (gene, transcript or protein)\n"
        "  --type TYPE             genomic (default), cds, cdna or protein\n"
        "  --ensembl-url URL       the REST server (default https://rest.ensembl.org)\n\n"
        "transfer options (never part of the cache key):\n"
        "  --retries N             retries after a transient failure (default 5)\n"
        "  --retry-delay S         first backoff delay in seconds, doubled per retry up to 60 (default 1)\n"
        "  --connect-timeout S     per connection attempt (default 30)\n"
        "  --stall-timeout S       give up on a transfer that moves no data for S seconds (default "
        "60)\n\n" SL_CLI_COMMON_HELP);
}

enum {
    OPT_SHA256 = 0x2001,
    OPT_MD5,
    OPT_SIZE,
    OPT_GDC_MANIFEST,
    OPT_GDC_TOKEN_FILE,
    OPT_GDC_URL,
    OPT_JOBS,
    OPT_ENSEMBL,
    OPT_TYPE,
    OPT_ENSEMBL_URL,
    OPT_RETRIES,
    OPT_RETRY_DELAY,
    OPT_CONNECT_TIMEOUT,
    OPT_STALL_TIMEOUT,
};

/* Lower-case copy of a hex digest (n digits) into out, or a usage error naming the option. */
static int parse_hex(const char *opt, const char *s, size_t n, char *out, sl_err *err) {
    if (!sl_bio_is_hex(s, n))
        return sl_err_set(err, SL_EUSAGE, "%s: expected %zu hex digits, got '%s'", opt, n, s);
    for (size_t i = 0; i <= n; i++) out[i] = (char)tolower((unsigned char)s[i]);
    return 0;
}

/* The token from a file or $GDC_TOKEN (then removed from the environment). Malloc'd; *tok NULL when none.
 * Messages never contain it. */
static int read_token(const char *file, char **tok, sl_err *err) {
    *tok = NULL;
    char *t = NULL;
    size_t len = 0;
    if (file) {
        int rc = sl_fs_read_all(file, &t, &len, err);
        if (rc) return sl_err_prefix(err, "--gdc-token-file");
    } else {
        const char *env = getenv("GDC_TOKEN");
        if (!env || !*env) return 0;
        t = strdup(env);
        if (!t) return sl_err_set(err, SL_ENOMEM, "out of memory");
        len = strlen(t);
        unsetenv("GDC_TOKEN"); /* nothing downstream (workers, records) should see it */
    }
    size_t a = 0, b = len;
    while (a < b && isspace((unsigned char)t[a])) a++;
    while (b > a && isspace((unsigned char)t[b - 1])) b--;
    memmove(t, t + a, b - a);
    memset(t + (b - a), 0, len - (b - a));
    t[b - a] = '\0';
    const char *src = file ? file : "$GDC_TOKEN";
    if (b == a) {
        free(t);
        return sl_err_set(err, SL_EUSAGE, "%s: the access token is empty", src);
    }
    for (size_t i = 0; t[i]; i++)
        if ((unsigned char)t[i] <= 32 || (unsigned char)t[i] == 127) {
            memset(t, 0, b - a);
            free(t);
            return sl_err_set(err, SL_EUSAGE,
                              "%s: the access token contains whitespace or control characters", src);
        }
    *tok = t;
    return 0;
}

static void burn(char *s) {
    if (!s) return;
    volatile char *p = s;
    while (*p) *p++ = 0;
    free(s);
}

int sl_cmd_fetch(int argc, char **argv) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"sha256", required_argument, 0, OPT_SHA256},
        {"md5", required_argument, 0, OPT_MD5},
        {"size", required_argument, 0, OPT_SIZE},
        {"gdc-manifest", required_argument, 0, OPT_GDC_MANIFEST},
        {"gdc-token-file", required_argument, 0, OPT_GDC_TOKEN_FILE},
        {"gdc-url", required_argument, 0, OPT_GDC_URL},
        {"jobs", required_argument, 0, OPT_JOBS},
        {"ensembl", required_argument, 0, OPT_ENSEMBL},
        {"type", required_argument, 0, OPT_TYPE},
        {"ensembl-url", required_argument, 0, OPT_ENSEMBL_URL},
        {"retries", required_argument, 0, OPT_RETRIES},
        {"retry-delay", required_argument, 0, OPT_RETRY_DELAY},
        {"connect-timeout", required_argument, 0, OPT_CONNECT_TIMEOUT},
        {"stall-timeout", required_argument, 0, OPT_STALL_TIMEOUT},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    sl_bio_dl_opts transport;
    sl_bio_dl_opts_init(&transport);
    const char *out = NULL, *manifest = NULL, *token_file = NULL, *gdc_url = "https://api.gdc.cancer.gov";
    const char *ensembl = NULL, *type = "genomic", *ensembl_url = "https://rest.ensembl.org";
    char sha[65] = "", md5[33] = "";
    long long size = -1, jobs = 4, v;
    double d;
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (opt) {
            case 'o':
                out = optarg;
                break;
            case OPT_SHA256:
                if (parse_hex("--sha256", optarg, 64, sha, &err)) return sl_cli_report(SL_EUSAGE, &err);
                break;
            case OPT_MD5:
                if (parse_hex("--md5", optarg, 32, md5, &err)) return sl_cli_report(SL_EUSAGE, &err);
                break;
            case OPT_SIZE:
                if (sl_cli_parse_int("--size", optarg, 0, (long long)1 << 62, &size, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                break;
            case OPT_GDC_MANIFEST:
                manifest = optarg;
                break;
            case OPT_GDC_TOKEN_FILE:
                token_file = optarg;
                break;
            case OPT_GDC_URL:
                gdc_url = optarg;
                break;
            case OPT_JOBS:
                if (sl_cli_parse_int("--jobs", optarg, 1, 256, &jobs, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                break;
            case OPT_ENSEMBL:
                ensembl = optarg;
                break;
            case OPT_TYPE:
                type = optarg;
                break;
            case OPT_ENSEMBL_URL:
                ensembl_url = optarg;
                break;
            case OPT_RETRIES:
                if (sl_cli_parse_int("--retries", optarg, 0, 100, &v, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                transport.retries = (int)v;
                break;
            case OPT_RETRY_DELAY:
                if (sl_cli_parse_real("--retry-delay", optarg, &d, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                if (d < 0 || d > 3600)
                    return sl_cli_usage_error("--retry-delay: expected seconds in [0, 3600]");
                transport.retry_delay_s = d;
                break;
            case OPT_CONNECT_TIMEOUT:
                if (sl_cli_parse_int("--connect-timeout", optarg, 1, 3600, &v, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                transport.connect_timeout_s = (long)v;
                break;
            case OPT_STALL_TIMEOUT:
                if (sl_cli_parse_int("--stall-timeout", optarg, 1, 86400, &v, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                transport.stall_timeout_s = (long)v;
                break;
            case 'h':
                usage(stdout);
                return 0;
            default:
                rc = sl_cli_common_opt(&common, opt, optarg, &err);
                if (rc < 0) return sl_cli_report(rc, &err);
                if (rc == 0) {
                    usage(stderr);
                    return 2;
                }
        }
    }
    const char *url = optind < argc ? argv[optind++] : NULL;
    if (optind < argc) return sl_cli_usage_error("fetch: unexpected argument '%s'", argv[optind]);
    if ((url != NULL) + (manifest != NULL) + (ensembl != NULL) != 1)
        return sl_cli_usage_error(
            "fetch: give exactly one of URL, --gdc-manifest or --ensembl (see seqlora fetch "
            "--help)");
    if (!out) return sl_cli_usage_error("fetch: -o is required");
    if (!manifest && (token_file || jobs != 4))
        return sl_cli_usage_error("fetch: --gdc-token-file and --jobs go with --gdc-manifest");
    if (!url && (sha[0] || md5[0] || size >= 0))
        return sl_cli_usage_error("fetch: --sha256, --md5 and --size go with a URL");

    if (manifest) {
        if (!sl_bio_download_scheme_ok(gdc_url) || !strncmp(gdc_url, "file:", 5))
            return sl_cli_usage_error("--gdc-url: expected an http(s) URL, got '%s'", gdc_url);
        char *token = NULL;
        if ((rc = read_token(token_file, &token, &err))) return sl_cli_report(rc, &err);
        if (token) {
            transport.secret_header = "X-Auth-Token";
            transport.secret_value = token;
        }
        sl_step_fetch_set_transport(&transport);
        sl_cli_gdc_opts g = {.manifest = manifest, .outdir = out, .api = gdc_url, .jobs = (int)jobs};
        rc = sl_cli_fetch_gdc(&g, &common, &err);
        sl_step_fetch_set_transport(NULL);
        burn(token);
        if (!rc) printf("%s\n", out);
        return sl_cli_report(rc, &err);
    }

    sl_step_fetch_set_transport(&transport);
    const char *step, *output;
    if (ensembl) {
        if (!sl_bio_ensembl_id_ok(ensembl))
            return sl_cli_usage_error(
                "--ensembl: expected an Ensembl stable ID (letters, digits, '.', '_', '-'), "
                "got '%s'",
                ensembl);
        if (!sl_bio_ensembl_type_ok(type))
            return sl_cli_usage_error("--type: expected genomic, cds, cdna or protein, got '%s'", type);
        if (!sl_bio_download_scheme_ok(ensembl_url))
            return sl_cli_usage_error("--ensembl-url: expected an http(s) URL, got '%s'", ensembl_url);
    }
    json_t *params = json_object();
    if (ensembl) {
        json_object_set_new(params, "id", json_string(ensembl));
        json_object_set_new(params, "type", json_string(type));
        json_object_set_new(params, "url", json_string(ensembl_url));
        step = "fetch_ensembl";
        output = "sequence.fa";
    } else {
        if (!sl_bio_download_scheme_ok(url)) {
            json_decref(params);
            return sl_cli_usage_error(
                "fetch: '%s' is not a URL this command fetches (file://, http://, https://, "
                "ftp://; a local file is file:///absolute/path)",
                url);
        }
        json_object_set_new(params, "url", json_string(url));
        if (sha[0]) json_object_set_new(params, "sha256", json_string(sha));
        if (md5[0]) json_object_set_new(params, "md5", json_string(md5));
        if (size >= 0) json_object_set_new(params, "size", json_integer(size));
        step = "fetch";
        output = "file";
    }
    sl_run_output outputs[1] = {{output, out}};
    rc = sl_cli_run_step(step, params, NULL, 0, outputs, 1, &common, NULL);
    json_decref(params);
    sl_step_fetch_set_transport(NULL);
    if (rc == 0) printf("%s\n", out);
    return rc;
}
