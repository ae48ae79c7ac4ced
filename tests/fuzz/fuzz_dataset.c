/* Fuzz target: dataset TSVs of train/predict (src/nn/dataset.h): class discovery, then loading and
 * tokenizing with a DNABERT-style 3-mer WordPiece vocabulary. The first byte picks the problem type
 * (bits 0-1) and whether labels are required (bit 2); the rest is the TSV. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "nn/dataset.h"

static const sl_nn_tokenizer *tokenizer(void) {
    static sl_nn_tokenizer *tok;
    if (tok) return tok;
    char vocab[64 * 4 + 64] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
    const char *b = "ACGT";
    for (int i = 0; i < 64; i++) {
        char k[5] = {b[i / 16], b[i / 4 % 4], b[i % 4], '\n', 0};
        strcat(vocab, k);
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/dnabert3", fz_dir());
    if (mkdir(dir, 0700)) abort();
    fz_file("dnabert3/vocab.txt", vocab, strlen(vocab));
    sl_err err;
    if (sl_nn_tokenizer_load(dir, &tok, &err)) abort();
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    const sl_nn_tokenizer *tok = tokenizer();
    sl_nn_problem problem = (sl_nn_problem)(data[0] % 3);
    int need_labels = (data[0] >> 2) & 1;
    const char *path = fz_file("dataset.tsv", data + 1, size - 1);
    sl_err err;
    sl_nn_bert_config head;
    memset(&head, 0, sizeof head);
    if (problem == SL_NN_REGRESSION) {
        if (sl_nn_bert_config_set_head(&head, 1, NULL, problem, &err)) abort();
    } else {
        char **names = NULL;
        int n = 0;
        if (sl_nn_dataset_classes(path, problem, &names, &n, &err)) {
            if (sl_nn_bert_config_set_head(&head, 2, NULL, problem, &err)) abort();
        } else {
            int rc = sl_nn_bert_config_set_head(&head, n, (const char *const *)names, problem, &err);
            for (int i = 0; i < n; i++) free(names[i]);
            free(names);
            if (rc) return 0;
        }
    }
    sl_nn_dataset ds;
    if (!sl_nn_dataset_load(path, tok, 16, &head, need_labels, &ds, &err)) {
        for (size_t i = 0; i < ds.n; i++)
            for (int j = 0; j < ds.max_len; j++)
                if (ds.ids[i * (size_t)ds.max_len + j] < 0 ||
                    ds.ids[i * (size_t)ds.max_len + j] >= sl_nn_tokenizer_vocab_size(tok))
                    abort(); /* an id outside the vocabulary would index past the embedding table */
        sl_nn_dataset_free(&ds);
    }
    sl_nn_bert_config_free(&head);
    return 0;
}
