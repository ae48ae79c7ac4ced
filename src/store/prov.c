/* Provenance: the lineage of an artifact (the records upstream of it), as RO-Crate 1.1 with the Workflow Run
 * Crate (Process Run Crate) profile, or as W3C PROV-JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_internal.h"
#include "util/json.h"
#include "util/sha256.h"

/* Breadth-first upstream walk: the records that produced `hex` (or the record `hex`), then the records that
 * produced their inputs, ... Each key once, nearest first. */
static int walk(sl_store *s, const sl_store_graph *g, const char *hex, json_t *order, sl_err *err) {
    json_t *queue = json_array(), *seen = json_object();
    if (json_object_get(g->records, hex)) json_array_append_new(queue, json_string(hex));
    size_t j;
    json_t *p;
    json_array_foreach(json_object_get(g->producers, hex), j, p) json_array_append(queue, p);
    if (!json_array_size(queue) && !sl_store_blob_exists(s, hex, NULL)) {
        json_decref(queue);
        json_decref(seen);
        return sl_err_set(err, SL_ENOTFOUND, "%s is neither an action nor an artifact of the store %s", hex,
                          sl_store_root(s));
    }
    for (size_t i = 0; i < json_array_size(queue); i++) {
        const char *key = json_string_value(json_array_get(queue, i));
        if (json_object_get(seen, key)) continue;
        json_object_set_new(seen, key, json_true());
        json_array_append_new(order, json_string(key));
        json_t *r = json_object_get(g->records, key);
        const char *role;
        json_t *arr, *d;
        json_object_foreach(json_object_get(r, "inputs"), role, arr) {
            json_array_foreach(arr, j, d) {
                size_t k;
                json_array_foreach(json_object_get(g->producers, json_string_value(d)), k, p)
                    json_array_append(queue, p);
            }
        }
    }
    json_decref(queue);
    json_decref(seen);
    return 0;
}

int sl_store_lineage(sl_store *s, const char *hex, char ***keys, size_t *n, sl_err *err) {
    *keys = NULL;
    *n = 0;
    sl_store_graph g;
    int rc = sl_store_graph_load(s, &g, err);
    if (rc) return rc;
    json_t *order = json_array();
    rc = walk(s, &g, hex, order, err);
    if (!rc && json_array_size(order)) {
        *keys = calloc(json_array_size(order), sizeof **keys);
        if (!*keys) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < json_array_size(order); i++) {
            (*keys)[i] = strdup(json_string_value(json_array_get(order, i)));
            (*n)++;
        }
    }
    json_decref(order);
    sl_store_graph_free(&g);
    return rc;
}

/* ---- RO-Crate ---- */
static void file_entity(json_t *graph, json_t *files, const char *hex, const char *name, json_t *size,
                        const char *type) {
    char id[80];
    snprintf(id, sizeof id, "#sha256-%s", hex);
    if (json_object_get(files, id)) return;
    json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "@id", id, "@type",
                          !strcmp(type, "tree") ? "Dataset" : "File", "name", name, "sha256", hex);
    if (json_is_integer(size)) json_object_set(f, "contentSize", size);
    json_object_set_new(files, id, json_true());
    json_array_append_new(graph, f);
}

static json_t *ref(const char *id) {
    return json_pack("{s:s}", "@id", id);
}

static json_t *ro_crate(const sl_store_graph *g, const char *hex, json_t *order) {
    json_t *graph = json_array(), *files = json_object(), *apps = json_object();
    json_t *mentions = json_array(), *parts = json_array();
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *process = "https://w3id.org/ro/wfrun/process/0.5";
    json_array_append_new(graph, json_pack("{s:s, s:s, s:o, s:[o,o]}", "@id", "ro-crate-metadata.json",
                                           "@type", "CreativeWork", "about", ref("./"), "conformsTo",
                                           ref("https://w3id.org/ro/crate/1.1"), ref(process)));
    json_t *root =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "@id", "./", "@type", "Dataset", "name",
                  "seqlora provenance", "description", "Every action and input upstream of the artifact",
                  "datePublished", now, "conformsTo", ref(process));
    char about[80];
    int about_action = json_object_get(g->records, hex) != NULL;
    snprintf(about, sizeof about, "#%s-%s", about_action ? "action" : "sha256", hex);
    json_array_append_new(graph, root);
    json_array_append_new(graph, json_pack("{s:s, s:s, s:s, s:s}", "@id", process, "@type", "CreativeWork",
                                           "name", "Process Run Crate", "version", "0.5"));
    size_t i;
    json_t *k;
    json_array_foreach(order, i, k) {
        const char *key = json_string_value(k);
        json_t *r = json_object_get(g->records, key);
        json_t *prov = json_object_get(r, "provenance");
        const char *step = json_string_value(json_object_get(r, "step"));
        char app[160], act[80];
        snprintf(app, sizeof app, "#seqlora-%s-v%lld", step,
                 (long long)json_integer_value(json_object_get(r, "version")));
        snprintf(act, sizeof act, "#action-%s", key);
        if (!json_object_get(apps, app)) {
            json_object_set_new(apps, app, json_true());
            char nm[140];
            snprintf(nm, sizeof nm, "seqlora %s", step);
            json_t *sv = json_object_get(prov, "seqlora_version");
            json_array_append_new(graph, json_pack("{s:s, s:s, s:s, s:s, s:O}", "@id", app, "@type",
                                                   "SoftwareApplication", "name", nm, "url",
                                                   "https://github.com/seqlora/seqlora", "softwareVersion",
                                                   sv ? sv : json_string("unknown")));
        }
        json_t *objects = json_array(), *results = json_array();
        size_t j;
        json_t *f;
        json_array_foreach(json_object_get(r, "input_files"), j, f) {
            const char *d = json_string_value(json_object_get(f, "digest"));
            char nm[4200];
            snprintf(nm, sizeof nm, "%s: %s", json_string_value(json_object_get(f, "role")),
                     json_string_value(json_object_get(f, "path")));
            file_entity(graph, files, d, nm, NULL, json_string_value(json_object_get(f, "type")));
            char id[80];
            snprintf(id, sizeof id, "#sha256-%s", d);
            json_array_append_new(objects, ref(id));
        }
        const char *name;
        json_t *o;
        json_object_foreach(json_object_get(r, "outputs"), name, o) {
            const char *d = json_string_value(json_object_get(o, "digest"));
            file_entity(graph, files, d, name, json_object_get(o, "size"),
                        json_string_value(json_object_get(o, "type")));
            char id[80];
            snprintf(id, sizeof id, "#sha256-%s", d);
            json_array_append_new(results, ref(id));
        }
        char *params = sl_json_canonical(json_object_get(r, "params"));
        char nm[200];
        snprintf(nm, sizeof nm, "seqlora %s (action %.12s)", step, key);
        json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o}", "@id", act, "@type",
                              "CreateAction", "name", nm, "identifier", key, "instrument", ref(app), "object",
                              objects, "result", results, "description", params ? params : "{}",
                              "actionStatus", ref("http://schema.org/CompletedActionStatus"));
        free(params);
        json_t *st = json_object_get(prov, "start"), *en = json_object_get(prov, "end");
        if (st) json_object_set(a, "startTime", st);
        if (en) json_object_set(a, "endTime", en);
        json_array_append_new(graph, a);
        json_array_append_new(mentions, ref(act));
    }
    const char *id;
    json_t *v;
    json_object_foreach(files, id, v) json_array_append_new(parts, ref(id));
    if (!about_action && !json_object_get(files, about)) json_array_append_new(parts, ref(about));
    json_object_set_new(root, "hasPart", parts);
    json_object_set_new(root, "mentions", mentions);
    json_object_set_new(root, "about", ref(about));
    json_decref(files);
    json_decref(apps);
    return json_pack("{s:[s,s], s:o}", "@context", "https://w3id.org/ro/crate/1.1/context",
                     "https://w3id.org/ro/terms/workflow-run/context", "@graph", graph);
}

/* ---- PROV-JSON ---- */
static json_t *prov_json(const sl_store_graph *g, json_t *order) {
    json_t *entity = json_object(), *activity = json_object(), *agent = json_object();
    json_t *used = json_object(), *gen = json_object(), *assoc = json_object();
    size_t i, n = 0;
    json_t *k;
    json_array_foreach(order, i, k) {
        const char *key = json_string_value(k);
        json_t *r = json_object_get(g->records, key);
        json_t *prov = json_object_get(r, "provenance");
        char act[90], id[90], rel[32];
        snprintf(act, sizeof act, "seqlora:action-%s", key);
        char *params = sl_json_canonical(json_object_get(r, "params"));
        json_t *a = json_pack("{s:s, s:s}", "prov:label", json_string_value(json_object_get(r, "step")),
                              "seqlora:params", params ? params : "{}");
        free(params);
        if (json_object_get(prov, "start"))
            json_object_set(a, "prov:startTime", json_object_get(prov, "start"));
        if (json_object_get(prov, "end")) json_object_set(a, "prov:endTime", json_object_get(prov, "end"));
        json_object_set_new(activity, act, a);
        const char *user = json_string_value(json_object_get(prov, "user"));
        if (user && *user) {
            char ag[300];
            snprintf(ag, sizeof ag, "seqlora:user-%s", user);
            json_object_set_new(agent, ag, json_pack("{s:s}", "prov:type", "prov:Person"));
            snprintf(rel, sizeof rel, "_:w%zu", n++);
            json_object_set_new(assoc, rel, json_pack("{s:s, s:s}", "prov:activity", act, "prov:agent", ag));
        }
        size_t j;
        json_t *f;
        json_array_foreach(json_object_get(r, "input_files"), j, f) {
            snprintf(id, sizeof id, "sha256:%s", json_string_value(json_object_get(f, "digest")));
            if (!json_object_get(entity, id))
                json_object_set_new(
                    entity, id,
                    json_pack("{s:s}", "prov:label", json_string_value(json_object_get(f, "path"))));
            snprintf(rel, sizeof rel, "_:u%zu", n++);
            json_object_set_new(used, rel,
                                json_pack("{s:s, s:s, s:s}", "prov:activity", act, "prov:entity", id,
                                          "prov:role", json_string_value(json_object_get(f, "role"))));
        }
        const char *name;
        json_t *o;
        json_object_foreach(json_object_get(r, "outputs"), name, o) {
            snprintf(id, sizeof id, "sha256:%s", json_string_value(json_object_get(o, "digest")));
            json_object_set_new(
                entity, id,
                json_pack("{s:s, s:O}", "prov:label", name, "seqlora:size", json_object_get(o, "size")));
            snprintf(rel, sizeof rel, "_:g%zu", n++);
            json_object_set_new(
                gen, rel,
                json_pack("{s:s, s:s, s:s}", "prov:entity", id, "prov:activity", act, "prov:role", name));
        }
    }
    return json_pack("{s:{s:s, s:s}, s:o, s:o, s:o, s:o, s:o, s:o}", "prefix", "seqlora",
                     "https://github.com/seqlora/seqlora#", "sha256", "urn:sha256:", "entity", entity,
                     "activity", activity, "agent", agent, "used", used, "wasGeneratedBy", gen,
                     "wasAssociatedWith", assoc);
}

int sl_store_prov(sl_store *s, const char *hex, const char *format, json_t **doc, sl_err *err) {
    if (strcmp(format, "ro-crate") && strcmp(format, "prov-json"))
        return sl_err_set(err, SL_EUSAGE, "--format: expected ro-crate or prov-json, got '%s'", format);
    sl_store_graph g;
    int rc = sl_store_graph_load(s, &g, err);
    if (rc) return rc;
    json_t *order = json_array();
    rc = walk(s, &g, hex, order, err);
    if (!rc) {
        *doc = !strcmp(format, "ro-crate") ? ro_crate(&g, hex, order) : prov_json(&g, order);
        if (!*doc) rc = sl_err_set(err, SL_ENOMEM, "cannot build the provenance document");
    }
    json_decref(order);
    sl_store_graph_free(&g);
    return rc;
}
