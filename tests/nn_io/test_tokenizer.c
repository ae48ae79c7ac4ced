/* Tokenizer loading and encoding: error paths (missing files, bad vocab/config, invalid UTF-8, too short
 * max_length), truncation and padding, UTF-8 and Unicode helpers. Parity with transformers is in
 * test_tokenizer_peer.py. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/tokenizer.h"
#include "nn/tokenizer_unicode.h"
#include "test.h"
#include "util/fs.h"

static char tmpdir[4096];

static char *model_dir(const char *name, const char *vocab, const char *config) {
    char *d = sl_fs_join(tmpdir, name);
    sl_err err;
    sl_fs_mkdirs(d, &err);
    char *p = sl_fs_join(d, "vocab.txt");
    if (vocab) sl_fs_write_atomic(p, vocab, strlen(vocab), &err);
    free(p);
    p = sl_fs_join(d, "tokenizer_config.json");
    if (config) sl_fs_write_atomic(p, config, strlen(config), &err);
    free(p);
    return d;
}

static const char *VOCAB = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nacg\nt\n##t\n##gt\nhello\n,\n";

static void test_encode(void) {
    char *d = model_dir("basic", VOCAB, "{\"do_lower_case\": true, \"model_max_length\": 1e30}");
    sl_nn_tokenizer *tok = NULL;
    sl_err err;
    int rc = sl_nn_tokenizer_load(d, &tok, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "  %s\n", err.msg);
        free(d);
        return;
    }
    CHECK_EQ_INT(sl_nn_tokenizer_vocab_size(tok), 11);
    CHECK_EQ_INT(sl_nn_tokenizer_model_max_length(tok), 0); /* 1e30 means "no limit" */
    CHECK_EQ_INT(sl_nn_tokenizer_token_id(tok, "[MASK]"), 4);
    CHECK_EQ_INT(sl_nn_tokenizer_token_id(tok, "nope"), -1);
    CHECK_EQ_STR(sl_nn_tokenizer_id_to_token(tok, 9), "hello");
    CHECK(sl_nn_tokenizer_id_to_token(tok, 11) == NULL);
    const sl_nn_tokenizer_specials *sp = sl_nn_tokenizer_special_ids(tok);
    CHECK(sp->pad == 0 && sp->unk == 1 && sp->cls == 2 && sp->sep == 3 && sp->mask == 4);
    int32_t ids[8], mask[8];
    int n;
    CHECK_EQ_INT(sl_nn_tokenizer_encode(tok, "ACGTGT Hello,[MASK] xyz", 8, ids, mask, &n, &err), 0);
    int32_t want[8] = {2, 5, 7, 8, 9, 10, 4, 1};
    /* 9 real tokens ([CLS] acg ##t ##gt hello , [MASK] [UNK] [SEP]) truncated to 8: the tail goes, [SEP]
     * stays */
    want[7] = 3;
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(ids[i], want[i]);
    CHECK_EQ_INT(n, 8);
    CHECK_EQ_INT(sl_nn_tokenizer_encode(tok, "acgt", 6, ids, mask, &n, &err), 0);
    int32_t want2[6] = {2, 5, 7, 3, 0, 0}, mask2[6] = {1, 1, 1, 1, 0, 0};
    for (int i = 0; i < 6; i++) {
        CHECK_EQ_INT(ids[i], want2[i]);
        CHECK_EQ_INT(mask[i], mask2[i]);
    }
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(sl_nn_tokenizer_encode(tok, "", 2, ids, mask, &n, &err), 0);
    CHECK(ids[0] == 2 && ids[1] == 3 && n == 2);
    CHECK_EQ_INT(sl_nn_tokenizer_encode(tok, "acgt", 1, ids, mask, &n, &err), SL_EUSAGE);
    CHECK_EQ_INT(sl_nn_tokenizer_encode(tok, "ab\xff", 8, ids, mask, &n, &err), SL_EDATA);
    CHECK(strstr(err.msg, "UTF-8") != NULL);
    int32_t *all;
    size_t na;
    CHECK_EQ_INT(sl_nn_tokenizer_tokenize(tok, "t t", &all, &na, &err), 0);
    CHECK(na == 2 && all[0] == 6 && all[1] == 6);
    free(all);
    sl_nn_tokenizer_free(tok);
    free(d);
}

static void test_dnatokenizer_never_lowercases(void) {
    /* DNABERT's own DNATokenizer class ignores do_lower_case (tokenization_dna.py's BasicTokenizer never
     * lower-cases), so "ACG" stays a k-mer; a BertTokenizer config with the same flag lower-cases it */
    const char *vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nACG\n";
    char *d1 = model_dir("dnatok", vocab, "{\"tokenizer_class\": \"DNATokenizer\", \"do_lower_case\": true}");
    char *d2 =
        model_dir("berttok", vocab, "{\"tokenizer_class\": \"BertTokenizer\", \"do_lower_case\": true}");
    sl_nn_tokenizer *a = NULL, *b = NULL;
    sl_err err;
    int32_t *ids;
    size_t n;
    CHECK_EQ_INT(sl_nn_tokenizer_load(d1, &a, &err), 0);
    CHECK_EQ_INT(sl_nn_tokenizer_load(d2, &b, &err), 0);
    if (a && b) {
        CHECK_EQ_INT(sl_nn_tokenizer_tokenize(a, "ACG", &ids, &n, &err), 0);
        CHECK(n == 1 && ids[0] == 5);
        free(ids);
        CHECK_EQ_INT(sl_nn_tokenizer_tokenize(b, "ACG", &ids, &n, &err), 0);
        CHECK(n == 1 && ids[0] == 1);
        free(ids);
    }
    sl_nn_tokenizer_free(a);
    sl_nn_tokenizer_free(b);
    free(d1);
    free(d2);
}

/* Concurrent encode calls on one tokenizer give the sequential results. */
enum { N_TEXTS = 64, N_THREADS = 4, MAXLEN = 24 };
typedef struct {
    const sl_nn_tokenizer *tok;
    char texts[N_TEXTS][128];
    int32_t want[N_TEXTS][MAXLEN];
    int bad;
} conc_ctx;

static void *conc_worker(void *arg) {
    conc_ctx *c = arg;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N_TEXTS; i++) {
            int32_t ids[MAXLEN], mask[MAXLEN];
            sl_err err;
            if (sl_nn_tokenizer_encode(c->tok, c->texts[i], MAXLEN, ids, mask, NULL, &err) ||
                memcmp(ids, c->want[i], sizeof ids))
                __atomic_add_fetch(&c->bad, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

static void test_concurrent_encode(void) {
    char *d = model_dir("conc", VOCAB, "{\"do_lower_case\": true}");
    static conc_ctx c;
    sl_err err;
    sl_nn_tokenizer *tok = NULL;
    CHECK_EQ_INT(sl_nn_tokenizer_load(d, &tok, &err), 0);
    free(d);
    if (!tok) return;
    c.tok = tok;
    c.bad = 0;
    const char *words[] = {"acgt", "Hello", ",", "[MASK]", "t", "ACG", "x\xc3\xa9", "gt"};
    for (int i = 0; i < N_TEXTS; i++) {
        c.texts[i][0] = '\0';
        for (int k = 0; k <= i % 9; k++) {
            strcat(c.texts[i], words[(i * 7 + k * 3) % 8]);
            strcat(c.texts[i], k % 2 ? " " : "");
        }
        CHECK_EQ_INT(sl_nn_tokenizer_encode(tok, c.texts[i], MAXLEN, c.want[i], NULL, NULL, &err), 0);
    }
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) pthread_create(&th[t], NULL, conc_worker, &c);
    for (int t = 0; t < N_THREADS; t++) pthread_join(th[t], NULL);
    CHECK_EQ_INT(c.bad, 0);
    sl_nn_tokenizer_free(tok);
}

static void expect_load_error(const char *name, const char *vocab, const char *config, int code,
                              const char *want) {
    char *d = model_dir(name, vocab, config);
    sl_nn_tokenizer *tok = (sl_nn_tokenizer *)1;
    sl_err err;
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_nn_tokenizer_load(d, &tok, &err), code);
    CHECK(tok == NULL);
    if (!strstr(err.msg, want)) {
        fprintf(stderr, "  %s: message \"%s\" lacks \"%s\"\n", name, err.msg, want);
        test_failures++;
    }
    free(d);
}

static void test_load_errors(void) {
    expect_load_error("empty_dir", NULL, NULL, SL_ENOTFOUND, "vocab.txt");
    expect_load_error("no_unk", "[PAD]\n[CLS]\n[SEP]\na\n", NULL, SL_EDATA,
                      "\"[UNK]\" is not in the vocabulary");
    expect_load_error("bad_json", VOCAB, "{\"do_lower_case\": ", SL_EDATA, "tokenizer_config.json");
    expect_load_error("bad_type", VOCAB, "{\"do_lower_case\": \"yes\"}", SL_EDATA,
                      "\"do_lower_case\" must be true");
    expect_load_error("bad_never", VOCAB, "{\"never_split\": [1]}", SL_EDATA, "never_split[0]");
    expect_load_error("bad_class", VOCAB, "{\"tokenizer_class\": \"XLNetTokenizer\"}", SL_EDATA,
                      "XLNetTokenizer");
    expect_load_error("bad_utf8", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xc3\x28\n", NULL, SL_EDATA, "vocab.txt:5");
    expect_load_error("added_mismatch", VOCAB,
                      "{\"added_tokens_decoder\": {\"7\": {\"content\": \"[MASK]\"}}}", SL_EDATA,
                      "added token \"[MASK]\" has id 7");
}

static void test_unicode(void) {
    sl_nn_u32buf b = {0}, c = {0};
    CHECK_EQ_INT(sl_nn_utf8_decode("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", 10, &b), 0);
    CHECK(b.n == 4 && b.cp[0] == 'a' && b.cp[1] == 0xe9 && b.cp[2] == 0x4e2d && b.cp[3] == 0x1f600);
    char *s = sl_nn_utf8_encode(b.cp, b.n);
    CHECK_EQ_STR(s, "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80");
    free(s);
    b.n = 0;
    CHECK_EQ_INT(sl_nn_utf8_decode("\xc0\xaf", 2, &b), 1);         /* overlong */
    CHECK_EQ_INT(sl_nn_utf8_decode("ab\xed\xa0\x80", 5, &b), 3);   /* surrogate */
    CHECK_EQ_INT(sl_nn_utf8_decode("\xf4\x90\x80\x80", 4, &b), 1); /* > U+10FFFF */
    CHECK_EQ_INT(sl_nn_utf8_decode("\xe4\xb8", 2, &b), 1);         /* truncated */
    /* NFC of e + combining acute + cedilla (reordered), Hangul jamo, NFD of U+1E09 */
    uint32_t in[] = {'e', 0x301, 0x327, 0x1100, 0x1161, 0x11a8};
    b.n = 0;
    CHECK_EQ_INT(sl_nn_uni_nfc(in, 6, &b), 0);
    CHECK(b.n == 3 && b.cp[0] == 0x229 && b.cp[1] == 0x301 && b.cp[2] == 0xac01);
    uint32_t one = 0x1e09;
    CHECK_EQ_INT(sl_nn_uni_nfd(&one, 1, &c), 0);
    CHECK(c.n == 3 && c.cp[0] == 'c' && c.cp[1] == 0x327 && c.cp[2] == 0x301);
    uint32_t low[3];
    CHECK_EQ_INT(sl_nn_uni_tolower(0x130, low), 2); /* İ -> i + combining dot */
    CHECK(low[0] == 'i' && low[1] == 0x307);
    CHECK(sl_nn_uni_flags(0x3000) & SL_NN_UNI_WS);
    CHECK(sl_nn_uni_flags('$') & SL_NN_UNI_PUNCT);
    CHECK(sl_nn_uni_flags(0x200b) & SL_NN_UNI_CTRL);
    CHECK(!(sl_nn_uni_flags(0x2028) & SL_NN_UNI_WS) && (sl_nn_uni_flags(0x2028) & SL_NN_UNI_PYSPACE));
    sl_nn_u32_free(&b);
    sl_nn_u32_free(&c);
}

int main(void) {
    const char *base = getenv("SEQLORA_TEST_TMP");
    if (!base) base = "/tmp";
    sl_err err;
    sl_fs_mkdirs(base, &err);
    char *dir = NULL;
    if (sl_fs_mkdtemp(base, "tok-", &dir, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "%s", dir);
    RUN_TEST(test_encode);
    RUN_TEST(test_dnatokenizer_never_lowercases);
    RUN_TEST(test_concurrent_encode);
    RUN_TEST(test_load_errors);
    RUN_TEST(test_unicode);
    sl_fs_remove_tree(dir, &err);
    free(dir);
    return TEST_RESULT();
}
