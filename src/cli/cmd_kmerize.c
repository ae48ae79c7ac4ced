/* seqlora kmerize: variants or samples + reference → a labelled sequence dataset (the `kmerize` step). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "commands.h"

static void usage(FILE *out) {
    fputs(
        "usage: seqlora kmerize --vcf IN | --variants TSV --reference REF.fa -o DATASET.tsv [options]\n"
        "       seqlora kmerize --mode sample --vcf IN --labels L.tsv --reference REF.fa (--region R | --bed "
        "B |\n"
        "                       --gff G) -o DATASET.tsv [options]\n"
        "       seqlora kmerize --mode fasta --reference SEQS.fa [--labels L.tsv] -o DATASET.tsv "
        "[options]\n\n"
        "Build a fine-tuning dataset: a TSV with the header `id sequence label [metadata...]`, one row per\n"
        "example, `sequence` being the model's input text, plus a JSON summary (counts per label, lengths).\n"
        "The reference is read with htslib faidx; a sequence named like `chr17:41100001-41300000` (as\n"
        "samtools faidx writes a region) serves those coordinates of chr17.\n\n"
        "variant mode (default): one row per ALT allele of a labelled variant VCF (or TSV): a window of W\n"
        "bases centred on the variant with ALT applied; REF must match the reference. Metadata: chrom pos\n"
        "ref alt exon consequence cadd [ref_sequence].\n"
        "sample mode: a multi-sample VCF + a label table (`seqlora clinical` output) -> one row per "
        "labelled\n"
        "sample: the region or the spliced CDS (strand-aware) with the sample's genotype applied.\n"
        "fasta mode: each FASTA sequence (e.g. a CDS from `seqlora fetch --ensembl`) is a row, or is "
        "tiled.\n\n"
        "options:\n"
        "  --vcf FILE              variants (variant and sample mode)\n"
        "  --variants FILE         variant mode from a TSV: columns chrom pos ref alt [the label column]\n"
        "                          [id exon consequence cadd], instead of --vcf\n"
        "  --reference FILE        FASTA, plain or bgzipped (required)\n"
        "  -o, --output FILE       the dataset TSV (required)\n"
        "  --summary FILE          also write the JSON summary here\n"
        "  --mode M                variant (default), sample or fasta\n"
        "  --tokens T              kmer (default: overlapping k-mers, DNABERT), nt6 (non-overlapping "
        "6-mers,\n"
        "                          single bases where a chunk has N or is short: Nucleotide Transformer), "
        "raw\n"
        "  --k K                   k for --tokens kmer, 3..8 (default 6)\n"
        "  --n-policy P            sequences with bases other than ACGT: keep (default), drop, error\n"
        "variant mode:\n"
        "  --window W              window length in bases (default 101)\n"
        "  --strand S              plus (default) or minus: reverse-complement windows (minus-strand genes)\n"
        "  --label-field KEY       INFO key (or TSV column) of the label, e.g. FUNC_CLASS\n"
        "  --map VALUE=LABEL       rename label values (repeatable); unmapped values are dropped, counted\n"
        "  --group-field KEY       INFO key for the `exon` column (default EXON)\n"
        "  --ref-column            add the reference window as a ref_sequence column\n"
        "sample mode:\n"
        "  --labels FILE           id/label table (required)\n"
        "  --region CHR:START-END[:+|-]  one region (1-based, closed), or\n"
        "  --bed FILE              intervals, spliced in order, or\n"
        "  --gff FILE              the CDS features of a GFF3/GTF (with --transcript ID to pick one)\n"
        "  --haplotype H           1 (default), 2, both (two rows per sample) or iupac\n"
        "fasta mode:\n"
        "  --labels FILE           id/label table (ids = FASTA names); without it labels are NA\n"
        "  --window W --stride S   tile each sequence into W-base windows every S "
        "bases\n\n" SL_CLI_COMMON_HELP,
        out);
}

enum {
    OPT_VCF = 0x2001,
    OPT_REF,
    OPT_SUMMARY,
    OPT_MODE,
    OPT_TOKENS,
    OPT_K,
    OPT_NPOL,
    OPT_WINDOW,
    OPT_STRAND,
    OPT_LABEL,
    OPT_MAP,
    OPT_GROUP,
    OPT_REFCOL,
    OPT_LABELS,
    OPT_REGION,
    OPT_BED,
    OPT_GFF,
    OPT_TRANSCRIPT,
    OPT_HAP,
    OPT_VARIANTS,
    OPT_STRIDE,
};

int sl_cmd_kmerize(int argc, char **argv) {
    static const struct option longopts[] = {
        {"vcf", required_argument, 0, OPT_VCF},
        {"reference", required_argument, 0, OPT_REF},
        {"output", required_argument, 0, 'o'},
        {"summary", required_argument, 0, OPT_SUMMARY},
        {"mode", required_argument, 0, OPT_MODE},
        {"tokens", required_argument, 0, OPT_TOKENS},
        {"k", required_argument, 0, OPT_K},
        {"n-policy", required_argument, 0, OPT_NPOL},
        {"window", required_argument, 0, OPT_WINDOW},
        {"strand", required_argument, 0, OPT_STRAND},
        {"label-field", required_argument, 0, OPT_LABEL},
        {"map", required_argument, 0, OPT_MAP},
        {"group-field", required_argument, 0, OPT_GROUP},
        {"ref-column", no_argument, 0, OPT_REFCOL},
        {"labels", required_argument, 0, OPT_LABELS},
        {"region", required_argument, 0, OPT_REGION},
        {"bed", required_argument, 0, OPT_BED},
        {"gff", required_argument, 0, OPT_GFF},
        {"transcript", required_argument, 0, OPT_TRANSCRIPT},
        {"haplotype", required_argument, 0, OPT_HAP},
        {"variants", required_argument, 0, OPT_VARIANTS},
        {"stride", required_argument, 0, OPT_STRIDE},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    const char *vcf = NULL, *variants = NULL, *ref = NULL, *out = NULL, *summary = NULL, *labels = NULL,
               *bed = NULL, *gff = NULL;
    json_t *params = json_object(), *map = json_object();
    long long v;
    int opt, rc = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (opt) {
            case OPT_VCF:
                vcf = optarg;
                break;
            case OPT_VARIANTS:
                variants = optarg;
                break;
            case OPT_REF:
                ref = optarg;
                break;
            case 'o':
                out = optarg;
                break;
            case OPT_SUMMARY:
                summary = optarg;
                break;
            case OPT_LABELS:
                labels = optarg;
                break;
            case OPT_BED:
                bed = optarg;
                break;
            case OPT_GFF:
                gff = optarg;
                break;
            case OPT_MODE:
                json_object_set_new(params, "mode", json_string(optarg));
                break;
            case OPT_TOKENS:
                json_object_set_new(params, "tokens", json_string(optarg));
                break;
            case OPT_NPOL:
                json_object_set_new(params, "n_policy", json_string(optarg));
                break;
            case OPT_STRAND:
                json_object_set_new(params, "strand", json_string(optarg));
                break;
            case OPT_LABEL:
                json_object_set_new(params, "label_field", json_string(optarg));
                break;
            case OPT_GROUP:
                json_object_set_new(params, "group_field", json_string(optarg));
                break;
            case OPT_REFCOL:
                json_object_set_new(params, "ref_column", json_true());
                break;
            case OPT_REGION:
                json_object_set_new(params, "region", json_string(optarg));
                break;
            case OPT_TRANSCRIPT:
                json_object_set_new(params, "transcript", json_string(optarg));
                break;
            case OPT_HAP:
                json_object_set_new(params, "haplotype", json_string(optarg));
                break;
            case OPT_K:
            case OPT_WINDOW:
            case OPT_STRIDE: {
                const char *name = opt == OPT_K ? "--k" : opt == OPT_WINDOW ? "--window" : "--stride";
                if (sl_cli_parse_int(name, optarg, 1, 100000, &v, &err)) {
                    rc = sl_cli_report(SL_EUSAGE, &err);
                    goto out;
                }
                json_object_set_new(params, name + 2, json_integer(v));
                break;
            }
            case OPT_MAP: {
                const char *eq = strrchr(optarg, '=');
                if (!eq || eq == optarg || !eq[1]) {
                    rc = sl_cli_usage_error("--map: expected VALUE=LABEL, got '%s'", optarg);
                    goto out;
                }
                char *k = strndup(optarg, (size_t)(eq - optarg));
                json_object_set_new(map, k, json_string(eq + 1));
                free(k);
                break;
            }
            case 'h':
                usage(stdout);
                goto out;
            default:
                rc = sl_cli_common_opt(&common, opt, optarg, &err);
                if (rc < 0) {
                    rc = sl_cli_report(rc, &err);
                    goto out;
                }
                if (rc == 0) {
                    usage(stderr);
                    rc = 2;
                    goto out;
                }
                rc = 0;
        }
    }
    if (optind < argc) {
        rc = sl_cli_usage_error("kmerize: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!ref || !out) {
        rc = sl_cli_usage_error("kmerize: --reference and -o are required (see seqlora kmerize --help)");
        goto out;
    }
    if (json_object_size(map)) json_object_set(params, "map", map);
    sl_run_input inputs[6];
    size_t n = 0;
    if (vcf) inputs[n++] = (sl_run_input){"vcf", vcf};
    if (variants) inputs[n++] = (sl_run_input){"variants", variants};
    inputs[n++] = (sl_run_input){"reference", ref};
    if (labels) inputs[n++] = (sl_run_input){"labels", labels};
    if (bed) inputs[n++] = (sl_run_input){"bed", bed};
    if (gff) inputs[n++] = (sl_run_input){"annotation", gff};
    sl_run_output outputs[2] = {{"dataset.tsv", out}, {"summary.json", summary}};
    rc = sl_cli_run_step("kmerize", params, inputs, n, outputs, 2, &common, NULL);
    if (rc == 0) printf("%s\n", out);
out:
    json_decref(params);
    json_decref(map);
    return rc;
}
