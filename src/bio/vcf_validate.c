/* VCF 4.2 text validation (see vcf_validate.h). The rules and the corner cases accepted follow the
 * specification and the hts-specs 4.2 conformance corpus (tests/data/hts-specs-vcf). */
#include "vcf_validate.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NUM_FIXED = 0, NUM_A, NUM_R, NUM_G, NUM_VAR };
enum { TY_INTEGER = 0, TY_FLOAT, TY_FLAG, TY_CHARACTER, TY_STRING };

typedef struct {
    char id[64];
    int is_format;
    int number_kind; /* NUM_* */
    int number;      /* for NUM_FIXED */
    int type;        /* TY_* */
} tag_def;

struct sl_bio_vcf_validator {
    char *path;
    int seen_fileformat;
    int minor; /* 4.<minor> */
    int seen_chrom_line;
    int nsamples;
    tag_def *defs;
    size_t ndefs, cap_defs;
    /* order checks: contigs already finished, current contig and position */
    char **done_contigs;
    size_t ndone, cap_done;
    char cur_chrom[256];
    long long cur_pos;
    char last_key[1024]; /* "chrom\tpos\tref\talt" of the previous record, for exact duplicates */
};

/* The spec's predefined keys (VCF 4.2 §1.4.2 and §1.4.3). */
static const tag_def reserved[] = {
    {"AA", 0, NUM_FIXED, 1, TY_STRING},
    {"AC", 0, NUM_A, 0, TY_INTEGER},
    {"AF", 0, NUM_A, 0, TY_FLOAT},
    {"AN", 0, NUM_FIXED, 1, TY_INTEGER},
    {"BQ", 0, NUM_FIXED, 1, TY_FLOAT},
    {"CIGAR", 0, NUM_A, 0, TY_STRING},
    {"DB", 0, NUM_FIXED, 0, TY_FLAG},
    {"DP", 0, NUM_FIXED, 1, TY_INTEGER},
    {"END", 0, NUM_FIXED, 1, TY_INTEGER},
    {"H2", 0, NUM_FIXED, 0, TY_FLAG},
    {"H3", 0, NUM_FIXED, 0, TY_FLAG},
    {"MQ", 0, NUM_FIXED, 1, -1},
    {"MQ0", 0, NUM_FIXED, 1, TY_INTEGER},
    {"NS", 0, NUM_FIXED, 1, TY_INTEGER},
    {"SB", 0, NUM_VAR, 0, -1},
    {"SOMATIC", 0, NUM_FIXED, 0, TY_FLAG},
    {"VALIDATED", 0, NUM_FIXED, 0, TY_FLAG},
    {"1000G", 0, NUM_FIXED, 0, TY_FLAG},
    {"AD", 1, NUM_R, 0, TY_INTEGER},
    {"ADF", 1, NUM_R, 0, TY_INTEGER},
    {"ADR", 1, NUM_R, 0, TY_INTEGER},
    {"DP", 1, NUM_FIXED, 1, TY_INTEGER},
    {"EC", 1, NUM_A, 0, TY_INTEGER},
    {"FT", 1, NUM_FIXED, 1, TY_STRING},
    {"GL", 1, NUM_G, 0, TY_FLOAT},
    {"GLE", 1, NUM_G, 0, TY_STRING},
    {"GP", 1, NUM_G, 0, TY_FLOAT},
    {"GQ", 1, NUM_FIXED, 1, TY_INTEGER},
    {"GT", 1, NUM_FIXED, 1, TY_STRING},
    {"HQ", 1, NUM_FIXED, 2, TY_INTEGER},
    {"MQ", 1, NUM_FIXED, 1, TY_INTEGER},
    {"PL", 1, NUM_G, 0, TY_INTEGER},
    {"PQ", 1, NUM_FIXED, 1, TY_INTEGER},
    {"PS", 1, NUM_FIXED, 1, TY_INTEGER},
};
/* Reserved INFO keys whose values are counts (must be >= 0). */
static const char *const nonneg_info[] = {"AC", "AN", "DP", "END", "MQ0", "NS", "AF", NULL};

static const char *const type_names[] = {"Integer", "Float", "Flag", "Character", "String"};

sl_bio_vcf_validator *sl_bio_vcf_validator_new(const char *path) {
    sl_bio_vcf_validator *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->path = strdup(path ? path : "<vcf>");
    if (!v->path) {
        free(v);
        return NULL;
    }
    v->cur_pos = -1;
    return v;
}

void sl_bio_vcf_validator_free(sl_bio_vcf_validator *v) {
    if (!v) return;
    free(v->path);
    free(v->defs);
    for (size_t i = 0; i < v->ndone; i++) free(v->done_contigs[i]);
    free(v->done_contigs);
    free(v);
}

int sl_bio_vcf_validator_nsamples(const sl_bio_vcf_validator *v) {
    return v->nsamples;
}

static const tag_def *find_def(const sl_bio_vcf_validator *v, const char *id, size_t idlen, int is_format) {
    for (size_t i = v->ndefs; i-- > 0;)
        if (v->defs[i].is_format == is_format && strlen(v->defs[i].id) == idlen &&
            !memcmp(v->defs[i].id, id, idlen))
            return &v->defs[i];
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (reserved[i].is_format == is_format && strlen(reserved[i].id) == idlen &&
            !memcmp(reserved[i].id, id, idlen))
            return &reserved[i];
    return NULL;
}

static const tag_def *find_reserved(const char *id, int is_format) {
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (reserved[i].is_format == is_format && !strcmp(reserved[i].id, id)) return &reserved[i];
    return NULL;
}

/* ---- header ---------------------------------------------------------------------------------------- */

#define MAX_FIELDS 32
typedef struct {
    char key[MAX_FIELDS][64];
    char val[MAX_FIELDS][512];
    int quoted[MAX_FIELDS];
    int n;
} struct_fields;

/* Parse "<k=v,k="v",...>" (the text between the angle brackets is `s`, length n). */
static int parse_structured(const char *s, size_t n, struct_fields *f, const char **why) {
    f->n = 0;
    size_t i = 0;
    if (n == 0) {
        *why = "empty structured value '<>'";
        return -1;
    }
    while (i < n) {
        if (f->n == MAX_FIELDS) {
            *why = "too many fields";
            return -1;
        }
        size_t k0 = i;
        while (i < n && s[i] != '=' && s[i] != ',') i++;
        if (i == n || s[i] != '=' || i == k0) {
            *why = "a field is not key=value";
            return -1;
        }
        size_t klen = i - k0;
        if (klen >= sizeof f->key[0]) klen = sizeof f->key[0] - 1;
        memcpy(f->key[f->n], s + k0, klen);
        f->key[f->n][klen] = 0;
        for (size_t j = 0; j < klen; j++)
            if (isspace((unsigned char)f->key[f->n][j])) {
                *why = "a field key contains whitespace";
                return -1;
            }
        i++; /* '=' */
        size_t vlen = 0;
        char *out = f->val[f->n];
        f->quoted[f->n] = 0;
        if (i < n && s[i] == '"') {
            f->quoted[f->n] = 1;
            i++;
            int closed = 0;
            while (i < n) {
                if (s[i] == '\\' && i + 1 < n) {
                    if (vlen + 1 < sizeof f->val[0]) out[vlen++] = s[i + 1];
                    i += 2;
                    continue;
                }
                if (s[i] == '"') {
                    closed = 1;
                    i++;
                    break;
                }
                if (vlen + 1 < sizeof f->val[0]) out[vlen++] = s[i];
                i++;
            }
            if (!closed) {
                *why = "a quoted value is not closed";
                return -1;
            }
            if (i < n && s[i] != ',') {
                *why = "text after a closing quote (unescaped quote inside a value?)";
                return -1;
            }
        } else {
            while (i < n && s[i] != ',') {
                if (s[i] == '"') {
                    *why = "a quote inside an unquoted value";
                    return -1;
                }
                if (vlen + 1 < sizeof f->val[0]) out[vlen++] = s[i];
                i++;
            }
        }
        out[vlen] = 0;
        f->n++;
        if (i < n) i++; /* ',' */
    }
    return 0;
}

static const char *field(const struct_fields *f, const char *key, int *quoted) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->key[i], key)) {
            if (quoted) *quoted = f->quoted[i];
            return f->val[i];
        }
    return NULL;
}

static int valid_tag_id(const char *id) {
    if (!strcmp(id, "1000G")) return 1;
    if (!(isalpha((unsigned char)id[0]) || id[0] == '_')) return 0;
    for (const char *p = id; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.')) return 0;
    return 1;
}

static int hdr_err(sl_bio_vcf_validator *v, long lineno, sl_err *err, const char *fmt, const char *a,
                   const char *b) {
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    return sl_err_set(err, SL_EDATA, "%s:%ld: header: %s", v->path, lineno, msg);
}

static int check_tag_line(sl_bio_vcf_validator *v, const struct_fields *f, int is_format, long lineno,
                          sl_err *err) {
    const char *what = is_format ? "FORMAT" : "INFO";
    int q = 0;
    const char *id = field(f, "ID", NULL), *num = field(f, "Number", NULL), *type = field(f, "Type", NULL),
               *desc = field(f, "Description", &q);
    if (!id || !num || !type || !desc)
        return hdr_err(v, lineno, err, "%s line needs ID, Number, Type and Description", what, NULL);
    if (!valid_tag_id(id)) return hdr_err(v, lineno, err, "%s ID '%s' is not a valid key", what, id);
    if (v->minor >= 2 && (f->n < 4 || strcmp(f->key[0], "ID") || strcmp(f->key[1], "Number") ||
                          strcmp(f->key[2], "Type") || strcmp(f->key[3], "Description")))
        return hdr_err(v, lineno, err,
                       "%s %s: the fields must come in the order ID, Number, Type, Description", what, id);
    if (!q && v->minor >= 2)
        return hdr_err(v, lineno, err, "%s %s: Description must be a double-quoted string", what, id);
    tag_def d;
    memset(&d, 0, sizeof d);
    snprintf(d.id, sizeof d.id, "%s", id);
    d.is_format = is_format;
    if (!strcmp(num, "A"))
        d.number_kind = NUM_A;
    else if (!strcmp(num, "R"))
        d.number_kind = NUM_R;
    else if (!strcmp(num, "G"))
        d.number_kind = NUM_G;
    else if (!strcmp(num, "."))
        d.number_kind = NUM_VAR;
    else {
        char *end;
        errno = 0;
        long n = strtol(num, &end, 10);
        if (!errno && !*end && end != num && n < 0 && v->minor < 2)
            n = -1; /* old samtools wrote Number=-1 for '.' */
        if (n == -1) {
            d.number_kind = NUM_VAR;
        } else if (errno || *end || end == num || n < 0 || n > 1000000)
            return hdr_err(v, lineno, err, "%s Number '%s' is not an integer >= 0, A, R, G or '.'", what,
                           num);
        else {
            d.number_kind = NUM_FIXED;
            d.number = (int)n;
        }
    }
    d.type = -1;
    for (int t = 0; t < 5; t++)
        if (!strcmp(type, type_names[t])) d.type = t;
    if (d.type < 0 || (is_format && d.type == TY_FLAG))
        return hdr_err(v, lineno, err,
                       is_format ? "FORMAT Type '%s' is not Integer, Float, Character or String%s"
                                 : "INFO Type '%s' is not Integer, Float, Flag, Character or String%s",
                       type, NULL);
    if (d.type == TY_FLAG && d.number_kind == NUM_FIXED && d.number != 0)
        return hdr_err(v, lineno, err, "INFO %s is a Flag and needs Number=0, not %s", id, num);
    /* VCF 4.0/4.1 tools declared some reserved keys differently (GL Number=3, AD Number=.); the 4.2 table is
     * enforced for 4.2 and later files. */
    const tag_def *r = v->minor >= 2 ? find_reserved(id, is_format) : NULL;
    if (r) {
        int num_ok =
            r->number_kind == d.number_kind && (r->number_kind != NUM_FIXED || r->number == d.number);
        if (!num_ok)
            return hdr_err(v, lineno, err, "reserved key %s has a Number (%s) other than the specification's",
                           id, num);
        if (r->type >= 0 && r->type != d.type)
            return hdr_err(v, lineno, err, "reserved key %s has a Type (%s) other than the specification's",
                           id, type);
    }
    if (v->ndefs == v->cap_defs) {
        size_t nc = v->cap_defs ? 2 * v->cap_defs : 32;
        tag_def *nd = realloc(v->defs, nc * sizeof *nd);
        if (!nd) return sl_err_set(err, SL_ENOMEM, "out of memory");
        v->defs = nd;
        v->cap_defs = nc;
    }
    v->defs[v->ndefs++] = d;
    return 0;
}

static int contig_name_ok(const char *s, int in_body) {
    if (!*s) return 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (isspace(c) || c == ',' || c == ':' || c == '"' || c == '\'' || !isprint(c)) return 0;
        if (!in_body && (c == '<' || c == '>')) return 0;
    }
    if (in_body && (s[0] == '<' || strchr(s, '>'))) {
        /* a symbolic contig "<ID>" is fine as a whole; stray brackets are not */
        size_t n = strlen(s);
        if (!(s[0] == '<' && s[n - 1] == '>' && n > 2)) return 0;
        for (size_t i = 1; i + 1 < n; i++)
            if (s[i] == '<' || s[i] == '>') return 0;
    }
    return 1;
}

static int check_chrom_line(sl_bio_vcf_validator *v, const char *line, long lineno, sl_err *err) {
    static const char *const cols[] = {"#CHROM", "POS",    "ID",   "REF",   "ALT",
                                       "QUAL",   "FILTER", "INFO", "FORMAT"};
    const char *p = line;
    int col = 0;
    char **names = NULL;
    int nnames = 0, rc = 0;
    while (1) {
        const char *t = strchr(p, '\t');
        size_t len = t ? (size_t)(t - p) : strlen(p);
        if (col < 9) {
            if (strlen(cols[col]) != len || memcmp(cols[col], p, len)) {
                char got[128];
                snprintf(got, sizeof got, "%.*s", (int)(len < 100 ? len : 100), p);
                rc = hdr_err(v, lineno, err, "#CHROM line: expected column '%s', found '%s'", cols[col], got);
                goto done;
            }
        } else {
            if (len == 0) {
                rc = hdr_err(v, lineno, err, "#CHROM line: empty sample name%s%s", NULL, NULL);
                goto done;
            }
            char *nm = strndup(p, len);
            char **nn = realloc(names, (size_t)(nnames + 1) * sizeof *nn);
            if (!nm || !nn) {
                free(nm);
                if (nn) names = nn;
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            names = nn;
            for (int i = 0; i < nnames; i++)
                if (!strcmp(names[i], nm)) {
                    rc = hdr_err(v, lineno, err, "sample name '%s' appears more than once%s", nm, NULL);
                    free(nm);
                    goto done;
                }
            names[nnames++] = nm;
        }
        col++;
        if (!t) break;
        p = t + 1;
    }
    if (col < 8 || col == 9) {
        rc = hdr_err(v, lineno, err,
                     "#CHROM line: expected 8 columns, or FORMAT followed by sample names%s%s", NULL, NULL);
        goto done;
    }
    v->nsamples = nnames;
    v->seen_chrom_line = 1;
done:
    for (int i = 0; i < nnames; i++) free(names[i]);
    free(names);
    return rc;
}

int sl_bio_vcf_validate_header_line(sl_bio_vcf_validator *v, const char *line, long lineno, sl_err *err) {
    if (!v->seen_fileformat) {
        if (strncmp(line, "##fileformat=", 13) != 0)
            return hdr_err(v, lineno, err, "the first line must be ##fileformat=VCFv4.x%s%s", NULL, NULL);
        const char *ver = line + 13;
        if (strncmp(ver, "VCFv4.", 6) != 0 || !isdigit((unsigned char)ver[6]) || ver[7] != 0)
            return hdr_err(v, lineno, err, "fileformat '%s' is not VCFv4.x (no spaces)%s", ver, NULL);
        v->seen_fileformat = 1;
        v->minor = ver[6] - '0';
        return 0;
    }
    if (v->seen_chrom_line)
        return hdr_err(v, lineno, err, "header line after the #CHROM line%s%s", NULL, NULL);
    if (line[0] == '#' && line[1] != '#') return check_chrom_line(v, line, lineno, err);
    if (strncmp(line, "##", 2) != 0)
        return hdr_err(v, lineno, err, "expected a ## meta line or the #CHROM line%s%s", NULL, NULL);
    const char *eq = strchr(line + 2, '=');
    if (!eq || eq == line + 2) return hdr_err(v, lineno, err, "meta line is not ##key=value%s%s", NULL, NULL);
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(eq - line - 2 < 127 ? eq - line - 2 : 127), line + 2);
    for (const char *k = key; *k; k++)
        if (!(isalnum((unsigned char)*k) || *k == '_' || *k == '.' || *k == '-'))
            return hdr_err(v, lineno, err,
                           "meta key '%s' has a character other than letters, digits, '_', '.', '-'", key,
                           NULL);
    const char *val = eq + 1;
    size_t vlen = strlen(val);
    if (vlen == 0) return hdr_err(v, lineno, err, "meta line ##%s= has an empty value%s", key, NULL);
    if (val[0] != '<') {
        if (!strcmp(key, "INFO") || !strcmp(key, "FORMAT") || !strcmp(key, "FILTER") || !strcmp(key, "ALT") ||
            !strcmp(key, "contig") || !strcmp(key, "SAMPLE") || !strcmp(key, "PEDIGREE"))
            return hdr_err(v, lineno, err, "##%s needs a structured value <...>%s", key, NULL);
        if (!strcmp(key, "pedigreeDB") || !strcmp(key, "assembly")) {
            /* a URL: scheme://host[:port]/... with a host that is not a bare port number */
            const char *s = strstr(val, "://");
            if (s) {
                const char *h = s + 3, *hend = h;
                while (*hend && *hend != '/' && *hend != ':') hend++;
                int all_digits = hend > h;
                for (const char *c = h; c < hend; c++)
                    if (!isdigit((unsigned char)*c)) all_digits = 0;
                if (hend == h || (all_digits && *hend == ':'))
                    return hdr_err(v, lineno, err, "##%s: '%s' is not a valid URL", key, val);
            }
        }
        return 0;
    }
    if (val[vlen - 1] != '>')
        return hdr_err(v, lineno, err, "##%s=<...> is not closed with '>'%s", key, NULL);
    static const char *const structured[] = {"INFO",   "FORMAT",   "FILTER",     "ALT", "contig",
                                             "SAMPLE", "PEDIGREE", "pedigreeDB", NULL};
    int known = 0;
    for (int i = 0; structured[i]; i++)
        if (!strcmp(key, structured[i])) known = 1;
    if (!known) return 0; /* other keys may hold any text in brackets */
    struct_fields f;
    const char *why = NULL;
    if (parse_structured(val + 1, vlen - 2, &f, &why)) return hdr_err(v, lineno, err, "##%s: %s", key, why);
    if (!strcmp(key, "INFO")) return check_tag_line(v, &f, 0, lineno, err);
    if (!strcmp(key, "FORMAT")) return check_tag_line(v, &f, 1, lineno, err);
    if (!strcmp(key, "FILTER") || !strcmp(key, "ALT")) {
        int q = 0;
        const char *id = field(&f, "ID", NULL), *desc = field(&f, "Description", &q);
        if (!id || !*id) return hdr_err(v, lineno, err, "##%s line without ID%s", key, NULL);
        if (!desc || (!q && v->minor >= 2)) /* 4.0/4.1 files in the wild leave it unquoted */
            return hdr_err(v, lineno, err, "##%s %s: Description must be a double-quoted string", key, id);
        for (int i = 0; i < f.n; i++)
            if (v->minor >= 2 && strcmp(f.key[i], "ID") && strcmp(f.key[i], "Description"))
                return hdr_err(v, lineno, err,
                               "##%s line has the field '%s' (only ID and Description are allowed)", key,
                               f.key[i]);
        if (!strcmp(key, "ALT")) {
            static const char *const prefixes[] = {"DEL", "INS", "DUP", "INV", "CNV", "BND", NULL};
            int ok =
                v->minor <
                2; /* the reserved prefixes are enforced from 4.2 on (1000 Genomes 4.1 files use CN0...) */
            for (int i = 0; prefixes[i]; i++) {
                size_t pl = strlen(prefixes[i]);
                if (!strncmp(id, prefixes[i], pl) && (id[pl] == 0 || id[pl] == ':')) ok = 1;
            }
            for (const char *c = id; *c; c++)
                if (isspace((unsigned char)*c) || *c == ',' || *c == '<' || *c == '>') ok = 0;
            if (!ok)
                return hdr_err(v, lineno, err,
                               "ALT ID '%s' must start with DEL, INS, DUP, INV or CNV (optionally :subtype) "
                               "and contain no whitespace, comma or angle bracket%s",
                               id, NULL);
        }
        return 0;
    }
    if (!strcmp(key, "contig")) {
        const char *id = field(&f, "ID", NULL);
        if (!id) return hdr_err(v, lineno, err, "##contig line without ID%s%s", NULL, NULL);
        if (!contig_name_ok(id, 0))
            return hdr_err(
                v, lineno, err,
                "contig ID '%s' contains whitespace, a comma, a colon, a quote or an angle bracket%s", id,
                NULL);
        return 0;
    }
    if (!strcmp(key, "SAMPLE")) {
        if (!field(&f, "ID", NULL))
            return hdr_err(v, lineno, err, "##SAMPLE line without ID%s%s", NULL, NULL);
        for (int i = 0; i < f.n; i++)
            if (f.quoted[i] && strcmp(f.key[i], "Description"))
                return hdr_err(v, lineno, err, "##SAMPLE field '%s' is quoted (only Description may be)%s",
                               f.key[i], NULL);
        if (field(&f, "Mixture", NULL) && !field(&f, "Genomes", NULL))
            return hdr_err(v, lineno, err, "##SAMPLE line with Mixture needs Genomes%s%s", NULL, NULL);
        return 0;
    }
    if (!strcmp(key, "PEDIGREE")) {
        for (int i = 0; i < f.n; i++)
            for (const char *c = f.val[i]; *c; c++)
                if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '.' || *c == '-'))
                    return hdr_err(
                        v, lineno, err,
                        "##PEDIGREE genome ID '%s' has a character other than letters, digits, '_', '.', '-'",
                        f.val[i], NULL);
        return 0;
    }
    return 0;
}

/* ---- records --------------------------------------------------------------------------------------- */

static int rec_err(sl_bio_vcf_validator *v, long lineno, sl_err *err, const char *col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int rec_err(sl_bio_vcf_validator *v, long lineno, sl_err *err, const char *col, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sl_err_set(err, SL_EDATA, "%s:%ld: %s: %s", v->path, lineno, col, msg);
}

static int is_int_text(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (i == n) return 0;
    for (; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int is_float_text(const char *s, size_t n, double *out) {
    char buf[128];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    const char *b = buf + (buf[0] == '+' || buf[0] == '-');
    if (!strcasecmp(b, "inf") || !strcasecmp(b, "infinity") || !strcasecmp(b, "nan")) {
        *out = buf[0] == '-' ? -INFINITY : INFINITY;
        return 1;
    }
    if (!(isdigit((unsigned char)*b) || *b == '.')) return 0;
    char *end;
    errno = 0;
    *out = strtod(buf, &end);
    return *end == 0 && end != buf;
}

/* Check the comma-separated values `s` (length n) of a tag against its definition. */
static int check_values(sl_bio_vcf_validator *v, long lineno, sl_err *err, const char *col, const tag_def *d,
                        const char *s, size_t n, int nalt, int ploidy, int alt_missing) {
    if (n == 1 && s[0] == '.') return 0;
    if ((d->type == TY_STRING) && n >= 2 && s[0] == '"' && s[n - 1] == '"') return 0; /* one quoted string */
    int count = 0;
    size_t i = 0;
    while (1) {
        size_t j = i;
        while (j < n && s[j] != ',') j++;
        size_t len = j - i;
        const char *e = s + i;
        count++;
        if (len == 0) return rec_err(v, lineno, err, col, "%s has an empty value", d->id);
        if (!(len == 1 && e[0] == '.')) {
            double x = 0;
            if (d->type == TY_INTEGER) {
                if (!is_int_text(e, len))
                    return rec_err(v, lineno, err, col, "%s: '%.*s' is not an Integer", d->id, (int)len, e);
                x = strtod(e, NULL);
            } else if (d->type == TY_FLOAT) {
                if (!is_float_text(e, len, &x))
                    return rec_err(v, lineno, err, col, "%s: '%.*s' is not a Float", d->id, (int)len, e);
            } else if (d->type == TY_CHARACTER) {
                if (len != 1)
                    return rec_err(v, lineno, err, col, "%s: '%.*s' is not a single Character", d->id,
                                   (int)len, e);
            } else if (d->type == -1) { /* reserved MQ: a number */
                if (!is_float_text(e, len, &x))
                    return rec_err(v, lineno, err, col, "%s: '%.*s' is not a number", d->id, (int)len, e);
            }
            if (!d->is_format) {
                for (int k = 0; nonneg_info[k]; k++)
                    if (!strcmp(nonneg_info[k], d->id) && find_reserved(d->id, 0) == d && x < 0)
                        return rec_err(v, lineno, err, col, "%s: '%.*s' is negative (a count or frequency)",
                                       d->id, (int)len, e);
                if (!strcmp(d->id, "CIGAR") && find_reserved("CIGAR", 0) == d) {
                    size_t k = 0;
                    int ok = 1;
                    while (k < len && ok) {
                        size_t k0 = k;
                        while (k < len && isdigit((unsigned char)e[k])) k++;
                        if (k == k0 || k == len || !strchr("MIDNSHPX=", e[k])) ok = 0;
                        k++;
                    }
                    if (!ok)
                        return rec_err(v, lineno, err, col, "CIGAR: '%.*s' is not a CIGAR string", (int)len,
                                       e);
                }
            }
        }
        if (j >= n) break;
        i = j + 1;
    }
    if (alt_missing) return 0;
    int expect = -1;
    switch (d->number_kind) {
        case NUM_FIXED:
            expect = d->number;
            break;
        case NUM_A:
            expect = nalt;
            break;
        case NUM_R:
            expect = nalt + 1;
            break;
        case NUM_G:
            if (d->is_format && ploidy > 0) {
                /* C(nalleles + ploidy - 1, ploidy) */
                long long c = 1;
                int na = nalt + 1;
                for (int k = 1; k <= ploidy; k++) c = c * (na + k - 1) / k;
                expect = (int)c;
            }
            break;
        default:
            break;
    }
    if (expect >= 0 && count != expect)
        return rec_err(v, lineno, err, col, "%s has %d value(s), its Number calls for %d", d->id, count,
                       expect);
    return 0;
}

static int split_tabs(char *s, char **cols, int max) {
    int n = 0;
    cols[n++] = s;
    for (char *p = s; *p; p++)
        if (*p == '\t') {
            *p = 0;
            if (n == max) return -1;
            cols[n++] = p + 1;
        }
    return n;
}

static int allele_ok(const char *a, size_t n) {
    if (n == 0) return 0;
    if (n == 1 && a[0] == '*') return 1;
    if (a[0] == '<') {
        if (a[n - 1] != '>' || n < 3) return 0;
        for (size_t i = 1; i + 1 < n; i++)
            if (a[i] == '<' || a[i] == '>' || isspace((unsigned char)a[i]) || a[i] == ',') return 0;
        return 1;
    }
    if (memchr(a, '[', n) || memchr(a, ']', n)) {
        /* breakend: bases then bracketed mate, or bracketed mate then bases */
        char br = memchr(a, '[', n) ? '[' : ']';
        const char *b1 = memchr(a, br, n);
        const char *b2 = b1 ? memchr(b1 + 1, br, n - (size_t)(b1 + 1 - a)) : NULL;
        if (!b2) return 0;
        size_t before = (size_t)(b1 - a), after = n - (size_t)(b2 + 1 - a);
        if (before == 0 && after == 0) return 0;
        for (size_t i = 0; i < before; i++)
            if (!strchr("ACGTNacgtn.", a[i])) return 0;
        for (const char *c = b2 + 1; c < a + n; c++)
            if (!strchr("ACGTNacgtn.", *c)) return 0;
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!strchr("ACGTNacgtn", a[i]) && !((i == 0 || i == n - 1) && a[i] == '.' && n > 1)) return 0;
    return 1;
}

int sl_bio_vcf_validate_record(sl_bio_vcf_validator *v, const char *line_in, long lineno, sl_err *err) {
    if (!v->seen_chrom_line)
        return rec_err(v, lineno, err, "record", "data line before the #CHROM header line");
    char *line = strdup(line_in);
    if (!line) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = 0;
    int maxcols = 9 + v->nsamples;
    char **c = malloc((size_t)(maxcols + 1) * sizeof *c);
    if (!c) {
        free(line);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int ncol = split_tabs(line, c, maxcols);
    int want = v->nsamples ? 9 + v->nsamples : 8;
    if (ncol != want) {
        rc = rec_err(v, lineno, err, "record", "%s columns (the header has %d)",
                     ncol < 0 ? "too many" : "wrong number of", want);
        goto done;
    }
    /* CHROM */
    if (!contig_name_ok(c[0], 1)) {
        rc = rec_err(v, lineno, err, "CHROM",
                     "'%s' contains whitespace, a comma, a colon or a stray angle bracket", c[0]);
        goto done;
    }
    /* POS */
    if (!is_int_text(c[1], strlen(c[1])) || c[1][0] == '-' || c[1][0] == '+') {
        rc = rec_err(v, lineno, err, "POS", "'%s' is not a non-negative integer", c[1]);
        goto done;
    }
    long long pos = strtoll(c[1], NULL, 10);
    /* ID */
    if (strcmp(c[2], ".")) {
        size_t n = strlen(c[2]);
        if (n == 0 || c[2][0] == ';' || c[2][n - 1] == ';' || strstr(c[2], ";;") || strpbrk(c[2], " \t")) {
            rc = rec_err(v, lineno, err, "ID", "'%s' has whitespace or an empty identifier", c[2]);
            goto done;
        }
    }
    /* REF */
    size_t rl = strlen(c[3]);
    for (size_t i = 0; i < rl; i++)
        if (!strchr("ACGTNacgtn", c[3][i])) {
            rc = rec_err(v, lineno, err, "REF", "'%s' is not a base sequence of A, C, G, T, N", c[3]);
            goto done;
        }
    if (rl == 0) {
        rc = rec_err(v, lineno, err, "REF", "empty");
        goto done;
    }
    /* ALT */
    int nalt = 0, alt_missing = !strcmp(c[4], ".");
    if (!alt_missing) {
        const char *p = c[4];
        while (1) {
            const char *q = strchr(p, ',');
            size_t n = q ? (size_t)(q - p) : strlen(p);
            if (!allele_ok(p, n)) {
                rc = rec_err(v, lineno, err, "ALT", "allele '%.*s' is not bases, '*', <ID> or a breakend",
                             (int)n, p);
                goto done;
            }
            nalt++;
            if (!q) break;
            p = q + 1;
        }
    }
    /* QUAL */
    if (strcmp(c[5], ".")) {
        double q;
        if (!is_float_text(c[5], strlen(c[5]), &q) || q < 0) {
            rc = rec_err(v, lineno, err, "QUAL", "'%s' is not a number >= 0 or '.'", c[5]);
            goto done;
        }
    }
    /* FILTER */
    if (strcmp(c[6], ".")) {
        const char *p = c[6];
        while (1) {
            const char *q = strchr(p, ';');
            size_t n = q ? (size_t)(q - p) : strlen(p);
            if (n == 0 || (n == 1 && (*p == '.' || *p == '0')) || memchr(p, ' ', n)) {
                rc =
                    rec_err(v, lineno, err, "FILTER",
                            "'%s': filter names must be non-empty, not '0' or '.', without whitespace", c[6]);
                goto done;
            }
            if (!q) break;
            p = q + 1;
        }
    }
    /* INFO */
    if (strcmp(c[7], ".")) {
        const char *p = c[7];
        while (1) {
            const char *q = strchr(p, ';');
            size_t n = q ? (size_t)(q - p) : strlen(p);
            const char *eq = memchr(p, '=', n);
            size_t klen = eq ? (size_t)(eq - p) : n;
            if (klen == 0 || memchr(p, ' ', n)) {
                rc = rec_err(v, lineno, err, "INFO", "'%.*s' is not key[=value] without whitespace", (int)n,
                             p);
                goto done;
            }
            const tag_def *d = find_def(v, p, klen, 0);
            if (d) {
                if (d->type == TY_FLAG) {
                    if (eq && !(n - klen - 1 == 1 && (eq[1] == '0' || eq[1] == '1'))) {
                        rc = rec_err(v, lineno, err, "INFO", "%.*s is a Flag and takes no value", (int)klen,
                                     p);
                        goto done;
                    }
                } else if (eq) {
                    if ((rc = check_values(v, lineno, err, "INFO", d, eq + 1, n - klen - 1, nalt, 0,
                                           alt_missing)))
                        goto done;
                }
            }
            if (!q) break;
            p = q + 1;
        }
    }
    /* FORMAT and samples */
    if (v->nsamples) {
        const tag_def *fmt[64];
        int nfmt = 0, gt_index = -1;
        char *p = c[8];
        while (1) {
            char *q = strchr(p, ':');
            size_t n = q ? (size_t)(q - p) : strlen(p);
            if (n == 0) {
                rc = rec_err(v, lineno, err, "FORMAT", "'%s' has an empty key", c[8]);
                goto done;
            }
            for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)p[i])) {
                    rc = rec_err(v, lineno, err, "FORMAT",
                                 "key '%.*s' has a character other than letters and digits", (int)n, p);
                    goto done;
                }
            if (n == 2 && !memcmp(p, "GT", 2)) gt_index = nfmt;
            if (nfmt == 64) {
                rc = rec_err(v, lineno, err, "FORMAT", "more than 64 keys");
                goto done;
            }
            fmt[nfmt++] = find_def(v, p, n, 1);
            if (!q) break;
            p = q + 1;
        }
        if (gt_index > 0) {
            rc = rec_err(v, lineno, err, "FORMAT", "GT must be the first key when present");
            goto done;
        }
        for (int s = 0; s < v->nsamples; s++) {
            char *sv = c[9 + s];
            char *parts[65];
            int np = 0;
            parts[np++] = sv;
            for (char *t = sv; *t; t++)
                if (*t == ':') {
                    *t = 0;
                    if (np == 65) break;
                    parts[np++] = t + 1;
                }
            char colname[64];
            snprintf(colname, sizeof colname, "sample %d", s + 1);
            if (np > nfmt) {
                rc = rec_err(v, lineno, err, colname, "%d fields for %d FORMAT keys", np, nfmt);
                goto done;
            }
            int ploidy = 2;
            if (gt_index == 0) {
                const char *g = parts[0];
                ploidy = 0;
                int expect_allele = 1;
                for (const char *t = g; *t; t++) {
                    if (expect_allele) {
                        if (*t == '.') {
                            expect_allele = 0;
                            ploidy++;
                            continue;
                        }
                        if (!isdigit((unsigned char)*t)) {
                            rc = rec_err(v, lineno, err, colname,
                                         "GT '%s' is not a genotype (alleles separated by / or |)", g);
                            goto done;
                        }
                        long a = strtol(t, (char **)&t, 10);
                        t--;
                        if (!alt_missing && a > nalt) {
                            rc = rec_err(v, lineno, err, colname,
                                         "GT '%s' names allele %ld, the record has %d ALT allele(s)", g, a,
                                         nalt);
                            goto done;
                        }
                        ploidy++;
                        expect_allele = 0;
                    } else {
                        if (*t != '/' && *t != '|') {
                            rc = rec_err(v, lineno, err, colname,
                                         "GT '%s' is not a genotype (alleles separated by / or |)", g);
                            goto done;
                        }
                        expect_allele = 1;
                    }
                }
                if (expect_allele) {
                    rc = rec_err(v, lineno, err, colname, "GT '%s' has a missing allele (use '.')", g);
                    goto done;
                }
            }
            for (int k = 0; k < np; k++) {
                if (k == gt_index || !fmt[k]) continue;
                if ((rc = check_values(v, lineno, err, colname, fmt[k], parts[k], strlen(parts[k]), nalt,
                                       ploidy, alt_missing)))
                    goto done;
            }
        }
    }
    /* order: contigs contiguous, positions sorted, no exact duplicate. Records on symbolic contigs ("<ID>",
     * sequences in an assembly file) are outside this order. */
    if (c[0][0] == '<') goto done;
    if (strcmp(c[0], v->cur_chrom)) {
        for (size_t i = 0; i < v->ndone; i++)
            if (!strcmp(v->done_contigs[i], c[0])) {
                rc = rec_err(v, lineno, err, "CHROM",
                             "records of '%s' are not contiguous (it appeared before '%s')", c[0],
                             v->cur_chrom);
                goto done;
            }
        if (v->cur_chrom[0]) {
            if (v->ndone == v->cap_done) {
                size_t nc = v->cap_done ? 2 * v->cap_done : 16;
                char **nd = realloc(v->done_contigs, nc * sizeof *nd);
                if (!nd) {
                    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                    goto done;
                }
                v->done_contigs = nd;
                v->cap_done = nc;
            }
            if (!(v->done_contigs[v->ndone] = strdup(v->cur_chrom))) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            v->ndone++;
        }
        snprintf(v->cur_chrom, sizeof v->cur_chrom, "%s", c[0]);
        v->cur_pos = -1;
        v->last_key[0] = 0;
    } else if (pos < v->cur_pos) {
        rc = rec_err(v, lineno, err, "POS", "%lld comes after %lld on %s: the file is not sorted", pos,
                     v->cur_pos, c[0]);
        goto done;
    }
    {
        char key[1024];
        snprintf(key, sizeof key, "%lld\t%s\t%s", pos, c[3], c[4]);
        if (!alt_missing && c[4][0] != '<' && !strcmp(key, v->last_key)) {
            rc = rec_err(v, lineno, err, "record", "duplicate of the previous record (%s:%lld %s>%s)", c[0],
                         pos, c[3], c[4]);
            goto done;
        }
        snprintf(v->last_key, sizeof v->last_key, "%s", key);
    }
    v->cur_pos = pos;
done:
    free(c);
    free(line);
    return rc;
}
