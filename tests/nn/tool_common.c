/* The shared driver of the engine test tools (tool_common.h). */
#include "tool_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"
#include "nn/optim.h"
#include "nn/parallel.h"

typedef struct {
    int B, T;
    int32_t *ids, *mask;
    float *labels;
} batch;

static int die(const sl_tool_opts *ops, const char *msg, const sl_err *err) {
    fprintf(stderr, "%s: %s%s%s\n", ops->name, msg, err ? ": " : "", err ? err->msg : "");
    return 1;
}

/* A set-up error: {"error": message} in OUT, exit status 2. */
static int fail_json(const char *out_path, const sl_err *err) {
    json_t *o = json_pack("{s:s}", "error", err->msg);
    json_dump_file(o, out_path, 0);
    json_decref(o);
    return 2;
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

/* The LoRA spec: from the init adapter's config, or from SPEC's "lora". */
static int lora_spec(const sl_tool_opts *ops, json_t *spec, const char *model_dir, sl_nn_lora_spec *ls,
                     sl_err *err) {
    memset(ls, 0, sizeof *ls);
    const char *init = json_string_value(json_object_get(spec, "init_adapter"));
    if (init) return sl_nn_model_adapter_read_config(model_dir, init, ls, err);
    json_t *jl = json_object_get(spec, "lora");
    ls->r = (int)json_integer_value(json_object_get(jl, "r"));
    ls->alpha = (float)json_number_value(json_object_get(jl, "alpha"));
    ls->dropout = (float)json_number_value(json_object_get(jl, "dropout"));
    ls->use_rslora = json_is_true(json_object_get(jl, "rslora"));
    ls->train_pooler = json_is_true(json_object_get(jl, "pooler"));
    json_t *tg = json_object_get(jl, "targets");
    const char *names[16];
    size_t nt = json_array_size(tg);
    if (nt > 16) nt = 16;
    for (size_t i = 0; i < nt; i++) names[i] = json_string_value(json_array_get(tg, i));
    int rc = sl_nn_model_lora_targets(model_dir, names, nt, &ls->targets, err);
    if (rc || !ops->keep_target_names) return rc;
    size_t off = 0;
    for (size_t i = 0; i < nt && off < sizeof ls->target_names; i++)
        off += (size_t)snprintf(ls->target_names + off, sizeof ls->target_names - off, "%s%s", i ? "," : "",
                                names[i]);
    return 0;
}

/* AdamW steps on the batches in turn (accum micro-batches a step); the losses and the final logits to OUT. */
static int train(const sl_tool_opts *ops, sl_nn_model *m, json_t *spec, batch *bs, size_t nb, int C,
                 json_t *out) {
    sl_err err = {0};
    size_t np;
    const sl_nn_param *ps = sl_nn_model_params(m, &np);
    sl_nn_adamw opt;
    if (sl_nn_adamw_init(&opt, sl_nn_model_n_train(m),
                         json_number_value(json_object_get(spec, "weight_decay")), &err))
        return die(ops, "adamw", &err);
    size_t *sizes = calloc(np, sizeof *sizes);
    for (size_t i = 0; i < np; i++) sizes[i] = ps[i].numel;
    const double lr = json_number_value(json_object_get(spec, "lr"));
    const long long steps = json_integer_value(json_object_get(spec, "steps")),
                    warm = json_integer_value(json_object_get(spec, "warmup")),
                    total = json_integer_value(json_object_get(spec, "total"));
    const double clip = json_number_value(json_object_get(spec, "max_grad_norm"));
    long long accum = json_integer_value(json_object_get(spec, "accum"));
    if (accum < 1) accum = 1;
    json_t *losses = json_array();
    int rc = 0;
    float loss;
    for (long long s = 0; s < steps && !rc; s++) {
        sl_nn_model_zero_grad(m);
        double lsum = 0;
        for (long long a = 0; a < accum && !rc; a++) {
            batch *b = &bs[(s * accum + a) % (long long)nb];
            if (sl_nn_model_forward(m, b->ids, b->mask, b->B, b->T, b->labels, NULL, &loss, &err))
                rc = die(ops, "forward", &err);
            else if (sl_nn_model_backward(m, 1.0f / (float)accum, &err))
                rc = die(ops, "backward", &err);
            lsum += loss;
        }
        if (rc) break;
        json_array_append_new(losses, json_real(lsum / (double)accum));
        sl_nn_clip_grad_norm(sl_nn_model_train_grads(m), sizes, np, clip);
        sl_nn_adamw_step(&opt, lr * sl_nn_lr_linear_factor(s, warm, total), sl_nn_model_train_params(m),
                         sl_nn_model_train_grads(m));
    }
    json_object_set_new(out, "losses", losses);
    if (!rc && sl_nn_model_forward(m, bs[0].ids, bs[0].mask, bs[0].B, bs[0].T, NULL, NULL, NULL, &err))
        rc = die(ops, "forward", &err);
    if (!rc) json_object_set_new(out, "final_logits", farr(sl_nn_model_logits(m), (size_t)bs[0].B * C));
    free(sizes);
    sl_nn_adamw_free(&opt);
    return rc;
}

int sl_tool_main(int argc, char **argv, const sl_tool_opts *ops) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SPEC.json OUT.json\n", ops->name);
        return 1;
    }
    json_error_t je;
    json_t *spec = json_load_file(argv[1], 0, &je);
    if (!spec) return die(ops, je.text, NULL);
    sl_err err = {0};
    const char *model_dir = json_string_value(json_object_get(spec, "model_dir"));
    const char *init = json_string_value(json_object_get(spec, "init_adapter"));
    sl_nn_lora_spec ls;
    sl_nn_bert_config head = {0}, *hp = NULL;
    sl_nn_model *m = NULL;
    batch *bs = NULL;
    json_t *out = NULL, *jbatches = json_object_get(spec, "batches");
    size_t nb = json_array_size(jbatches);
    int rc = 0;
    if (lora_spec(ops, spec, model_dir, &ls, &err)) {
        rc = fail_json(argv[2], &err);
        goto done;
    }
    sl_nn_set_threads((int)json_integer_value(json_object_get(spec, "threads")) ?: 1);
    const char *pt = json_string_value(json_object_get(spec, "problem_type"));
    json_t *nl = json_object_get(spec, "num_labels");
    if (pt || nl) {
        int p = pt ? sl_nn_problem_parse(pt) : SL_NN_SINGLE_LABEL;
        if (sl_nn_bert_config_set_head(&head, nl ? (int)json_integer_value(nl) : 2, NULL, (sl_nn_problem)p,
                                       &err)) {
            rc = die(ops, "head", &err);
            goto done;
        }
        hp = &head;
    }
    int maxB = 1, maxT = 2;
    for (size_t i = 0; i < nb; i++) {
        json_t *ids = json_object_get(json_array_get(jbatches, i), "ids");
        int B = (int)json_array_size(ids), T = (int)json_array_size(json_array_get(ids, 0));
        maxB = B > maxB ? B : maxB;
        maxT = T > maxT ? T : maxT;
    }
    uint64_t seed = (uint64_t)json_integer_value(json_object_get(spec, "seed"));
    const char *precision = json_string_value(json_object_get(spec, "precision"));
    if (sl_nn_model_load(model_dir, hp, &ls, seed, maxB, maxT, 1, &m, &err) ||
        (init && sl_nn_model_adapter_load_weights(m, init, &err)) ||
        (precision && !strcmp(precision, "bf16") && sl_nn_model_use_bf16(m, &err))) {
        rc = fail_json(argv[2], &err);
        goto done;
    }
    const sl_nn_bert_config *cfg = sl_nn_model_get_config(m);
    const int C = cfg->num_labels, single = cfg->problem == SL_NN_SINGLE_LABEL;
    bs = calloc(nb ? nb : 1, sizeof *bs);
    for (size_t i = 0; i < nb; i++) parse_batch(json_array_get(jbatches, i), &bs[i], C, single);
    out = json_object();
    json_object_set_new(out, "n_train", json_integer((json_int_t)sl_nn_model_n_train(m)));
    char line[256];
    sl_nn_model_trainable_line(m, line, sizeof line);
    json_object_set_new(out, "trainable_line", json_string(line));
    if (ops->extras) ops->extras(m, out);
    /* forward + backward on batch 0: logits, loss, the gradient of every trainable tensor */
    float loss;
    sl_nn_model_zero_grad(m);
    if (sl_nn_model_forward(m, bs[0].ids, bs[0].mask, bs[0].B, bs[0].T, bs[0].labels, NULL, &loss, &err)) {
        rc = fail_json(argv[2], &err);
        goto done;
    }
    json_object_set_new(out, "logits", farr(sl_nn_model_logits(m), (size_t)bs[0].B * C));
    json_object_set_new(out, "loss", json_real(loss));
    if (sl_nn_model_backward(m, 1.0f, &err)) {
        rc = die(ops, "backward", &err);
        goto done;
    }
    size_t np;
    const sl_nn_param *ps = sl_nn_model_params(m, &np);
    json_t *grads = json_object();
    for (size_t i = 0; i < np; i++)
        json_object_set_new(grads, ps[i].name, farr(sl_nn_model_train_grads(m) + ps[i].offset, ps[i].numel));
    json_object_set_new(out, "grads", grads);
    if (json_integer_value(json_object_get(spec, "steps")) > 0 && (rc = train(ops, m, spec, bs, nb, C, out)))
        goto done;
    const char *wa = json_string_value(json_object_get(spec, "write_adapter"));
    if (wa && sl_nn_model_adapter_write(m, NULL, wa, model_dir, &err)) {
        rc = die(ops, "write adapter", &err);
        goto done;
    }
    if (json_dump_file(out, argv[2], JSON_REAL_PRECISION(9))) rc = die(ops, "cannot write output", NULL);
done:
    json_decref(out);
    json_decref(spec);
    for (size_t i = 0; bs && i < nb; i++) free(bs[i].ids), free(bs[i].mask), free(bs[i].labels);
    free(bs);
    sl_nn_bert_config_free(&head);
    sl_nn_model_free(m);
    return rc;
}
