"""seqlora run on the sample-level example (examples/sample_level.json) with its SYNTHETIC cohort
(examples/cohort/make_cohort.py: real Findlay sites, simulated genotypes, GDC-style clinical table), reduced to
a tiny base and one epoch:

- clean → clinical → kmerize (sample mode) → split → train → evaluate all run, then all cached on a rerun;
- the records `clean` kept are exactly those `bcftools view -i 'QUAL>30 && INFO/DP>10'` keeps;
- the dataset has one row per sample with a mapped label (the 'not reported' samples dropped), with the labels
  the clinical table gives (recomputed here);
- each sample's sequence is the spliced BRCA1 CDS (reverse strand) with the sample's haplotype-1 ALT alleles
  that passed clean applied: recomputed here from the FASTA, the GFF3 and the VCF for every sample;
- `store log` on the evaluate action reaches the cohort VCF and the clinical table.
"""
import json
import os
import shutil
import subprocess
import sys

BIN = os.environ["SEQLORA_BIN"]
SRC = os.environ["SEQLORA_SOURCE_DIR"]
PY = sys.executable
TMP = os.environ.get("SEQLORA_TEST_TMP", "/tmp")
shutil.rmtree(os.path.join(TMP, "sample"), ignore_errors=True)
W = os.path.join(TMP, "sample")
os.makedirs(W)
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what, file=sys.stderr)
    if not cond:
        failures += 1


cohort = os.path.join(W, "cohort")
r = subprocess.run([PY, os.path.join(SRC, "examples", "cohort", "make_cohort.py"), "-o", cohort, "--samples", "80"],
                   capture_output=True, text=True)
check(r.returncode == 0, "make_cohort.py: " + r.stdout.strip() + r.stderr.strip())
cfg = json.load(open(os.path.join(SRC, "examples", "sample_level.json")))
ex = os.path.join(SRC, "examples")
for k in ("reference", "annotation"):
    cfg["data"][k] = os.path.normpath(os.path.join(ex, cfg["data"][k]))
cfg["data"]["vcf"] = os.path.join(cohort, "cohort.vcf")
cfg["data"]["clinical"] = os.path.join(cohort, "clinical.tsv")
cfg["base"] = {"init": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}}
cfg["train"].update(epochs=1, max_length=512)
cfg["evaluate"]["bootstrap"] = 100
cpath = os.path.join(W, "config.json")
json.dump(cfg, open(cpath, "w"), indent=1)
store, out = os.path.join(W, "store"), os.path.join(W, "out")


def run():
    return subprocess.run([BIN, "run", cpath, "--store", store, "-o", out, "--threads", "2"], capture_output=True,
                          text=True, timeout=300)


r = run()
print(r.stderr[-2500:], file=sys.stderr)
check(r.returncode == 0, "sample-level run exits 0")
if r.returncode:
    sys.exit(1)
stages = ["clean", "clinical", "kmerize", "split test", "split validation", "init model", "train", "evaluate model"]
check(all(f"  {s} " in r.stderr and " ran " in [l for l in r.stderr.splitlines() if l.startswith(f"  {s} ")][0] + " "
          for s in stages), "every stage ran")
r2 = run()
check(r2.returncode == 0 and all(" cached " in l for l in r2.stderr.splitlines() if l.startswith("  ") and " s " in l),
      "rerun: all cached")

# clean vs bcftools
bc = subprocess.run(["bcftools", "view", "-H", "-i", "QUAL>30 && INFO/DP>10", os.path.join(cohort, "cohort.vcf")],
                    capture_output=True, text=True, check=True).stdout.splitlines()
ours = subprocess.run(["bcftools", "view", "-H", os.path.join(out, "data", "clean.vcf.gz")], capture_output=True,
                      text=True, check=True).stdout.splitlines()
allrec = [l for l in open(os.path.join(cohort, "cohort.vcf")) if not l.startswith("#")]
check([l.split("\t")[:5] for l in ours] == [l.split("\t")[:5] for l in bc] and len(bc) < len(allrec),
      f"clean kept the {len(ours)} records bcftools keeps (of {len(allrec)})")

# labels from the clinical table
mapping = cfg["data"]["labels"]
want = {}
with open(os.path.join(cohort, "clinical.tsv")) as f:
    head = f.readline().rstrip("\n").split("\t")
    for line in f:
        row = dict(zip(head, line.rstrip("\n").split("\t")))
        if row["sample_type"] in mapping:
            want[row["submitter_id"]] = mapping[row["sample_type"]]
with open(os.path.join(out, "data", "dataset.tsv")) as f:
    head = f.readline().rstrip("\n").split("\t")
    rows = [dict(zip(head, l.rstrip("\n").split("\t"))) for l in f]
check(len(rows) == len(want) and all(want.get(r["id"]) == r["label"] for r in rows),
      f"{len(rows)} rows, labels as the clinical table maps them ({len(want)} samples with a label)")

# each sequence: spliced CDS (minus strand) with haplotype-1 ALT alleles of the clean records applied
fa = open(cfg["data"]["reference"]).read().split("\n", 1)[1].replace("\n", "").upper()
off = 41100000  # base i of the FASTA is chr17:41100000+i (data/SOURCES.md)
cds = []
for line in open(cfg["data"]["annotation"]):
    f = line.split("\t")
    if len(f) > 4 and f[2] == "CDS":
        cds.append((int(f[3]), int(f[4])))
cds.sort()
samples = None
alts = {}
for line in ours:
    f = line.split("\t")
    pos, ref, alt = int(f[1]), f[3], f[4]
    alts[pos] = (ref, alt, f[9:])
hdr = subprocess.run(["bcftools", "query", "-l", os.path.join(out, "data", "clean.vcf.gz")], capture_output=True,
                     text=True, check=True).stdout.split()
comp = str.maketrans("ACGT", "TGCA")
bad = 0
for r in rows:
    j = hdr.index(r["id"])
    seq = []
    for s, e in cds:
        for p in range(s, e + 1):
            b = fa[p - off - 1]
            if p in alts and alts[p][2][j].split("|")[0] == "1":
                assert alts[p][0] == b
                b = alts[p][1]
            seq.append(b)
    s = "".join(seq).translate(comp)[::-1]
    k = cfg.get("kmer", {}).get("k", 6)
    kmers = " ".join(s[i:i + k] for i in range(len(s) - k + 1))
    bad += kmers != r["sequence"]
check(bad == 0 and len(rows) > 0, f"every sequence = the haplotype-1 spliced CDS as 6-mers ({bad} of {len(rows)} differ)")

summary = json.load(open(os.path.join(out, "summary.json")))
ev = [s for s in summary["steps"] if s["stage"] == "evaluate model"][0]["key"]
r = subprocess.run([BIN, "store", "log", ev, "--store", store], capture_output=True, text=True)
check(r.returncode == 0 and "cohort.vcf" in r.stdout and "clinical.tsv" in r.stdout and " clean v" in r.stdout,
      "store log on the evaluation reaches clean, the cohort VCF and the clinical table")

print(f"{failures} failure(s)", file=sys.stderr)
sys.exit(1 if failures else 0)
