/* The step runner (see runner.h): action key → cache lookup → run in a temp folder under the store →
 * ingest outputs → action record → materialise. */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build_info.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

const char *sl_runner_default_store(void) {
    const char *e = getenv("SEQLORA_STORE");
    return e && *e ? e : "store";
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void iso8601(double t, char out[32]) {
    time_t sec = (time_t)t;
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static double cpu_s(void) {
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
           (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec + b.ru_stime.tv_usec) * 1e-6;
}

static const sl_step_io *find_io(const sl_step_io *ios, const char *name) {
    for (size_t i = 0; ios && ios[i].name; i++)
        if (!strcmp(ios[i].name, name)) return &ios[i];
    return NULL;
}

/* One resolved input. */
typedef struct resolved {
    const char *role;
    char hex[65];
    int tree;
    const char *given; /* the path or sha256: reference as given */
    char *path;        /* what the step reads (the given path, or a materialised copy) */
} resolved;

static int resolve_inputs(sl_store *s, const sl_step *step, const sl_run_input *inputs, size_t n,
                          resolved *res, json_t *keyin, json_t *files, sl_err *err) {
    for (size_t i = 0; i < n; i++)
        if (!inputs[i].role || !inputs[i].path || !find_io(step->inputs, inputs[i].role))
            return sl_err_set(err, SL_EUSAGE, "step '%s' has no input '%s'", step->name,
                              inputs[i].role ? inputs[i].role : "(null)");
    size_t k = 0;
    for (const sl_step_io *io = step->inputs; io && io->name; io++) {
        size_t count = 0;
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            if (strcmp(inputs[i].role, io->name)) continue;
            count++;
            resolved *r = &res[k++];
            r->role = io->name;
            r->given = inputs[i].path;
            r->tree = (io->flags & SL_IO_DIR) != 0;
            int rc = 0;
            if (!strncmp(inputs[i].path, "sha256:", 7)) {
                const char *hex = inputs[i].path + 7;
                if (!sl_is_sha256_hex(hex))
                    rc = sl_err_set(err, SL_EUSAGE, "input '%s': '%s' is not sha256:<64 hex digits>",
                                    io->name, inputs[i].path);
                for (int j = 0; !rc && j < 65; j++)
                    r->hex[j] = (char)(hex[j] >= 'A' && hex[j] <= 'F' ? hex[j] | 32 : hex[j]);
                if (!rc && !sl_store_blob_exists(s, r->hex, NULL))
                    rc = sl_err_set(err, SL_ENOTFOUND, "input '%s': %s is not in the store %s", io->name,
                                    inputs[i].path, sl_store_root(s));
                if (!rc && r->tree) {
                    json_t *m = NULL;
                    rc = sl_store_tree_load(s, r->hex, &m, err);
                    json_decref(m);
                }
            } else {
                struct stat st;
                if (stat(inputs[i].path, &st) != 0) {
                    rc = sl_err_errno(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, errno,
                                      "input '%s': cannot read %s", io->name, inputs[i].path);
                } else if (S_ISDIR(st.st_mode) != r->tree) {
                    rc = sl_err_set(err, SL_EUSAGE, "input '%s': %s is a %s, the step expects a %s", io->name,
                                    inputs[i].path, S_ISDIR(st.st_mode) ? "folder" : "file",
                                    r->tree ? "folder" : "file");
                } else {
                    rc = r->tree ? sl_store_put_tree(s, inputs[i].path, r->hex, err)
                                 : sl_store_put_file(s, inputs[i].path, r->hex, NULL, err);
                    if (!rc) r->path = strdup(inputs[i].path);
                }
            }
            if (rc) {
                json_decref(arr);
                return rc;
            }
            json_array_append_new(arr, json_string(r->hex));
            json_array_append_new(files,
                                  json_pack("{s:s, s:s, s:s, s:s}", "role", io->name, "digest", r->hex,
                                            "type", r->tree ? "tree" : "file", "path", inputs[i].path));
        }
        if (!count && !(io->flags & SL_IO_OPTIONAL)) {
            json_decref(arr);
            return sl_err_set(err, SL_EUSAGE, "step '%s' needs the input '%s'", step->name, io->name);
        }
        if (count > 1 && !(io->flags & SL_IO_MULTI)) {
            json_decref(arr);
            return sl_err_set(err, SL_EUSAGE, "step '%s' takes one '%s' input, got %zu", step->name, io->name,
                              count);
        }
        if (count)
            json_object_set_new(keyin, io->name, arr);
        else
            json_decref(arr);
    }
    return 0;
}

/* 1 when every output of the record (and every entry of its trees) has its blob file. */
static int outputs_present(sl_store *s, const json_t *rec) {
    const char *name;
    json_t *o;
    json_object_foreach(json_object_get(rec, "outputs"), name, o) {
        const char *d = json_string_value(json_object_get(o, "digest"));
        if (!d || !sl_store_blob_exists(s, d, NULL)) return 0;
        const char *type = json_string_value(json_object_get(o, "type"));
        if (type && !strcmp(type, "tree")) {
            json_t *m = NULL;
            sl_err e;
            if (sl_store_tree_load(s, d, &m, &e)) return 0;
            size_t i;
            json_t *ent;
            int ok = 1;
            json_array_foreach(json_object_get(m, "entries"), i, ent) {
                if (!sl_store_blob_exists(s, json_string_value(json_object_get(ent, "digest")), NULL)) ok = 0;
            }
            json_decref(m);
            if (!ok) return 0;
        }
    }
    return 1;
}

/* The stored answer for `key`: *rec = its record when every output is present (a hit, a new reference),
 * else NULL. Returns 1 when a record exists but cannot be used (damaged: said on stderr when `warn`; its
 * outputs lost to gc or quarantine): the fresh record must replace it. */
static int lookup(sl_store *s, const char *key, int warn, json_t **rec) {
    sl_err e;
    *rec = NULL;
    int rc = sl_store_record_get(s, key, rec, &e);
    if (rc == SL_EINTEGRITY) {
        if (warn) fprintf(stderr, "seqlora: warning: %s; running the step again\n", e.msg);
        json_decref(*rec);
        *rec = NULL;
        return 1;
    }
    if (rc) {
        json_decref(*rec);
        *rec = NULL;
        return 0;
    }
    if (!outputs_present(s, *rec)) {
        json_decref(*rec);
        *rec = NULL;
        return 1;
    }
    return 0;
}

static void quarantine_if_bad(sl_store *s, const char *hex) {
    sl_err e;
    if (sl_store_read_blob(s, hex, NULL, NULL, &e) == SL_EINTEGRITY) sl_store_quarantine_blob(s, hex, &e);
}

static void quarantine_bad_outputs(sl_store *s, const json_t *rec) {
    const char *name;
    json_t *o;
    json_object_foreach(json_object_get(rec, "outputs"), name, o) {
        const char *d = json_string_value(json_object_get(o, "digest"));
        if (!strcmp(json_string_value(json_object_get(o, "type")), "tree")) {
            json_t *m = NULL;
            sl_err e;
            if (sl_store_tree_load(s, d, &m, &e) == 0) {
                size_t i;
                json_t *ent;
                json_array_foreach(json_object_get(m, "entries"), i, ent)
                    quarantine_if_bad(s, json_string_value(json_object_get(ent, "digest")));
                json_decref(m);
                continue;
            }
        }
        quarantine_if_bad(s, d);
    }
}

/* An exclusive flock on work/<key>.lock (waits, saying so, when another process runs the same action). */
static int lock_action(sl_store *s, const sl_step *step, const char *key, int quiet, sl_err *err) {
    char rel[96];
    snprintf(rel, sizeof rel, "work/%s.lock", key);
    char *p = sl_store_path(s, rel);
    int fd = p ? open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666) : -1;
    if (fd < 0) {
        int rc = p ? sl_err_errno(err, SL_EIO, errno, "cannot open the lock file %s", p)
                   : sl_err_set(err, SL_ENOMEM, "out of memory");
        free(p);
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (!quiet) fprintf(stderr, "waiting: another process is running %s %.12s\n", step->name, key);
        while (flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                int rc = sl_err_errno(err, SL_EIO, errno, "cannot lock %s", p);
                close(fd);
                free(p);
                return rc;
            }
        }
    }
    free(p);
    return fd;
}

/* 1 when dest exists and is neither a regular file nor a folder (/dev/null, a FIFO, a terminal): such a
 * destination is written in place, never replaced by a rename. */
static int is_special(const char *dest) {
    struct stat st;
    return stat(dest, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

typedef struct fd_out {
    int fd;
    const char *what;
} fd_out;

static int fd_out_sink(void *user, const void *data, size_t len, sl_err *err) {
    fd_out *o = user;
    return sl_fs_write_all(o->fd, data, len, o->what, err);
}

static int write_special(sl_store *s, const char *hex, const char *dest, sl_err *err) {
    int fd = open(dest, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return sl_err_errno(err, SL_EIO, errno, "cannot open %s", dest);
    fd_out o = {fd, dest};
    int rc = sl_store_read_blob(s, hex, fd_out_sink, &o, err);
    if (close(fd) != 0 && !rc) rc = sl_err_errno(err, SL_EIO, errno, "cannot close %s", dest);
    return rc;
}

/* A new, reserved temp name beside dest (".<base>.sl-<tag>.XXXXXX"): an empty file, or a folder. */
static int reserve_beside(const char *dest, const char *tag, int folder, char **out, sl_err *err) {
    *out = NULL;
    char *parent = sl_fs_dirname(dest);
    if (!parent) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = sl_fs_mkdirs(parent, err);
    const char *base = strrchr(dest, '/') ? strrchr(dest, '/') + 1 : dest;
    char prefix[300];
    snprintf(prefix, sizeof prefix, ".%.200s.sl-%s.", base, tag);
    if (!rc && folder) {
        rc = sl_fs_mkdtemp(parent, prefix, out, err);
    } else if (!rc) {
        size_t n = strlen(parent) + strlen(prefix) + 16;
        char *p = malloc(n);
        if (!p) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        } else {
            snprintf(p, n, "%s/%sXXXXXX", parent, prefix);
            int fd = mkostemp(p, O_CLOEXEC);
            if (fd < 0) {
                rc = sl_err_errno(err, SL_EIO, errno, "cannot create a temporary file beside %s", dest);
                free(p);
            } else {
                close(fd);
                *out = p;
            }
        }
    }
    free(parent);
    return rc;
}

/* 1 when dest lies inside `dir` (a path below it, e.g. "ad/metrics.jsonl" inside "ad"). */
static int is_inside(const char *dest, const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    return !strncmp(dest, dir, n) && dest[n] == '/';
}

/* Put every output at its destination, all or nothing: each output is first written to a temp name beside
 * its destination, then all are renamed into place; an output whose destination lies inside a folder
 * output (train's metrics.jsonl inside the adapter folder) is written after that folder is in place. On any
 * failure the temps and the outputs already placed are removed, so a failed command leaves no output (a
 * destination that is a device or a FIFO, such as /dev/null, is written in place and never removed). */
static int materialise(sl_store *s, const sl_step *step, const json_t *rec, const sl_run_output *outputs,
                       size_t n, sl_err *err) {
    char **tmp = calloc(n ? n : 1, sizeof *tmp);
    const char **digest = calloc(n ? n : 1, sizeof *digest);
    unsigned char *placed = calloc(n ? n : 1, 1), *tree = calloc(n ? n : 1, 1),
                  *nested = calloc(n ? n : 1, 1);
    int rc = tmp && digest && placed && tree && nested ? 0 : sl_err_set(err, SL_ENOMEM, "out of memory");
    size_t failed = n;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!outputs[i].dest) continue;
        json_t *o = json_object_get(json_object_get(rec, "outputs"), outputs[i].name);
        if (!o)
            rc = sl_err_set(err, SL_ENOTFOUND, "step '%s' did not produce the optional output '%s'",
                            step->name, outputs[i].name);
        digest[i] = json_string_value(json_object_get(o, "digest"));
        tree[i] = !strcmp(json_string_value(json_object_get(o, "type"))
                              ? json_string_value(json_object_get(o, "type"))
                              : "",
                          "tree");
    }
    for (size_t i = 0; !rc && i < n; i++)
        for (size_t j = 0; outputs[i].dest && j < n; j++)
            if (j != i && tree[j] && outputs[j].dest && is_inside(outputs[i].dest, outputs[j].dest))
                nested[i] = 1;
    /* 1: every top-level output to its temp name (special destinations written in place) */
    for (size_t i = 0; !rc && i < n; i++) {
        if (!outputs[i].dest || nested[i]) continue;
        failed = i;
        if (!tree[i] && is_special(outputs[i].dest)) {
            rc = write_special(s, digest[i], outputs[i].dest, err);
        } else {
            rc = reserve_beside(outputs[i].dest, "part", tree[i], &tmp[i], err);
            if (!rc)
                rc = tree[i] ? sl_store_materialise_tree(s, digest[i], tmp[i], err)
                             : sl_store_materialise_file(s, digest[i], tmp[i], err);
        }
    }
    /* 2: all into place */
    for (size_t i = 0; !rc && i < n; i++) {
        if (!tmp[i]) continue;
        failed = i;
        const char *dest = outputs[i].dest;
        char *old = NULL;
        struct stat st;
        if (tree[i] && lstat(dest, &st) == 0 && S_ISDIR(st.st_mode)) { /* an old folder: move it aside */
            rc = reserve_beside(dest, "old", 1, &old, err);
            if (!rc && rename(dest, old) != 0)
                rc = sl_err_errno(err, SL_EIO, errno, "cannot move the old %s aside", dest);
        }
        if (!rc && rename(tmp[i], dest) != 0) {
            rc = sl_err_errno(err, SL_EIO, errno, "cannot rename %s into %s", tmp[i], dest);
            if (old && rename(old, dest) == 0) { /* put the old folder back */
                free(old);
                old = NULL;
            }
        }
        if (!rc) {
            placed[i] = 1;
            free(tmp[i]);
            tmp[i] = NULL;
        }
        if (old) {
            sl_err e2;
            sl_fs_remove_tree(old, &e2);
            free(old);
        }
    }
    /* 3: outputs inside a folder output, now that it is in place (each written atomically) */
    for (size_t i = 0; !rc && i < n; i++) {
        if (!outputs[i].dest || !nested[i]) continue;
        failed = i;
        if (!tree[i] && is_special(outputs[i].dest)) {
            rc = write_special(s, digest[i], outputs[i].dest, err);
        } else {
            char *dir = sl_fs_dirname(outputs[i].dest);
            rc = dir ? sl_fs_mkdirs(dir, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
            free(dir);
            if (!rc)
                rc = tree[i] ? sl_store_materialise_tree(s, digest[i], outputs[i].dest, err)
                             : sl_store_materialise_file(s, digest[i], outputs[i].dest, err);
            if (!rc) placed[i] = 1;
        }
    }
    if (rc) {
        if (failed < n && outputs[failed].dest)
            sl_err_prefix(err, "while writing the output '%s' to %s", outputs[failed].name,
                          outputs[failed].dest);
        for (size_t i = 0; i < n; i++) {
            sl_err e2;
            if (tmp && tmp[i]) sl_fs_remove_tree(tmp[i], &e2);
            if (placed && placed[i]) sl_fs_remove_tree(outputs[i].dest, &e2);
        }
    }
    for (size_t i = 0; tmp && i < n; i++) free(tmp[i]);
    free(tmp);
    free(digest);
    free(placed);
    free(tree);
    free(nested);
    return rc;
}

static int ingest_outputs(sl_store *s, const sl_step *step, const char *outdir, json_t *outs, sl_err *err) {
    for (const sl_step_io *io = step->outputs; io && io->name; io++) {
        char *p = sl_fs_join(outdir, io->name);
        if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
        struct stat st;
        int rc = 0;
        int want_dir = (io->flags & SL_IO_DIR) != 0;
        if (stat(p, &st) != 0) {
            if (!(io->flags & SL_IO_OPTIONAL))
                rc = sl_err_set(err, SL_EINTERNAL, "step '%s' did not write its declared output '%s'",
                                step->name, io->name);
        } else if (S_ISDIR(st.st_mode) != want_dir) {
            rc = sl_err_set(err, SL_EINTERNAL, "step '%s' wrote its output '%s' as a %s, declared a %s",
                            step->name, io->name, S_ISDIR(st.st_mode) ? "folder" : "file",
                            want_dir ? "folder" : "file");
        } else {
            char hex[65];
            uint64_t size = 0;
            if (want_dir) {
                rc = sl_store_put_tree(s, p, hex, err);
                json_t *m = NULL;
                if (!rc) rc = sl_store_tree_load(s, hex, &m, err);
                size_t i;
                json_t *e;
                json_array_foreach(json_object_get(m, "entries"), i, e) size +=
                    (uint64_t)json_integer_value(json_object_get(e, "size"));
                json_decref(m);
            } else {
                sl_store_blob_info info;
                rc = sl_store_put_file(s, p, hex, &info, err);
                size = info.size;
            }
            if (!rc)
                json_object_set_new(outs, io->name,
                                    json_pack("{s:s, s:I, s:s}", "digest", hex, "size", (json_int_t)size,
                                              "type", want_dir ? "tree" : "file"));
        }
        free(p);
        if (rc) return rc;
    }
    return 0;
}

static json_t *provenance(double t0, double t1, double cpu, int threads) {
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const char *user = getenv("USER");
    struct passwd *pw = getpwuid(getuid());
    if (pw && pw->pw_name) user = pw->pw_name;
    char start[32], end[32];
    iso8601(t0, start);
    iso8601(t1, end);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:I, s:i}", "seqlora_version", SEQLORA_VERSION,
                     "host", host, "user", user ? user : "", "start", start, "end", end, "wall_seconds",
                     t1 - t0, "cpu_seconds", cpu, "peak_rss_bytes", (json_int_t)ru.ru_maxrss * 1024,
                     "threads", threads);
}

static int run_step(sl_store *s, const sl_step *step, const json_t *params, resolved *res, size_t n_res,
                    const char *key, const sl_run_opts *opts, json_t *keyin, json_t *files, json_t **rec_out,
                    sl_err *err) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "run-%.12s-", key);
    char *tmpdir = sl_store_path(s, "tmp"), *run = NULL;
    int rc = tmpdir ? sl_fs_mkdtemp(tmpdir, prefix, &run, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    free(tmpdir);
    if (rc) return rc;
    char *outdir = sl_fs_join(run, "out"), *indir = sl_fs_join(run, "in");
    char workrel[80];
    snprintf(workrel, sizeof workrel, "work/%s", key);
    char *workdir = sl_store_path(s, workrel);
    sl_step_input_t *ins = calloc(n_res ? n_res : 1, sizeof *ins);
    if (!outdir || !indir || !workdir || !ins) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc) rc = sl_fs_mkdirs(outdir, err);
    if (!rc) rc = sl_fs_mkdirs(workdir, err);
    for (size_t i = 0; !rc && i < n_res; i++) {
        if (!res[i].path) { /* a sha256: reference: the step reads a materialised copy */
            char name[128];
            snprintf(name, sizeof name, "%zu-%s", i, res[i].role);
            rc = sl_fs_mkdirs(indir, err);
            res[i].path = rc ? NULL : sl_fs_join(indir, name);
            if (!rc)
                rc = res[i].tree ? sl_store_materialise_tree(s, res[i].hex, res[i].path, err)
                                 : sl_store_materialise_file(s, res[i].hex, res[i].path, err);
        }
        ins[i].role = res[i].role;
        ins[i].path = res[i].path;
    }
    json_t *summary = json_object();
    double t0 = now_s(), c0 = cpu_s();
    if (!rc) {
        sl_step_ctx ctx = {.params = params,
                           .outdir = outdir,
                           .workdir = workdir,
                           .threads = opts->threads,
                           .inputs = ins,
                           .n_inputs = n_res,
                           .summary = summary,
                           .err = err};
        rc = step->run(&ctx);
        if (rc) {
            if (!err->msg[0]) sl_err_set(err, rc, "failed (%s)", sl_err_code_name(rc));
            sl_err_prefix(err, "step '%s'", step->name);
        }
    }
    double t1 = now_s(), c1 = cpu_s();
    json_t *outs = json_object();
    if (!rc) rc = ingest_outputs(s, step, outdir, outs, err);
    if (!rc) {
        json_t *rec = json_pack("{s:i, s:s, s:s, s:i, s:O, s:O, s:O, s:O, s:i, s:o, s:O}", "schema", 1, "key",
                                key, "step", step->name, "version", step->version, "params", params, "inputs",
                                keyin, "input_files", files, "outputs", outs, "exit_status", 0, "provenance",
                                provenance(t0, t1, c1 - c0, opts->threads), "summary", summary);
        if (!rec) rc = sl_err_set(err, SL_ENOMEM, "cannot build the action record");
        if (!rc) rc = sl_store_record_put(s, rec, opts->no_cache, err);
        if (!rc)
            *rec_out = rec;
        else
            json_decref(rec);
    }
    json_decref(outs);
    json_decref(summary);
    sl_err e2;
    if (!rc) sl_fs_remove_tree(workdir, &e2); /* the checkpoints served their purpose */
    sl_fs_remove_tree(run, &e2);
    free(run);
    free(outdir);
    free(indir);
    free(workdir);
    free(ins);
    return rc;
}

/* An action prepared for running or planning: the store open under its shared gc lock, the inputs resolved
 * (added to the store, digests by role) and the action key computed. sl_runner_run and sl_runner_plan both
 * start here, so a plan's key and hit are the run's by construction. */
typedef struct action {
    sl_store *s;
    int lock;
    json_t *params, *keyin, *files;
    resolved *res;
    size_t n_res;
    char key[65];
} action;

static void action_close(action *a) {
    for (size_t i = 0; a->res && i < a->n_res; i++) free(a->res[i].path);
    free(a->res);
    json_decref(a->keyin);
    json_decref(a->files);
    json_decref(a->params);
    if (a->lock >= 0) sl_store_unlock(a->lock);
    if (a->s) sl_store_close(a->s);
    memset(a, 0, sizeof *a);
    a->lock = -1;
}

static int action_open(action *a, const sl_step *step, const json_t *params_in, const sl_run_input *inputs,
                       size_t n_inputs, const char *store_dir, sl_err *err) {
    memset(a, 0, sizeof *a);
    a->lock = -1;
    if (params_in && !json_is_object(params_in))
        return sl_err_set(err, SL_EUSAGE, "the parameters of step '%s' must be a JSON object", step->name);
    int rc = sl_store_open(store_dir ? store_dir : sl_runner_default_store(), &a->s, err);
    if (!rc) {
        a->lock = sl_store_lock(a->s, 0, 3600, err);
        if (a->lock < 0) rc = a->lock;
    }
    if (!rc) {
        a->params = params_in ? json_deep_copy(params_in) : json_object();
        a->res = calloc(n_inputs ? n_inputs : 1, sizeof *a->res);
        a->n_res = n_inputs;
        a->keyin = json_object();
        a->files = json_array();
        if (!a->params || !a->res || !a->keyin || !a->files) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (!rc) rc = resolve_inputs(a->s, step, inputs, n_inputs, a->res, a->keyin, a->files, err);
    if (!rc) rc = sl_store_action_key(step->name, step->version, a->params, a->keyin, a->key, err);
    if (rc) action_close(a);
    return rc;
}

int sl_runner_run(const sl_step *step, const json_t *params_in, const sl_run_input *inputs, size_t n_inputs,
                  const sl_run_output *outputs, size_t n_outputs, const sl_run_opts *opts,
                  sl_run_result *result, sl_err *err) {
    double t_start = now_s();
    memset(result, 0, sizeof *result);
    if (!step || !step->run) return sl_err_set(err, SL_EINTERNAL, "no step to run");
    for (size_t i = 0; i < n_outputs; i++)
        if (!outputs[i].name || !find_io(step->outputs, outputs[i].name))
            return sl_err_set(err, SL_EUSAGE, "step '%s' has no output '%s'", step->name,
                              outputs[i].name ? outputs[i].name : "(null)");
    sl_run_opts defaults = {0};
    if (!opts) opts = &defaults;
    action a;
    int rc = action_open(&a, step, params_in, inputs, n_inputs, opts->store_dir, err);
    if (rc) return rc;
    sl_store *s = a.s;
    memcpy(result->key, a.key, sizeof result->key);
    json_t *rec = NULL;
    int replace = opts->no_cache;
    if (!opts->no_cache) {
        replace = lookup(s, a.key, 1, &rec);
        if (rec) {
            result->cached = 1;
            sl_store_record_touch(s, a.key);
        }
    }
    int action_lock = -1;
    if (!rec) {
        /* One process at a time runs a given action (they would share work/<key>/); a process that waited
         * usually finds the answer stored by the one it waited for. */
        action_lock = lock_action(s, step, a.key, opts->quiet, err);
        if (action_lock < 0) rc = action_lock;
        if (!rc && !replace) {
            lookup(s, a.key, 0, &rec);
            result->cached = rec != NULL;
        }
    }
    if (!rc && !rec) {
        sl_run_opts o = *opts;
        o.no_cache = replace;
        rc = run_step(s, step, a.params, a.res, n_inputs, a.key, &o, a.keyin, a.files, &rec, err);
    }
    if (action_lock >= 0) close(action_lock);
    if (!rc) rc = materialise(s, step, rec, outputs, n_outputs, err);
    if (rc == SL_EINTEGRITY && result->cached) {
        /* A stored output is damaged: quarantine what is bad and answer the question again. */
        fprintf(stderr, "seqlora: warning: %s; running the step again\n", err->msg);
        quarantine_bad_outputs(s, rec);
        json_decref(rec);
        rec = NULL;
        result->cached = 0;
        sl_err_clear(err);
        sl_run_opts o = *opts;
        o.no_cache = 1;
        rc = run_step(s, step, a.params, a.res, n_inputs, a.key, &o, a.keyin, a.files, &rec, err);
        if (!rc) rc = materialise(s, step, rec, outputs, n_outputs, err);
    }
    result->seconds = now_s() - t_start;
    if (!rc && !opts->quiet) {
        if (result->cached)
            fprintf(stderr, "cached: %s %.12s\n", step->name, result->key);
        else
            fprintf(stderr, "ran: %s %.12s (%.1f s)\n", step->name, result->key, result->seconds);
    }
    if (!rc)
        result->record = rec;
    else
        json_decref(rec);
    action_close(&a);
    return rc;
}

int sl_runner_plan(const sl_step *step, const json_t *params, const sl_run_input *inputs, size_t n_inputs,
                   const sl_run_opts *opts, sl_run_plan *out, sl_err *err) {
    memset(out, 0, sizeof *out);
    if (!step) return sl_err_set(err, SL_EINTERNAL, "no step to plan");
    action a;
    int rc = action_open(&a, step, params, inputs, n_inputs, opts ? opts->store_dir : NULL, err);
    if (rc) return rc;
    memcpy(out->key, a.key, sizeof out->key);
    if (!(opts && opts->no_cache)) lookup(a.s, a.key, 0, &out->record);
    out->cached = out->record != NULL;
    action_close(&a);
    return 0;
}

const char *sl_runner_output_digest(const json_t *record, const char *name) {
    return json_string_value(
        json_object_get(json_object_get(json_object_get(record, "outputs"), name), "digest"));
}
