/* Fuzz target: tokenizer loading (vocab.txt, tokenizer_config.json, special_tokens_map.json) and
 * encoding. The input is up to four parts separated by a line "%%" (fuzz_util.h): vocab.txt,
 * tokenizer_config.json, special_tokens_map.json and a text to encode; an empty part means that file is
 * absent. */
#include <stdlib.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "nn/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[4];
    size_t len[4];
    size_t k = fz_split(data, size, part, len, 4);
    const char *dir = fz_path("model");
    if (mkdir(dir, 0700)) abort();
    static const char *const names[3] = {"model/vocab.txt", "model/tokenizer_config.json",
                                         "model/special_tokens_map.json"};
    for (size_t i = 0; i < k && i < 3; i++)
        if (len[i]) fz_file(names[i], part[i], len[i]);
    sl_nn_tokenizer *tok = NULL;
    sl_err err;
    if (sl_nn_tokenizer_load(dir, &tok, &err)) return 0;
    static const char dflt[] = "ACG TGCA acgt [MASK] \xc3\xa9 ##A";
    char *text = k > 3 ? fz_strdup(part[3], len[3]) : fz_strdup((const uint8_t *)dflt, sizeof dflt - 1);
    int32_t ids[64], mask[64];
    sl_nn_tokenizer_encode(tok, text, 64, ids, mask, NULL, &err);
    int real;
    sl_nn_tokenizer_encode(tok, text, 3, ids, mask, &real, &err);
    sl_nn_tokenizer_encode(tok, text, 1, ids, mask, &real, &err);
    int32_t *all = NULL;
    size_t n = 0;
    if (!sl_nn_tokenizer_tokenize(tok, text, &all, &n, &err)) {
        for (size_t i = 0; i < n; i++) (void)sl_nn_tokenizer_id_to_token(tok, all[i]);
        free(all);
    }
    (void)sl_nn_tokenizer_token_id(tok, text);
    (void)sl_nn_tokenizer_id_to_token(tok, -1);
    (void)sl_nn_tokenizer_id_to_token(tok, sl_nn_tokenizer_vocab_size(tok));
    free(text);
    sl_nn_tokenizer_free(tok);
    return 0;
}
