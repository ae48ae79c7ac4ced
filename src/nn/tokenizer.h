/* Tokenizers of Hugging Face model directories, giving the same ids as transformers / tokenizers.
 *
 * Kinds (chosen by sl_nn_tokenizer_load from the files in the model directory):
 *   - WordPiece (BERT, DNABERT k-mer vocabularies, ProtBERT, BioBERT, PubMedBERT): `vocab.txt` plus the
 *     optional `tokenizer_config.json` (do_lower_case, strip_accents, tokenize_chinese_chars,
 *     do_basic_tokenize, model_max_length / max_len, never_split, added_tokens_decoder) and
 *     `special_tokens_map.json`; same ids as transformers' BertTokenizer. Output: [CLS] tokens [SEP].
 *     tokenizer_class DNATokenizer (DNABERT's own class) never lower-cases, as its code does.
 *   - ESM (ESM-2 amino acids, Nucleotide Transformer 6-mers): `vocab.txt` and tokenizer_class
 *     EsmTokenizer (or, without a class, a vocab.txt holding <cls>); same ids as EsmTokenizer.
 *     Output: <cls> tokens <eos> (no <eos> when eos_token is null; eos_token may name another token).
 *   - BPE (DNABERT-2): `tokenizer.json` with a BPE model, used when tokenizer_class is
 *     PreTrainedTokenizerFast or there is no vocab.txt; same ids as tokenizers / PreTrainedTokenizerFast.
 *     Output: what the post-processor template puts around the sequence ([CLS] tokens [SEP]).
 * docs/models.md lists what each kind reproduces and refuses.
 *
 * Encoding (all kinds): the text is tokenized, truncated to max_length minus the special tokens (the
 * tail is dropped, as truncation=True does), wrapped in the kind's special tokens and padded on the right
 * with the pad id to exactly max_length; attention_mask is 1 for real tokens (specials included) and 0
 * for padding.
 *
 * A loaded tokenizer is immutable: sl_nn_tokenizer_encode may run concurrently from many threads. */
#ifndef SEQLORA_NN_TOKENIZER_H
#define SEQLORA_NN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum {
    SL_NN_TOK_WORDPIECE = 1, /* BertTokenizer */
    SL_NN_TOK_ESM = 2,       /* EsmTokenizer (ESM-2, Nucleotide Transformer) */
    SL_NN_TOK_BPE = 3,       /* tokenizers' BPE model from tokenizer.json (DNABERT-2) */
} sl_nn_tokenizer_kind;

/* Ids of the special tokens; -1 where the vocabulary has none. */
typedef struct sl_nn_tokenizer_specials {
    int32_t pad, unk, cls, sep, mask;
} sl_nn_tokenizer_specials;

typedef struct sl_nn_tokenizer sl_nn_tokenizer;

/* Load the tokenizer of the model directory `model_dir`. Errors name the file and line/field:
 * SL_ENOTFOUND when the directory has no tokenizer files, SL_EDATA for malformed ones (duplicate vocab
 * entries, missing [UNK]/[CLS]/[SEP]/[PAD], bad JSON types). Free with sl_nn_tokenizer_free. */
int sl_nn_tokenizer_load(const char *model_dir, sl_nn_tokenizer **out, sl_err *err);

void sl_nn_tokenizer_free(sl_nn_tokenizer *tok);

sl_nn_tokenizer_kind sl_nn_tokenizer_get_kind(const sl_nn_tokenizer *tok);

/* Encode `text` (UTF-8; invalid UTF-8 is SL_EDATA) into exactly `max_length` ids and mask entries (see
 * above). *n_real (may be NULL) receives the number of non-padding positions. max_length must leave room
 * for the special tokens (>= 2 for WordPiece), else SL_EUSAGE; padding needs a pad token (SL_EDATA when
 * the tokenizer has none). Thread-safe. */
int sl_nn_tokenizer_encode(const sl_nn_tokenizer *tok, const char *text, int max_length, int32_t *ids,
                           int32_t *attention_mask, int *n_real, sl_err *err);

/* The ids of `text` without special tokens, truncation or padding: *ids is malloc'd (caller frees; may be
 * NULL when *n is 0). Thread-safe. */
int sl_nn_tokenizer_tokenize(const sl_nn_tokenizer *tok, const char *text, int32_t **ids, size_t *n,
                             sl_err *err);

/* Number of entries of the vocabulary (the model's vocab_size must be at least this). */
int sl_nn_tokenizer_vocab_size(const sl_nn_tokenizer *tok);

/* The id of `token` ("[MASK]", "ACGTAC", ...), or -1 when it is not in the vocabulary. */
int32_t sl_nn_tokenizer_token_id(const sl_nn_tokenizer *tok, const char *token);

/* The token string of `id`, owned by the tokenizer, or NULL when out of range. */
const char *sl_nn_tokenizer_id_to_token(const sl_nn_tokenizer *tok, int32_t id);

/* The special-token ids. */
const sl_nn_tokenizer_specials *sl_nn_tokenizer_special_ids(const sl_nn_tokenizer *tok);

/* model_max_length from tokenizer_config.json (or max_len), or 0 when the files do not say. */
int sl_nn_tokenizer_model_max_length(const sl_nn_tokenizer *tok);

#endif
