#!/usr/bin/env python3
"""Generate the SYNTHETIC cohort of the sample-level example (examples/sample_level.json).

Nothing here is patient data. The variant SITES are real (BRCA1 SNVs from Findlay et al. 2018, data/), the
GENOTYPES and the clinical table are simulated:

  cohort.vcf     a multi-sample VCF (GRCh37 chr17) over the Findlay SNVs in the first 500 coding bases of
                 BRCA1 (exons 2-7, the part a 512-token 6-mer model sees), phased genotypes, INFO/DP and QUAL
                 drawn so that some sites fail `clean` (QUAL <= 30 or DP <= 10);
  clinical.tsv   a GDC-style clinical table (case_id, submitter_id, project_id, gender, sample_type, ...;
                 '--' and 'not reported' for missing values, as GDC exports write them).

Simulation: every sample carries a few FUNC (neutral) variants; a "Primary Tumor" sample carries one LOF
variant with probability 0.8, a "Blood Derived Normal" sample with probability 0.05 — always on haplotype 1
(GT 1|0), so kmerize's haplotype-1 consensus shows it. A few samples have sample_type 'not reported' and are
dropped by `clinical`. Deterministic for a given --seed (Python's random.Random).

  python3 examples/cohort/make_cohort.py [--samples 120] [--seed 7] [-o examples/cohort]
"""
import argparse
import os
import random
import re

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--samples", type=int, default=120)
ap.add_argument("--seed", type=int, default=7)
ap.add_argument("--max-cds", type=int, default=500, help="keep sites at c.1..c.N")
ap.add_argument("-o", "--outdir", default=here)
ap.add_argument("--findlay", default=os.path.join(here, "..", "..", "data", "findlay2018_sge.GRCh37.vcf"))
a = ap.parse_args()
rng = random.Random(a.seed)

sites = []
for line in open(a.findlay):
    if line.startswith("#"):
        continue
    f = line.rstrip("\n").split("\t")
    info = dict(kv.split("=", 1) for kv in f[7].split(";") if "=" in kv)
    m = re.match(r"c\.(\d+)[ACGT]>", info.get("HGVSC", ""))
    if not m or int(m.group(1)) > a.max_cds or info.get("FUNC_CLASS") not in ("FUNC", "LOF"):
        continue
    sites.append((f[0], int(f[1]), f[3], f[4], info["FUNC_CLASS"]))
sites.sort(key=lambda s: (s[1], s[3]))
# one ALT per position (a sample's haplotype cannot hold two ALTs at one base)
seen, uniq = set(), []
for s in sites:
    if s[1] not in seen:
        seen.add(s[1])
        uniq.append(s)
sites = uniq
lof = [i for i, s in enumerate(sites) if s[4] == "LOF"]
func = [i for i, s in enumerate(sites) if s[4] == "FUNC"]

n = a.samples
names = ["TCGA-SY-%04d" % (i + 1) for i in range(n)]
types = ["Primary Tumor" if i % 2 == 0 else "Blood Derived Normal" for i in range(n)]
for i in rng.sample(range(n), max(1, n // 40)):
    types[i] = "not reported"
gt = [[0] * n for _ in sites]
for j in range(n):
    for i in rng.sample(func, 3):
        gt[i][j] = 1
    if rng.random() < (0.8 if types[j] == "Primary Tumor" else 0.05):
        gt[rng.choice(lof)][j] = 1

os.makedirs(a.outdir, exist_ok=True)
with open(os.path.join(a.outdir, "cohort.vcf"), "w") as out:
    out.write("##fileformat=VCFv4.2\n##reference=GRCh37\n##contig=<ID=chr17,length=81195210,assembly=GRCh37>\n")
    out.write("##source=SYNTHETIC: real Findlay 2018 BRCA1 sites, simulated genotypes (examples/cohort/make_cohort.py)\n")
    out.write('##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth (simulated)">\n')
    out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
    out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(names) + "\n")
    for i, (chrom, pos, ref, alt, _) in enumerate(sites):
        if not any(gt[i]):
            continue
        qual = rng.choice([rng.randint(5, 30), rng.randint(31, 99), rng.randint(31, 99), rng.randint(31, 99)])
        dp = rng.choice([rng.randint(2, 10), rng.randint(11, 80), rng.randint(11, 80), rng.randint(11, 80)])
        calls = ["1|0" if g else "0|0" for g in gt[i]]
        out.write(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t{qual}\tPASS\tDP={dp}\tGT\t" + "\t".join(calls) + "\n")

cols = ["case_id", "submitter_id", "project_id", "gender", "year_of_birth", "vital_status", "sample_type",
        "primary_diagnosis", "age_at_diagnosis"]
with open(os.path.join(a.outdir, "clinical.tsv"), "w") as out:
    out.write("\t".join(cols) + "\n")
    for j, name in enumerate(names):
        case_id = "%08x-%04x-4%03x-8%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                                  rng.getrandbits(12), rng.getrandbits(48))
        tumour = types[j] == "Primary Tumor"
        row = [case_id, name, "SYNTH-BRCA", "female", str(rng.randint(1930, 1990)), rng.choice(["alive", "dead"]),
               types[j], '"Infiltrating duct carcinoma, NOS"' if tumour else "--",
               str(rng.randint(9000, 30000)) if tumour else "--"]
        out.write("\t".join(row) + "\n")
print(f"{len(sites)} sites, {n} samples -> {a.outdir}/cohort.vcf, clinical.tsv")
