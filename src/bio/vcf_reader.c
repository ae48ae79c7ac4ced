#include "vcf_reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/hts.h>
#include <htslib/kstring.h>

#include "vcf_validate.h"

static int quiet_htslib(void) {
    hts_set_log_level(HTS_LOG_OFF);
    return 0;
}

void sl_bio_vcf_reader_close(sl_bio_vcf_reader *r) {
    if (!r) return;
    if (r->hdr) bcf_hdr_destroy(r->hdr);
    if (r->fp) hts_close(r->fp);
    sl_bio_vcf_validator_free(r->validator);
    free(r->line.s);
    free(r->path);
    free(r);
}

static int read_text_header(sl_bio_vcf_reader *r, sl_err *err) {
    kstring_t txt = {0, 0, NULL};
    int rc = 0;
    while (1) {
        int ret = hts_getline(r->fp, '\n', &r->line);
        if (ret < -1) {
            rc = sl_err_set(err, SL_EDATA,
                            "%s: read error after line %ld (truncated or corrupt compressed file?)", r->path,
                            r->lineno);
            goto done;
        }
        if (ret == -1) {
            rc = sl_err_set(err, SL_EDATA, "%s: %s", r->path,
                            r->lineno ? "the header has no #CHROM line" : "empty file (no VCF header)");
            goto done;
        }
        r->lineno++;
        if (r->line.l && r->line.s[r->line.l - 1] == '\r') r->line.s[--r->line.l] = 0;
        if (r->line.l == 0 || r->line.s[0] != '#') {
            rc = sl_err_set(err, SL_EDATA, "%s:%ld: expected a header line starting with '#'%s", r->path,
                            r->lineno,
                            r->lineno == 1 ? " (is this a VCF file?)" : " (the #CHROM line is missing)");
            goto done;
        }
        if ((rc = sl_bio_vcf_validate_header_line(r->validator, r->line.s, r->lineno, err))) goto done;
        if (kputsn(r->line.s, r->line.l, &txt) < 0 || kputc('\n', &txt) < 0) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        if (r->line.s[1] != '#') break; /* the #CHROM line */
    }
    r->hdr = bcf_hdr_init("r");
    if (!r->hdr) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (bcf_hdr_parse(r->hdr, txt.s) != 0)
        rc = sl_err_set(err, SL_EDATA, "%s: htslib could not parse the VCF header", r->path);
done:
    free(txt.s);
    return rc;
}

int sl_bio_vcf_reader_open(const char *path, sl_bio_vcf_reader **out, sl_err *err) {
    *out = NULL;
    quiet_htslib();
    sl_bio_vcf_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path)) || !(r->validator = sl_bio_vcf_validator_new(path))) {
        sl_bio_vcf_reader_close(r);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    r->fp = hts_open(path, "r");
    if (!r->fp) {
        sl_bio_vcf_reader_close(r);
        return sl_err_errno(err, SL_EIO, errno, "%s: cannot open", path);
    }
    const htsFormat *f = hts_get_format(r->fp);
    int rc = 0;
    if (f->format == bcf) {
        r->hdr = bcf_hdr_read(r->fp);
        if (!r->hdr)
            rc = sl_err_set(err, SL_EDATA, "%s: cannot read the BCF header (corrupt or truncated?)", path);
    } else if (f->format == vcf) {
        r->is_text = 1;
        rc = read_text_header(r, err);
    } else {
        char *desc = hts_format_description(f);
        rc = sl_err_set(err, SL_EDATA, "%s: not a VCF or BCF file (htslib sees: %s)", path,
                        desc ? desc : "unknown");
        free(desc);
    }
    if (rc) {
        sl_bio_vcf_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int sl_bio_vcf_reader_next(sl_bio_vcf_reader *r, bcf1_t *rec, sl_err *err) {
    if (!r->is_text) {
        int ret = bcf_read(r->fp, r->hdr, rec);
        if (ret == -1) return 0;
        if (ret < -1 || rec->errcode)
            return sl_err_set(err, SL_EDATA, "%s: record %lld: corrupt or truncated BCF", r->path,
                              r->nrec + 1);
        if (bcf_unpack(rec, BCF_UN_ALL) < 0)
            return sl_err_set(err, SL_EDATA, "%s: record %lld: cannot unpack", r->path, r->nrec + 1);
        r->nrec++;
        return 1;
    }
    while (1) {
        int ret = hts_getline(r->fp, '\n', &r->line);
        if (ret == -1) return 0;
        if (ret < -1)
            return sl_err_set(err, SL_EDATA,
                              "%s: read error after line %ld (truncated or corrupt compressed file?)",
                              r->path, r->lineno);
        r->lineno++;
        if (r->line.l && r->line.s[r->line.l - 1] == '\r') r->line.s[--r->line.l] = 0;
        if (r->line.l == 0) continue; /* a blank line (e.g. at the end) carries nothing */
        if (r->line.s[0] == '#')
            return sl_err_set(err, SL_EDATA, "%s:%ld: header line among the records", r->path, r->lineno);
        int rc = sl_bio_vcf_validate_record(r->validator, r->line.s, r->lineno, err);
        if (rc) return rc;
        if (vcf_parse(&r->line, r->hdr, rec) != 0 || (rec->errcode & ~BCF_ERR_TAG_UNDEF & ~BCF_ERR_CTG_UNDEF))
            return sl_err_set(err, SL_EDATA, "%s:%ld: htslib rejected the record (error code %d)", r->path,
                              r->lineno, rec->errcode);
        if (bcf_unpack(rec, BCF_UN_ALL) < 0)
            return sl_err_set(err, SL_EDATA, "%s:%ld: cannot unpack the record", r->path, r->lineno);
        r->nrec++;
        return 1;
    }
}
