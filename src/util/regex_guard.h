/* A guard for regular expressions that come from input files (PEFT adapter configs: target_modules,
 * layers_pattern, rank_pattern/alpha_pattern keys) before they reach regcomp(3).
 *
 * glibc's regcomp builds a parse tree in which `+` and `{n,m}` copy the expression they repeat, so a
 * short pattern such as "a++++++++++++++++++++++++++++++++++++++++" or "((((a){99}){99}){99})" asks for an
 * exponential number of nodes: tens of gigabytes from a 300-byte config file. */
#ifndef SEQLORA_UTIL_REGEX_GUARD_H
#define SEQLORA_UTIL_REGEX_GUARD_H

#include "util/error.h"

/* The most parse-tree copies a checked pattern may ask for (each atom counts 1; `+` doubles what it
 * repeats, `{n,m}` multiplies it by max(n, m), `*` and `?` keep it). */
#define SL_REGEX_MAX_COST 10000
/* The longest pattern accepted, in bytes. */
#define SL_REGEX_MAX_LEN 4096

/* Check a POSIX extended regular expression before regcomp: 0 when its estimated size is within
 * SL_REGEX_MAX_COST and its length within SL_REGEX_MAX_LEN; otherwise SL_EDATA with a message
 * "<what>: regular expression ..." naming the byte offset where the limit was passed. Only the size is
 * checked, not the syntax (regcomp still reports a malformed pattern). Pure; thread-safe. */
int sl_regex_check(const char *pattern, const char *what, sl_err *err);

#endif
