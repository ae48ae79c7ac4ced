#include "vcf_filter.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/hts.h>
#include <htslib/vcf.h>
#include <htslib/vcfutils.h>

#include "vcf_reader.h"

void sl_bio_clean_opts_init(sl_bio_clean_opts *o) {
    memset(o, 0, sizeof *o);
    o->use_qual = 1;
    o->min_qual = 30;
    o->dp_field = SL_BIO_DP_INFO;
    o->min_dp = 10;
}

/* Any value of INFO/DP (integer or float) above min; missing values never pass. */
static int info_dp_passes(const bcf_hdr_t *h, bcf1_t *rec, double min, void **buf, int *nbuf) {
    int id = bcf_hdr_id2int(h, BCF_DT_ID, "DP");
    if (id < 0 || !bcf_hdr_idinfo_exists(h, BCF_HL_INFO, id)) return 0;
    int type = bcf_hdr_id2type(h, BCF_HL_INFO, id);
    if (type == BCF_HT_INT) {
        int n = bcf_get_info_int32(h, rec, "DP", buf, nbuf);
        for (int i = 0; i < n; i++) {
            int32_t v = ((int32_t *)*buf)[i];
            if (v == bcf_int32_missing || v == bcf_int32_vector_end) continue;
            if ((double)v > min) return 1;
        }
    } else if (type == BCF_HT_REAL) {
        int n = bcf_get_info_float(h, rec, "DP", buf, nbuf);
        for (int i = 0; i < n; i++) {
            float v = ((float *)*buf)[i];
            if (bcf_float_is_missing(v) || bcf_float_is_vector_end(v)) continue;
            if ((double)v > min) return 1;
        }
    }
    return 0;
}

/* At least one sample with a non-missing FORMAT/DP value above min. */
static int format_dp_passes(const bcf_hdr_t *h, bcf1_t *rec, double min, void **buf, int *nbuf) {
    int id = bcf_hdr_id2int(h, BCF_DT_ID, "DP");
    if (id < 0 || !bcf_hdr_idinfo_exists(h, BCF_HL_FMT, id)) return 0;
    int type = bcf_hdr_id2type(h, BCF_HL_FMT, id);
    if (type == BCF_HT_INT) {
        int n = bcf_get_format_int32(h, rec, "DP", buf, nbuf);
        for (int i = 0; i < n; i++) {
            int32_t v = ((int32_t *)*buf)[i];
            if (v == bcf_int32_missing || v == bcf_int32_vector_end) continue;
            if ((double)v > min) return 1;
        }
    } else if (type == BCF_HT_REAL) {
        int n = bcf_get_format_float(h, rec, "DP", buf, nbuf);
        for (int i = 0; i < n; i++) {
            float v = ((float *)*buf)[i];
            if (bcf_float_is_missing(v) || bcf_float_is_vector_end(v)) continue;
            if ((double)v > min) return 1;
        }
    }
    return 0;
}

/* Recompute INFO/AC and INFO/AN from the genotypes of the kept samples, as bcftools view does. */
static int update_ac_an(const bcf_hdr_t *h, bcf1_t *rec, int has_ac, int has_an, int **ac, int *nac) {
    if (rec->n_allele > *nac) {
        int *n = realloc(*ac, (size_t)rec->n_allele * sizeof *n);
        if (!n) return -1;
        *ac = n;
        *nac = rec->n_allele;
    }
    if (bcf_calc_ac(h, rec, *ac, BCF_UN_FMT) <= 0) return 0; /* no GT: leave as is */
    int32_t an = 0;
    for (int i = 0; i < rec->n_allele; i++) an += (*ac)[i];
    if (has_ac && rec->n_allele > 1 && bcf_update_info_int32(h, rec, "AC", *ac + 1, rec->n_allele - 1) < 0)
        return -1;
    if (has_an && bcf_update_info_int32(h, rec, "AN", &an, 1) < 0) return -1;
    return 0;
}

/* The output is indexed, so its records must be sorted: each chromosome in one block, positions not
 * decreasing. Checked on the kept records as they are written, so the error names the input line rather than
 * failing later in the indexer. `seen` marks the contigs already finished (grown on demand). */
typedef struct sort_check {
    int last_rid;
    hts_pos_t last_pos;
    unsigned char *seen;
    size_t n_seen;
} sort_check;

static int check_sorted(sort_check *sc, const bcf_hdr_t *h, const bcf1_t *rec, const sl_bio_vcf_reader *r,
                        sl_err *err) {
    const char *where = r->path;
    long at = r->is_text ? r->lineno : (long)r->nrec;
    const char *unit = r->is_text ? "line" : "record";
    if (rec->rid != sc->last_rid) {
        if ((size_t)rec->rid >= sc->n_seen) {
            size_t n = (size_t)rec->rid + 64;
            unsigned char *g = realloc(sc->seen, n);
            if (!g) return sl_err_set(err, SL_ENOMEM, "out of memory");
            memset(g + sc->n_seen, 0, n - sc->n_seen);
            sc->seen = g;
            sc->n_seen = n;
        }
        if (sc->seen[rec->rid])
            return sl_err_set(err, SL_EDATA,
                              "%s: %s %ld: records are not sorted: chromosome '%s' appears again after '%s' "
                              "(sort the input, e.g. bcftools sort)",
                              where, unit, at, bcf_hdr_id2name(h, rec->rid),
                              bcf_hdr_id2name(h, sc->last_rid));
        sc->seen[rec->rid] = 1;
        sc->last_rid = rec->rid;
    } else if (rec->pos < sc->last_pos) {
        return sl_err_set(err, SL_EDATA,
                          "%s: %s %ld: records are not sorted: %s:%lld comes after %s:%lld (sort the input, "
                          "e.g. bcftools sort)",
                          where, unit, at, bcf_hdr_id2name(h, rec->rid), (long long)rec->pos + 1,
                          bcf_hdr_id2name(h, rec->rid), (long long)sc->last_pos + 1);
    }
    sc->last_pos = rec->pos;
    return 0;
}

/* bcf_hdr_subset and bcf_hdr_merge assign ids in the order of the source header's lines, so the output
 * header uses the input's ids for every tag and contig (records need no translation; htslib's
 * bcf_translate would exit() on a mismatch). This checks that invariant. */
static int same_dictionaries(const bcf_hdr_t *a, const bcf_hdr_t *b) {
    for (int t = BCF_DT_ID; t <= BCF_DT_CTG; t++) {
        if (a->n[t] != b->n[t]) return 0;
        for (int i = 0; i < a->n[t]; i++) {
            const char *ka = a->id[t][i].key, *kb = b->id[t][i].key;
            if ((ka == NULL) != (kb == NULL) || (ka && strcmp(ka, kb))) return 0;
        }
    }
    return 1;
}

int sl_bio_vcf_check(const char *in, long long *records, sl_err *err) {
    sl_bio_vcf_reader *r = NULL;
    int rc = sl_bio_vcf_reader_open(in, &r, err);
    if (rc) return rc;
    bcf1_t *rec = bcf_init();
    if (!rec) {
        sl_bio_vcf_reader_close(r);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    long long n = 0;
    while ((rc = sl_bio_vcf_reader_next(r, rec, err)) == 1) n++;
    bcf_destroy(rec);
    sl_bio_vcf_reader_close(r);
    if (records) *records = n;
    return rc < 0 ? rc : 0;
}

int sl_bio_vcf_clean(const char *in, const char *out, const sl_bio_clean_opts *o, sl_bio_clean_stats *st,
                     sl_err *err) {
    sort_check sorted = {.last_rid = -1, .last_pos = -1};
    sl_bio_clean_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    sl_bio_vcf_reader *r = NULL;
    int rc = sl_bio_vcf_reader_open(in, &r, err);
    if (rc) return rc;
    bcf_hdr_t *hin = r->hdr, *hout = NULL;
    htsFile *fo = NULL;
    bcf1_t *rec = bcf_init();
    void *buf = NULL;
    int nbuf = 0, nac = 0;
    int *ac = NULL;
    int *imap = NULL;
    char **keep = NULL;
    int nkeep = 0;
    int nin = bcf_hdr_nsamples(hin);
    st->samples_in = nin;
    if (!rec) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (o->dp_field == SL_BIO_DP_INFO || o->dp_field == SL_BIO_DP_FORMAT) {
        int id = bcf_hdr_id2int(hin, BCF_DT_ID, "DP");
        int hl = o->dp_field == SL_BIO_DP_INFO ? BCF_HL_INFO : BCF_HL_FMT;
        if (id < 0 || !bcf_hdr_idinfo_exists(hin, hl, id)) {
            rc = sl_err_set(err, SL_EDATA,
                            "%s: the header defines no %s/DP, so the depth filter cannot be applied "
                            "(choose the other --dp-field or --min-dp none)",
                            in, o->dp_field == SL_BIO_DP_INFO ? "INFO" : "FORMAT");
            goto done;
        }
    }
    /* the samples to keep */
    int subset = o->samples != NULL || o->n_drop > 0;
    if (subset) {
        keep = calloc((size_t)(nin + 1), sizeof *keep);
        if (!keep) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        if (o->samples) {
            for (size_t i = 0; i < o->n_samples; i++) {
                if (bcf_hdr_id2int(hin, BCF_DT_SAMPLE, o->samples[i]) < 0) {
                    rc =
                        sl_err_set(err, SL_EUSAGE, "%s: no sample named '%s' in the file", in, o->samples[i]);
                    goto done;
                }
                for (int j = 0; j < nkeep; j++)
                    if (!strcmp(keep[j], o->samples[i])) {
                        rc = sl_err_set(err, SL_EUSAGE, "sample '%s' is listed twice", o->samples[i]);
                        goto done;
                    }
                keep[nkeep++] = (char *)o->samples[i];
            }
        } else {
            for (int i = 0; i < nin; i++) keep[nkeep++] = hin->samples[i];
        }
        int w = 0;
        for (int i = 0; i < nkeep; i++) {
            int dropped = 0;
            for (size_t j = 0; j < o->n_drop; j++)
                if (!strcmp(o->drop[j], keep[i])) dropped = 1;
            if (!dropped) keep[w++] = keep[i];
        }
        nkeep = w;
        if (nkeep == 0) {
            rc = sl_err_set(err, SL_EDATA, "%s: no sample left after the sample selection", in);
            goto done;
        }
        /* like bcftools view -s, the output carries INFO/AC and INFO/AN of the kept samples; declare them
         * (in the input header too, so both headers keep the same tag ids) */
        static const char *const acan[2][2] = {
            {"AC", "##INFO=<ID=AC,Number=A,Type=Integer,Description=\"Allele count in genotypes\">"},
            {"AN", "##INFO=<ID=AN,Number=1,Type=Integer,Description=\"Total number of alleles in called "
                   "genotypes\">"}};
        for (int i = 0; i < 2; i++) {
            int id = bcf_hdr_id2int(hin, BCF_DT_ID, acan[i][0]);
            if (id >= 0 && bcf_hdr_idinfo_exists(hin, BCF_HL_INFO, id)) continue;
            if (bcf_hdr_append(hin, acan[i][1]) < 0 || bcf_hdr_sync(hin) < 0) {
                rc = sl_err_set(err, SL_EINTERNAL, "cannot declare INFO/%s", acan[i][0]);
                goto done;
            }
        }
        imap = calloc((size_t)nkeep, sizeof *imap);
        if (!imap) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        hout = bcf_hdr_subset(hin, nkeep, keep, imap);
    } else {
        hout =
            hin; /* records read later may add undeclared contigs/tags to hin: write with the same header */
    }
    if (!hout) {
        rc = sl_err_set(err, SL_ENOMEM, "cannot build the output header");
        goto done;
    }
    if (hout != hin && !same_dictionaries(hin, hout)) {
        rc = sl_err_set(err, SL_EINTERNAL, "%s: the subset header's tag ids differ from the input's", in);
        goto done;
    }
    if (o->header_note) {
        kstring_t line = {0, 0, NULL};
        ksprintf(&line, "##seqlora_clean=%s", o->header_note);
        int ret = bcf_hdr_append(hout, line.s);
        free(line.s);
        if (ret < 0 || bcf_hdr_sync(hout) < 0) {
            rc = sl_err_set(err, SL_EINTERNAL, "cannot add the ##seqlora_clean header line");
            goto done;
        }
    }
    st->samples_out = bcf_hdr_nsamples(hout);
    int has_ac = 0, has_an = 0;
    if (subset) {
        int id = bcf_hdr_id2int(hout, BCF_DT_ID, "AC");
        has_ac = id >= 0 && bcf_hdr_idinfo_exists(hout, BCF_HL_INFO, id);
        id = bcf_hdr_id2int(hout, BCF_DT_ID, "AN");
        has_an = id >= 0 && bcf_hdr_idinfo_exists(hout, BCF_HL_INFO, id);
    }
    int n_id_seen = hin->n[BCF_DT_ID], n_ctg_seen = hin->n[BCF_DT_CTG];
    fo = hts_open(out, "wz");
    if (!fo) {
        rc = sl_err_errno(err, SL_EIO, errno, "%s: cannot create", out);
        goto done;
    }
    if (bcf_hdr_write(fo, hout) != 0) {
        rc = sl_err_errno(err, SL_EIO, errno, "%s: cannot write the header", out);
        goto done;
    }
    while ((rc = sl_bio_vcf_reader_next(r, rec, err)) == 1) {
        st->records_in++;
        if (o->use_qual && (bcf_float_is_missing(rec->qual) || !((double)rec->qual > o->min_qual))) {
            st->failed_qual++;
            continue;
        }
        int pass = 1;
        if (o->dp_field == SL_BIO_DP_INFO)
            pass = info_dp_passes(hin, rec, o->min_dp, &buf, &nbuf);
        else if (o->dp_field == SL_BIO_DP_FORMAT)
            pass = format_dp_passes(hin, rec, o->min_dp, &buf, &nbuf);
        if (!pass) {
            st->failed_dp++;
            continue;
        }
        if (subset) {
            /* htslib declares undefined contigs and tags in hin while parsing; mirror them into hout and
             * translate the record's dictionary ids before subsetting */
            if (hin->n[BCF_DT_ID] != n_id_seen || hin->n[BCF_DT_CTG] != n_ctg_seen) {
                if (bcf_hdr_merge(hout, hin) == NULL || bcf_hdr_sync(hout) < 0) {
                    rc = sl_err_set(err, SL_ENOMEM, "%s: cannot extend the output header", in);
                    goto done;
                }
                n_id_seen = hin->n[BCF_DT_ID];
                n_ctg_seen = hin->n[BCF_DT_CTG];
            }
            if (!same_dictionaries(hin, hout)) {
                rc = sl_err_set(err, SL_EINTERNAL, "%s: record %lld: the subset header's tag ids diverged",
                                in, st->records_in);
                goto done;
            }
            if (bcf_subset(hout, rec, nkeep, imap) < 0 ||
                ((has_ac || has_an) && update_ac_an(hout, rec, has_ac, has_an, &ac, &nac) < 0)) {
                rc = sl_err_set(err, SL_ENOMEM, "%s: record %lld: cannot subset the samples", in,
                                st->records_in);
                goto done;
            }
        }
        if ((rc = check_sorted(&sorted, hin, rec, r, err))) goto done;
        if (bcf_write(fo, hout, rec) != 0) {
            rc = sl_err_errno(err, SL_EIO, errno, "%s: cannot write record %lld", out, st->records_in);
            goto done;
        }
        st->records_kept++;
    }
    if (rc < 0) goto done;
    rc = 0;
    if (hts_close(fo) != 0) {
        fo = NULL;
        rc = sl_err_errno(err, SL_EIO, errno, "%s: cannot finish writing", out);
        goto done;
    }
    fo = NULL;
    if (st->records_kept == 0) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s: no record passed the filters (%lld read, %lld failed QUAL, %lld failed DP)", in,
                        st->records_in, st->failed_qual, st->failed_dp);
        goto done;
    }
    if (bcf_index_build3(out, NULL, o->index_csi ? 14 : 0, 1) != 0)
        rc = sl_err_set(err, SL_EDATA, "%s: cannot build the %s index (is the input sorted by position?)",
                        out, o->index_csi ? "CSI" : "tabix");
done:
    free(sorted.seen);
    if (fo) hts_close(fo);
    if (hout && hout != hin) bcf_hdr_destroy(hout);
    if (rec) bcf_destroy(rec);
    sl_bio_vcf_reader_close(r);
    free(buf);
    free(ac);
    free(imap);
    free(keep);
    return rc;
}
