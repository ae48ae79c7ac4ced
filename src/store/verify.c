/* verify: re-hash blobs (all or a sample) and check every record; quarantine what is bad. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_internal.h"
#include "util/fs.h"
#include "util/sha256.h"

typedef struct verify_ctx {
    sl_store *s;
    double pct;
    unsigned long long rnd;
    void (*line)(void *, const char *);
    void *user;
    sl_store_verify_report *rep;
} verify_ctx;

static void say(verify_ctx *c, const char *fmt, const char *a, const char *b) {
    char buf[SL_ERR_MSG_MAX + 256];
    snprintf(buf, sizeof buf, fmt, a, b);
    if (c->line) c->line(c->user, buf);
}

static double next_uniform(verify_ctx *c) {
    c->rnd = c->rnd * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(c->rnd >> 11) * (1.0 / 9007199254740992.0);
}

static int verify_blob(void *user, const char *path, const char *name) {
    verify_ctx *c = user;
    if (!sl_is_sha256_hex(name)) return 0;
    if (c->pct < 100 && next_uniform(c) * 100 >= c->pct) return 0;
    c->rep->blobs_checked++;
    sl_err e;
    int rc = sl_store_read_blob_file(path, name, NULL, NULL, &e);
    if (rc == SL_EINTEGRITY) {
        c->rep->bad_blobs++;
        say(c, "bad blob %s: %s (moved to quarantine)", name, e.msg);
        sl_store_quarantine(c->s, path, &e);
        sl_store_index_del_blob(c->s, name, &e);
    } else if (rc) {
        c->rep->bad_blobs++;
        say(c, "unreadable blob %s: %s", name, e.msg);
    }
    return 0;
}

static void check_ref(void *user, const char *hex, int is_tree, int is_output) {
    void **u = user;
    verify_ctx *c = u[0];
    const char *key = u[1];
    char what[160];
    snprintf(what, sizeof what, "%s %s", key, is_output ? "output" : "input");
    if (!sl_store_blob_exists(c->s, hex, NULL)) {
        c->rep->missing++;
        say(c, "action %s references the missing blob %s", what, hex);
        return;
    }
    if (is_tree) {
        json_t *m = NULL;
        sl_err e;
        if (sl_store_tree_load(c->s, hex, &m, &e)) return; /* a bad manifest blob is reported as a bad blob */
        size_t i;
        json_t *ent;
        json_array_foreach(json_object_get(m, "entries"), i, ent) {
            const char *d = json_string_value(json_object_get(ent, "digest"));
            if (!sl_store_blob_exists(c->s, d, NULL)) {
                c->rep->missing++;
                say(c, "action %s references the missing blob %s (inside a folder)", what, d);
            }
        }
        json_decref(m);
    }
}

static int verify_record(void *user, const char *path, const char *name) {
    verify_ctx *c = user;
    if (strlen(name) != 69 || strcmp(name + 64, ".json")) return 0;
    char key[65];
    memcpy(key, name, 64);
    key[64] = '\0';
    c->rep->records_checked++;
    json_t *r = NULL;
    sl_err e;
    int rc = sl_store_record_load_file(path, key, &r, &e);
    if (rc) {
        c->rep->bad_records++;
        say(c, "bad action record %s: %s (moved to quarantine)", key, e.msg);
        sl_store_quarantine(c->s, path, &e);
        sl_store_index_del_action(c->s, key, &e);
        return 0;
    }
    void *u[2] = {c, key};
    sl_store_record_each_artifact(r, check_ref, u);
    json_decref(r);
    return 0;
}

int sl_store_verify(sl_store *s, double sample_pct, void (*report_line)(void *, const char *), void *user,
                    sl_store_verify_report *rep, sl_err *err) {
    memset(rep, 0, sizeof *rep);
    verify_ctx c = {
        s,           sample_pct, (unsigned long long)time(NULL) ^ ((unsigned long long)clock() << 32),
        report_line, user,       rep};
    char *b = sl_store_path(s, "blobs/sha256"), *a = sl_store_path(s, "actions");
    int rc = b && a ? 0 : sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc) rc = sl_store_walk(b, verify_blob, &c, err);
    if (!rc) rc = sl_store_walk(a, verify_record, &c, err);
    free(b);
    free(a);
    return rc;
}
