"""clinical against an independent reading of the real GDC clinical.tsv with Python's csv module (quoting
handled by the peer): same kept ids and labels in the same order, same drop counts, covariates carried,
a cache hit the second time, duplicate ids and unknown columns rejected with exit codes 3 and 2."""
import csv
import os
import subprocess
import sys

S = os.environ["SEQLORA_BIN"]
D = os.environ["SEQLORA_TEST_DATA"]
T = os.environ["SEQLORA_TEST_TMP"]
os.makedirs(T, exist_ok=True)
env = dict(os.environ, SEQLORA_STORE=os.path.join(T, "store"))
SRC = os.path.join(D, "gdc", "clinical.tcga-brca.tsv")
MISSING = {"", "--", "'--", "not reported", "unknown", "na"}
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def run(args):
    return subprocess.run([S, "clinical"] + args, env=env, capture_output=True, text=True)


def expected(id_col, label_col, mapping=None, covs=()):
    rows = list(csv.DictReader(open(SRC, newline=""), delimiter="\t"))
    out, drops = [], {"id": 0, "label": 0, "unmapped": 0}
    for r in rows:
        i, lab = r[id_col], r[label_col]
        if i.lower() in MISSING:
            drops["id"] += 1
            continue
        if lab.lower() in MISSING:
            drops["label"] += 1
            continue
        if mapping is not None:
            if lab not in mapping:
                drops["unmapped"] += 1
                continue
            lab = mapping[lab]
        out.append([i, lab] + [("NA" if r[c].lower() in MISSING else r[c]) for c in covs])
    return out, drops


def ours(path):
    lines = open(path).read().splitlines()
    return lines[0].split("\t"), [l.split("\t") for l in lines[1:]]


# 1. vital_status with covariates
out = os.path.join(T, "vital.tsv")
p = run(["--tsv", SRC, "--id-column", "submitter_id", "--label-column", "vital_status",
         "--covariate", "gender", "--covariate", "age_at_diagnosis", "-o", out])
check(p.returncode == 0, "vital_status run: " + p.stderr)
hdr, rows = ours(out)
exp, drops = expected("submitter_id", "vital_status", None, ("gender", "age_at_diagnosis"))
check(hdr == ["id", "label", "gender", "age_at_diagnosis"], "header %r" % hdr)
check(rows == exp, "vital_status rows differ from the csv reading")
print("vital_status: kept %d, dropped %r" % (len(rows), drops))

# 2. a stage column with missing values and a map (stage i*/ii* → early, iii*/iv → late)
stages = {r["tumor_stage"] for r in csv.DictReader(open(SRC, newline=""), delimiter="\t")}
mapping = {s: ("early" if s.startswith("stage i") and not s.startswith("stage iii") and not s.startswith("stage iv")
               else "late") for s in stages if s.startswith("stage ") and s != "stage x"}
args = ["--tsv", SRC, "--id-column", "submitter_id", "--label-column", "tumor_stage", "-o", os.path.join(T, "stage.tsv")]
for k, v in sorted(mapping.items()):
    args += ["--map", "%s=%s" % (k, v)]
p = run(args)
check(p.returncode == 0, "stage run: " + p.stderr)
hdr, rows = ours(os.path.join(T, "stage.tsv"))
exp, drops = expected("submitter_id", "tumor_stage", mapping)
check(rows == exp, "tumor_stage rows differ")
check(drops["label"] > 0, "the stage column should have missing values")
check("%d without label" % drops["label"] in p.stderr and "%d unmapped" % drops["unmapped"] in p.stderr,
      "drop counts not reported: " + p.stderr)
print("tumor_stage: kept %d, dropped %r" % (len(rows), drops))

# 3. a cache hit the second time
p2 = subprocess.run([S, "clinical"] + args, env=env, capture_output=True, text=True)
check(p2.returncode == 0 and "cached: clinical" in p2.stderr, "second run not cached: " + p2.stderr)

# 4. duplicate ids (project_id is the same for every row) → exit 3 naming the lines
p = run(["--tsv", SRC, "--id-column", "project_id", "--label-column", "vital_status", "-o", os.path.join(T, "dup.tsv")])
check(p.returncode == 3 and "duplicate id 'TCGA-BRCA' on lines 2 and 3" in p.stderr, "duplicates: %d %s" % (p.returncode, p.stderr))
check(not os.path.exists(os.path.join(T, "dup.tsv")), "output written for duplicate ids")
# 5. unknown column → usage error 2
p = run(["--tsv", SRC, "--id-column", "nope", "--label-column", "vital_status", "-o", os.path.join(T, "x.tsv")])
check(p.returncode == 2 and "no column named 'nope'" in p.stderr, "unknown column: %d %s" % (p.returncode, p.stderr))
sys.exit(1 if failures else 0)
