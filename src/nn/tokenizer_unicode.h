/* The Unicode pieces the tokenizers need (internal to src/nn): UTF-8 decoding/encoding, the character
 * classes of the BERT BasicTokenizer, single-character lower-casing as Python's str.lower, and NFD / NFC
 * normalisation as Python's unicodedata.normalize. The tables are generated from Python's unicodedata by
 * tokenizer_unicode_gen.py (sl_nn_uni_version says which Unicode version). All functions are pure and
 * thread-safe. */
#ifndef SEQLORA_NN_TOKENIZER_UNICODE_H
#define SEQLORA_NN_TOKENIZER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum {
    SL_NN_UNI_WS = 1,       /* BERT _is_whitespace: space, \t, \n, \r, category Zs */
    SL_NN_UNI_CTRL = 2,     /* BERT _is_control: category C* except \t \n \r */
    SL_NN_UNI_PUNCT = 4,    /* BERT _is_punctuation: category P* and ASCII 33-47, 58-64, 91-96, 123-126 */
    SL_NN_UNI_MN = 8,       /* category Mn (what strip_accents removes) */
    SL_NN_UNI_PYSPACE = 16, /* Python str.isspace (what str.split splits on) */
    SL_NN_UNI_WORD = 32 /* Rust regex \w: letters, marks, Nd, Nl, Pc, ZWNJ/ZWJ, Other_Alphabetic symbols */
};

typedef struct {
    uint32_t first, last;
    uint8_t flags;
} sl_nn_uni_range;
typedef struct {
    uint32_t cp;
    uint8_t n;
    uint32_t to[4];
} sl_nn_uni_map;
typedef struct {
    uint32_t cp;
    uint8_t ccc;
} sl_nn_uni_ccc;
typedef struct {
    uint32_t a, b, composite;
} sl_nn_uni_pair;

extern const char sl_nn_uni_version[];
extern const sl_nn_uni_range sl_nn_uni_flag_ranges[];
extern const size_t sl_nn_uni_flag_ranges_n;
extern const sl_nn_uni_map sl_nn_uni_lower[];
extern const size_t sl_nn_uni_lower_n;
extern const sl_nn_uni_ccc sl_nn_uni_ccc_table[];
extern const size_t sl_nn_uni_ccc_n;
extern const sl_nn_uni_map sl_nn_uni_nfd_table[];
extern const size_t sl_nn_uni_nfd_table_n;
extern const sl_nn_uni_pair sl_nn_uni_compose[];
extern const size_t sl_nn_uni_compose_n;

/* A growable code-point buffer. */
typedef struct {
    uint32_t *cp;
    size_t n, cap;
} sl_nn_u32buf;

/* Append one code point / n code points; -1 on allocation failure. */
int sl_nn_u32_push(sl_nn_u32buf *b, uint32_t cp);
int sl_nn_u32_append(sl_nn_u32buf *b, const uint32_t *cp, size_t n);
void sl_nn_u32_free(sl_nn_u32buf *b);

/* Decode UTF-8 `s` (len bytes) into `out` (appending). Returns 0, or the byte offset + 1 of the first
 * invalid sequence (overlong forms, surrogates and values above U+10FFFF are invalid, as in Python's
 * strict decoder), or -1 on allocation failure. */
long sl_nn_utf8_decode(const char *s, size_t len, sl_nn_u32buf *out);

/* Encode cp[0..n) as UTF-8 into a malloc'd NUL-terminated string (NULL on allocation failure). */
char *sl_nn_utf8_encode(const uint32_t *cp, size_t n);

/* The SL_NN_UNI_* flags of a code point. */
unsigned sl_nn_uni_flags(uint32_t cp);

/* Python's chr(cp).lower(): writes 1-3 code points to out, returns the count. */
int sl_nn_uni_tolower(uint32_t cp, uint32_t out[3]);

/* The canonical combining class. */
int sl_nn_uni_ccc_of(uint32_t cp);

/* unicodedata.normalize("NFD" / "NFC", ...) of in[0..n) appended to out; -1 on allocation failure. */
int sl_nn_uni_nfd(const uint32_t *in, size_t n, sl_nn_u32buf *out);
int sl_nn_uni_nfc(const uint32_t *in, size_t n, sl_nn_u32buf *out);

#endif
