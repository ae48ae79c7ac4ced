/* The action graph read from the record files (not the index, which may be partial): which record produced
 * which artifact, and the closure "what does keeping this require" used by gc, export and provenance. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_internal.h"
#include "util/fs.h"
#include "util/sha256.h"

typedef struct load_ctx {
    sl_store_graph *g;
} load_ctx;

static void note_artifact(void *user, const char *hex, int is_tree, int is_output) {
    void **u = user;
    sl_store_graph *g = u[0];
    const char *key = u[1];
    if (is_tree) json_object_set_new(g->trees, hex, json_true());
    if (is_output) {
        json_t *arr = json_object_get(g->producers, hex);
        if (!arr) {
            arr = json_array();
            json_object_set_new(g->producers, hex, arr);
        }
        json_array_append_new(arr, json_string(key));
    }
}

static int load_one(void *user, const char *path, const char *name) {
    load_ctx *c = user;
    if (strlen(name) != 69 || strcmp(name + 64, ".json")) return 0;
    char key[65];
    memcpy(key, name, 64);
    key[64] = '\0';
    json_t *r = NULL;
    sl_err e;
    if (sl_store_record_load_file(path, key, &r, &e)) return 0; /* verify reports damaged records */
    struct stat st;
    double mt = stat(path, &st) == 0 ? (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec * 1e-9 : 0;
    json_object_set_new(c->g->records, key, r);
    json_object_set_new(c->g->mtimes, key, json_real(mt));
    void *u[2] = {c->g, key};
    sl_store_record_each_artifact(r, note_artifact, u);
    return 0;
}

int sl_store_graph_load(sl_store *s, sl_store_graph *g, sl_err *err) {
    g->records = json_object();
    g->mtimes = json_object();
    g->producers = json_object();
    g->trees = json_object();
    if (!g->records || !g->mtimes || !g->producers || !g->trees) {
        sl_store_graph_free(g);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    char *dir = sl_store_path(s, "actions");
    load_ctx c = {g};
    int rc = dir ? sl_store_walk(dir, load_one, &c, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    free(dir);
    if (rc) sl_store_graph_free(g);
    return rc;
}

void sl_store_graph_free(sl_store_graph *g) {
    json_decref(g->records);
    json_decref(g->mtimes);
    json_decref(g->producers);
    json_decref(g->trees);
    memset(g, 0, sizeof *g);
}

typedef struct work {
    json_t *queue; /* array of "a<key>" / "b<digest>" */
} work;

static void push(json_t *queue, char kind, const char *hex) {
    char item[66];
    item[0] = kind;
    memcpy(item + 1, hex, 64);
    item[65] = '\0';
    json_array_append_new(queue, json_string(item));
}

static void push_artifact(void *user, const char *hex, int is_tree, int is_output) {
    (void)is_tree;
    (void)is_output;
    push(user, 'b', hex);
}

/* A blob that no record calls a tree may still be one (a pinned folder): small and parsable. */
static int maybe_tree(sl_store *s, const sl_store_graph *g, const char *hex) {
    if (json_object_get(g->trees, hex)) return 1;
    sl_store_blob_info info;
    if (!sl_store_blob_exists(s, hex, &info) || info.size > (16u << 20)) return 0;
    char *data = NULL;
    size_t len = 0;
    sl_err e;
    if (sl_store_read_blob_mem(s, hex, &data, &len, &e)) return 0;
    int yes = len > 16 && !strncmp(data, "{\"entries\":", 11) && strstr(data, "\"seqlora_tree\":1") != NULL;
    free(data);
    return yes;
}

int sl_store_graph_closure(sl_store *s, const sl_store_graph *g, json_t *recs, json_t *blobs, sl_err *err) {
    json_t *queue = json_array();
    if (!queue) return sl_err_set(err, SL_ENOMEM, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(recs, k, v) push(queue, 'a', k);
    json_object_foreach(blobs, k, v) push(queue, 'b', k);
    json_t *seen = json_object();
    for (size_t i = 0; i < json_array_size(queue); i++) {
        const char *item = json_string_value(json_array_get(queue, i));
        if (json_object_get(seen, item)) continue;
        json_object_set_new(seen, item, json_true());
        const char *hex = item + 1;
        if (item[0] == 'a') {
            json_t *r = json_object_get(g->records, hex);
            if (!r) continue;
            json_object_set_new(recs, hex, json_true());
            sl_store_record_each_artifact(r, push_artifact, queue);
        } else {
            json_object_set_new(blobs, hex, json_true());
            size_t j;
            json_t *p;
            json_array_foreach(json_object_get(g->producers, hex), j, p)
                push(queue, 'a', json_string_value(p));
            if (maybe_tree(s, g, hex)) {
                json_t *m = NULL;
                sl_err e;
                if (sl_store_tree_load(s, hex, &m, &e) == 0) {
                    json_t *ent;
                    json_array_foreach(json_object_get(m, "entries"), j, ent)
                        push(queue, 'b', json_string_value(json_object_get(ent, "digest")));
                    json_decref(m);
                }
            }
        }
    }
    json_decref(seen);
    json_decref(queue);
    return 0;
}
