/* The `score` step: predictions from a packaged model (MODEL.tar.gz, see nn/bundle_model.h).
 *
 * Modes:
 *   sequences  input is FASTA ('>' first) or a TSV with `id` and `sequence` columns (an optional `label`
 * column is copied): one row per sequence with the class probabilities, in the layout of `seqlora predict`
 *              (id, label, prob_<class>...) so `seqlora evaluate` reads it, plus a windows column whose
 * header records the windowing ("windows[window=W;stride=S;k=K]"). Raw DNA (A/C/G/T/N, any case) is k-merised
 * and scored in windows; a TSV whose sequences hold spaces is taken as tokenizer text (what `kmerize` writes)
 * and scored exactly like `seqlora predict` (truncated to max length). variants   input is a VCF (plain or
 * bgzipped) + reference FASTA: for every ALT allele (A/C/G/T/N bases; symbolic alleles are skipped and
 * counted) the REF window (W bases centred on the variant) and the same window with ALT applied are scored:
 * chrom, pos, id, ref, alt, p_ref, p_alt, delta = p_alt − p_ref of the positive class (in-silico
 * mutagenesis). saturate   region chrom:start-end (1-based, inclusive; at most 100,000 bases) + reference
 * FASTA: every possible SNV of the region, scored as in variant mode.
 *
 * Inputs:  model (file), input (file, optional), reference (file, optional), base (dir, optional: the base
 * model of a bundle that does not embed it). Output:  scores.tsv. Params:  window, stride (bases; 0 = the
 * bundle's), region (saturate), merged (1 = merged weights when the bundle has them, the default; 0 = base +
 * adapter), device ("cpu" default | "cuda"), precision ("fp32" default | "bf16" | "fp16"; fp16 cuda only):
 * the CLI writes device/precision only for a CUDA run (precision also for a CPU bf16 run), so a CPU fp32
 * run's key is the same with or without --device; the CUDA ordinal is sl_nn_cuda_ordinal() (not in the key;
 * docs/gpu.md "Action keys"). */
#include <ctype.h>
#include <errno.h>
#include <strings.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bio/reference.h"
#include "bio/tsv.h"
#include "bio/vcf_reader.h"
#include "nn/backend.h"
#include "nn/bundle_model.h"
#include "step.h"
#include "util/fs.h"
#include "util/json.h"

#define CHUNK 256
#define MAX_SATURATE 100000

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static int sb(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return -1;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
        size_t nc = (b->cap ? b->cap * 2 : 65536) + (size_t)n;
        char *np = realloc(b->p, nc);
        if (!np) return -1;
        b->p = np;
        b->cap = nc;
    }
}

/* A growable list of owned strings. */
typedef struct {
    char **v;
    size_t n, cap;
} strv;

static int sv_push(strv *s, char *x) {
    if (!x) return -1;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        char **nv = realloc(s->v, nc * sizeof(*nv));
        if (!nv) {
            free(x);
            return -1;
        }
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = x;
    return 0;
}

static void sv_free(strv *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
}

/* ---- sequence inputs ------------------------------------------------------------------------------- */

static int read_fasta(const char *path, strv *ids, strv *seqs, sl_err *err) {
    char *text = NULL;
    size_t len;
    int rc = sl_fs_read_all(path, &text, &len, err);
    if (rc) return rc;
    size_t lineno = 0;
    sbuf cur = {0};
    int have = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r') line[--l] = 0;
        if (line[0] == '>') {
            if (have && (!cur.p || !cur.len)) {
                rc = sl_err_set(err, SL_EDATA, "%s:%zu: the record before this header has no sequence", path,
                                lineno);
                goto out;
            }
            if (have && sv_push(seqs, strdup(cur.p))) goto nomem;
            char *id = line + 1, *sp = id + strcspn(id, " \t");
            *sp = 0;
            if (!*id) {
                rc = sl_err_set(err, SL_EDATA, "%s:%zu: a FASTA header without a name", path, lineno);
                goto out;
            }
            if (sv_push(ids, strdup(id))) goto nomem;
            cur.len = 0;
            if (cur.p) cur.p[0] = 0;
            have = 1;
        } else if (l) {
            if (!have) {
                rc = sl_err_set(err, SL_EDATA, "%s:%zu: sequence before the first '>' header", path, lineno);
                goto out;
            }
            if (sb(&cur, "%s", line)) goto nomem;
        }
    }
    if (have) {
        if (!cur.p || !cur.len) {
            rc = sl_err_set(err, SL_EDATA, "%s: the last record has no sequence", path);
            goto out;
        }
        if (sv_push(seqs, strdup(cur.p))) goto nomem;
    }
    if (!ids->n) rc = sl_err_set(err, SL_EDATA, "%s: no FASTA records", path);
    goto out;
nomem:
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
out:
    free(cur.p);
    free(text);
    return rc;
}

static int read_tsv(const char *path, strv *ids, strv *seqs, strv *labels, int *has_label, sl_err *err) {
    sl_bio_tsv *t = NULL;
    int rc = sl_bio_tsv_open(path, &t, err);
    if (rc) return rc;
    if ((rc = sl_bio_tsv_next(t, err)) != 1) {
        if (rc == 0)
            rc = sl_err_set(err, SL_EDATA, "%s: empty file (expected a header with id and sequence)", path);
        goto out;
    }
    int ci = sl_bio_tsv_find(t, "id"), cs = sl_bio_tsv_find(t, "sequence"), cl = sl_bio_tsv_find(t, "label");
    if (ci < 0 || cs < 0) {
        rc = sl_err_set(err, SL_EDATA, "%s:1: expected the columns 'id' and 'sequence' in the header", path);
        goto out;
    }
    *has_label = cl >= 0;
    size_t need = (size_t)(ci > cs ? ci : cs);
    if (cl > (int)need) need = (size_t)cl;
    while ((rc = sl_bio_tsv_next(t, err)) == 1) {
        if (t->nfields <= need) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: %zu fields, expected at least %zu", path, t->lineno,
                            t->nfields, need + 1);
            goto out;
        }
        if (sv_push(ids, strdup(t->fields[ci])) || sv_push(seqs, strdup(t->fields[cs])) ||
            sv_push(labels, strdup(cl >= 0 ? t->fields[cl] : ""))) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        if (!*t->fields[cs]) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: column 'sequence' is empty", path, t->lineno);
            goto out;
        }
    }
    if (rc == 0 && !ids->n) rc = sl_err_set(err, SL_EDATA, "%s: no rows after the header", path);
out:
    sl_bio_tsv_close(t);
    return rc < 0 ? rc : 0;
}

static int score_sequences(sl_nn_bundle_model *m, const char *path, int fasta, sbuf *out, json_t *summary,
                           sl_err *err) {
    strv ids = {0}, seqs = {0}, labels = {0};
    int has_label = 0, rc;
    rc = fasta ? read_fasta(path, &ids, &seqs, err) : read_tsv(path, &ids, &seqs, &labels, &has_label, err);
    sl_nn_infer *s = m->infer;
    const int C = sl_nn_infer_num_outputs(s);
    double *probs = malloc((size_t)CHUNK * C * sizeof(double));
    size_t *nw = malloc(CHUNK * sizeof(size_t));
    if (!rc && (!probs || !nw)) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    if (rc) goto out;
    int text_mode = !fasta && strchr(seqs.v[0], ' ') != NULL;
    for (size_t i = 0; i < seqs.n && !text_mode; i++) {
        long long bad;
        if (sl_nn_infer_check_seq(s, seqs.v[i], strlen(seqs.v[i]), &bad)) {
            rc = bad < 0
                     ? sl_err_set(err, SL_EDATA, "%s: record %zu (%s): the sequence is empty", path, i + 1,
                                  ids.v[i])
                     : sl_err_set(err, SL_EDATA, "%s: record %zu (%s): position %lld: '%c' is not %s", path,
                                  i + 1, ids.v[i], bad + 1, seqs.v[i][bad], sl_nn_infer_alphabet(s));
            goto out;
        }
    }
    if (sb(out, "id\tlabel")) goto nomem;
    for (int c = 0; c < C; c++)
        if (sl_nn_infer_problem(s) == SL_NN_REGRESSION ? sb(out, "\tprediction")
                                                       : sb(out, "\tprob_%s", sl_nn_infer_label(s, c)))
            goto nomem;
    if (sb(out, "\twindows[window=%d;stride=%d;k=%d]\n", text_mode ? 0 : sl_nn_infer_window(s),
           text_mode ? 0 : sl_nn_infer_stride(s), sl_nn_infer_kmer(s)))
        goto nomem;
    for (size_t st = 0; st < seqs.n; st += CHUNK) {
        size_t n = seqs.n - st < CHUNK ? seqs.n - st : CHUNK;
        if (text_mode) {
            rc = sl_nn_infer_score_texts(s, (const char *const *)seqs.v + st, n, probs, err);
            for (size_t i = 0; i < n; i++) nw[i] = 1;
        } else {
            rc = sl_nn_infer_score_dna(s, (const char *const *)seqs.v + st, n, probs, nw, err);
        }
        if (rc) {
            sl_err_prefix(err, "%s: ", path);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            if (sb(out, "%s\t%s", ids.v[st + i], has_label ? labels.v[st + i] : "")) goto nomem;
            for (int c = 0; c < C; c++)
                if (sb(out, "\t%.9g", probs[i * C + c])) goto nomem;
            if (sb(out, "\t%zu\n", nw[i])) goto nomem;
        }
    }
    json_object_set_new(summary, "sequences", json_integer((json_int_t)seqs.n));
    json_object_set_new(summary, "mode", json_string(text_mode ? "tokenized" : "dna"));
    goto out;
nomem:
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
out:
    free(probs);
    free(nw);
    sv_free(&ids);
    sv_free(&seqs);
    sv_free(&labels);
    return rc;
}

/* ---- variants ------------------------------------------------------------------------------------- */

typedef struct {
    strv ref_win, alt_win, rows; /* rows: "chrom\tpos\tid\tref\talt" */
} varset;

/* Add the REF and ALT windows of one allele at 0-based `pos0` of `chrom`. */
static int add_variant(varset *v, sl_bio_ref *ref, int W, const char *chrom, long long pos0, const char *id,
                       const char *refa, const char *alt, sl_err *err) {
    long long rl = (long long)strlen(refa), left = (W - rl) / 2;
    if (left < 0) left = 0;
    long long s0 = pos0 - left;
    if (s0 < 0) s0 = 0;
    long long e0 = s0 + (W > rl ? W : rl);
    char *win = NULL;
    int rc = sl_bio_ref_fetch(ref, chrom, s0, e0, &win, err);
    if (rc == SL_ENOTFOUND) { /* near the end of the sequence: shift left */
        sl_err_clear(err);
        long long shift = e0 - s0;
        while (rc && shift > 1 && pos0 + rl <= e0) {
            shift /= 2;
            e0 = pos0 + rl + shift;
            s0 = e0 - W < 0 ? 0 : e0 - W;
            rc = sl_bio_ref_fetch(ref, chrom, s0, e0, &win, err);
            if (rc == SL_ENOTFOUND) sl_err_clear(err);
        }
        if (rc) rc = sl_bio_ref_fetch(ref, chrom, pos0, pos0 + rl, &win, err);
    }
    if (rc) return rc;
    size_t off = (size_t)(pos0 - s0), wl = strlen(win);
    if (off + (size_t)rl > wl || strncasecmp(win + off, refa, (size_t)rl)) {
        rc = sl_err_set(err, SL_EDATA, "%s:%lld: REF '%s' does not match the reference ('%.*s')", chrom,
                        pos0 + 1, refa, (int)(off + (size_t)rl <= wl ? rl : 0), win + off);
        free(win);
        return rc;
    }
    size_t al = strlen(alt);
    char *aw = malloc(wl - (size_t)rl + al + 1);
    char row[1024];
    if (!aw) {
        free(win);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    memcpy(aw, win, off);
    for (size_t i = 0; i < al; i++) aw[off + i] = (char)toupper((unsigned char)alt[i]);
    memcpy(aw + off + al, win + off + (size_t)rl, wl - off - (size_t)rl + 1);
    snprintf(row, sizeof row, "%s\t%lld\t%s\t%s\t%s", chrom, pos0 + 1, id, refa, alt);
    if (sv_push(&v->ref_win, win) || sv_push(&v->alt_win, aw) || sv_push(&v->rows, strdup(row)))
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    return 0;
}

static int is_bases(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!strchr("ACGTNacgtn", *s)) return 0;
    return 1;
}

static int score_varset(sl_nn_bundle_model *m, varset *v, sbuf *out, sl_err *err) {
    sl_nn_infer *s = m->infer;
    const int C = sl_nn_infer_num_outputs(s);
    int k = m->positive >= 0 ? m->positive : C - 1;
    double *pr = malloc((size_t)CHUNK * C * sizeof(double)), *pa = malloc((size_t)CHUNK * C * sizeof(double));
    int rc = 0;
    if (!pr || !pa) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    const char *cls = sl_nn_infer_problem(s) == SL_NN_REGRESSION ? "prediction" : sl_nn_infer_label(s, k);
    if (!rc && sb(out, "chrom\tpos\tid\tref\talt\tp_ref[%s]\tp_alt[%s]\tdelta[window=%d;k=%d]\n", cls, cls,
                  sl_nn_infer_window(s), sl_nn_infer_kmer(s)))
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t st = 0; !rc && st < v->rows.n; st += CHUNK) {
        size_t n = v->rows.n - st < CHUNK ? v->rows.n - st : CHUNK;
        if ((rc = sl_nn_infer_score_dna(s, (const char *const *)v->ref_win.v + st, n, pr, NULL, err)) ||
            (rc = sl_nn_infer_score_dna(s, (const char *const *)v->alt_win.v + st, n, pa, NULL, err)))
            break;
        for (size_t i = 0; i < n; i++) {
            double a = pr[i * C + k], b = pa[i * C + k];
            if (sb(out, "%s\t%.9g\t%.9g\t%.9g\n", v->rows.v[st + i], a, b, b - a)) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                break;
            }
        }
    }
    free(pr);
    free(pa);
    return rc;
}

static int score_vcf(sl_nn_bundle_model *m, const char *vcf, sl_bio_ref *ref, sbuf *out, json_t *summary,
                     sl_err *err) {
    sl_bio_vcf_reader *r = NULL;
    bcf1_t *rec = bcf_init();
    varset v = {0};
    long long skipped = 0;
    int rc = rec ? sl_bio_vcf_reader_open(vcf, &r, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    while (!rc && (rc = sl_bio_vcf_reader_next(r, rec, err)) == 1) {
        rc = 0;
        const char *chrom = bcf_seqname(r->hdr, rec);
        const char *id = rec->d.id && strcmp(rec->d.id, ".") ? rec->d.id : ".";
        if (!is_bases(rec->d.allele[0])) {
            skipped += rec->n_allele - 1;
            continue;
        }
        for (int a = 1; a < rec->n_allele && !rc; a++) {
            if (!is_bases(rec->d.allele[a])) {
                skipped++;
                continue;
            }
            rc = add_variant(&v, ref, sl_nn_infer_window(m->infer), chrom, rec->pos, id, rec->d.allele[0],
                             rec->d.allele[a], err);
            if (rc) sl_err_prefix(err, "%s:%ld: ", vcf, r->lineno);
        }
    }
    if (rc == 0 && !v.rows.n)
        rc = sl_err_set(err, SL_EDATA, "%s: no scorable variants (A/C/G/T/N alleles)", vcf);
    if (!rc) rc = score_varset(m, &v, out, err);
    json_object_set_new(summary, "variants", json_integer((json_int_t)v.rows.n));
    json_object_set_new(summary, "skipped_alleles", json_integer(skipped));
    sl_bio_vcf_reader_close(r);
    if (rec) bcf_destroy(rec);
    sv_free(&v.ref_win);
    sv_free(&v.alt_win);
    sv_free(&v.rows);
    return rc < 0 ? rc : 0;
}

static int score_region(sl_nn_bundle_model *m, const char *region, sl_bio_ref *ref, sbuf *out,
                        json_t *summary, sl_err *err) {
    char chrom[256];
    long long a, b;
    int used = 0;
    if (sscanf(region, "%255[^:]:%lld-%lld%n", chrom, &a, &b, &used) != 3 || region[used] || a < 1 || b < a)
        return sl_err_set(err, SL_EUSAGE,
                          "score: region '%s': expected CHROM:START-END (1-based, START <= END)", region);
    if (b - a + 1 > MAX_SATURATE)
        return sl_err_set(err, SL_EUSAGE, "score: region '%s' has %lld bases; at most %d can be saturated",
                          region, b - a + 1, MAX_SATURATE);
    char *seq = NULL;
    int rc = sl_bio_ref_fetch(ref, chrom, a - 1, b, &seq, err);
    if (rc) return rc;
    varset v = {0};
    for (long long p = a; p <= b && !rc; p++) {
        char r[2] = {seq[p - a], 0};
        if (r[0] == 'N') continue;
        for (const char *alt = "ACGT"; *alt && !rc; alt++) {
            if (*alt == r[0]) continue;
            char al[2] = {*alt, 0}, id[300];
            snprintf(id, sizeof id, "%s:%lld:%s>%s", chrom, p, r, al);
            rc = add_variant(&v, ref, sl_nn_infer_window(m->infer), chrom, p - 1, id, r, al, err);
        }
    }
    free(seq);
    if (!rc && !v.rows.n) rc = sl_err_set(err, SL_EDATA, "score: region '%s' has only N bases", region);
    if (!rc) rc = score_varset(m, &v, out, err);
    json_object_set_new(summary, "variants", json_integer((json_int_t)v.rows.n));
    sv_free(&v.ref_win);
    sv_free(&v.alt_win);
    sv_free(&v.rows);
    return rc;
}

/* 'f' FASTA, 'v' VCF (text or gzip/BGZF), 't' TSV, from the first bytes. */
static int sniff(const char *path, char *kind, sl_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return sl_err_errno(err, SL_EIO, errno, "%s: cannot open", path);
    unsigned char b[17] = {0};
    size_t n = fread(b, 1, 16, f);
    fclose(f);
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        *kind = 'v';
    else if (n >= 1 && b[0] == '>')
        *kind = 'f';
    else if (n >= 16 && !memcmp(b, "##fileformat=VCF", 16))
        *kind = 'v';
    else
        *kind = 't';
    return 0;
}

static int run_score(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    const json_t *P = ctx->params;
    long long window = 0, stride = 0;
    int merged = 1, rc;
    const char *region = NULL, *device = NULL, *precision = NULL;
    int prec = SL_CUDA_FP32;
    if ((rc = sl_json_get_int(P, "window", 0, &window, err)) ||
        (rc = sl_json_get_int(P, "stride", 0, &stride, err)) ||
        (rc = sl_json_get_str(P, "region", NULL, &region, err)) ||
        (rc = sl_json_get_bool(P, "merged", 1, &merged, err)) ||
        (rc = sl_json_get_str(P, "device", "cpu", &device, err)) ||
        (rc = sl_json_get_str(P, "precision", "fp32", &precision, err)) ||
        (rc = sl_nn_precision_parse(precision, &prec, err)))
        return rc;
    if (strcmp(device, "cpu") && strcmp(device, "cuda"))
        return sl_err_set(err, SL_EUSAGE, "score: device '%s' (expected cpu or cuda)", device);
    const int cuda = !strcmp(device, "cuda");
    if (!cuda && prec == SL_CUDA_FP16)
        return sl_err_set(err, SL_EUSAGE,
                          "score: precision '%s' needs device cuda (the CPU runs fp32 or bf16)", precision);
    if (window < 0 || stride < 0 || window > 1000000 || stride > 1000000)
        return sl_err_set(err, SL_EUSAGE, "score: window and stride must be in 0..1000000");
    const char *model = sl_step_input(ctx, "model"), *input = sl_step_input(ctx, "input"),
               *fasta = sl_step_input(ctx, "reference"), *base = sl_step_input(ctx, "base");
    if (!model) return sl_err_set(err, SL_EUSAGE, "score: the input 'model' is required");
    if (!input == !region)
        return sl_err_set(err, SL_EUSAGE, "score: give either an input file or a region to saturate");
    char kind = 's';
    if (input && (rc = sniff(input, &kind, err))) return rc;
    if ((kind == 'v' || region) && !fasta)
        return sl_err_set(err, SL_EUSAGE,
                          "score: variant scoring (a VCF or --saturate) needs the reference FASTA");
    sl_nn_bundle_model *m = NULL;
    sl_bio_ref *ref = NULL;
    sbuf out = {0};
    char *path = NULL, *idx = NULL;
    sl_nn_bundle_model_opts mo = {.bundle = model,
                                  .base_dir = base,
                                  .tmp_dir = ctx->workdir,
                                  .window = (int)window,
                                  .stride = (int)stride,
                                  .threads = ctx->threads,
                                  .prefer_adapter = !merged,
                                  .cuda = cuda,
                                  .cuda_device = cuda ? sl_nn_cuda_ordinal() : -1,
                                  .precision = prec};
    if ((rc = sl_nn_bundle_model_open(&mo, &m, err))) goto out;
    json_object_set_new(ctx->summary, "weights", json_string(m->weights));
    if ((kind == 'v' || region) && sl_nn_infer_is_protein(m->infer)) {
        rc = sl_err_set(err, SL_EUSAGE,
                        "score: %s reads protein; variant scoring (a VCF or --saturate) needs a DNA model",
                        model);
        goto out;
    }
    if (kind == 'v' || region) {
        if (!(idx = sl_fs_join(ctx->workdir, "fai"))) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = sl_fs_mkdirs(idx, err)) || (rc = sl_bio_ref_open(fasta, idx, &ref, err))) goto out;
        rc = region ? score_region(m, region, ref, &out, ctx->summary, err)
                    : score_vcf(m, input, ref, &out, ctx->summary, err);
    } else {
        rc = score_sequences(m, input, kind == 'f', &out, ctx->summary, err);
    }
    if (rc) goto out;
    if (!(path = sl_step_out_path(ctx, "scores.tsv"))) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    rc = sl_fs_write_atomic(path, out.p, out.len, err);
out:
    sl_bio_ref_close(ref);
    sl_nn_bundle_model_close(m);
    free(out.p);
    free(path);
    free(idx);
    return rc;
}

static const sl_step_io score_inputs[] = {
    {"model", SL_IO_FILE},
    {"input", SL_IO_FILE | SL_IO_OPTIONAL},
    {"reference", SL_IO_FILE | SL_IO_OPTIONAL},
    {"base", SL_IO_DIR | SL_IO_OPTIONAL},
    {NULL, 0},
};

static const sl_step_io score_outputs[] = {
    {"scores.tsv", SL_IO_FILE},
    {NULL, 0},
};

const sl_step sl_step_score = {
    .name = "score",
    .version = 1,
    .summary = "probabilities from a packaged model: FASTA/TSV sequences (windowed), VCF variants, "
               "saturation mutagenesis",
    .inputs = score_inputs,
    .outputs = score_outputs,
    .run = run_score,
};
