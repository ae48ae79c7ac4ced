/* seqlora kmerize: variants or samples + reference → a labelled sequence dataset (the `kmerize` step). */
#include <stdio.h>
#include <stdlib.h>

#include "cli_options.h"
#include "commands.h"

static const char header[] =
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
    "tiled.\n\n";

int sl_cmd_kmerize(int argc, char **argv) {
    const char *vcf = NULL, *variants = NULL, *ref = NULL, *out = NULL, *summary = NULL, *labels = NULL,
               *bed = NULL, *gff = NULL, *mode = NULL, *tokens = NULL, *npol = NULL, *strand = NULL,
               *label_field = NULL, *group = NULL, *region = NULL, *transcript = NULL, *hap = NULL;
    long long k = 6, window = 101, stride = 0;
    int refcol = 0;
    const char *map_v[256];
    sl_cli_list map = {map_v, 0, 256};
    const sl_cli_opt opts[] = {
        {.name = "vcf", .arg = "FILE", .help = "variants (variant and sample mode)", .str = &vcf},
        {.name = "variants",
         .arg = "FILE",
         .help = "variant mode from a TSV: columns chrom pos ref alt [the label column]\n"
                 "[id exon consequence cadd], instead of --vcf",
         .str = &variants},
        {.name = "reference",
         .arg = "FILE",
         .help = "FASTA, plain or bgzipped (required)",
         .str = &ref,
         .flags = SL_CLI_REQUIRED},
        SL_CLI_OPT_OUTPUT(&out, "FILE", "the dataset TSV (required)", SL_CLI_REQUIRED),
        {.name = "summary", .arg = "FILE", .help = "also write the JSON summary here", .str = &summary},
        {.name = "mode",
         .arg = "M",
         .help = "variant (default), sample or fasta",
         .str = &mode,
         .param = "mode"},
        {.name = "tokens",
         .arg = "T",
         .help = "kmer (default: overlapping k-mers, DNABERT), nt6 (non-overlapping 6-mers,\n"
                 "single bases where a chunk has N or is short: Nucleotide Transformer), raw",
         .str = &tokens,
         .param = "tokens"},
        {.name = "k",
         .arg = "K",
         .help = "k for --tokens kmer, 3..8 (default 6)",
         .num = &k,
         .imin = 3,
         .imax = 8,
         .flags = SL_CLI_IF_GIVEN,
         .param = "k"},
        {.name = "n-policy",
         .arg = "P",
         .help = "sequences with bases other than ACGT: keep (default), drop, error",
         .str = &npol,
         .param = "n_policy"},
        {.name = "window",
         .arg = "W",
         .help = "window length in bases, 1..100000 (default 101; fasta mode: see --stride)",
         .num = &window,
         .imin = 1,
         .imax = 100000,
         .flags = SL_CLI_IF_GIVEN,
         .param = "window",
         .section = "variant mode:"},
        {.name = "strand",
         .arg = "S",
         .help = "plus (default) or minus: reverse-complement windows (minus-strand genes)",
         .str = &strand,
         .param = "strand"},
        {.name = "label-field",
         .arg = "KEY",
         .help = "INFO key (or TSV column) of the label, e.g. FUNC_CLASS",
         .str = &label_field,
         .param = "label_field"},
        {.name = "map",
         .arg = "VALUE=LABEL",
         .help = "rename label values (repeatable); unmapped values are dropped, counted",
         .list = &map},
        {.name = "group-field",
         .arg = "KEY",
         .help = "INFO key for the `exon` column (default EXON)",
         .str = &group,
         .param = "group_field"},
        {.name = "ref-column",
         .help = "add the reference window as a ref_sequence column",
         .flag = &refcol,
         .flags = SL_CLI_IF_GIVEN,
         .param = "ref_column"},
        {.name = "labels",
         .arg = "FILE",
         .help = "id/label table (required); fasta mode: ids = FASTA names, without it\n"
                 "labels are NA",
         .str = &labels,
         .section = "sample mode:"},
        {.name = "region",
         .arg = "CHR:START-END[:+|-]",
         .help = " one region (1-based, closed), or",
         .str = &region,
         .param = "region"},
        {.name = "bed", .arg = "FILE", .help = "intervals, spliced in order, or", .str = &bed},
        {.name = "gff",
         .arg = "FILE",
         .help = "the CDS features of a GFF3/GTF (with --transcript ID to pick one)",
         .str = &gff},
        {.name = "transcript",
         .arg = "ID",
         .help = "the transcript of --gff to use",
         .str = &transcript,
         .param = "transcript"},
        {.name = "haplotype",
         .arg = "H",
         .help = "1 (default), 2, both (two rows per sample) or iupac",
         .str = &hap,
         .param = "haplotype"},
        {.name = "stride",
         .arg = "S",
         .help = "tile each sequence into --window W-base windows every S bases, 1..100000",
         .num = &stride,
         .imin = 1,
         .imax = 100000,
         .flags = SL_CLI_IF_GIVEN,
         .param = "stride",
         .section = "fasta mode:"},
        {0},
    };
    const sl_cli_command cmd = {.name = "kmerize", .header = header, .opts = opts, .width = 24};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    if ((rc = sl_cli_map_param(&map, "--map", a.params, "map", &a.err))) return sl_cli_fail(&a, rc);
    sl_run_input inputs[6];
    size_t n = 0;
    if (vcf) inputs[n++] = (sl_run_input){"vcf", vcf};
    if (variants) inputs[n++] = (sl_run_input){"variants", variants};
    inputs[n++] = (sl_run_input){"reference", ref};
    if (labels) inputs[n++] = (sl_run_input){"labels", labels};
    if (bed) inputs[n++] = (sl_run_input){"bed", bed};
    if (gff) inputs[n++] = (sl_run_input){"annotation", gff};
    sl_run_output outputs[2] = {{"dataset.tsv", out}, {"summary.json", summary}};
    rc = sl_cli_run_step("kmerize", a.params, inputs, n, outputs, 2, &a.common, NULL);
    sl_cli_args_free(&a);
    if (rc == 0) printf("%s\n", out);
    return rc;
}
