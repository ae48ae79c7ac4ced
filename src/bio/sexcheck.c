#include "sexcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <htslib/vcf.h>

#include "tsv.h"
#include "util/fs.h"
#include "vcf_reader.h"

void sl_bio_sexcheck_opts_init(sl_bio_sexcheck_opts *o) {
    o->build = SL_BIO_BUILD_GRCH37;
    o->female_max = 0.2;
    o->male_min = 0.8;
}

int sl_bio_build_parse(const char *s, sl_bio_build *out, sl_err *err) {
    if (!strcasecmp(s, "GRCh37") || !strcasecmp(s, "hg19") || !strcasecmp(s, "b37") || !strcmp(s, "37")) {
        *out = SL_BIO_BUILD_GRCH37;
        return 0;
    }
    if (!strcasecmp(s, "GRCh38") || !strcasecmp(s, "hg38") || !strcasecmp(s, "b38") || !strcmp(s, "38")) {
        *out = SL_BIO_BUILD_GRCH38;
        return 0;
    }
    return sl_err_set(err, SL_EUSAGE, "unknown genome build '%s' (expected GRCh37 or GRCh38)", s);
}

int sl_bio_sex_parse(const char *s, sl_bio_sex *out) {
    if (!strcasecmp(s, "male") || !strcasecmp(s, "m") || !strcmp(s, "1"))
        *out = SL_BIO_SEX_MALE;
    else if (!strcasecmp(s, "female") || !strcasecmp(s, "f") || !strcmp(s, "2"))
        *out = SL_BIO_SEX_FEMALE;
    else if (!*s || !strcmp(s, "0") || !strcasecmp(s, "unknown") || !strcasecmp(s, "not reported") ||
             !strcmp(s, "--") || !strcasecmp(s, "NA") || !strcmp(s, "."))
        *out = SL_BIO_SEX_UNKNOWN;
    else
        return -1;
    return 0;
}

const char *sl_bio_sex_name(sl_bio_sex s) {
    return s == SL_BIO_SEX_MALE ? "male" : s == SL_BIO_SEX_FEMALE ? "female" : "unknown";
}

void sl_bio_sexcheck_result_free(sl_bio_sexcheck_result *res) {
    if (!res) return;
    for (size_t i = 0; i < res->n; i++) free(res->rows[i].sample);
    free(res->rows);
    memset(res, 0, sizeof *res);
}

void sl_bio_sexcheck_free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int is_x(const char *chrom) {
    return !strcmp(chrom, "X") || !strcmp(chrom, "chrX") || !strcmp(chrom, "23");
}

/* plink's --split-x boundaries: b37 2699520/154931043, b38 2781479/155701382 */
static int in_par(sl_bio_build b, long long pos1) {
    if (b == SL_BIO_BUILD_GRCH38) return pos1 <= 2781479 || pos1 >= 155701383;
    return pos1 <= 2699520 || pos1 >= 154931044;
}

/* Reported sexes from the table into rows[].reported. */
static int read_sex_table(const char *path, sl_bio_sexcheck_result *res, sl_err *err) {
    sl_bio_tsv *t = NULL;
    int rc = sl_bio_tsv_open(path, &t, err);
    if (rc) return rc;
    char *seen = calloc(res->n ? res->n : 1, 1);
    if (!seen) {
        sl_bio_tsv_close(t);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    rc = sl_bio_tsv_next(t, err);
    if (rc == 0) rc = sl_err_set(err, SL_EDATA, "%s: empty sex table (expected a header line)", path);
    if (rc < 0) goto done;
    int cs = -1, cx = -1;
    static const char *const sample_names[] = {"sample", "IID", "id", "case_submitter_id", "sample_id", NULL};
    for (int i = 0; sample_names[i] && cs < 0; i++) cs = sl_bio_tsv_find(t, sample_names[i]);
    cx = sl_bio_tsv_find(t, "sex");
    if (cx < 0) cx = sl_bio_tsv_find(t, "gender");
    if (cx < 0) cx = sl_bio_tsv_find(t, "reported_sex");
    if (cs < 0) cs = 0;
    if (cx < 0) cx = 1;
    if ((size_t)cx >= t->nfields || cx == cs) {
        rc = sl_err_set(err, SL_EDATA, "%s:1: no sex column (name one 'sex' or 'gender')", path);
        goto done;
    }
    while ((rc = sl_bio_tsv_next(t, err)) == 1) {
        if ((size_t)cs >= t->nfields || (size_t)cx >= t->nfields) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: %zu columns, expected at least %d", path, t->lineno,
                            t->nfields, (cs > cx ? cs : cx) + 1);
            goto done;
        }
        sl_bio_sex sx;
        if (sl_bio_sex_parse(t->fields[cx], &sx)) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: sex '%s' is not male/female/1/2 or a missing value", path,
                            t->lineno, t->fields[cx]);
            goto done;
        }
        for (size_t i = 0; i < res->n; i++)
            if (!strcmp(res->rows[i].sample, t->fields[cs])) {
                if (seen[i]) {
                    rc = sl_err_set(err, SL_EDATA, "%s:%ld: sample '%s' appears twice", path, t->lineno,
                                    t->fields[cs]);
                    goto done;
                }
                seen[i] = 1;
                res->rows[i].reported = sx;
                break;
            }
    }
    if (rc > 0) rc = 0;
done:
    free(seen);
    sl_bio_tsv_close(t);
    return rc < 0 ? rc : 0;
}

int sl_bio_sexcheck(const char *vcf, const char *sex_table, const sl_bio_sexcheck_opts *o,
                    sl_bio_sexcheck_result *res, sl_err *err) {
    memset(res, 0, sizeof *res);
    sl_bio_vcf_reader *r = NULL;
    int rc = sl_bio_vcf_reader_open(vcf, &r, err);
    if (rc) return rc;
    int ns = bcf_hdr_nsamples(r->hdr);
    bcf1_t *rec = bcf_init();
    int32_t *gt = NULL;
    int ngt = 0;
    long *hom = NULL, *nsite = NULL, *hap = NULL, *het = NULL;
    double *e = NULL;
    signed char *code = NULL; /* per sample this site: -1 missing, 0 hom ref, 1 het, 2 hom alt; +4 haploid */
    if (ns == 0) {
        rc = sl_err_set(err, SL_EDATA, "%s: the VCF has no samples", vcf);
        goto done;
    }
    res->rows = calloc((size_t)ns, sizeof *res->rows);
    hom = calloc((size_t)ns, sizeof *hom);
    nsite = calloc((size_t)ns, sizeof *nsite);
    hap = calloc((size_t)ns, sizeof *hap);
    het = calloc((size_t)ns, sizeof *het);
    e = calloc((size_t)ns, sizeof *e);
    code = calloc((size_t)ns, 1);
    if (!rec || !res->rows || !hom || !nsite || !hap || !het || !e || !code) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    res->n = (size_t)ns;
    for (int i = 0; i < ns; i++) {
        if (!(res->rows[i].sample = strdup(r->hdr->samples[i]))) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
    }
    while ((rc = sl_bio_vcf_reader_next(r, rec, err)) == 1) {
        if (!is_x(bcf_seqname(r->hdr, rec))) continue;
        if (in_par(o->build, (long long)rec->pos + 1)) {
            res->sites_skipped_par++;
            continue;
        }
        if (rec->n_allele != 2) {
            res->sites_skipped_other++;
            continue;
        }
        int n = bcf_get_genotypes(r->hdr, rec, &gt, &ngt);
        if (n <= 0) {
            res->sites_skipped_other++;
            continue;
        }
        int ploidy = n / ns;
        long alt = 0, tot = 0;
        for (int i = 0; i < ns; i++) {
            int32_t *g = gt + (size_t)i * ploidy;
            int a0 = ploidy > 0 && !bcf_gt_is_missing(g[0]) && g[0] != bcf_int32_vector_end
                         ? bcf_gt_allele(g[0])
                         : -1;
            int a1 = -1, second_absent = 1;
            if (ploidy > 1 && g[1] != bcf_int32_vector_end) {
                second_absent = bcf_gt_is_missing(g[1]);
                if (!second_absent) a1 = bcf_gt_allele(g[1]);
            }
            if (a0 < 0 && a1 >= 0) { /* "./1": a half call written the other way round */
                a0 = a1;
                a1 = -1;
                second_absent = 1;
            }
            if (a0 < 0) {
                code[i] = -1;
                continue;
            }
            if (second_absent) { /* haploid or half call: counts as homozygous, two copies */
                code[i] = (signed char)(4 + (a0 ? 2 : 0));
                alt += a0 ? 2 : 0;
            } else {
                int c = (a0 != 0) + (a1 != 0);
                code[i] = (signed char)c;
                alt += c;
            }
            tot += 2;
        }
        if (tot == 0 || alt == 0 || alt == tot) {
            res->sites_skipped_other++;
            continue;
        }
        double p = (double)alt / (double)tot;
        double es = 1.0 - 2.0 * p * (1.0 - p);
        res->sites_used++;
        for (int i = 0; i < ns; i++) {
            if (code[i] < 0) continue;
            int c = code[i] & 3;
            if (code[i] & 4) hap[i]++;
            if (c == 1)
                het[i]++;
            else
                hom[i]++;
            nsite[i]++;
            e[i] += es;
        }
    }
    if (rc < 0) goto done;
    rc = 0;
    if (res->sites_used == 0) {
        rc = sl_err_set(
            err, SL_EDATA,
            "%s: no usable X site outside the pseudo-autosomal regions of %s (X sites: %ld in PAR, %ld "
            "multiallelic or monomorphic); is the build right and is chromosome X named X, chrX or 23?",
            vcf, o->build == SL_BIO_BUILD_GRCH38 ? "GRCh38" : "GRCh37", res->sites_skipped_par,
            res->sites_skipped_other);
        goto done;
    }
    if (sex_table && (rc = read_sex_table(sex_table, res, err))) goto done;
    int file_has_haploid = 0;
    for (int i = 0; i < ns; i++)
        if (hap[i]) file_has_haploid = 1;
    for (int i = 0; i < ns; i++) {
        sl_bio_sexcheck_row *row = &res->rows[i];
        row->sites = nsite[i];
        row->haploid_calls = hap[i];
        row->het_calls = het[i];
        row->f = nsite[i] > 0 && (double)nsite[i] - e[i] != 0
                     ? ((double)hom[i] - e[i]) / ((double)nsite[i] - e[i])
                     : NAN;
        row->evidence = "none";
        row->inferred = SL_BIO_SEX_UNKNOWN;
        if (nsite[i] > 0 && 2 * hap[i] >= nsite[i] && 100 * het[i] <= nsite[i]) {
            row->inferred = SL_BIO_SEX_MALE;
            row->evidence = "haploid";
        } else if (file_has_haploid && hap[i] == 0 && het[i] > 0) {
            row->inferred = SL_BIO_SEX_FEMALE;
            row->evidence = "diploid-het";
        } else if (!isnan(row->f)) {
            row->evidence = "F";
            if (row->f < o->female_max)
                row->inferred = SL_BIO_SEX_FEMALE;
            else if (row->f > o->male_min)
                row->inferred = SL_BIO_SEX_MALE;
        }
        if (row->inferred == SL_BIO_SEX_UNKNOWN || row->reported == SL_BIO_SEX_UNKNOWN)
            row->status = "UNKNOWN";
        else
            row->status = row->inferred == row->reported ? "OK" : "PROBLEM";
    }
done:
    if (rc) sl_bio_sexcheck_result_free(res);
    free(gt);
    free(hom);
    free(nsite);
    free(hap);
    free(het);
    free(e);
    free(code);
    if (rec) bcf_destroy(rec);
    sl_bio_vcf_reader_close(r);
    return rc;
}

int sl_bio_sexcheck_write_tsv(const sl_bio_sexcheck_result *res, const char *path, sl_err *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory");
    fputs("sample\tF\tsites\thaploid_calls\thet_calls\tevidence\tinferred_sex\treported_sex\tstatus\n", m);
    for (size_t i = 0; i < res->n; i++) {
        const sl_bio_sexcheck_row *r = &res->rows[i];
        char f[32];
        if (isnan(r->f))
            snprintf(f, sizeof f, "nan");
        else
            snprintf(f, sizeof f, "%.6f", r->f);
        fprintf(m, "%s\t%s\t%ld\t%ld\t%ld\t%s\t%s\t%s\t%s\n", r->sample, f, r->sites, r->haploid_calls,
                r->het_calls, r->evidence, sl_bio_sex_name(r->inferred), sl_bio_sex_name(r->reported),
                r->status);
    }
    if (fclose(m) != 0) {
        free(buf);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int rc = sl_fs_write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

int sl_bio_sexcheck_read_problems(const char *path, char ***names, size_t *n, sl_err *err) {
    *names = NULL;
    *n = 0;
    sl_bio_tsv *t = NULL;
    int rc = sl_bio_tsv_open(path, &t, err);
    if (rc) return rc;
    rc = sl_bio_tsv_next(t, err);
    if (rc == 0) rc = sl_err_set(err, SL_EDATA, "%s: empty sex-check table", path);
    if (rc < 0) goto done;
    int cs = sl_bio_tsv_find(t, "sample"), cst = sl_bio_tsv_find(t, "status");
    if (cs < 0 || cst < 0) {
        rc = sl_err_set(err, SL_EDATA, "%s:1: not a sexcheck table (needs the columns sample and status)",
                        path);
        goto done;
    }
    while ((rc = sl_bio_tsv_next(t, err)) == 1) {
        if ((size_t)cs >= t->nfields || (size_t)cst >= t->nfields) {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: too few columns", path, t->lineno);
            goto done;
        }
        if (strcmp(t->fields[cst], "PROBLEM")) continue;
        char **nn = realloc(*names, (*n + 1) * sizeof *nn);
        if (!nn) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        *names = nn;
        if (!((*names)[*n] = strdup(t->fields[cs]))) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        (*n)++;
    }
done:
    sl_bio_tsv_close(t);
    if (rc < 0) {
        sl_bio_sexcheck_free_names(*names, *n);
        *names = NULL;
        *n = 0;
        return rc;
    }
    return 0;
}
