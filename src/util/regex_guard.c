/* Size estimate of a POSIX ERE as glibc's regcomp expands it (regex_guard.h). A single left-to-right pass
 * with a stack of open groups; each frame holds the cost of the group so far and of its last atom, to
 * which a following repetition applies. */
#include "util/regex_guard.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct {
    double total; /* cost of the group so far */
    double last;  /* cost of its last atom (0: none yet, a repetition has nothing to repeat) */
} frame;

/* Length of the bracket expression starting at p ('['), or 0 when it is not closed. */
static size_t bracket_len(const char *p) {
    size_t i = 1;
    if (p[i] == '^') i++;
    if (p[i] == ']') i++; /* a leading ']' is a literal */
    while (p[i] && p[i] != ']') {
        if (p[i] == '[' && (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
            const char close[3] = {p[i + 1], ']', 0};
            const char *e = strstr(p + i + 2, close);
            if (!e) return 0;
            i = (size_t)(e - p) + 2;
        } else {
            i++;
        }
    }
    return p[i] == ']' ? i + 1 : 0;
}

/* A repeat count's digits at *q (advanced past them): the count, COUNT_NONE when there are no digits,
 * COUNT_HUGE above 100000 (glibc's RE_DUP_MAX is 32767). No sign or space: glibc takes none. */
#define COUNT_NONE (-1L)
#define COUNT_HUGE (-2L)
static long read_count(const char **q) {
    long v = COUNT_NONE;
    for (; **q >= '0' && **q <= '9'; (*q)++) {
        if (v == COUNT_NONE) v = 0;
        if (v != COUNT_HUGE) v = v * 10 + (**q - '0');
        if (v > 100000) v = COUNT_HUGE;
    }
    return v;
}

int sl_regex_check(const char *pattern, const char *what, sl_err *err) {
    size_t len = strlen(pattern);
    if (len > SL_REGEX_MAX_LEN)
        return sl_err_set(err, SL_EDATA, "%s: regular expression of %zu bytes (at most %d)", what, len,
                          SL_REGEX_MAX_LEN);
    frame st[MAX_DEPTH + 1] = {{0, 0}};
    int d = 0;
    for (size_t i = 0; i < len;) {
        const char *p = pattern + i;
        double mult = -1; /* a repetition: the factor it applies to the last atom */
        size_t adv = 1;
        switch (*p) {
            case '(':
                if (d == MAX_DEPTH)
                    return sl_err_set(err, SL_EDATA,
                                      "%s: regular expression nests groups deeper than %d (byte %zu)", what,
                                      MAX_DEPTH, i);
                st[++d] = (frame){0, 0};
                break;
            case ')':
                if (d > 0) {
                    double g = st[d].total + 1;
                    d--;
                    st[d].total += g;
                    st[d].last = g;
                } else { /* an unmatched ')' is an ordinary character in an ERE */
                    st[d].total += 1;
                    st[d].last = 1;
                }
                break;
            case '|':
                st[d].last = 0;
                st[d].total += 1;
                break;
            case '*':
            case '?':
                mult = 1;
                break;
            case '+':
                mult = 2;
                break;
            case '{': {
                /* a bound as glibc's parse_dup_op reads it: '{' [m] [',' [n]] '}', where "{,n}" is the GNU
                 * extension {0,n} and "{m,}" is m copies and a star */
                const char *q = p + 1;
                long lo = read_count(&q), hi = lo;
                const int comma = *q == ',';
                if (comma) {
                    q++;
                    hi = read_count(&q);
                }
                if ((lo == COUNT_NONE && !comma) || *q != '}') { /* not a bound: a literal '{' */
                    st[d].total += 1;
                    st[d].last = 1;
                    break;
                }
                if (lo == COUNT_HUGE || hi == COUNT_HUGE)
                    return sl_err_set(err, SL_EDATA,
                                      "%s: regular expression repeat count out of range (byte %zu)", what, i);
                mult = (double)(hi > lo ? hi : lo);
                if (mult < 1) mult = 1;
                adv = (size_t)(q - p) + 1;
                break;
            }
            case '[': {
                size_t b = bracket_len(p);
                adv = b ? b : 1;
                st[d].total += 1;
                st[d].last = 1;
                break;
            }
            case '\\':
                adv = p[1] ? 2 : 1;
                st[d].total += 1;
                st[d].last = 1;
                break;
            default:
                st[d].total += 1;
                st[d].last = 1;
        }
        if (mult >= 0 && st[d].last > 0) {
            double grown = st[d].last * mult;
            st[d].total += grown - st[d].last;
            st[d].last = grown;
        }
        double sum = 0;
        for (int k = 0; k <= d; k++) sum += st[k].total;
        if (sum > SL_REGEX_MAX_COST)
            return sl_err_set(err, SL_EDATA,
                              "%s: regular expression too complex at byte %zu (nested or large repetitions "
                              "would expand to more than %d copies)",
                              what, i, SL_REGEX_MAX_COST);
        i += adv;
    }
    return 0;
}
