/* Internals shared by the tokenizer kinds (tokenizer.c, tokenizer_wordpiece.c, ...). Not a public API. */
#ifndef SEQLORA_NN_TOKENIZER_IMPL_H
#define SEQLORA_NN_TOKENIZER_IMPL_H

#include <jansson.h>

#include "tokenizer.h"
#include "tokenizer_unicode.h"

/* A growable id buffer. */
typedef struct {
    int32_t *v;
    size_t n, cap;
} sl_nn_i32buf;
int sl_nn_i32_push(sl_nn_i32buf *b, int32_t id);

/* token -> id, open addressing (FNV-1a). Keys are owned by the table. */
typedef struct {
    char **keys;
    int32_t *ids;
    size_t cap, n;
} sl_nn_vocab_map;
int sl_nn_vocab_put(sl_nn_vocab_map *m, const char *key, size_t len, int32_t id); /* replaces; -1 on OOM */
int32_t sl_nn_vocab_get(const sl_nn_vocab_map *m, const char *key, size_t len);   /* -1 when absent */
void sl_nn_vocab_free(sl_nn_vocab_map *m);

struct sl_nn_tokenizer {
    sl_nn_tokenizer_kind kind;
    sl_nn_vocab_map vocab;
    char **id_to_token; /* [n_ids]; NULL where an id has no token */
    int32_t n_ids;
    sl_nn_tokenizer_specials sp;
    int32_t bos_id, eos_id; /* what encode puts before / after the tokens (-1: nothing) */
    int model_max_length;
    /* added tokens (the specials and added_tokens_decoder entries): split out of the text before the
     * kind's tokenization, longest match first, as transformers' added-tokens trie does */
    char **added;
    size_t n_added;
    /* WordPiece / BasicTokenizer options */
    int do_lower_case, strip_accents /* -1 unset */, tokenize_chinese_chars, do_basic_tokenize;
    char **never_split;
    size_t n_never_split;
    int max_input_chars_per_word;
    /* the kind's tokenization of a text segment that holds no added token, appending ids */
    int (*tokenize_segment)(const sl_nn_tokenizer *tok, const char *text, size_t len, sl_nn_i32buf *out,
                            sl_err *err);
    void (*free_impl)(void *impl);
    void *impl;
    char *dir; /* for messages */
};

/* Read vocab.txt as transformers' load_vocab: one token per line (only "\n" stripped), id = line index,
 * a repeated token keeps its last id. */
int sl_nn_tok_read_vocab_txt(sl_nn_tokenizer *tok, const char *path, sl_err *err);

/* A token given in tokenizer_config.json / special_tokens_map.json: a string or {"content": ...}. NULL
 * when absent. */
const char *sl_nn_tok_json_token(const json_t *v);

/* Split `text` at added tokens (earliest, then longest match) and tokenize the pieces between them with
 * tok->tokenize_segment, appending to out. */
int sl_nn_tokenizer_tokenize_into(const sl_nn_tokenizer *tok, const char *text, sl_nn_i32buf *out,
                                  sl_err *err);

/* Read an ESM vocab.txt (str.splitlines + strip, as EsmTokenizer) and set up the ESM kind. */
int sl_nn_tok_esm_init(sl_nn_tokenizer *tok, const char *vocab_path, sl_err *err);

/* Set up the BPE kind from a parsed tokenizer.json (`path` for messages): vocabulary, added tokens, unk,
 * merges, pre-tokenizer, and bos_id/eos_id from the post-processor. */
int sl_nn_tok_bpe_init(sl_nn_tokenizer *tok, const json_t *root, const char *path, sl_err *err);

/* Set up the WordPiece kind from the JSON config (may be NULL) after the vocabulary is read. */
int sl_nn_tok_wordpiece_init(sl_nn_tokenizer *tok, const json_t *config, sl_err *err);

#endif
