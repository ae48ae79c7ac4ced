/* The `kmerize` step: variants or samples + a reference → a labelled sequence dataset (TSV) and its JSON
 * summary (see src/bio/dataset.h for the format and both modes).
 *
 * Inputs:  vcf or variants (a variant TSV), reference (FASTA, plain or bgzip; in fasta mode the sequences
 *          themselves), labels (sample and fasta mode: an id/label table such as `seqlora clinical` writes),
 *          bed / annotation (optional: intervals, or the CDS pieces of a GFF3/GTF).
 * Outputs: dataset.tsv, summary.json.
 * Params:  mode ("variant" | "sample" | "fasta"), stride (fasta mode tiling, 0 = whole sequences), tokens
 * ("kmer" | "nt6" | "raw"), k (6), n_policy ("keep" | "drop" | "error"); variant: window (101), strand ("+" |
 * "-"), label_field, map {value: label}, group_field ("EXON"), ref_column (false); sample: haplotype ("1" |
 * "2" | "both" | "iupac"), region ("chrom:start-end[:strand]", when no bed/annotation), transcript (GFF
 * filter). */
#include <stdlib.h>
#include <string.h>

#include "bio/dataset.h"
#include "bio/reference.h"
#include "bio/regions.h"
#include "step.h"
#include "util/json.h"

static int run_kmerize(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    const json_t *p = ctx->params;
    static const char *const known[] = {"mode",      "tokens",      "k",          "n_policy",    "window",
                                        "strand",    "label_field", "map",        "group_field", "ref_column",
                                        "haplotype", "region",      "transcript", "stride",      NULL};
    const char *key;
    json_t *v;
    if (!json_is_object(p)) return sl_err_set(err, SL_EUSAGE, "kmerize: parameters must be a JSON object");
    json_object_foreach((json_t *)p, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, key);
        if (!ok) return sl_err_set(err, SL_EUSAGE, "kmerize: unknown parameter '%s'", key);
    }
    sl_bio_kmerize_opts o;
    sl_bio_kmerize_opts_init(&o);
    const char *mode, *tokens, *npol, *strand, *hap, *region, *transcript;
    long long k, window, stride;
    int refcol, rc;
    if ((rc = sl_json_get_str(p, "mode", "variant", &mode, err)) ||
        (rc = sl_json_get_str(p, "tokens", "kmer", &tokens, err)) ||
        (rc = sl_bio_tok_parse(tokens, &o.tok, err)) || (rc = sl_json_get_int(p, "k", 6, &k, err)) ||
        (rc = sl_json_get_str(p, "n_policy", "keep", &npol, err)) ||
        (rc = sl_json_get_int(p, "window", 101, &window, err)) ||
        (rc = sl_json_get_int(p, "stride", 0, &stride, err)) ||
        (rc = sl_json_get_str(p, "strand", "+", &strand, err)) ||
        (rc = sl_json_get_str(p, "label_field", NULL, &o.label_field, err)) ||
        (rc = sl_json_get_str(p, "group_field", "EXON", &o.group_field, err)) ||
        (rc = sl_json_get_bool(p, "ref_column", 0, &refcol, err)) ||
        (rc = sl_json_get_str(p, "haplotype", "1", &hap, err)) ||
        (rc = sl_json_get_str(p, "region", NULL, &region, err)) ||
        (rc = sl_json_get_str(p, "transcript", NULL, &transcript, err)))
        return rc;
    if (k < 3 || k > 8) return sl_err_set(err, SL_EUSAGE, "kmerize: k must be in 3..8, got %lld", k);
    o.k = (int)k;
    o.window = (int)(window < 1 || window > 100000 ? 0 : window);
    o.ref_column = refcol;
    if (stride < 0 || stride > 100000)
        return sl_err_set(err, SL_EUSAGE, "kmerize: stride must be in 0..100000");
    o.stride = (int)stride;
    if (!strcmp(npol, "keep"))
        o.n_policy = SL_BIO_N_KEEP;
    else if (!strcmp(npol, "drop"))
        o.n_policy = SL_BIO_N_DROP;
    else if (!strcmp(npol, "error"))
        o.n_policy = SL_BIO_N_ERROR;
    else
        return sl_err_set(err, SL_EUSAGE, "kmerize: n_policy must be keep, drop or error, got '%s'", npol);
    if (!strcmp(strand, "+") || !strcmp(strand, "plus"))
        o.strand = '+';
    else if (!strcmp(strand, "-") || !strcmp(strand, "minus"))
        o.strand = '-';
    else
        return sl_err_set(err, SL_EUSAGE, "kmerize: strand must be + or -, got '%s'", strand);
    if (!strcmp(hap, "1"))
        o.haplotype = SL_BIO_HAP_1;
    else if (!strcmp(hap, "2"))
        o.haplotype = SL_BIO_HAP_2;
    else if (!strcmp(hap, "both"))
        o.haplotype = SL_BIO_HAP_BOTH;
    else if (!strcmp(hap, "iupac"))
        o.haplotype = SL_BIO_HAP_IUPAC;
    else
        return sl_err_set(err, SL_EUSAGE, "kmerize: haplotype must be 1, 2, both or iupac, got '%s'", hap);
    json_t *map = json_object_get(p, "map");
    if (map && !json_is_object(map))
        return sl_err_set(err, SL_EUSAGE, "kmerize: 'map' must be an object value → label");
    size_t nm = map ? json_object_size(map) : 0;
    const char **from = calloc(nm + 1, sizeof *from), **to = calloc(nm + 1, sizeof *to);
    sl_bio_ref *ref = NULL;
    sl_bio_intervals iv = {NULL, 0};
    json_t *summary = json_object();
    char *out = NULL, *sum = NULL;
    if (!from || !to || !summary) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    size_t i = 0;
    if (map) json_object_foreach(map, key, v) {
            from[i] = key;
            if (!(to[i] = json_string_value(v))) {
                rc = sl_err_set(err, SL_EUSAGE, "kmerize: map value for '%s' must be a string", key);
                goto done;
            }
            i++;
        }
    o.map_from = from;
    o.map_to = to;
    o.n_map = nm;
    if ((rc = sl_bio_ref_open(sl_step_input(ctx, "reference"), ctx->workdir, &ref, err))) goto done;
    out = sl_step_out_path(ctx, "dataset.tsv");
    sum = sl_step_out_path(ctx, "summary.json");
    if (!out || !sum) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    const char *vcf = sl_step_input(ctx, "vcf"), *table = sl_step_input(ctx, "variants");
    if (!strcmp(mode, "variant")) {
        if (!!vcf + !!table != 1)
            rc =
                sl_err_set(err, SL_EUSAGE, "kmerize: variant mode needs exactly one of --vcf and --variants");
        else if (vcf)
            rc = sl_bio_kmerize_variants(vcf, ref, &o, out, summary, err);
        else
            rc = sl_bio_kmerize_variant_table(table, ref, &o, out, summary, err);
    } else if (!strcmp(mode, "fasta")) {
        rc = sl_bio_kmerize_fasta(ref, sl_step_input(ctx, "labels"), &o, out, summary, err);
    } else if (!strcmp(mode, "sample")) {
        const char *labels = sl_step_input(ctx, "labels"), *bed = sl_step_input(ctx, "bed"),
                   *gff = sl_step_input(ctx, "annotation");
        if (!labels) {
            rc = sl_err_set(err, SL_EUSAGE, "kmerize: sample mode needs a label table (--labels)");
            goto done;
        }
        if (!!bed + !!gff + !!region != 1) {
            rc = sl_err_set(err, SL_EUSAGE,
                            "kmerize: sample mode needs exactly one of --region, --bed, --gff");
            goto done;
        }
        if (bed)
            rc = sl_bio_bed_read(bed, &iv, err);
        else if (gff)
            rc = sl_bio_cds_read(gff, transcript, &iv, err);
        else {
            iv.v = calloc(1, sizeof *iv.v);
            iv.n = 1;
            rc = iv.v ? sl_bio_region_parse(region, iv.v, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
        }
        if (!rc)
            rc = sl_bio_kmerize_samples(sl_step_input(ctx, "vcf"), labels, ref, &iv, &o, out, summary, err);
    } else {
        rc = sl_err_set(err, SL_EUSAGE, "kmerize: mode must be variant, sample or fasta, got '%s'", mode);
    }
    if (!rc) rc = sl_json_write_file(sum, summary, 1, err);
    if (!rc && ctx->summary) json_object_update(ctx->summary, summary);
done:
    sl_bio_intervals_free(&iv);
    sl_bio_ref_close(ref);
    json_decref(summary);
    free(out);
    free(sum);
    free(from);
    free(to);
    return rc;
}

static const sl_step_io kmerize_inputs[] = {
    {"vcf", SL_IO_FILE | SL_IO_OPTIONAL},
    {"variants", SL_IO_FILE | SL_IO_OPTIONAL},
    {"reference", SL_IO_FILE},
    {"labels", SL_IO_FILE | SL_IO_OPTIONAL},
    {"bed", SL_IO_FILE | SL_IO_OPTIONAL},
    {"annotation", SL_IO_FILE | SL_IO_OPTIONAL},
    {NULL, 0},
};
static const sl_step_io kmerize_outputs[] = {
    {"dataset.tsv", SL_IO_FILE},
    {"summary.json", SL_IO_FILE},
    {NULL, 0},
};

const sl_step sl_step_kmerize = {
    .name = "kmerize",
    .version = 1,
    .summary =
        "variants or per-sample consensus + reference → labelled k-mer / 6-mer / raw sequence dataset TSV",
    .inputs = kmerize_inputs,
    .outputs = kmerize_outputs,
    .run = run_kmerize,
};
