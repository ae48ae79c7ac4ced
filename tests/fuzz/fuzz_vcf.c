/* Fuzz target: VCF input — the validating reader (src/bio/vcf_validate.h, vcf_reader.h via
 * sl_bio_vcf_check) and, for files it accepts, the `clean` filter (with sample subsetting, so INFO/AC/AN
 * are recomputed) and the sex check: every library path a user's VCF goes through. */
#include "bio/sexcheck.h"
#include "bio/vcf_filter.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = fz_file("in.vcf", data, size);
    sl_err err;
    long long records = 0;
    if (sl_bio_vcf_check(in, &records, &err)) return 0;
    sl_bio_clean_opts o;
    sl_bio_clean_opts_init(&o);
    sl_bio_clean_stats st;
    sl_bio_vcf_clean(in, fz_path("out.vcf.gz"), &o, &st, &err);
    static const char *const drop[1] = {"HG00096"};
    o.dp_field = SL_BIO_DP_FORMAT;
    o.use_qual = 0;
    o.drop = drop;
    o.n_drop = 1;
    o.index_csi = 1;
    fz_path("out.vcf.gz.tbi");
    sl_bio_vcf_clean(in, fz_path("out.vcf.gz"), &o, &st, &err);
    fz_path("out.vcf.gz.csi");
    sl_bio_sexcheck_opts so;
    sl_bio_sexcheck_opts_init(&so);
    sl_bio_sexcheck_result res;
    if (!sl_bio_sexcheck(in, NULL, &so, &res, &err)) sl_bio_sexcheck_result_free(&res);
    return 0;
}
