/* A small driver the peer tests (Python) call to exercise the model-file readers and writers:
 *   nnio_tool st-dump FILE            one line per tensor: name, dtype, shape, then the values as f32 bit
 *                                     patterns (F32/F16/BF16) or the raw bytes in hex (other dtypes);
 *                                     metadata lines "meta<TAB>key<TAB>value" first
 *   nnio_tool st-copy IN OUT          read IN and write its tensors and metadata to OUT with sl_nn_st_write
 *   nnio_tool tok-encode DIR MAXLEN   per stdin line: ids, TAB, attention mask (space separated)
 *   nnio_tool tok-tokenize DIR        per stdin line: ids without specials, truncation or padding
 *   nnio_tool tok-info DIR            vocab size, special ids, model_max_length
 *   nnio_tool pt-dump FILE            as st-dump, for a pytorch_model.bin (state-dict order)
 *   nnio_tool weights-dump DIR        as st-dump, for a model directory (sl_nn_model_weights_open)
 *   nnio_tool pt-convert IN OUT       pytorch_model.bin -> safetensors (sl_nn_pt_to_safetensors)
 *   nnio_tool peft-copy IN OUT        read an adapter_config.json and write it back with
 * sl_nn_peft_config_write nnio_tool peft-targets CONFIG     per stdin line (a module name): 1 when LoRA
 * targets it, else 0 Errors go to stderr with exit status 3 (data) or 1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/peft_config.h"
#include "nn/safetensors.h"
#include "nn/torch_pickle.h"
#include "nn/tokenizer.h"

static int fail(const sl_err *err) {
    fprintf(stderr, "nnio_tool: error: %s\n", err->msg);
    return err->code == SL_EDATA ? 3 : 1;
}

/* Names may hold tabs and newlines: print \\, \t and \n escaped. */
static void print_escaped(const char *s) {
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", stdout);
        else if (*s == '\t')
            fputs("\\t", stdout);
        else if (*s == '\n')
            fputs("\\n", stdout);
        else
            putchar(*s);
    }
}

/* One line: tensor, name, dtype, shape, values (f32 bit patterns for float dtypes, raw hex otherwise).
 * `conv` (may be NULL) holds the float values as the library converted them. */
static void dump_tensor(const sl_nn_st_tensor *t, const float *conv) {
    printf("tensor\t");
    print_escaped(t->name);
    printf("\t%s\t", sl_nn_st_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
    printf("\t");
    const unsigned char *b = t->data;
    if (t->dtype == SL_NN_ST_F32 || t->dtype == SL_NN_ST_F16 || t->dtype == SL_NN_ST_BF16) {
        for (size_t j = 0; j < t->numel; j++) {
            float v;
            if (conv) {
                v = conv[j];
            } else if (t->dtype == SL_NN_ST_F32) {
                memcpy(&v, b + 4 * j, 4);
            } else {
                uint16_t h = (uint16_t)(b[2 * j] | (b[2 * j + 1] << 8));
                v = t->dtype == SL_NN_ST_F16 ? sl_nn_f16_to_f32(h) : sl_nn_bf16_to_f32(h);
            }
            uint32_t u;
            memcpy(&u, &v, 4);
            printf("%s%08x", j ? " " : "", u);
        }
    } else {
        for (size_t j = 0; j < t->nbytes; j++) printf("%02x", b[j]);
    }
    printf("\n");
}

static int st_dump(const char *path, int model_dir) {
    sl_nn_st_file *f;
    sl_err err;
    if (model_dir ? sl_nn_model_weights_open(path, &f, &err) : sl_nn_st_open(path, &f, &err))
        return fail(&err);
    for (size_t i = 0; i < sl_nn_st_metadata_count(f); i++) {
        const char *k, *v;
        sl_nn_st_metadata_at(f, i, &k, &v);
        printf("meta\t");
        print_escaped(k);
        printf("\t");
        print_escaped(v);
        printf("\n");
    }
    for (size_t i = 0; i < sl_nn_st_count(f); i++) {
        const sl_nn_st_tensor *t = sl_nn_st_tensor_at(f, i);
        float *conv = NULL;
        if (t->dtype == SL_NN_ST_F32 || t->dtype == SL_NN_ST_F16 || t->dtype == SL_NN_ST_BF16) {
            conv = malloc((t->numel ? t->numel : 1) * sizeof *conv);
            if (!conv || sl_nn_st_tensor_to_f32(f, t, conv, t->numel, &err)) return fail(&err);
        }
        dump_tensor(t, conv);
        free(conv);
    }
    sl_nn_st_close(f);
    return 0;
}

static int pt_dump(const char *path) {
    sl_nn_pt_file *f;
    sl_err err;
    if (sl_nn_pt_open(path, &f, &err)) return fail(&err);
    for (size_t i = 0; i < sl_nn_pt_count(f); i++) dump_tensor(sl_nn_pt_tensor_at(f, i), NULL);
    sl_nn_pt_close(f);
    return 0;
}

static int st_copy(const char *in, const char *out) {
    sl_nn_st_file *f;
    sl_err err;
    if (sl_nn_st_open(in, &f, &err)) return fail(&err);
    size_t n = sl_nn_st_count(f), nm = sl_nn_st_metadata_count(f);
    sl_nn_st_wtensor *w = calloc(n ? n : 1, sizeof *w);
    const char **meta = calloc(2 * nm + 1, sizeof *meta);
    for (size_t i = 0; i < n; i++) {
        const sl_nn_st_tensor *t = sl_nn_st_tensor_at(f, i);
        w[i] = (sl_nn_st_wtensor){t->name, t->dtype, t->ndim, t->shape, t->data};
    }
    for (size_t i = 0; i < nm; i++) sl_nn_st_metadata_at(f, i, &meta[2 * i], &meta[2 * i + 1]);
    /* a file without __metadata__ is copied without one */
    int rc = sl_nn_st_write(out, w, n, sl_nn_st_has_metadata(f) ? meta : NULL, &err);
    free(w);
    free(meta);
    sl_nn_st_close(f);
    return rc ? fail(&err) : 0;
}

static char *read_line(FILE *in) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, in);
    if (len < 0) {
        free(line);
        return NULL;
    }
    if (len && line[len - 1] == '\n') line[--len] = '\0';
    return line;
}

static int tok_run(const char *dir, int maxlen, int tokenize_only) {
    sl_nn_tokenizer *tok;
    sl_err err;
    if (sl_nn_tokenizer_load(dir, &tok, &err)) return fail(&err);
    int32_t *ids = malloc((size_t)(maxlen > 0 ? maxlen : 1) * sizeof *ids);
    int32_t *mask = malloc((size_t)(maxlen > 0 ? maxlen : 1) * sizeof *mask);
    char *line;
    int rc = 0;
    while ((line = read_line(stdin))) {
        if (tokenize_only) {
            int32_t *all;
            size_t n;
            if (sl_nn_tokenizer_tokenize(tok, line, &all, &n, &err)) {
                rc = fail(&err);
                free(line);
                break;
            }
            for (size_t i = 0; i < n; i++) printf("%s%d", i ? " " : "", all[i]);
            printf("\n");
            free(all);
        } else {
            int n_real;
            if (sl_nn_tokenizer_encode(tok, line, maxlen, ids, mask, &n_real, &err)) {
                rc = fail(&err);
                free(line);
                break;
            }
            for (int i = 0; i < maxlen; i++) printf("%s%d", i ? " " : "", ids[i]);
            printf("\t");
            for (int i = 0; i < maxlen; i++) printf("%s%d", i ? " " : "", mask[i]);
            printf("\t%d\n", n_real);
        }
        free(line);
    }
    free(ids);
    free(mask);
    sl_nn_tokenizer_free(tok);
    return rc;
}

static int tok_info(const char *dir) {
    sl_nn_tokenizer *tok;
    sl_err err;
    if (sl_nn_tokenizer_load(dir, &tok, &err)) return fail(&err);
    const sl_nn_tokenizer_specials *s = sl_nn_tokenizer_special_ids(tok);
    printf("{\"kind\": %d, \"vocab_size\": %d, \"pad\": %d, \"unk\": %d, \"cls\": %d, \"sep\": %d, \"mask\": "
           "%d, "
           "\"model_max_length\": %d}\n",
           (int)sl_nn_tokenizer_get_kind(tok), sl_nn_tokenizer_vocab_size(tok), s->pad, s->unk, s->cls,
           s->sep, s->mask, sl_nn_tokenizer_model_max_length(tok));
    sl_nn_tokenizer_free(tok);
    return 0;
}

static int pt_convert(const char *in, const char *out) {
    sl_err err;
    return sl_nn_pt_to_safetensors(in, out, &err) ? fail(&err) : 0;
}

static int peft_copy(const char *in, const char *out) {
    sl_nn_peft_config c;
    sl_err err;
    int rc = sl_nn_peft_config_read(in, &c, &err);
    if (!rc) rc = sl_nn_peft_config_write(out, &c, &err);
    sl_nn_peft_config_free(&c);
    return rc ? fail(&err) : 0;
}

static int peft_targets(const char *path) {
    sl_nn_peft_config c;
    sl_err err;
    if (sl_nn_peft_config_read(path, &c, &err)) {
        sl_nn_peft_config_free(&c);
        return fail(&err);
    }
    char *line;
    while ((line = read_line(stdin))) {
        int r;
        double alpha;
        sl_nn_peft_config_module_rank(&c, line, &r, &alpha);
        printf("%d %d %.17g\n", sl_nn_peft_config_targets(&c, line), r, alpha);
        free(line);
    }
    sl_nn_peft_config_free(&c);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "st-dump")) return st_dump(argv[2], 0);
    if (argc == 3 && !strcmp(argv[1], "weights-dump")) return st_dump(argv[2], 1);
    if (argc == 4 && !strcmp(argv[1], "st-copy")) return st_copy(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "tok-encode")) return tok_run(argv[2], atoi(argv[3]), 0);
    if (argc == 3 && !strcmp(argv[1], "tok-tokenize")) return tok_run(argv[2], 0, 1);
    if (argc == 3 && !strcmp(argv[1], "tok-info")) return tok_info(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "pt-dump")) return pt_dump(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "pt-convert")) return pt_convert(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "peft-copy")) return peft_copy(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "peft-targets")) return peft_targets(argv[2]);
    fprintf(stderr,
            "usage: nnio_tool st-dump FILE | st-copy IN OUT | tok-encode DIR MAXLEN | tok-tokenize DIR | "
            "tok-info DIR | weights-dump DIR | pt-dump FILE | pt-convert IN OUT | peft-copy IN OUT | "
            "peft-targets CONFIG\n");
    return 2;
}
