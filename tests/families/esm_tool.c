/* A test driver for the ESM engine: runs what a JSON spec asks (forward, backward, AdamW steps on given
 * token ids) and writes logits, losses and gradients as JSON, so test_esm_parity.py can compare them with
 * transformers' EsmForSequenceClassification + PEFT + torch.optim.AdamW. Not installed; used by ctest.
 *
 *   esm_tool SPEC.json OUT.json
 *
 * SPEC: {"model_dir", "init_adapter" (opt), "write_adapter" (opt), "seed", "problem_type", "num_labels"
 *        (opt), "lora": {"r", "alpha", "dropout", "targets": [..], "rslora"}, "batches": [{"ids", "mask",
 *        "labels"}], "steps", "lr", "weight_decay", "warmup", "total", "max_grad_norm", "threads"}
 * On a load error OUT.json gets {"error": message} and the exit status is 2 (for the bad-input tests). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/adapter.h"
#include "nn/esm.h"
#include "nn/model.h"
#include "nn/optim.h"
#include "nn/parallel.h"

typedef struct {
    int B, T;
    int32_t *ids, *mask;
    float *labels;
} batch;

static int die(const char *msg, const sl_err *err) {
    fprintf(stderr, "esm_tool: %s%s%s\n", msg, err ? ": " : "", err ? err->msg : "");
    return 1;
}

static void parse_batch(json_t *jb, batch *b, int C, int single) {
    json_t *ids = json_object_get(jb, "ids"), *mask = json_object_get(jb, "mask"),
           *lab = json_object_get(jb, "labels");
    b->B = (int)json_array_size(ids);
    b->T = (int)json_array_size(json_array_get(ids, 0));
    b->ids = calloc((size_t)b->B * b->T, sizeof(int32_t));
    b->mask = calloc((size_t)b->B * b->T, sizeof(int32_t));
    b->labels = calloc((size_t)b->B * C, sizeof(float));
    for (int i = 0; i < b->B; i++)
        for (int t = 0; t < b->T; t++) {
            b->ids[i * b->T + t] = (int32_t)json_integer_value(json_array_get(json_array_get(ids, i), t));
            b->mask[i * b->T + t] = (int32_t)json_integer_value(json_array_get(json_array_get(mask, i), t));
        }
    for (int i = 0; i < b->B && lab; i++) {
        json_t *li = json_array_get(lab, i);
        if (single)
            b->labels[i] = (float)json_number_value(li);
        else
            for (int c = 0; c < C; c++)
                b->labels[i * C + c] =
                    (float)json_number_value(json_is_array(li) ? json_array_get(li, c) : li);
    }
}

static json_t *farr(const float *x, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_real(x[i]));
    return a;
}

int main(int argc, char **argv) {
    if (argc != 3) return die("usage: esm_tool SPEC.json OUT.json", NULL);
    json_error_t je;
    json_t *spec = json_load_file(argv[1], 0, &je);
    if (!spec) return die(je.text, NULL);
    sl_err err = {0};
    json_t *jl = json_object_get(spec, "lora");
    const char *model_dir = json_string_value(json_object_get(spec, "model_dir"));
    sl_nn_lora_spec ls = {0};
    const char *init = json_string_value(json_object_get(spec, "init_adapter"));
    if (init) {
        if (sl_nn_model_adapter_read_config(model_dir, init, &ls, &err)) {
            json_t *o = json_pack("{s:s}", "error", err.msg);
            json_dump_file(o, argv[2], 0);
            json_decref(o);
            json_decref(spec);
            return 2;
        }
    } else {
        ls.r = (int)json_integer_value(json_object_get(jl, "r"));
        ls.alpha = (float)json_number_value(json_object_get(jl, "alpha"));
        ls.dropout = (float)json_number_value(json_object_get(jl, "dropout"));
        ls.use_rslora = json_is_true(json_object_get(jl, "rslora"));
        json_t *tg = json_object_get(jl, "targets");
        const char *names[16];
        size_t nt = json_array_size(tg);
        for (size_t i = 0; i < nt && i < 16; i++) names[i] = json_string_value(json_array_get(tg, i));
        if (sl_nn_esm_lora_targets(names, nt, &ls.targets, &err)) {
            json_t *o = json_pack("{s:s}", "error", err.msg);
            json_dump_file(o, argv[2], 0);
            json_decref(o);
            json_decref(spec);
            return 2;
        }
        size_t off = 0;
        for (size_t i = 0; i < nt && i < 16; i++)
            off += (size_t)snprintf(ls.target_names + off, sizeof ls.target_names - off, "%s%s", i ? "," : "",
                                    names[i]);
    }
    sl_nn_set_threads((int)json_integer_value(json_object_get(spec, "threads")) ?: 1);
    sl_nn_bert_config head = {0}, *hp = NULL;
    const char *pt = json_string_value(json_object_get(spec, "problem_type"));
    json_t *nl = json_object_get(spec, "num_labels");
    if (pt || nl) {
        int p = pt ? sl_nn_problem_parse(pt) : SL_NN_SINGLE_LABEL;
        if (sl_nn_bert_config_set_head(&head, nl ? (int)json_integer_value(nl) : 2, NULL, (sl_nn_problem)p,
                                       &err))
            return die("head", &err);
        hp = &head;
    }
    json_t *jbatches = json_object_get(spec, "batches");
    size_t nb = json_array_size(jbatches);
    int maxB = 1, maxT = 2;
    for (size_t i = 0; i < nb; i++) {
        json_t *ids = json_object_get(json_array_get(jbatches, i), "ids");
        int B = (int)json_array_size(ids), T = (int)json_array_size(json_array_get(ids, 0));
        maxB = B > maxB ? B : maxB;
        maxT = T > maxT ? T : maxT;
    }
    sl_nn_esm *m;
    uint64_t seed = (uint64_t)json_integer_value(json_object_get(spec, "seed"));
    if (sl_nn_esm_load(model_dir, hp, &ls, seed, maxB, maxT, 1, &m, &err) ||
        (init && sl_nn_esm_adapter_load_weights(m, init, &err))) {
        json_t *o = json_pack("{s:s}", "error", err.msg);
        json_dump_file(o, argv[2], 0);
        json_decref(o);
        json_decref(spec);
        sl_nn_bert_config_free(&head);
        return 2;
    }
    const sl_nn_esm_config *cfg = sl_nn_esm_get_config(m);
    int C = cfg->b.num_labels, single = cfg->b.problem == SL_NN_SINGLE_LABEL;
    batch *bs = calloc(nb, sizeof *bs);
    for (size_t i = 0; i < nb; i++) parse_batch(json_array_get(jbatches, i), &bs[i], C, single);
    json_t *out = json_object();
    json_object_set_new(out, "n_train", json_integer((json_int_t)sl_nn_esm_n_train(m)));
    json_object_set_new(out, "n_total", json_integer((json_int_t)sl_nn_esm_n_total(m)));
    float loss;
    sl_nn_esm_zero_grad(m);
    if (sl_nn_esm_forward(m, bs[0].ids, bs[0].mask, bs[0].B, bs[0].T, bs[0].labels, NULL, &loss, &err)) {
        json_t *o = json_pack("{s:s}", "error", err.msg);
        json_dump_file(o, argv[2], 0);
        json_decref(o);
        return 2;
    }
    json_object_set_new(out, "logits", farr(sl_nn_esm_logits(m), (size_t)bs[0].B * C));
    json_object_set_new(out, "loss", json_real(loss));
    if (sl_nn_esm_backward(m, 1.0f, &err)) return die("backward", &err);
    size_t np;
    const sl_nn_param *ps = sl_nn_esm_params(m, &np);
    json_t *grads = json_object();
    for (size_t i = 0; i < np; i++)
        json_object_set_new(grads, ps[i].name, farr(sl_nn_esm_train_grads(m) + ps[i].offset, ps[i].numel));
    json_object_set_new(out, "grads", grads);
    long long steps = json_integer_value(json_object_get(spec, "steps"));
    if (steps > 0) {
        sl_nn_adamw opt;
        if (sl_nn_adamw_init(&opt, sl_nn_esm_n_train(m),
                             json_number_value(json_object_get(spec, "weight_decay")), &err))
            return die("adamw", &err);
        size_t *sizes = calloc(np, sizeof *sizes);
        for (size_t i = 0; i < np; i++) sizes[i] = ps[i].numel;
        double lr = json_number_value(json_object_get(spec, "lr"));
        long long warm = json_integer_value(json_object_get(spec, "warmup")),
                  total = json_integer_value(json_object_get(spec, "total"));
        double clip = json_number_value(json_object_get(spec, "max_grad_norm"));
        json_t *losses = json_array();
        for (long long s = 0; s < steps; s++) {
            batch *b = &bs[s % (long long)nb];
            sl_nn_esm_zero_grad(m);
            if (sl_nn_esm_forward(m, b->ids, b->mask, b->B, b->T, b->labels, NULL, &loss, &err))
                return die("forward", &err);
            if (sl_nn_esm_backward(m, 1.0f, &err)) return die("backward", &err);
            json_array_append_new(losses, json_real(loss));
            sl_nn_clip_grad_norm(sl_nn_esm_train_grads(m), sizes, np, clip);
            sl_nn_adamw_step(&opt, lr * sl_nn_lr_linear_factor(s, warm, total), sl_nn_esm_train_params(m),
                             sl_nn_esm_train_grads(m));
        }
        json_object_set_new(out, "losses", losses);
        if (sl_nn_esm_forward(m, bs[0].ids, bs[0].mask, bs[0].B, bs[0].T, NULL, NULL, NULL, &err))
            return die("forward", &err);
        json_object_set_new(out, "final_logits", farr(sl_nn_esm_logits(m), (size_t)bs[0].B * C));
        free(sizes);
        sl_nn_adamw_free(&opt);
    }
    const char *wa = json_string_value(json_object_get(spec, "write_adapter"));
    if (wa && sl_nn_esm_adapter_write(m, NULL, wa, model_dir, &err)) return die("write adapter", &err);
    if (json_dump_file(out, argv[2], JSON_REAL_PRECISION(9))) return die("cannot write output", NULL);
    json_decref(out);
    json_decref(spec);
    for (size_t i = 0; i < nb; i++) free(bs[i].ids), free(bs[i].mask), free(bs[i].labels);
    free(bs);
    sl_nn_bert_config_free(&head);
    sl_nn_esm_free(m);
    return 0;
}
