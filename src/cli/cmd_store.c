/* `seqlora store ...`: look into, check, clean, move and explain the artifact store. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cli_common.h"
#include "commands.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

static const char usage[] =
    "usage: seqlora store <command> [options]\n"
    "\n"
    "The artifact store: every input, output and action record of every step (docs/store.md).\n"
    "\n"
    "commands:\n"
    "  ls [--blobs]             list actions (key, step, version, end time, outputs) or blobs, sorted\n"
    "  show ID                  an action record, or a blob's sizes and the actions that made/used it\n"
    "  cat ID [--output NAME]   a blob's bytes on stdout (ID may be an action with one output, or name it)\n"
    "  log ID                   the lineage: every action upstream of an artifact or action\n"
    "  prov ID [--format ro-crate|prov-json]\n"
    "                           provenance as RO-Crate 1.1 (Process Run Crate) or W3C PROV-JSON\n"
    "  verify [--sample PCT]    re-hash blobs (all, or PCT percent) and check every record; bad ones\n"
    "                           go to quarantine/; exit 4 when anything is bad\n"
    "  gc [--grace DUR] [--dry-run] [--wait SECS]\n"
    "                           delete records unused for DUR (default 1d; s/m/h/d) and unreferenced\n"
    "                           blobs older than DUR; pins and their lineage are kept\n"
    "  reindex                  rebuild the LMDB index from blobs/, actions/ and pins/\n"
    "  pin [ID]... / unpin ID...  protect artifacts or actions from gc (pin alone lists pins)\n"
    "  export FILE.tar [ID]...  blobs + records (everything, or what the IDs need) as a tar\n"
    "  import FILE.tar          add an export; every blob is re-hashed before it is published\n"
    "  stats                    counts, sizes, compression, where the index lives\n"
    "\n"
    "ID: an action key or a blob digest, or at least 4 leading hex digits of one (sha256: prefix allowed).\n"
    "\n" SL_CLI_COMMON_HELP;

enum { OPT_BLOBS = 0x2001, OPT_SAMPLE, OPT_GRACE, OPT_DRY, OPT_WAIT, OPT_FORMAT, OPT_OUTPUT };

typedef struct opts {
    sl_cli_common c;
    int blobs, dry;
    double sample, grace, wait;
    const char *format, *output;
} opts;

static int open_store(const opts *o, int create, sl_store **s) {
    sl_err err;
    sl_err_clear(&err);
    const char *root = o->c.store ? o->c.store : sl_runner_default_store();
    char *blobs = sl_fs_join(root, "blobs");
    int exists = blobs && sl_fs_is_dir(blobs);
    free(blobs);
    if (!exists && !create)
        return sl_cli_report(sl_err_set(&err, SL_ENOTFOUND,
                                        "there is no store at %s (use --store DIR or $SEQLORA_STORE)", root),
                             &err);
    int rc = sl_store_open(root, s, &err);
    return rc ? sl_cli_report(rc, &err) : 0;
}

static int resolve(sl_store *s, const char *id, char hex[65], char *kind) {
    sl_err err;
    sl_err_clear(&err);
    int rc = sl_store_resolve(s, id, hex, kind, &err);
    return rc ? sl_cli_report(rc, &err) : 0;
}

/* ---- ls ---- */
static int ls_action(void *user, const char *key, const json_t *r) {
    const opts *o = user;
    if (o->c.json) {
        char *t = sl_json_canonical(r);
        printf("%s\n", t ? t : "{}");
        free(t);
        return 0;
    }
    printf("%s\t%s\tv%lld\t%s\t", key, json_string_value(json_object_get(r, "step")),
           (long long)json_integer_value(json_object_get(r, "version")),
           json_string_value(json_object_get(json_object_get(r, "provenance"), "end"))
               ? json_string_value(json_object_get(json_object_get(r, "provenance"), "end"))
               : "-");
    const char *name;
    json_t *out;
    int first = 1;
    json_object_foreach(json_object_get(r, "outputs"), name, out) {
        printf("%s%s=%s", first ? "" : ";", name, json_string_value(json_object_get(out, "digest")));
        first = 0;
    }
    printf("\n");
    return 0;
}

static int ls_blob(void *user, const char *hex, const sl_store_blob_info *info) {
    const opts *o = user;
    const char *codec = info->codec == SL_STORE_CODEC_ZSTD ? "zstd" : "raw";
    if (o->c.json)
        printf("{\"codec\":\"%s\",\"digest\":\"%s\",\"size\":%llu,\"stored\":%llu}\n", codec, hex,
               (unsigned long long)info->size, (unsigned long long)info->stored);
    else
        printf("%s\t%llu\t%llu\t%s\n", hex, (unsigned long long)info->size, (unsigned long long)info->stored,
               codec);
    return 0;
}

static int cmd_ls(sl_store *s, opts *o) {
    sl_err err;
    sl_err_clear(&err);
    int rc = o->blobs ? sl_store_each_blob(s, ls_blob, o, &err) : sl_store_each_action(s, ls_action, o, &err);
    return sl_cli_report(rc, &err);
}

/* ---- show / cat ---- */
static int cmd_show(sl_store *s, opts *o, const char *id) {
    char hex[65], kind;
    int st = resolve(s, id, hex, &kind);
    if (st) return st;
    sl_err err;
    sl_err_clear(&err);
    json_t *doc = NULL;
    int rc = 0;
    if (kind == 'a') {
        rc = sl_store_record_get(s, hex, &doc, &err);
    } else {
        sl_store_blob_info info;
        if (!sl_store_blob_exists(s, hex, &info))
            return sl_cli_report(sl_err_set(&err, SL_ENOTFOUND, "blob %s: its file is missing", hex), &err);
        char *path = sl_store_blob_path(s, hex);
        doc = json_pack("{s:s, s:I, s:I, s:s, s:s, s:[], s:[]}", "digest", hex, "size", (json_int_t)info.size,
                        "stored", (json_int_t)info.stored, "codec",
                        info.codec == SL_STORE_CODEC_ZSTD ? "zstd" : "raw", "path", path, "produced_by",
                        "used_by");
        free(path);
        for (int outputs = 1; outputs >= 0 && !rc; outputs--) {
            char **keys = NULL;
            size_t n = 0;
            rc = sl_store_edges(s, hex, outputs, &keys, &n, &err);
            for (size_t i = 0; i < n; i++)
                json_array_append_new(json_object_get(doc, outputs ? "produced_by" : "used_by"),
                                      json_string(keys[i]));
            sl_store_free_strings(keys, n);
        }
    }
    if (!rc) {
        char *t = json_dumps(doc, JSON_SORT_KEYS | (o->c.json ? JSON_COMPACT : JSON_INDENT(2)) |
                                      JSON_REAL_PRECISION(17));
        printf("%s\n", t ? t : "");
        free(t);
    }
    json_decref(doc);
    return sl_cli_report(rc, &err);
}

static int stdout_sink(void *user, const void *data, size_t len, sl_err *err) {
    (void)user;
    if (fwrite(data, 1, len, stdout) != len) return sl_err_set(err, SL_EIO, "cannot write to stdout");
    return 0;
}

static int cmd_cat(sl_store *s, opts *o, const char *id) {
    char hex[65], kind;
    int st = resolve(s, id, hex, &kind);
    if (st) return st;
    sl_err err;
    sl_err_clear(&err);
    int rc = 0;
    if (kind == 'a') {
        json_t *r = NULL;
        rc = sl_store_record_get(s, hex, &r, &err);
        json_t *outs = rc ? NULL : json_object_get(r, "outputs");
        json_t *out = NULL;
        if (!rc && o->output)
            out = json_object_get(outs, o->output);
        else if (!rc && json_object_size(outs) == 1)
            out = json_object_iter_value(json_object_iter(outs));
        if (!rc && !out)
            rc = sl_err_set(&err, SL_EUSAGE, "action %.12s has %zu outputs: name one with --output", hex,
                            json_object_size(outs));
        if (!rc) memcpy(hex, json_string_value(json_object_get(out, "digest")), 65);
        json_decref(r);
    }
    if (!rc) rc = sl_store_read_blob(s, hex, stdout_sink, NULL, &err);
    if (fflush(stdout) != 0 && !rc) rc = sl_err_set(&err, SL_EIO, "cannot write to stdout");
    return sl_cli_report(rc, &err);
}

/* ---- log / prov ---- */
static int cmd_log(sl_store *s, opts *o, const char *id) {
    char hex[65], kind;
    int st = resolve(s, id, hex, &kind);
    if (st) return st;
    sl_err err;
    sl_err_clear(&err);
    char **keys = NULL;
    size_t n = 0;
    int rc = sl_store_lineage(s, hex, &keys, &n, &err);
    if (!rc && !n && !o->c.quiet) fprintf(stderr, "%.12s was not made by any step: it is an input\n", hex);
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *r = NULL;
        if (sl_store_record_get(s, keys[i], &r, &err)) continue;
        json_t *prov = json_object_get(r, "provenance");
        printf("%s %s v%lld  %s  %s@%s\n", keys[i], json_string_value(json_object_get(r, "step")),
               (long long)json_integer_value(json_object_get(r, "version")),
               json_string_value(json_object_get(prov, "end"))
                   ? json_string_value(json_object_get(prov, "end"))
                   : "-",
               json_string_value(json_object_get(prov, "user"))
                   ? json_string_value(json_object_get(prov, "user"))
                   : "?",
               json_string_value(json_object_get(prov, "host"))
                   ? json_string_value(json_object_get(prov, "host"))
                   : "?");
        char *params = sl_json_canonical(json_object_get(r, "params"));
        printf("  params  %s\n", params ? params : "{}");
        free(params);
        size_t j;
        json_t *f;
        json_array_foreach(json_object_get(r, "input_files"), j, f) printf(
            "  input   %s = %s (%.12s)\n", json_string_value(json_object_get(f, "role")),
            json_string_value(json_object_get(f, "path")), json_string_value(json_object_get(f, "digest")));
        const char *name;
        json_object_foreach(json_object_get(r, "outputs"), name, f)
            printf("  output  %s = sha256:%s\n", name, json_string_value(json_object_get(f, "digest")));
        json_decref(r);
    }
    sl_store_free_strings(keys, n);
    return sl_cli_report(rc, &err);
}

static int cmd_prov(sl_store *s, opts *o, const char *id) {
    char hex[65], kind;
    int st = resolve(s, id, hex, &kind);
    if (st) return st;
    sl_err err;
    sl_err_clear(&err);
    json_t *doc = NULL;
    int rc = sl_store_prov(s, hex, o->format ? o->format : "ro-crate", &doc, &err);
    if (!rc) {
        char *t = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        printf("%s\n", t ? t : "");
        free(t);
    }
    json_decref(doc);
    return sl_cli_report(rc, &err);
}

/* ---- verify / gc / reindex ---- */
static void print_line(void *user, const char *line) {
    (void)user;
    printf("%s\n", line);
}

static int cmd_verify(sl_store *s, opts *o) {
    sl_err err;
    sl_err_clear(&err);
    sl_store_verify_report rep;
    int rc = sl_store_verify(s, o->sample, print_line, NULL, &rep, &err);
    if (rc) return sl_cli_report(rc, &err);
    size_t bad = rep.bad_blobs + rep.bad_records + rep.missing;
    if (!o->c.quiet)
        fprintf(stderr,
                "verified %zu blob(s) and %zu record(s): %zu bad blob(s), %zu bad record(s), %zu missing "
                "blob(s)\n",
                rep.blobs_checked, rep.records_checked, rep.bad_blobs, rep.bad_records, rep.missing);
    if (bad) {
        fprintf(stderr,
                "seqlora: error: the store %s failed verification (bad content is in %s/quarantine)\n",
                sl_store_root(s), sl_store_root(s));
        return sl_err_exit_status(SL_EINTEGRITY);
    }
    return 0;
}

static int cmd_gc(sl_store *s, opts *o) {
    sl_err err;
    sl_err_clear(&err);
    sl_store_gc_report rep;
    int rc = sl_store_gc(s, o->grace, o->dry, o->wait, &rep, &err);
    if (!rc && !o->c.quiet)
        fprintf(stderr,
                "%s%zu record(s) and %zu blob(s) (%.1f MB), %zu temp/work folder(s); kept %zu record(s), %zu "
                "blob(s)\n",
                o->dry ? "would remove " : "removed ", rep.records_removed, rep.blobs_removed,
                (double)rep.bytes_freed / 1e6, rep.tmp_removed, rep.records_kept, rep.blobs_kept);
    return sl_cli_report(rc, &err);
}

/* ---- pins ---- */
static int list_pin(void *user, const char *hex, char kind) {
    (void)user;
    printf("%s\t%s\n", hex, kind == 'a' ? "action" : "blob");
    return 0;
}

static int cmd_pin(sl_store *s, int pin, char **ids, int n) {
    sl_err err;
    sl_err_clear(&err);
    if (pin && !n) return sl_cli_report(sl_store_each_pin(s, list_pin, NULL, &err), &err);
    for (int i = 0; i < n; i++) {
        char hex[65], kind;
        int st = resolve(s, ids[i], hex, &kind);
        if (st) return st;
        int rc = pin ? sl_store_pin(s, hex, kind, &err) : sl_store_unpin(s, hex, &err);
        if (rc) return sl_cli_report(rc, &err);
    }
    return 0;
}

/* ---- export / import / stats ---- */
static int cmd_export(sl_store *s, opts *o, const char *file, char **ids, int n) {
    sl_err err;
    sl_err_clear(&err);
    size_t nb = 0, nr = 0;
    int rc = sl_store_export(s, file, ids, (size_t)n, &nb, &nr, &err);
    if (!rc && !o->c.quiet) fprintf(stderr, "exported %zu blob(s) and %zu record(s) to %s\n", nb, nr, file);
    return sl_cli_report(rc, &err);
}

static int cmd_import(sl_store *s, opts *o, const char *file) {
    sl_err err;
    sl_err_clear(&err);
    size_t nb = 0, nr = 0;
    int rc = sl_store_import(s, file, &nb, &nr, &err);
    if (!o->c.quiet) fprintf(stderr, "imported %zu blob(s) and %zu record(s) from %s\n", nb, nr, file);
    return sl_cli_report(rc, &err);
}

typedef struct stats {
    size_t blobs, actions, pins;
    unsigned long long size, stored;
} stats;

static int count_blob(void *user, const char *hex, const sl_store_blob_info *info) {
    (void)hex;
    stats *t = user;
    t->blobs++;
    t->size += info->size;
    t->stored += info->stored;
    return 0;
}

static int count_action(void *user, const char *key, const json_t *r) {
    (void)key;
    (void)r;
    ((stats *)user)->actions++;
    return 0;
}

static int count_pin(void *user, const char *hex, char kind) {
    (void)hex;
    (void)kind;
    ((stats *)user)->pins++;
    return 0;
}

static int cmd_stats(sl_store *s, opts *o) {
    sl_err err;
    sl_err_clear(&err);
    stats t = {0};
    int rc = sl_store_each_blob(s, count_blob, &t, &err);
    if (!rc) rc = sl_store_each_action(s, count_action, &t, &err);
    if (!rc) rc = sl_store_each_pin(s, count_pin, &t, &err);
    if (rc) return sl_cli_report(rc, &err);
    struct statfs sfs;
    const char *fs = "unknown";
    if (statfs(sl_store_root(s), &sfs) == 0) sl_store_fs_is_network((unsigned long)sfs.f_type, &fs);
    double ratio = t.stored ? (double)t.size / (double)t.stored : 1.0;
    if (o->c.json) {
        json_t *j =
            json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:I, s:I}", "store", sl_store_root(s), "index",
                      sl_store_index_dir(s), "filesystem", fs, "blobs", (json_int_t)t.blobs, "bytes",
                      (json_int_t)t.size, "stored_bytes", (json_int_t)t.stored, "compression_ratio", ratio,
                      "actions", (json_int_t)t.actions, "pins", (json_int_t)t.pins);
        char *txt = sl_json_canonical(j);
        printf("%s\n", txt ? txt : "{}");
        free(txt);
        json_decref(j);
    } else {
        printf("store\t%s\nindex\t%s\nfilesystem\t%s\nblobs\t%zu\nbytes\t%llu\nstored_bytes\t%llu\n"
               "compression_ratio\t%.2f\nactions\t%zu\npins\t%zu\n",
               sl_store_root(s), sl_store_index_dir(s), fs, t.blobs, t.size, t.stored, ratio, t.actions,
               t.pins);
    }
    return 0;
}

/* "30", "90s", "15m", "12h", "7d" → seconds */
static int parse_duration(const char *s, double *out) {
    char *end = NULL;
    double v = strtod(s, &end);
    if (!end || end == s || v < 0) return -1;
    double mult = 1;
    if (*end == 's')
        mult = 1, end++;
    else if (*end == 'm')
        mult = 60, end++;
    else if (*end == 'h')
        mult = 3600, end++;
    else if (*end == 'd')
        mult = 86400, end++;
    if (*end) return -1;
    *out = v * mult;
    return 0;
}

int sl_cmd_store(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    static const struct option longopts[] = {
        SL_CLI_COMMON_LONGOPTS,
        {"blobs", no_argument, 0, OPT_BLOBS},
        {"sample", required_argument, 0, OPT_SAMPLE},
        {"grace", required_argument, 0, OPT_GRACE},
        {"dry-run", no_argument, 0, OPT_DRY},
        {"wait", required_argument, 0, OPT_WAIT},
        {"format", required_argument, 0, OPT_FORMAT},
        {"output", required_argument, 0, OPT_OUTPUT},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    opts o = {.sample = 100, .grace = 86400, .wait = 600};
    sl_cli_common_init(&o.c);
    const char *ge = getenv("SEQLORA_GC_GRACE");
    if (ge && *ge && parse_duration(ge, &o.grace))
        return sl_cli_usage_error("SEQLORA_GC_GRACE: expected a duration like 12h, got '%s'", ge);
    int opt;
    optind = 1;
    sl_err err;
    sl_err_clear(&err);
    while ((opt = getopt_long(argc - 1, argv + 1, "h", longopts, NULL)) != -1) {
        switch (opt) {
            case 'h':
                fputs(usage, stdout);
                return 0;
            case OPT_BLOBS:
                o.blobs = 1;
                break;
            case OPT_DRY:
                o.dry = 1;
                break;
            case OPT_FORMAT:
                o.format = optarg;
                break;
            case OPT_OUTPUT:
                o.output = optarg;
                break;
            case OPT_SAMPLE:
                if (sl_cli_parse_real("--sample", optarg, &o.sample, &err) || o.sample <= 0 || o.sample > 100)
                    return sl_cli_usage_error("--sample: expected a percentage in (0, 100], got '%s'",
                                              optarg);
                break;
            case OPT_GRACE:
                if (parse_duration(optarg, &o.grace))
                    return sl_cli_usage_error("--grace: expected a duration like 12h or 7d, got '%s'",
                                              optarg);
                break;
            case OPT_WAIT:
                if (parse_duration(optarg, &o.wait))
                    return sl_cli_usage_error("--wait: expected seconds, got '%s'", optarg);
                break;
            default: {
                int r = sl_cli_common_opt(&o.c, opt, optarg, &err);
                if (r < 0) return sl_cli_report(r, &err);
                if (r == 0) return sl_cli_usage_error("see 'seqlora store --help'");
            }
        }
    }
    char **args = argv + 1 + optind;
    int nargs = argc - 1 - optind;
    struct {
        const char *name;
        int min, max;
    } const table[] = {{"ls", 0, 0},     {"show", 1, 1},     {"cat", 1, 1},         {"log", 1, 1},
                       {"prov", 1, 1},   {"verify", 0, 0},   {"gc", 0, 0},          {"reindex", 0, 0},
                       {"pin", 0, 1000}, {"unpin", 1, 1000}, {"export", 1, 100000}, {"import", 1, 1},
                       {"stats", 0, 0}};
    int known = -1;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(table[i].name, sub)) known = (int)i;
    if (known < 0) return sl_cli_usage_error("unknown store command '%s' (see 'seqlora store --help')", sub);
    if (nargs < table[known].min || nargs > table[known].max)
        return sl_cli_usage_error("store %s: wrong number of arguments (see 'seqlora store --help')", sub);
    sl_store *s = NULL;
    int st = open_store(&o, !strcmp(sub, "import"), &s);
    if (st) return st;
    if (!strcmp(sub, "ls"))
        st = cmd_ls(s, &o);
    else if (!strcmp(sub, "show"))
        st = cmd_show(s, &o, args[0]);
    else if (!strcmp(sub, "cat"))
        st = cmd_cat(s, &o, args[0]);
    else if (!strcmp(sub, "log"))
        st = cmd_log(s, &o, args[0]);
    else if (!strcmp(sub, "prov"))
        st = cmd_prov(s, &o, args[0]);
    else if (!strcmp(sub, "verify"))
        st = cmd_verify(s, &o);
    else if (!strcmp(sub, "gc"))
        st = cmd_gc(s, &o);
    else if (!strcmp(sub, "reindex"))
        st = sl_cli_report(sl_store_reindex(s, &err), &err);
    else if (!strcmp(sub, "pin"))
        st = cmd_pin(s, 1, args, nargs);
    else if (!strcmp(sub, "unpin"))
        st = cmd_pin(s, 0, args, nargs);
    else if (!strcmp(sub, "export"))
        st = cmd_export(s, &o, args[0], args + 1, nargs - 1);
    else if (!strcmp(sub, "import"))
        st = cmd_import(s, &o, args[0]);
    else if (!strcmp(sub, "stats"))
        st = cmd_stats(s, &o);
    sl_store_close(s);
    return st;
}
