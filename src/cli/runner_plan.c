/* Planning a step without running it (runner_plan.h). */
#include "runner_plan.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "util/sha256.h"

static const sl_step_io *find_io(const sl_step_io *ios, const char *name) {
    for (size_t i = 0; ios && ios[i].name; i++)
        if (!strcmp(ios[i].name, name)) return &ios[i];
    return NULL;
}

/* The digest of one input: a sha256: reference checked against the store, or a path added to it. */
static int input_digest(sl_store *s, const sl_step_io *io, const char *path, char hex[65], sl_err *err) {
    int tree = (io->flags & SL_IO_DIR) != 0;
    if (!strncmp(path, "sha256:", 7)) {
        if (!sl_is_sha256_hex(path + 7))
            return sl_err_set(err, SL_EUSAGE, "input '%s': '%s' is not sha256:<64 hex digits>", io->name,
                              path);
        for (int j = 0; j < 65; j++) {
            char c = path[7 + j];
            hex[j] = (char)(c >= 'A' && c <= 'F' ? c | 32 : c);
        }
        if (!sl_store_blob_exists(s, hex, NULL))
            return sl_err_set(err, SL_ENOTFOUND, "input '%s': %s is not in the store %s", io->name, path,
                              sl_store_root(s));
        return 0;
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return sl_err_errno(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, errno, "input '%s': cannot read %s",
                            io->name, path);
    if (S_ISDIR(st.st_mode) != tree)
        return sl_err_set(err, SL_EUSAGE, "input '%s': %s is a %s, the step expects a %s", io->name, path,
                          S_ISDIR(st.st_mode) ? "folder" : "file", tree ? "folder" : "file");
    return tree ? sl_store_put_tree(s, path, hex, err) : sl_store_put_file(s, path, hex, NULL, err);
}

/* 1 when every output blob of the record (and every entry of its trees) exists. */
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

int sl_runner_plan(const sl_step *step, const json_t *params, const sl_run_input *inputs, size_t n_inputs,
                   const char *store_dir, sl_run_plan *out, sl_err *err) {
    memset(out, 0, sizeof *out);
    if (params && !json_is_object(params))
        return sl_err_set(err, SL_EUSAGE, "the parameters of step '%s' must be a JSON object", step->name);
    for (size_t i = 0; i < n_inputs; i++)
        if (!inputs[i].role || !inputs[i].path || !find_io(step->inputs, inputs[i].role))
            return sl_err_set(err, SL_EUSAGE, "step '%s' has no input '%s'", step->name,
                              inputs[i].role ? inputs[i].role : "(null)");
    sl_store *s = NULL;
    int rc = sl_store_open(store_dir ? store_dir : sl_runner_default_store(), &s, err);
    if (rc) return rc;
    int lock = sl_store_lock(s, 0, 3600, err);
    if (lock < 0) {
        sl_store_close(s);
        return lock;
    }
    json_t *keyin = json_object(), *p = params ? json_deep_copy(params) : json_object();
    rc = keyin && p ? 0 : sl_err_set(err, SL_ENOMEM, "out of memory");
    for (const sl_step_io *io = step->inputs; !rc && io && io->name; io++) {
        json_t *arr = json_array();
        size_t count = 0;
        for (size_t i = 0; !rc && i < n_inputs; i++) {
            if (strcmp(inputs[i].role, io->name)) continue;
            char hex[65];
            rc = input_digest(s, io, inputs[i].path, hex, err);
            if (!rc) json_array_append_new(arr, json_string(hex));
            count++;
        }
        if (!rc && !count && !(io->flags & SL_IO_OPTIONAL))
            rc = sl_err_set(err, SL_EUSAGE, "step '%s' needs the input '%s'", step->name, io->name);
        if (!rc && count > 1 && !(io->flags & SL_IO_MULTI))
            rc = sl_err_set(err, SL_EUSAGE, "step '%s' takes one '%s' input, got %zu", step->name, io->name,
                            count);
        if (!rc && count)
            json_object_set_new(keyin, io->name, arr);
        else
            json_decref(arr);
    }
    if (!rc) rc = sl_store_action_key(step->name, step->version, p, keyin, out->key, err);
    if (!rc) {
        json_t *rec = NULL;
        sl_err e2;
        if (!sl_store_record_get(s, out->key, &rec, &e2) && outputs_present(s, rec)) {
            out->cached = 1;
            out->record = rec;
        } else {
            json_decref(rec);
        }
    }
    json_decref(keyin);
    json_decref(p);
    sl_store_unlock(lock);
    sl_store_close(s);
    return rc;
}

const char *sl_runner_output_digest(const json_t *record, const char *name) {
    return json_string_value(
        json_object_get(json_object_get(json_object_get(record, "outputs"), name), "digest"));
}
