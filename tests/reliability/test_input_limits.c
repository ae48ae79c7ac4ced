/* Size limits on model/adapter config files, found by fuzzing (docs/reliability.md):
 *  - config.json "num_labels": 211021020 made sl_nn_bert_config_load loop and allocate for 211 M labels
 *    (1.6 GB, 30 s) before the head's own limit was checked: now SL_EDATA at once;
 *  - adapter_config.json "target_modules": "query+++...+|value" (a 369-byte file) made glibc's regcomp ask
 *    for tens of GB (each '+' copies what it repeats): now every regex from the file is checked by
 *    sl_regex_check (util/regex_guard.h) first, and the read fails with SL_EDATA naming the field.
 * The inputs are also replayed by fuzz_replay_{bert,peft}_config from tests/fuzz/crashes/. Here: the error
 * codes and messages, that ordinary patterns still pass and match as before, and the guard's estimate. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/bert_config.h"
#include "nn/peft_config.h"
#include "test.h"
#include "util/fs.h"
#include "util/regex_guard.h"

static char dir[512];

static const char *write_file(const char *name, const char *text) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

static int full_match(const char *pattern, const char *s) {
    char pat[1024];
    snprintf(pat, sizeof pat, "^(%s)$", pattern);
    regex_t re;
    if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB)) return -1;
    int hit = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return hit;
}

static void regex_guard_estimates(void) {
    /* patterns PEFT users write: accepted, and regcomp still matches as Python's re.fullmatch would */
    const char *ok[] = {".*\\.(query|value)$",
                        "^bert\\.encoder\\.layer\\.[0-9]+\\.attention\\.self\\.(query|key|value)$",
                        ".*(query|key|value)",
                        "layer\\.[0-9]{1,3}\\.attention",
                        "[[:alpha:]_]+\\.dense",
                        "a{2,5}b+c*d?",
                        "(x|y){0,20}",
                        "a{,3}b{2,}",
                        "\\{literal\\}|x{|y{,|{}"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        sl_err err = {0};
        CHECK_EQ_INT(sl_regex_check(ok[i], "test", &err), 0);
    }
    CHECK_EQ_INT(full_match(".*\\.(query|value)", "bert.encoder.layer.0.attention.self.query"), 1);
    CHECK_EQ_INT(full_match(".*\\.(query|value)", "bert.encoder.layer.0.attention.self.key"), 0);
    /* expansions glibc would build: rejected with SL_EDATA */
    char plus[64] = "a";
    memset(plus + 1, '+', 40);
    const char *bad[] = {plus, "((((a){99}){99}){99})",
                         "query++++++++++++++++++++++++++++++++++++++++++|value",
                         "(((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+", "a{100001}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sl_err err = {0};
        CHECK_EQ_INT(sl_regex_check(bad[i], "test", &err), SL_EDATA);
        CHECK(strstr(err.msg, "test: regular expression") != NULL);
    }
    char *huge = malloc(SL_REGEX_MAX_LEN + 2);
    memset(huge, 'a', SL_REGEX_MAX_LEN + 1);
    huge[SL_REGEX_MAX_LEN + 1] = 0;
    sl_err err = {0};
    CHECK_EQ_INT(sl_regex_check(huge, "test", &err), SL_EDATA);
    free(huge);
}

static void bert_config_num_labels(void) {
    sl_nn_bert_config cfg;
    sl_err err = {0};
    const char *p = write_file("config.json", "{\"num_labels\": 211021020}");
    CHECK_EQ_INT(sl_nn_bert_config_load(p, &cfg, &err), SL_EDATA);
    CHECK(strstr(err.msg, "211021020 labels") && strstr(err.msg, "more than 100000"));
    p = write_file("config.json", "{\"num_labels\": 3}");
    CHECK_EQ_INT(sl_nn_bert_config_load(p, &cfg, &err), 0);
    CHECK_EQ_INT(cfg.num_labels, 3);
    sl_nn_bert_config_free(&cfg);
}

static void peft_config_regexes(void) {
    const char *fmt = "{\"peft_type\": \"LORA\", \"r\": 2, %s}";
    char text[1024];
    struct {
        const char *field;
        const char *name; /* expected in the message */
    } bad[] = {
        {"\"target_modules\": \"query++++++++++++++++++++++++++++++++++++++++++|value\"",
         "\"target_modules\""},
        {"\"layers_pattern\": [\"layer\", \"((((a){99}){99}){99})\"]", "\"layers_pattern\""},
        {"\"rank_pattern\": {\"q+++++++++++++++++++++++++\": 4}", "a key of \"rank_pattern\""},
        {"\"alpha_pattern\": {\"((((v){50}){50}){50})\": 8}", "a key of \"alpha_pattern\""},
        {"\"target_modules\": \"(((((query){,99}){,99}){,99}){,99})\"", "\"target_modules\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, fmt, bad[i].field);
        const char *p = write_file("adapter_config.json", text);
        sl_nn_peft_config cfg;
        sl_err err = {0};
        CHECK_EQ_INT(sl_nn_peft_config_read(p, &cfg, &err), SL_EDATA);
        if (!strstr(err.msg, bad[i].name) || !strstr(err.msg, "too complex"))
            fprintf(stderr, "unexpected message: %s\n", err.msg);
        CHECK(strstr(err.msg, bad[i].name) && strstr(err.msg, "too complex") && strstr(err.msg, p));
        sl_nn_peft_config_free(&cfg);
    }
    /* an ordinary regex still reads and selects the same modules */
    snprintf(text, sizeof text, fmt, "\"target_modules\": \".*\\\\.(query|value)\"");
    const char *p = write_file("adapter_config.json", text);
    sl_nn_peft_config cfg;
    sl_err err = {0};
    CHECK_EQ_INT(sl_nn_peft_config_read(p, &cfg, &err), 0);
    CHECK_EQ_INT(sl_nn_peft_config_targets(&cfg, "bert.encoder.layer.0.attention.self.query"), 1);
    CHECK_EQ_INT(sl_nn_peft_config_targets(&cfg, "bert.encoder.layer.0.attention.self.key"), 0);
    sl_nn_peft_config_free(&cfg);
    /* a pattern regcomp refuses (Python-only syntax, unbalanced) is an error naming the field, not a silent
     * "no match" later (review finding F2) */
    const char *invalid[] = {"\"target_modules\": \"(?:query|value)\"", "\"target_modules\": \"query(\"",
                             "\"alpha_pattern\": {\"val[ue\": 8}"};
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        snprintf(text, sizeof text, fmt, invalid[i]);
        p = write_file("adapter_config.json", text);
        sl_err e2 = {0};
        CHECK_EQ_INT(sl_nn_peft_config_read(p, &cfg, &e2), SL_EDATA);
        CHECK(strstr(e2.msg, "not a valid POSIX extended regular expression") && strstr(e2.msg, p));
        sl_nn_peft_config_free(&cfg);
    }
}

int main(void) {
    const char *base = getenv("SEQLORA_TEST_TMP");
    snprintf(dir, sizeof dir, "%s", base ? base : "/tmp/seqlora_input_limits");
    sl_err err = {0};
    if (sl_fs_mkdirs(dir, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    RUN_TEST(regex_guard_estimates);
    RUN_TEST(bert_config_num_labels);
    RUN_TEST(peft_config_regexes);
    return TEST_RESULT();
}
