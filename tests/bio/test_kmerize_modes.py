"""kmerize end to end.

Variant mode on the real Findlay 2018 BRCA1 VCF: every window is checked against a plain-Python reading of
the GRCh37 region FASTA (ALT applied at the centre, reverse-complemented for the minus-strand gene), labels
from FUNC_CLASS through a map, counts per class as published (FUNC 1,972, LOF 557, INT 169 dropped), a
cache hit the second time, and a REF that contradicts the reference is an error naming the record.

Sample mode on a SYNTHETIC cohort made here: real variant sites from the Findlay VCF (BRCA1 SNVs),
genotypes simulated with a fixed seed, and a GDC-style clinical table. There is no public multi-sample
BRCA1 cohort (TCGA germline calls are controlled-access). The peer is `bcftools consensus` (-H 1, -H 2,
-I), whose per-sample consensus is cut to the BRCA1 CDS pieces and reverse-complemented here."""
import json
import os
import random
import subprocess
import sys

S = os.environ["SEQLORA_BIN"]
D = os.environ["SEQLORA_TEST_DATA"]
T = os.environ["SEQLORA_TEST_TMP"]
os.makedirs(T, exist_ok=True)
env = dict(os.environ, SEQLORA_STORE=os.path.join(T, "store"))
FA = os.path.join(D, "brca1", "GRCh37_chr17_41100001-41300000.fa")
VCF = os.path.join(D, "brca1", "findlay2018_sge.GRCh37.vcf")
GFF = os.path.join(D, "brca1", "NM_007294.3.cds.GRCh37.gff3")
BED = os.path.join(D, "brca1", "NM_007294.3.cds.GRCh37.bed")
OFFSET = 41100000
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def run(args, **kw):
    return subprocess.run([S] + args, env=env, capture_output=True, text=True, **kw)


def fasta(path):
    return "".join(l.strip() for l in open(path) if not l.startswith(">")).upper()


COMP = str.maketrans("ACGTNRYSWKM", "TGCANYRSWMK")


def rc(s):
    return s.translate(COMP)[::-1]


def kmers(s, k=6):
    return " ".join(s[i:i + k] for i in range(len(s) - k + 1))


REG = fasta(FA)

# ---- variant mode ----
out = os.path.join(T, "variants.tsv")
args = ["kmerize", "--vcf", VCF, "--reference", FA, "--label-field", "FUNC_CLASS", "--map", "FUNC=functional",
        "--map", "LOF=lof", "--strand", "minus", "--window", "101", "--ref-column", "-o", out,
        "--summary", os.path.join(T, "variants.json")]
p = run(args)
check(p.returncode == 0, "variant mode: " + p.stderr)
rows = [l.split("\t") for l in open(out).read().splitlines()]
hdr, rows = rows[0], rows[1:]
check(hdr == ["id", "sequence", "label", "chrom", "pos", "ref", "alt", "exon", "consequence", "cadd", "ref_sequence"],
      "variant header %r" % hdr)
vcf_rows = [l.split("\t") for l in open(VCF) if not l.startswith("#")]
info = [dict(kv.split("=", 1) for kv in r[7].split(";")) for r in vcf_rows]
expect = []
for r, inf in zip(vcf_rows, info):
    if inf["FUNC_CLASS"] not in ("FUNC", "LOF"):
        continue
    pos = int(r[1]) - OFFSET - 1
    ref_win = REG[pos - 50:pos + 51]
    alt_win = REG[pos - 50:pos] + r[4] + REG[pos + 1:pos + 51]
    assert REG[pos] == r[3]
    expect.append([r[0] + ":" + r[1] + ":" + r[3] + ">" + r[4], kmers(rc(alt_win)),
                   "functional" if inf["FUNC_CLASS"] == "FUNC" else "lof", r[0], r[1], r[3], r[4], inf["EXON"],
                   inf["CONSEQUENCE"], inf["CADD"], kmers(rc(ref_win))])
same = sum(1 for a, b in zip(rows, expect) if a[:9] == b[:9] and a[10] == b[10] and abs(float(a[9]) - float(b[9])) < 1e-3)
check(len(rows) == len(expect) == 2529 and same == len(expect), "variant rows: %d/%d equal" % (same, len(expect)))
summary = json.load(open(os.path.join(T, "variants.json")))
check(summary["label_counts"] == {"functional": 1972, "lof": 557} and summary["dropped_unmapped"] == 169,
      "summary %r" % summary)
print("variant mode: %d/%d rows equal to the plain-Python windows; summary %s" % (same, len(expect),
      summary["label_counts"]))
p = run(args)
check(p.returncode == 0 and "cached: kmerize" in p.stderr, "second variant run not cached: " + p.stderr)
# REF contradicting the reference
bad = os.path.join(T, "bad_ref.vcf")
lines = open(VCF).read().splitlines(True)
first = next(i for i, l in enumerate(lines) if not l.startswith("#"))
f = lines[first].split("\t")
f[3], f[4] = "G", "A"  # the reference has T here
lines[first] = "\t".join(f)
open(bad, "w").write("".join(lines))
p = run(["kmerize", "--vcf", bad, "--reference", FA, "--label-field", "FUNC_CLASS", "-o", os.path.join(T, "bad.tsv")])
check(p.returncode == 3 and ("bad_ref.vcf:%d: REF G at chr17:41197722 does not match" % (first + 1)) in p.stderr,
      "REF mismatch: %d %s" % (p.returncode, p.stderr))
check(not os.path.exists(os.path.join(T, "bad.tsv")), "output written despite the REF mismatch")

# ---- variant mode from a TSV (written by bcftools query): the same dataset as from the VCF ----
table = os.path.join(T, "findlay.tsv")
q = subprocess.run(["bcftools", "query", "-H", "-f", "%CHROM\t%POS\t%REF\t%ALT\t%FUNC_CLASS\t%EXON\t%CONSEQUENCE\t%CADD\n", VCF],
                   capture_output=True, text=True, check=True).stdout.splitlines()
q[0] = "chrom\tpos\tref\talt\tFUNC_CLASS\texon\tconsequence\tcadd"
open(table, "w").write("\n".join(q) + "\n")
out_t = os.path.join(T, "variants_from_table.tsv")
p = run(["kmerize", "--variants", table, "--reference", FA, "--label-field", "FUNC_CLASS", "--map", "FUNC=functional",
         "--map", "LOF=lof", "--strand", "minus", "--window", "101", "--ref-column", "-o", out_t])
check(p.returncode == 0, "variant table: " + p.stderr)
a = [l.split("\t") for l in open(out).read().splitlines()]
b = [l.split("\t") for l in open(out_t).read().splitlines()]
check(len(a) == len(b) and all(x[:9] == y[:9] and x[10] == y[10] and abs(float(x[9]) - float(y[9])) < 1e-3
                               for x, y in zip(a[1:], b[1:])), "TSV input differs from VCF input")

# ---- fasta mode: the RefSeq CDS as one row, and tiled ----
CDSFA = os.path.join(D, "brca1", "NM_007294.3.cds.fa")
cds = fasta(CDSFA)
name = open(CDSFA).readline()[1:].split()[0]
lab = os.path.join(T, "cds_labels.tsv")
open(lab, "w").write("id\tlabel\n%s\tBRCA1\n" % name)
p = run(["kmerize", "--mode", "fasta", "--reference", CDSFA, "--labels", lab, "--tokens", "nt6", "-o", os.path.join(T, "cds.tsv")])
check(p.returncode == 0, "fasta mode: " + p.stderr)
rows = [l.split("\t") for l in open(os.path.join(T, "cds.tsv")).read().splitlines()[1:]]
nt6 = " ".join(cds[i:i + 6] for i in range(0, len(cds) - len(cds) % 6, 6))  # 5,592 = 932 x 6, no remainder
check(len(rows) == 1 and rows[0][:3] == [name, nt6, "BRCA1"], "fasta mode row")
p = run(["kmerize", "--mode", "fasta", "--reference", CDSFA, "--window", "510", "--stride", "255", "--tokens", "raw",
         "-o", os.path.join(T, "cds_tiles.tsv")])
rows = [l.split("\t") for l in open(os.path.join(T, "cds_tiles.tsv")).read().splitlines()[1:]]
check(len(rows) == (len(cds) - 510) // 255 + 1 and all(r[1] == cds[int(r[4]) - 1:int(r[5])] and len(r[1]) == 510 for r in rows),
      "tiles")
print("variant TSV input = VCF input; fasta mode: CDS as one nt6 row and %d tiles" % len(rows))

# ---- sample mode on a synthetic cohort ----
rng = random.Random(20181010)
sites, seen = [], set()
for r, inf in zip(vcf_rows, info):
    if r[1] in seen:
        continue
    seen.add(r[1])
    if rng.random() < 0.05:
        sites.append((r[0], int(r[1]), r[3], r[4]))
samples = ["SYN%03d" % i for i in range(24)]
gts = {}
for s in samples:
    g = []
    for _ in sites:
        a = 1 if rng.random() < 0.15 else 0
        b = 1 if rng.random() < 0.15 else 0
        if s == samples[-1]:
            a = b = 0  # one sample homozygous reference everywhere
        g.append("%d|%d" % (a, b))
    gts[s] = g
head = ["##fileformat=VCFv4.2", "##contig=<ID=chr17,length=81195210>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples)]
cohort = os.path.join(T, "cohort.vcf")
with open(cohort, "w") as f:
    f.write("\n".join(head) + "\n")
    for i, (c, pos, ref, alt) in enumerate(sites):
        f.write("\t".join([c, str(pos), ".", ref, alt, ".", "PASS", ".", "GT"] + [gts[s][i] for s in samples]) + "\n")
# a GDC-style clinical table: quoted fields, '--' missing, one sample without a label, one label without genotypes
clin = os.path.join(T, "clinical.tsv")
with open(clin, "w") as f:
    f.write("case_id\tsubmitter_id\tvital_status\tprimary_diagnosis\n")
    for i, s in enumerate(samples):
        status = "--" if i == 3 else ("dead" if i % 3 == 0 else "alive")
        f.write("%d\t%s\t%s\t\"Infiltrating duct carcinoma, NOS\"\n" % (i, s, status))
    f.write("99\tNOT_IN_VCF\talive\t--\n")
labels = os.path.join(T, "labels.tsv")
p = run(["clinical", "--tsv", clin, "--id-column", "submitter_id", "--label-column", "vital_status", "-o", labels])
check(p.returncode == 0, "clinical: " + p.stderr)

# the peer: bcftools consensus on a copy with the region as its own contig (coordinates shifted)
shift_fa = os.path.join(T, "region.fa")
open(shift_fa, "w").write(">reg\n" + "\n".join(REG[i:i + 60] for i in range(0, len(REG), 60)) + "\n")
shift_vcf = os.path.join(T, "cohort.shift.vcf")
with open(shift_vcf, "w") as f:
    f.write("##fileformat=VCFv4.2\n##contig=<ID=reg,length=%d>\n" % len(REG) + head[2] + "\n" + head[3] + "\n")
    for i, (c, pos, ref, alt) in enumerate(sites):
        f.write("\t".join(["reg", str(pos - OFFSET), ".", ref, alt, ".", "PASS", ".", "GT"] + [gts[s][i] for s in samples]) + "\n")
subprocess.run(["bgzip", "-f", shift_vcf], check=True)
subprocess.run(["bcftools", "index", "-f", shift_vcf + ".gz"], check=True)
pieces = []
for l in open(BED):
    if l.startswith("#"):
        continue
    c, a, b = l.split("\t")[:3]
    pieces.append((int(a) - OFFSET, int(b) - OFFSET))
pieces.sort()


def peer(sample, mode):
    flag = {"1": ["-H", "1"], "2": ["-H", "2"], "iupac": ["-I"]}[mode]
    cons = subprocess.run(["bcftools", "consensus", "-f", shift_fa, "-s", sample] + flag + [shift_vcf + ".gz"],
                          capture_output=True, text=True, check=True).stdout
    seq = "".join(l.strip() for l in cons.splitlines() if not l.startswith(">")).upper()
    return rc("".join(seq[a:b] for a, b in pieces))


lab = dict(l.split("\t")[:2] for l in open(labels).read().splitlines()[1:])
for mode in ("1", "2", "iupac", "both"):
    out = os.path.join(T, "samples_%s.tsv" % mode)
    p = run(["kmerize", "--mode", "sample", "--vcf", cohort, "--reference", FA, "--labels", labels, "--gff", GFF,
             "--transcript", "NM_007294.3", "--haplotype", mode, "--tokens", "raw", "-o", out,
             "--summary", out + ".json"])
    check(p.returncode == 0, "sample mode %s: %s" % (mode, p.stderr))
    if p.returncode:
        continue
    rows = [l.split("\t") for l in open(out).read().splitlines()[1:]]
    want = []
    for s in samples:
        if s not in lab:
            continue
        if mode == "both":
            want.append([s + "_1", peer(s, "1"), lab[s]])
            want.append([s + "_2", peer(s, "2"), lab[s]])
        else:
            want.append([s, peer(s, mode), lab[s]])
    equal = sum(1 for a, b in zip(rows, want) if a[:3] == b)
    check(len(rows) == len(want) and equal == len(want), "sample mode %s: %d/%d rows equal to bcftools consensus"
          % (mode, equal, len(want)))
    sm = json.load(open(out + ".json"))
    check(sm["samples_without_label"] == 1 and sm["labels_without_genotypes"] == 1, "sample summary %r" % sm)
    print("sample mode %s (synthetic cohort, %d sites): %d/%d sequences equal to bcftools consensus" %
          (mode, len(sites), equal, len(want)))
# with no variant applied the sample sequence is exactly the RefSeq CDS
cds = fasta(os.path.join(D, "brca1", "NM_007294.3.cds.fa"))
rows = [l.split("\t") for l in open(os.path.join(T, "samples_1.tsv")).read().splitlines()[1:]]
ref_rows = [r for r in rows if r[5] == "0"]
check(len(ref_rows) >= 1 and all(r[1] == cds for r in ref_rows), "samples without variants differ from NM_007294.3")
print("samples with no variant on haplotype 1: %d, all equal to NM_007294.3 CDS" % len(ref_rows))
sys.exit(1 if failures else 0)
