/* seqlora fetch: a URL, a GDC manifest or an Ensembl sequence into the store (the `fetch` and `fetch_ensembl`
 * steps), materialised where the user asked. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "commands.h"
#include "fetch_gdc.h"
#include "steps/fetch.h"
#include "bio/ensembl.h"
#include "util/fs.h"

static const char header[] =
    "usage: seqlora fetch URL -o FILE [--sha256 HEX] [--md5 HEX] [--size N]\n"
    "       seqlora fetch --gdc-manifest MANIFEST.txt -o DIR [--gdc-token-file F] [--jobs N]\n"
    "       seqlora fetch --ensembl ID [--type genomic|cds|cdna|protein] -o FILE.fa\n\n"
    "Download into the artifact store and copy the result to -o. A URL (file://, http://, https://,\n"
    "ftp://) is cached by URL plus the expected checksums: give --sha256 or --md5 so a changed file\n"
    "upstream is an error, not a silent surprise. Transient failures are retried with backoff, an\n"
    "interrupted download resumes where it stopped, and nothing is stored unless size and checksums\n"
    "match (exit 4 when they do not).\n\n";

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
    sl_bio_dl_opts transport;
    sl_bio_dl_opts_init(&transport);
    const char *out = NULL, *manifest = NULL, *token_file = NULL, *gdc_url = "https://api.gdc.cancer.gov";
    const char *ensembl = NULL, *type = "genomic", *ensembl_url = "https://rest.ensembl.org";
    const char *sha_arg = NULL, *md5_arg = NULL;
    char sha[65] = "", md5[33] = "";
    long long size = -1, jobs = 4, retries = transport.retries, connect = transport.connect_timeout_s,
              stall = transport.stall_timeout_s;
    double delay = transport.retry_delay_s;
    const sl_cli_opt opts[] = {
        {.name = "output",
         .short_name = 'o',
         .arg = "PATH",
         .help = "where to write the file (required; a directory with --gdc-manifest)",
         .str = &out,
         .flags = SL_CLI_REQUIRED,
         .section = "URL options:"},
        {.name = "sha256", .arg = "HEX", .help = "expected SHA-256 of the file", .str = &sha_arg},
        {.name = "md5", .arg = "HEX", .help = "expected MD5 of the file", .str = &md5_arg},
        SL_CLI_INT_OPT("size", "N", "expected size in bytes", &size, 0, 1LL << 62, NULL),
        {.name = "gdc-manifest",
         .arg = "FILE",
         .help = "a GDC Data Portal manifest (id, filename, md5, size, state)",
         .str = &manifest,
         .section = "\nGDC options (each manifest entry <api>/data/<id> is its own cached fetch, md5 and "
                    "size checked):"},
        {.name = "gdc-token-file",
         .arg = "FILE",
         .help = "access token for controlled data (else $GDC_TOKEN; never logged or stored)",
         .str = &token_file},
        {.name = "gdc-url",
         .arg = "URL",
         .help = "the GDC API (default https://api.gdc.cancer.gov)",
         .str = &gdc_url},
        SL_CLI_INT_OPT("jobs", "N", "files downloaded at once, 1..256 (default 4)", &jobs, 1, 256, NULL),
        {.name = "ensembl",
         .arg = "ID",
         .help = "an Ensembl stable ID (gene, transcript or protein)",
         .str = &ensembl,
         .section = "\nEnsembl options (GET <url>/sequence/id/ID?type=TYPE as FASTA):"},
        {.name = "type", .arg = "TYPE", .help = "genomic (default), cds, cdna or protein", .str = &type},
        {.name = "ensembl-url",
         .arg = "URL",
         .help = "the REST server (default https://rest.ensembl.org)",
         .str = &ensembl_url},
        {.name = "retries",
         .arg = "N",
         .help = "retries after a transient failure, 0..100 (default 5)",
         .num = &retries,
         .imin = 0,
         .imax = 100,
         .section = "\ntransfer options (never part of the cache key):"},
        SL_CLI_REAL_OPT("retry-delay", "S",
                        "first backoff delay in seconds, 0..3600, doubled per retry up to 60 (default 1)",
                        &delay, 0, 3600, 0, NULL),
        SL_CLI_INT_OPT("connect-timeout", "S", "per connection attempt, 1..3600 (default 30)", &connect, 1,
                       3600, NULL),
        SL_CLI_INT_OPT("stall-timeout", "S",
                       "give up on a transfer that moves no data for S seconds, 1..86400 (default 60)",
                       &stall, 1, 86400, NULL),
        {0},
    };
    const sl_cli_command cmd = {.name = "fetch", .header = header, .opts = opts, .width = 24, .max_args = 1};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    sl_cli_args_free(&a); /* no option sets a step parameter: they are built below */
    sl_cli_common common = a.common;
    sl_err err = a.err;
    if ((sha_arg && parse_hex("--sha256", sha_arg, 64, sha, &err)) ||
        (md5_arg && parse_hex("--md5", md5_arg, 32, md5, &err)))
        return sl_cli_report(SL_EUSAGE, &err);
    transport.retries = (int)retries;
    transport.retry_delay_s = delay;
    transport.connect_timeout_s = (long)connect;
    transport.stall_timeout_s = (long)stall;
    const char *url = a.first < argc ? argv[a.first] : NULL;
    if ((url != NULL) + (manifest != NULL) + (ensembl != NULL) != 1)
        return sl_cli_usage_error(
            "fetch: give exactly one of URL, --gdc-manifest or --ensembl (see seqlora fetch "
            "--help)");
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
