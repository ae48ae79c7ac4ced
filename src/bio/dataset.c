#include "dataset.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/vcf.h>

#include "tsv.h"
#include "util/fs.h"
#include "vcf_reader.h"

void sl_bio_kmerize_opts_init(sl_bio_kmerize_opts *o) {
    memset(o, 0, sizeof *o);
    o->tok = SL_BIO_TOK_KMER;
    o->k = 6;
    o->n_policy = SL_BIO_N_KEEP;
    o->window = 101;
    o->strand = '+';
    o->group_field = "EXON";
    o->haplotype = SL_BIO_HAP_1;
}

/* ---- output accumulation --------------------------------------------------------------------------- */

typedef struct {
    FILE *m;
    char *buf;
    size_t len;
    long rows;
    long long len_sum;
    long len_min, len_max;
    json_t *label_counts;
    long dropped_n;
} out_tsv;

static int out_open(out_tsv *o, const char *header, sl_err *err) {
    memset(o, 0, sizeof *o);
    o->m = open_memstream(&o->buf, &o->len);
    o->label_counts = json_object();
    if (!o->m || !o->label_counts) return sl_err_set(err, SL_ENOMEM, "out of memory");
    fputs(header, o->m);
    fputc('\n', o->m);
    return 0;
}

static void out_discard(out_tsv *o) {
    if (o->m) fclose(o->m);
    o->m = NULL;
    free(o->buf);
    o->buf = NULL;
    json_decref(o->label_counts);
    o->label_counts = NULL;
}

/* Append one row: returns 1 when written, 0 when dropped for N, <0 on error. `meta` starts with a tab or is
 * "". */
static int out_row(out_tsv *o, const sl_bio_kmerize_opts *opt, const char *id, const char *seq,
                   const char *label, const char *meta, const char *where, sl_err *err) {
    size_t n = strlen(seq);
    if (opt->n_policy != SL_BIO_N_KEEP && sl_bio_count_non_acgt(seq, n)) {
        if (opt->n_policy == SL_BIO_N_ERROR)
            return sl_err_set(err, SL_EDATA,
                              "%s: the sequence of %s holds a base other than A/C/G/T (N policy: error)",
                              where, id);
        o->dropped_n++;
        return 0;
    }
    char *text = NULL;
    int rc = sl_bio_tokenize(seq, n, opt->tok, opt->k, &text, err);
    if (rc) return sl_err_prefix(err, "%s: %s", where, id);
    fprintf(o->m, "%s\t%s\t%s%s\n", id, text, label, meta);
    free(text);
    o->rows++;
    o->len_sum += (long long)n;
    if (o->rows == 1 || (long)n < o->len_min) o->len_min = (long)n;
    if ((long)n > o->len_max) o->len_max = (long)n;
    json_t *c = json_object_get(o->label_counts, label);
    json_object_set_new(o->label_counts, label, json_integer(c ? json_integer_value(c) + 1 : 1));
    return 1;
}

static int out_finish(out_tsv *o, const sl_bio_kmerize_opts *opt, const char *path, json_t *summary,
                      sl_err *err) {
    if (fclose(o->m) != 0) {
        o->m = NULL;
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    o->m = NULL;
    if (o->rows == 0) return sl_err_set(err, SL_EDATA, "no example left (dataset would be empty)");
    int rc = sl_fs_write_atomic(path, o->buf, o->len, err);
    if (rc) return rc;
    if (summary) {
        json_object_set_new(summary, "rows", json_integer(o->rows));
        json_object_set(summary, "label_counts", o->label_counts);
        json_t *l = json_object();
        json_object_set_new(l, "min", json_integer(o->len_min));
        json_object_set_new(l, "max", json_integer(o->len_max));
        json_object_set_new(l, "mean", json_real((double)o->len_sum / (double)o->rows));
        json_object_set_new(summary, "length", l);
        json_t *t = json_object();
        json_object_set_new(t, "kind",
                            json_string(opt->tok == SL_BIO_TOK_KMER  ? "kmer"
                                        : opt->tok == SL_BIO_TOK_NT6 ? "nt6"
                                                                     : "raw"));
        if (opt->tok == SL_BIO_TOK_KMER) json_object_set_new(t, "k", json_integer(opt->k));
        json_object_set_new(summary, "tokens", t);
        json_object_set_new(summary, "dropped_non_acgt", json_integer(o->dropped_n));
    }
    return 0;
}

/* ---- INFO values as text --------------------------------------------------------------------------- */

/* The INFO value of `key` as text into *buf (malloc'd/grown); 0 when present, 1 when absent. */
static int info_text(const bcf_hdr_t *h, bcf1_t *rec, const char *key, char **buf, size_t *cap) {
    int id = bcf_hdr_id2int(h, BCF_DT_ID, key);
    if (id < 0 || !bcf_hdr_idinfo_exists(h, BCF_HL_INFO, id)) return 1;
    int type = bcf_hdr_id2type(h, BCF_HL_INFO, id);
    void *vals = NULL;
    int nv = 0, n;
    kstring_t s = {0, 0, NULL};
    if (type == BCF_HT_STR) {
        n = bcf_get_info_string(h, rec, key, &vals, &nv);
        if (n > 0) kputs((char *)vals, &s);
    } else if (type == BCF_HT_INT) {
        n = bcf_get_info_int32(h, rec, key, &vals, &nv);
        for (int i = 0; i < n; i++) ksprintf(&s, "%s%d", i ? "," : "", ((int32_t *)vals)[i]);
    } else if (type == BCF_HT_REAL) {
        n = bcf_get_info_float(h, rec, key, &vals, &nv);
        for (int i = 0; i < n; i++) ksprintf(&s, "%s%.9g", i ? "," : "", (double)((float *)vals)[i]);
    } else if (type == BCF_HT_FLAG) {
        n = bcf_get_info_flag(h, rec, key, &vals, &nv);
        if (n == 1) kputs("1", &s);
    } else {
        n = -1;
    }
    free(vals);
    if (n <= 0 || !s.s) {
        free(s.s);
        return 1;
    }
    free(*buf);
    *buf = s.s;
    *cap = s.m;
    return 0;
}

static const char *map_label(const sl_bio_kmerize_opts *o, const char *v) {
    if (!o->n_map) return v;
    for (size_t i = 0; i < o->n_map; i++)
        if (!strcmp(o->map_from[i], v)) return o->map_to[i];
    return NULL;
}

static int is_bases(const char *a) {
    if (!*a) return 0;
    for (; *a; a++)
        if (!strchr("ACGTNacgtn", *a)) return 0;
    return 1;
}

static int same_bases(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (toupper((unsigned char)a[i]) != toupper((unsigned char)b[i])) return 0;
    return 1;
}

/* ---- variant mode ---------------------------------------------------------------------------------- */

typedef struct {
    sl_bio_ref *ref;
    const sl_bio_kmerize_opts *o;
    out_tsv *out;
    char *refseq, *win, *rwin;
    kstring_t meta, id;
    long symbolic;
} var_ctx;

/* One row per ALT allele of a variant; `alts` are the ALT alleles, `id0` the record's ID ("." or NULL: none).
 */
static int emit_variant(var_ctx *c, const char *chrom, long long pos0, const char *REF,
                        const char *const *alts, int nalt, const char *id0, const char *label,
                        const char *grp, const char *csq, const char *cadd, const char *where, sl_err *err) {
    const sl_bio_kmerize_opts *o = c->o;
    const int W = o->window, L = (o->window - 1) / 2;
    size_t rl = strlen(REF);
    if (!is_bases(REF)) return sl_err_set(err, SL_EDATA, "%s: REF '%s' is not a base sequence", where, REF);
    long long ws = pos0 - L;
    if (ws < 0)
        return sl_err_set(err, SL_EDATA, "%s: the %d-base window around %s:%lld starts before the chromosome",
                          where, W, chrom, pos0 + 1);
    long long fetch_end = pos0 + (long long)rl + W; /* enough for the right flank of any indel */
    free(c->refseq);
    c->refseq = NULL;
    int rc = sl_bio_ref_fetch(c->ref, chrom, ws, fetch_end, &c->refseq, err);
    if (rc == SL_ENOTFOUND) { /* near the end of a region-named sequence: take what the window needs */
        sl_err_clear(err);
        rc = sl_bio_ref_fetch(c->ref, chrom, ws,
                              ws + W > pos0 + (long long)rl ? ws + W : pos0 + (long long)rl, &c->refseq, err);
    }
    if (rc) {
        sl_err_prefix(err, "%s: window of %s:%lld", where, chrom, pos0 + 1);
        if (rc == SL_ENOTFOUND)
            err->code = rc = SL_EDATA; /* a reference that does not cover the variants: bad input */
        return rc;
    }
    const char *refseq = c->refseq;
    size_t avail = strlen(refseq);
    if (!same_bases(refseq + L, REF, rl))
        return sl_err_set(err, SL_EDATA, "%s: REF %s at %s:%lld does not match the reference (%.*s)", where,
                          REF, chrom, pos0 + 1, (int)rl, refseq + L);
    for (int a = 0; a < nalt; a++) {
        const char *ALT = alts[a];
        if (!is_bases(ALT)) {
            c->symbolic++;
            continue;
        }
        size_t al = strlen(ALT);
        free(c->win);
        if (!(c->win = malloc((size_t)W + 1))) return sl_err_set(err, SL_ENOMEM, "out of memory");
        char *win = c->win;
        size_t w = 0;
        for (int i = 0; i < L && w < (size_t)W; i++) win[w++] = refseq[i];
        for (size_t i = 0; i < al && w < (size_t)W; i++) win[w++] = (char)toupper((unsigned char)ALT[i]);
        for (size_t i = (size_t)L + rl; i < avail && w < (size_t)W; i++) win[w++] = refseq[i];
        win[w] = 0;
        if (w < (size_t)W)
            return sl_err_set(err, SL_EDATA, "%s: the reference ends before the %d-base window of %s:%lld",
                              where, W, chrom, pos0 + 1);
        if (o->strand == '-') sl_bio_revcomp(win, w);
        c->meta.l = 0;
        ksprintf(&c->meta, "\t%s\t%lld\t%s\t%s\t%s\t%s\t%s", chrom, pos0 + 1, REF, ALT, grp ? grp : "NA",
                 csq ? csq : "NA", cadd ? cadd : "NA");
        if (o->ref_column) {
            free(c->rwin);
            c->rwin = strndup(refseq, (size_t)W);
            if (!c->rwin || strlen(c->rwin) < (size_t)W)
                return sl_err_set(err, SL_EDATA, "%s: the reference ends before the window", where);
            if (o->strand == '-') sl_bio_revcomp(c->rwin, (size_t)W);
            char *rt = NULL;
            if ((rc = sl_bio_tokenize(c->rwin, (size_t)W, o->tok, o->k, &rt, err))) return rc;
            ksprintf(&c->meta, "\t%s", rt);
            free(rt);
        }
        c->id.l = 0;
        if (id0 && *id0 && strcmp(id0, ".") && nalt == 1)
            kputs(id0, &c->id);
        else
            ksprintf(&c->id, "%s:%lld:%s>%s", chrom, pos0 + 1, REF, ALT);
        int w2 = out_row(c->out, o, c->id.s, win, label, c->meta.s, where, err);
        if (w2 < 0) return w2;
    }
    return 0;
}

static const char *variant_header(const sl_bio_kmerize_opts *o) {
    return o->ref_column ? "id\tsequence\tlabel\tchrom\tpos\tref\talt\texon\tconsequence\tcadd\tref_sequence"
                         : "id\tsequence\tlabel\tchrom\tpos\tref\talt\texon\tconsequence\tcadd";
}

static void variant_summary(json_t *summary, const sl_bio_kmerize_opts *o, long unlabelled, long unmapped,
                            long symbolic) {
    if (!summary) return;
    json_object_set_new(summary, "mode", json_string("variant"));
    json_object_set_new(summary, "window", json_integer(o->window));
    json_object_set_new(summary, "strand", json_string(o->strand == '-' ? "-" : "+"));
    json_object_set_new(summary, "dropped_unlabelled", json_integer(unlabelled));
    json_object_set_new(summary, "dropped_unmapped", json_integer(unmapped));
    json_object_set_new(summary, "dropped_symbolic", json_integer(symbolic));
}

static int check_window(const sl_bio_kmerize_opts *o, sl_err *err) {
    if (o->window < 1 || o->window > 100000) return sl_err_set(err, SL_EUSAGE, "window must be in 1..100000");
    if (o->tok == SL_BIO_TOK_KMER && o->window < o->k)
        return sl_err_set(err, SL_EUSAGE, "window (%d) is shorter than k (%d)", o->window, o->k);
    return 0;
}

int sl_bio_kmerize_variants(const char *vcf, sl_bio_ref *ref, const sl_bio_kmerize_opts *o,
                            const char *out_path, json_t *summary, sl_err *err) {
    int rc = check_window(o, err);
    if (rc) return rc;
    sl_bio_vcf_reader *r = NULL;
    if ((rc = sl_bio_vcf_reader_open(vcf, &r, err))) return rc;
    bcf1_t *rec = bcf_init();
    out_tsv out;
    var_ctx c;
    memset(&c, 0, sizeof c);
    c.ref = ref;
    c.o = o;
    c.out = &out;
    char *lab = NULL, *bufs[3] = {NULL, NULL, NULL};
    size_t cap = 0;
    kstring_t where = {0, 0, NULL};
    long unlabelled = 0, unmapped = 0;
    if ((rc = out_open(&out, variant_header(o), err))) goto done;
    if (!rec) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (o->label_field) {
        int idx = bcf_hdr_id2int(r->hdr, BCF_DT_ID, o->label_field);
        if (idx < 0 || !bcf_hdr_idinfo_exists(r->hdr, BCF_HL_INFO, idx)) {
            rc = sl_err_set(err, SL_EUSAGE, "%s: the header defines no INFO/%s to take labels from", vcf,
                            o->label_field);
            goto done;
        }
    }
    while ((rc = sl_bio_vcf_reader_next(r, rec, err)) == 1) {
        where.l = 0;
        if (r->is_text)
            ksprintf(&where, "%s:%ld", vcf, r->lineno);
        else
            ksprintf(&where, "%s: record %lld", vcf, r->nrec);
        const char *label = "NA";
        if (o->label_field) {
            if (info_text(r->hdr, rec, o->label_field, &lab, &cap)) {
                unlabelled += rec->n_allele - 1;
                continue;
            }
            label = map_label(o, lab);
            if (!label) {
                unmapped += rec->n_allele - 1;
                continue;
            }
        }
        const char *keys[3] = {o->group_field, "CONSEQUENCE", "CADD"};
        const char *vals[3];
        for (int k = 0; k < 3; k++) {
            size_t c2 = 0;
            vals[k] = keys[k] && !info_text(r->hdr, rec, keys[k], &bufs[k], &c2) ? bufs[k] : NULL;
        }
        if ((rc = emit_variant(&c, bcf_seqname(r->hdr, rec), rec->pos, rec->d.allele[0],
                               (const char *const *)rec->d.allele + 1, rec->n_allele - 1, rec->d.id, label,
                               vals[0], vals[1], vals[2], where.s, err)))
            goto done;
    }
    if (rc < 0) goto done;
    if ((rc = out_finish(&out, o, out_path, summary, err))) {
        sl_err_prefix(err, "%s", vcf);
        goto done;
    }
    variant_summary(summary, o, unlabelled, unmapped, c.symbolic);
done:
    out_discard(&out);
    free(lab);
    for (int k = 0; k < 3; k++) free(bufs[k]);
    free(c.refseq);
    free(c.win);
    free(c.rwin);
    free(c.meta.s);
    free(c.id.s);
    free(where.s);
    if (rec) bcf_destroy(rec);
    sl_bio_vcf_reader_close(r);
    return rc;
}

int sl_bio_kmerize_variant_table(const char *tsv, sl_bio_ref *ref, const sl_bio_kmerize_opts *o,
                                 const char *out_path, json_t *summary, sl_err *err) {
    int rc = check_window(o, err);
    if (rc) return rc;
    sl_bio_tsv *t = NULL;
    if ((rc = sl_bio_tsv_open(tsv, &t, err))) return rc;
    out_tsv out;
    var_ctx c;
    memset(&c, 0, sizeof c);
    c.ref = ref;
    c.o = o;
    c.out = &out;
    kstring_t where = {0, 0, NULL};
    long unlabelled = 0, unmapped = 0;
    memset(&out, 0, sizeof out);
    rc = sl_bio_tsv_next(t, err);
    if (rc == 0)
        rc = sl_err_set(err, SL_EDATA, "%s: empty file (expected a header: chrom pos ref alt ...)", tsv);
    if (rc < 0) goto done;
    int cc = sl_bio_tsv_find(t, "chrom"), cp = sl_bio_tsv_find(t, "pos"), cr = sl_bio_tsv_find(t, "ref"),
        ca = sl_bio_tsv_find(t, "alt"), cl = o->label_field ? sl_bio_tsv_find(t, o->label_field) : -1,
        cg = o->group_field ? sl_bio_tsv_find(t, o->group_field) : -1, cq = sl_bio_tsv_find(t, "consequence"),
        cd = sl_bio_tsv_find(t, "cadd"), ci = sl_bio_tsv_find(t, "id");
    if (cg < 0) cg = sl_bio_tsv_find(t, "exon");
    if (cc < 0 || cp < 0 || cr < 0 || ca < 0 || (o->label_field && cl < 0)) {
        rc = sl_err_set(err, SL_EDATA, "%s:1: a variant table needs the columns chrom, pos, ref, alt%s%s",
                        tsv, o->label_field ? " and " : "", o->label_field ? o->label_field : "");
        goto done;
    }
    size_t ncols = t->nfields;
    if ((rc = out_open(&out, variant_header(o), err))) goto done;
    while ((rc = sl_bio_tsv_next(t, err)) == 1) {
        where.l = 0;
        ksprintf(&where, "%s:%ld", tsv, t->lineno);
        if (t->nfields != ncols) {
            rc = sl_err_set(err, SL_EDATA, "%s: %zu fields, the header has %zu", where.s, t->nfields, ncols);
            goto done;
        }
        char *end;
        long long pos = strtoll(t->fields[cp], &end, 10);
        if (*end || end == t->fields[cp] || pos < 1) {
            rc = sl_err_set(err, SL_EDATA, "%s: pos '%s' is not a 1-based position", where.s, t->fields[cp]);
            goto done;
        }
        const char *label = "NA";
        if (cl >= 0) {
            const char *v = t->fields[cl];
            if (!*v || !strcmp(v, "NA") || !strcmp(v, ".")) {
                unlabelled++;
                continue;
            }
            if (!(label = map_label(o, v))) {
                unmapped++;
                continue;
            }
        }
        /* ALT may list several alleles, comma-separated */
        char *alts[64];
        int nalt = 0;
        for (char *a = t->fields[ca], *save = NULL, *tok = strtok_r(a, ",", &save); tok && nalt < 64;
             tok = strtok_r(NULL, ",", &save))
            alts[nalt++] = tok;
        if (nalt == 0) {
            rc = sl_err_set(err, SL_EDATA, "%s: empty alt", where.s);
            goto done;
        }
        if ((rc = emit_variant(&c, t->fields[cc], pos - 1, t->fields[cr], (const char *const *)alts, nalt,
                               ci >= 0 ? t->fields[ci] : NULL, label, cg >= 0 ? t->fields[cg] : NULL,
                               cq >= 0 ? t->fields[cq] : NULL, cd >= 0 ? t->fields[cd] : NULL, where.s, err)))
            goto done;
    }
    if (rc < 0) goto done;
    if ((rc = out_finish(&out, o, out_path, summary, err))) {
        sl_err_prefix(err, "%s", tsv);
        goto done;
    }
    variant_summary(summary, o, unlabelled, unmapped, c.symbolic);
done:
    out_discard(&out);
    free(c.refseq);
    free(c.win);
    free(c.rwin);
    free(c.meta.s);
    free(c.id.s);
    free(where.s);
    sl_bio_tsv_close(t);
    return rc;
}

/* ---- FASTA mode ------------------------------------------------------------------------------------ */

int sl_bio_kmerize_fasta(sl_bio_ref *seqs, const char *labels_tsv, const sl_bio_kmerize_opts *o,
                         const char *out_path, json_t *summary, sl_err *err) {
    sl_bio_tsv *t = NULL;
    char **ids = NULL, **vals = NULL;
    size_t nl = 0;
    out_tsv out;
    memset(&out, 0, sizeof out);
    kstring_t id = {0, 0, NULL}, meta = {0, 0, NULL};
    char *seq = NULL;
    long unlabelled = 0;
    int rc = 0;
    if (labels_tsv) {
        if ((rc = sl_bio_tsv_open(labels_tsv, &t, err))) return rc;
        rc = sl_bio_tsv_next(t, err);
        if (rc == 0) rc = sl_err_set(err, SL_EDATA, "%s: empty label table", labels_tsv);
        if (rc < 0) goto done;
        int cid = sl_bio_tsv_find(t, "id"), clab = sl_bio_tsv_find(t, "label");
        if (cid < 0 || clab < 0) {
            rc = sl_err_set(err, SL_EDATA, "%s:1: a label table needs the columns id and label", labels_tsv);
            goto done;
        }
        while ((rc = sl_bio_tsv_next(t, err)) == 1) {
            if ((size_t)cid >= t->nfields || (size_t)clab >= t->nfields) {
                rc = sl_err_set(err, SL_EDATA, "%s:%ld: too few columns", labels_tsv, t->lineno);
                goto done;
            }
            char **a = realloc(ids, (nl + 1) * sizeof *a);
            if (a) ids = a;
            char **b = realloc(vals, (nl + 1) * sizeof *b);
            if (b) vals = b;
            if (!a || !b || !(ids[nl] = strdup(t->fields[cid]))) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            if (!(vals[nl] = strdup(t->fields[clab]))) {
                free(ids[nl]);
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            nl++;
        }
        if (rc < 0) goto done;
        rc = 0;
    }
    if ((rc = out_open(&out, "id\tsequence\tlabel\tsource\tstart\tend", err))) goto done;
    int n = sl_bio_ref_nseq(seqs);
    for (int i = 0; i < n; i++) {
        const char *name = sl_bio_ref_seq_name(seqs, i);
        const char *label = "NA";
        if (labels_tsv) {
            label = NULL;
            for (size_t k = 0; k < nl && !label; k++)
                if (!strcmp(ids[k], name)) label = vals[k];
            if (!label) {
                unlabelled++;
                continue;
            }
            if (!(label = map_label(o, label))) {
                unlabelled++;
                continue;
            }
        }
        free(seq);
        seq = NULL;
        if ((rc = sl_bio_ref_fetch_named(seqs, name, &seq, err))) goto done;
        size_t len = strlen(seq);
        size_t W = o->window > 0 && o->stride > 0 ? (size_t)o->window : len;
        size_t step = o->stride > 0 ? (size_t)o->stride : len;
        for (size_t s0 = 0; s0 < len && (s0 == 0 || s0 + W <= len); s0 += step) {
            size_t wl = s0 + W <= len ? W : len - s0;
            char save = seq[s0 + wl];
            seq[s0 + wl] = 0;
            id.l = 0;
            if (W == len)
                kputs(name, &id);
            else
                ksprintf(&id, "%s:%zu-%zu", name, s0 + 1, s0 + wl);
            meta.l = 0;
            ksprintf(&meta, "\t%s\t%zu\t%zu", name, s0 + 1, s0 + wl);
            int w = out_row(&out, o, id.s, seq + s0, label, meta.s, name, err);
            seq[s0 + wl] = save;
            if (w < 0) {
                rc = w;
                goto done;
            }
            if (W == len) break;
        }
    }
    if ((rc = out_finish(&out, o, out_path, summary, err))) goto done;
    if (summary) {
        json_object_set_new(summary, "mode", json_string("fasta"));
        json_object_set_new(summary, "sequences", json_integer(n));
        json_object_set_new(summary, "dropped_unlabelled", json_integer(unlabelled));
    }
done:
    out_discard(&out);
    for (size_t k = 0; k < nl; k++) {
        free(ids[k]);
        free(vals[k]);
    }
    free(ids);
    free(vals);
    free(id.s);
    free(meta.s);
    free(seq);
    sl_bio_tsv_close(t);
    return rc;
}

/* ---- sample mode ----------------------------------------------------------------------------------- */

typedef struct {
    long long pos0;
    int reflen;
    char **alleles; /* upper-case, [0] = REF */
    int n_allele;
    int32_t *gt; /* nsamples * ploidy */
    int ploidy;
} var_t;

static void vars_free(var_t *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        for (int a = 0; a < v[i].n_allele; a++) free(v[i].alleles[a]);
        free(v[i].alleles);
        free(v[i].gt);
    }
    free(v);
}

static char iupac(char a, char b) {
    if (a == b) return a;
    char x = a < b ? a : b, y = a < b ? b : a;
    if (x == 'A' && y == 'G') return 'R';
    if (x == 'C' && y == 'T') return 'Y';
    if (x == 'C' && y == 'G') return 'S';
    if (x == 'A' && y == 'T') return 'W';
    if (x == 'G' && y == 'T') return 'K';
    if (x == 'A' && y == 'C') return 'M';
    return 'N';
}

/* allele index of sample s on haplotype h (0/1); -1 missing */
static int gt_allele(const var_t *v, int s, int h) {
    const int32_t *g = v->gt + (size_t)s * v->ploidy;
    int idx = h < v->ploidy ? h : 0;
    if (g[idx] == bcf_int32_vector_end) idx = 0; /* haploid call: the one allele */
    if (bcf_gt_is_missing(g[idx])) return -1;
    return bcf_gt_allele(g[idx]);
}

int sl_bio_kmerize_samples(const char *vcf, const char *labels_tsv, sl_bio_ref *ref,
                           const sl_bio_intervals *in_iv, const sl_bio_kmerize_opts *o, const char *out_path,
                           json_t *summary, sl_err *err) {
    sl_bio_vcf_reader *r = NULL;
    sl_bio_tsv *t = NULL;
    int rc = 0;
    out_tsv out;
    memset(&out, 0, sizeof out);
    char **lab_ids = NULL, **lab_vals = NULL;
    size_t nlab = 0;
    var_t *vars = NULL;
    size_t nvars = 0, capvars = 0;
    bcf1_t *rec = NULL;
    int32_t *gt = NULL;
    int ngt = 0;
    char **refs = NULL;
    sl_bio_intervals iv = {NULL, 0};
    kstring_t seq = {0, 0, NULL}, meta = {0, 0, NULL}, id = {0, 0, NULL};
    long skipped_overlap = 0, skipped_edge = 0, unlabelled = 0, applied_total = 0;
    int *label_of = NULL;
    /* labels */
    if ((rc = sl_bio_tsv_open(labels_tsv, &t, err))) goto done;
    rc = sl_bio_tsv_next(t, err);
    if (rc == 0) rc = sl_err_set(err, SL_EDATA, "%s: empty label table", labels_tsv);
    if (rc < 0) goto done;
    int cid = sl_bio_tsv_find(t, "id"), clab = sl_bio_tsv_find(t, "label");
    if (cid < 0 || clab < 0) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s:1: a label table needs the columns id and label (seqlora clinical writes it)",
                        labels_tsv);
        goto done;
    }
    while ((rc = sl_bio_tsv_next(t, err)) == 1) {
        if ((size_t)cid >= t->nfields || (size_t)clab >= t->nfields) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: too few columns", labels_tsv, t->lineno);
            goto done;
        }
        for (size_t i = 0; i < nlab; i++)
            if (!strcmp(lab_ids[i], t->fields[cid])) {
                rc = sl_err_set(err, SL_EDATA, "%s:%ld: duplicate id '%s'", labels_tsv, t->lineno,
                                t->fields[cid]);
                goto done;
            }
        char **a = realloc(lab_ids, (nlab + 1) * sizeof *a);
        if (a) lab_ids = a;
        char **b = realloc(lab_vals, (nlab + 1) * sizeof *b);
        if (b) lab_vals = b;
        if (!a || !b) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        lab_ids[nlab] = strdup(t->fields[cid]);
        lab_vals[nlab] = strdup(t->fields[clab]);
        nlab++;
        if (!lab_ids[nlab - 1] || !lab_vals[nlab - 1]) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
    }
    if (rc < 0) goto done;
    /* intervals (sorted, one chromosome, one strand, no overlap: checked by fetching the spliced reference)
     */
    iv.v = malloc(in_iv->n * sizeof *iv.v);
    if (!iv.v) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(iv.v, in_iv->v, in_iv->n * sizeof *iv.v);
    iv.n = in_iv->n;
    sl_bio_intervals_sort(&iv);
    {
        char *check = NULL, st;
        if ((rc = sl_bio_spliced_sequence(ref, &iv, &check, &st, err))) goto done;
        free(check);
    }
    const char strand = iv.v[0].strand == '-' ? '-' : '+';
    refs = calloc(iv.n, sizeof *refs);
    if (!refs) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < iv.n; i++)
        if ((rc = sl_bio_ref_fetch(ref, iv.v[i].chrom, iv.v[i].start0, iv.v[i].end0, &refs[i], err)))
            goto done;
    const long long span0 = iv.v[0].start0, span1 = iv.v[iv.n - 1].end0;
    /* variants in the span */
    if ((rc = sl_bio_vcf_reader_open(vcf, &r, err))) goto done;
    int ns = bcf_hdr_nsamples(r->hdr);
    if (ns == 0) {
        rc = sl_err_set(err, SL_EDATA, "%s: the VCF has no samples (sample mode needs genotypes)", vcf);
        goto done;
    }
    rec = bcf_init();
    if (!rec) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    const char *strip_chr = !strncmp(iv.v[0].chrom, "chr", 3) ? iv.v[0].chrom + 3 : iv.v[0].chrom;
    while ((rc = sl_bio_vcf_reader_next(r, rec, err)) == 1) {
        const char *c = bcf_seqname(r->hdr, rec);
        if (strcmp(!strncmp(c, "chr", 3) ? c + 3 : c, strip_chr)) continue;
        long long p0 = rec->pos;
        int rl = (int)strlen(rec->d.allele[0]);
        if (p0 + rl <= span0 || p0 >= span1) continue;
        int n = bcf_get_genotypes(r->hdr, rec, &gt, &ngt);
        if (n <= 0) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: no GT (sample mode needs genotypes)", vcf, r->lineno);
            goto done;
        }
        /* REF against the reference */
        char *rs = NULL;
        if ((rc = sl_bio_ref_fetch(ref, c, p0, p0 + rl, &rs, err))) goto done;
        int ok = same_bases(rs, rec->d.allele[0], (size_t)rl);
        if (!ok) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: REF %s at %s:%lld does not match the reference (%s)", vcf,
                            r->lineno, rec->d.allele[0], c, p0 + 1, rs);
            free(rs);
            goto done;
        }
        free(rs);
        if (nvars == capvars) {
            capvars = capvars ? 2 * capvars : 64;
            var_t *nv = realloc(vars, capvars * sizeof *nv);
            if (!nv) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            vars = nv;
        }
        var_t *v = &vars[nvars];
        memset(v, 0, sizeof *v);
        v->pos0 = p0;
        v->reflen = rl;
        v->ploidy = n / ns;
        v->gt = malloc((size_t)n * sizeof *v->gt);
        v->alleles = calloc((size_t)rec->n_allele, sizeof *v->alleles);
        if (!v->gt || !v->alleles) {
            free(v->gt);
            free(v->alleles);
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        nvars++;
        memcpy(v->gt, gt, (size_t)n * sizeof *gt);
        v->n_allele = rec->n_allele;
        for (int a = 0; a < rec->n_allele; a++) {
            const char *al = rec->d.allele[a];
            v->alleles[a] = strdup(is_bases(al) ? al : "");
            if (!v->alleles[a]) {
                rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            for (char *q = v->alleles[a]; *q; q++) *q = (char)toupper((unsigned char)*q);
        }
    }
    if (rc < 0) goto done;
    rc = 0;
    /* which VCF samples have labels */
    label_of = malloc((size_t)ns * sizeof *label_of);
    if (!label_of) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    long labels_without_genotypes = 0;
    for (int s = 0; s < ns; s++) {
        label_of[s] = -1;
        for (size_t i = 0; i < nlab; i++)
            if (!strcmp(lab_ids[i], r->hdr->samples[s])) label_of[s] = (int)i;
        if (label_of[s] < 0) unlabelled++;
    }
    for (size_t i = 0; i < nlab; i++)
        if (bcf_hdr_id2int(r->hdr, BCF_DT_SAMPLE, lab_ids[i]) < 0) labels_without_genotypes++;
    if ((rc = out_open(&out, "id\tsequence\tlabel\tsample\thaplotype\tvariants_applied", err))) goto done;
    for (int s = 0; s < ns; s++) {
        if (label_of[s] < 0) continue;
        int nh = o->haplotype == SL_BIO_HAP_BOTH ? 2 : 1;
        for (int hi = 0; hi < nh; hi++) {
            int h = o->haplotype == SL_BIO_HAP_2 ? 1 : o->haplotype == SL_BIO_HAP_BOTH ? hi : 0;
            seq.l = 0;
            long applied = 0;
            for (size_t k = 0; k < iv.n; k++) {
                long long cur = iv.v[k].start0;
                const char *rk = refs[k];
                for (size_t vi = 0; vi < nvars; vi++) {
                    const var_t *v = &vars[vi];
                    if (v->pos0 + v->reflen <= iv.v[k].start0 || v->pos0 >= iv.v[k].end0) continue;
                    const char *allele = NULL;
                    int a1 = gt_allele(v, s, h);
                    char code[2] = {0, 0};
                    if (o->haplotype == SL_BIO_HAP_IUPAC) {
                        int x = gt_allele(v, s, 0), y = gt_allele(v, s, 1);
                        if (x < 0) x = 0;
                        if (y < 0) y = 0;
                        if (x == 0 && y == 0) continue;
                        if (x == y) {
                            allele = v->alleles[x];
                        } else if (v->reflen == 1 && strlen(v->alleles[x]) == 1 &&
                                   strlen(v->alleles[y]) == 1) {
                            code[0] = iupac(v->alleles[x][0], v->alleles[y][0]);
                            allele = code;
                        } else {
                            rc = sl_err_set(
                                err, SL_EDATA,
                                "%s: sample %s is heterozygous for the non-SNV at %s:%lld, which IUPAC "
                                "mode cannot represent (use haplotype 1, 2 or both)",
                                vcf, r->hdr->samples[s], iv.v[k].chrom, v->pos0 + 1);
                            goto done;
                        }
                    } else {
                        if (a1 <= 0) continue;
                        allele = v->alleles[a1];
                    }
                    if (!*allele) continue; /* symbolic or '*' allele: nothing to apply */
                    if (v->pos0 < iv.v[k].start0 || v->pos0 + v->reflen > iv.v[k].end0) {
                        skipped_edge++;
                        continue;
                    }
                    if (v->pos0 < cur) {
                        skipped_overlap++;
                        continue;
                    }
                    kputsn(rk + (cur - iv.v[k].start0), (size_t)(v->pos0 - cur), &seq);
                    kputs(allele, &seq);
                    cur = v->pos0 + v->reflen;
                    applied++;
                }
                kputsn(rk + (cur - iv.v[k].start0), (size_t)(iv.v[k].end0 - cur), &seq);
            }
            if (strand == '-') sl_bio_revcomp(seq.s, seq.l);
            id.l = 0;
            if (nh == 2)
                ksprintf(&id, "%s_%d", r->hdr->samples[s], hi + 1);
            else
                kputs(r->hdr->samples[s], &id);
            meta.l = 0;
            ksprintf(&meta, "\t%s\t%s\t%ld", r->hdr->samples[s],
                     o->haplotype == SL_BIO_HAP_IUPAC ? "iupac"
                     : h == 0                         ? "1"
                                                      : "2",
                     applied);
            applied_total += applied;
            int w = out_row(&out, o, id.s, seq.s ? seq.s : "", lab_vals[label_of[s]], meta.s, vcf, err);
            if (w < 0) {
                rc = w;
                goto done;
            }
        }
    }
    if ((rc = out_finish(&out, o, out_path, summary, err))) {
        sl_err_prefix(err, "%s", vcf);
        goto done;
    }
    if (summary) {
        json_object_set_new(summary, "mode", json_string("sample"));
        json_object_set_new(summary, "strand", json_string(strand == '-' ? "-" : "+"));
        json_object_set_new(summary, "intervals", json_integer((json_int_t)iv.n));
        json_object_set_new(summary, "variants_in_span", json_integer((json_int_t)nvars));
        json_object_set_new(summary, "variants_applied", json_integer(applied_total));
        json_object_set_new(summary, "skipped_overlapping", json_integer(skipped_overlap));
        json_object_set_new(summary, "skipped_interval_edge", json_integer(skipped_edge));
        json_object_set_new(summary, "samples_without_label", json_integer(unlabelled));
        json_object_set_new(summary, "labels_without_genotypes", json_integer(labels_without_genotypes));
        json_object_set_new(summary, "haplotype",
                            json_string(o->haplotype == SL_BIO_HAP_1      ? "1"
                                        : o->haplotype == SL_BIO_HAP_2    ? "2"
                                        : o->haplotype == SL_BIO_HAP_BOTH ? "both"
                                                                          : "iupac"));
    }
done:
    out_discard(&out);
    for (size_t i = 0; i < nlab; i++) {
        free(lab_ids[i]);
        free(lab_vals[i]);
    }
    free(lab_ids);
    free(lab_vals);
    vars_free(vars, nvars);
    if (refs)
        for (size_t i = 0; i < iv.n; i++) free(refs[i]);
    free(refs);
    free(iv.v);
    free(gt);
    free(label_of);
    free(seq.s);
    free(meta.s);
    free(id.s);
    if (rec) bcf_destroy(rec);
    sl_bio_vcf_reader_close(r);
    sl_bio_tsv_close(t);
    return rc;
}
