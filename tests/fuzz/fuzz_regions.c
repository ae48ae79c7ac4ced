/* Fuzz target: genomic intervals (src/bio/regions.h) — region strings, BED, GFF3/GTF CDS features — and
 * the spliced sequence of what was read, against a small reference (chr17 and chr1 named sequences of
 * 3,000 bases, written once per process). The first line of the input is also parsed as a region. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bio/regions.h"
#include "fuzz_util.h"

static sl_bio_ref *reference(void) {
    static sl_bio_ref *ref;
    if (ref) return ref;
    char fa[2 * (3000 + 3000 / 60 + 16)], *p = fa;
    static const char *const names[2] = {"chr17", "chr1"};
    for (int s = 0; s < 2; s++) {
        p += sprintf(p, ">%s\n", names[s]);
        for (int i = 0; i < 3000; i++) {
            *p++ = "ACGTNacgt"[(i * 7 + s) % 9];
            if (i % 60 == 59) *p++ = '\n';
        }
        *p++ = '\n';
    }
    const char *path = fz_file("ref.fa", fa, (size_t)(p - fa));
    sl_err err;
    if (sl_bio_ref_open(path, NULL, &ref, &err)) {
        fprintf(stderr, "fuzz reference: %s\n", err.msg);
        abort();
    }
    return ref;
}

static void use(sl_bio_intervals *iv) {
    sl_bio_intervals_sort(iv);
    /* Known, reported (docs/reliability.md): sl_bio_spliced_sequence allocates the summed interval length
     * before the reference has checked the ranges (a BED line "chr17 0 4000000000" asks for 4 GB). Beyond
     * 64 MiB only with SEQLORA_FUZZ_KNOWN (the DISABLED fuzz_known_regions test), so fuzzing goes on. */
    unsigned long long total = 0;
    for (size_t i = 0; i < iv->n; i++)
        total += iv->v[i].end0 > iv->v[i].start0 ? (unsigned long long)(iv->v[i].end0 - iv->v[i].start0) : 0;
    if (total > (64ull << 20) && !getenv("SEQLORA_FUZZ_KNOWN")) {
        sl_bio_intervals_free(iv);
        return;
    }
    char *seq = NULL, strand;
    sl_err err;
    if (!sl_bio_spliced_sequence(reference(), iv, &seq, &strand, &err)) {
        sl_bio_revcomp(seq, strlen(seq));
        free(seq);
    }
    sl_bio_intervals_free(iv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reference();
    size_t line = 0;
    while (line < size && data[line] != '\n') line++;
    char *first = fz_strdup(data, line);
    sl_bio_interval one;
    sl_err err;
    sl_bio_region_parse(first, &one, &err);
    free(first);
    const char *path = fz_file("regions.txt", data, size);
    sl_bio_intervals iv;
    if (!sl_bio_bed_read(path, &iv, &err)) use(&iv);
    if (!sl_bio_cds_read(path, NULL, &iv, &err)) use(&iv);
    if (!sl_bio_cds_read(path, "NM_007294", &iv, &err)) use(&iv);
    return 0;
}
