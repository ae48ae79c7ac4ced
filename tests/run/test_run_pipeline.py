"""seqlora run end to end on a reduced config (a quarter of the Findlay variants, a tiny random base, 3 epochs):

1. a cold run: every step ran, report.md / summary.json / plots written, the CADD baseline's AUROC equals
   scikit-learn's roc_auc_score on the raw CADD scores of the same test rows, the consequence baseline's
   probabilities equal class rates recomputed here from the development rows, test exons never in training;
2. a rerun: every step `cached`, outputs byte-identical;
3. --dry-run on the finished store: every step cached, exit 0, nothing run; on an empty store: kmerize and
   init model "run", the rest "run later";
4. a run killed with SIGKILL during `train` (after a checkpoint) and rerun: the steps before train are cached,
   training resumes, and every output is byte-identical to the uninterrupted run;
5. `seqlora store log` on the evaluate action lists every step back to kmerize and its input files.
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from sklearn.metrics import roc_auc_score

BIN = os.environ["SEQLORA_BIN"]
SRC = os.environ["SEQLORA_SOURCE_DIR"]
TMP = os.path.join(os.environ.get("SEQLORA_TEST_TMP", "/tmp"), "run_pipeline")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what, file=sys.stderr)
    if not cond:
        failures += 1


def run(args, **kw):
    try:
        return subprocess.run([BIN] + args, capture_output=True, text=True, timeout=240, **kw)
    except subprocess.TimeoutExpired as e:
        print(f"FAIL seqlora {' '.join(args)} did not finish in 240 s; its stderr ends with:\n"
              f"{(e.stderr or b'')[-2000:].decode(errors='replace') if isinstance(e.stderr, bytes) else (e.stderr or '')[-2000:]}",
              file=sys.stderr)
        sys.exit(1)


# a quarter of the Findlay variants (every 4th record), the header kept
vcf = os.path.join(TMP, "findlay_quarter.vcf")
with open(os.path.join(SRC, "data", "findlay2018_sge.GRCh37.vcf")) as f, open(vcf, "w") as out:
    n = 0
    for line in f:
        if line.startswith("#"):
            out.write(line)
        else:
            if n % 4 == 0:
                out.write(line)
            n += 1

config = {
    "description": "CI: reduced demo",
    "data": {"reference": os.path.join(SRC, "data", "GRCh37_chr17_41100001-41300000.fa"), "variants": "findlay_quarter.vcf",
             "window": 41, "strand": "-"},
    "split": {"test_fraction": 0.3, "validation_fraction": 0.25},
    "base": {"init": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
                      "max_position_embeddings": 64}},
    "lora": {"r": 4},
    "train": {"epochs": 3, "patience": 0, "max_length": 40, "checkpoint_every": 5},
    "evaluate": {"bootstrap": 200, "positive_class": "LOF"},
}
cfg = os.path.join(TMP, "config.json")
with open(cfg, "w") as f:
    json.dump(config, f, indent=2)


def digest_tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            if rel in ("report.md", "summary.json"):
                continue  # carry timings and ran/cached states
            with open(p, "rb") as fh:
                out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


def stage_lines(stderr):
    lines = {}
    for line in stderr.splitlines():
        parts = line.split()
        if len(parts) >= 4 and line.startswith("  ") and parts[-2] == "s":
            pass
        for status in ("ran", "cached", "wrote", "skipped"):
            if f"  {status}  " in line and line.startswith("  "):
                lines[line.split(f"  {status}  ")[0].strip()] = status
    return lines


# 1. cold run
store_a, out_a = os.path.join(TMP, "store_a"), os.path.join(TMP, "out_a")
t0 = time.time()
r = run(["run", cfg, "--store", store_a, "-o", out_a, "--threads", "2"])
print(r.stderr[-3000:], file=sys.stderr)
check(r.returncode == 0, f"cold run exits 0 ({time.time() - t0:.1f} s)")
if r.returncode:
    sys.exit(1)
st = stage_lines(r.stderr)
steps = ["kmerize", "split test", "split validation", "init model", "train", "evaluate model", "package",
         "evaluate cadd", "evaluate consequence"]
check(all(st.get(s) == "ran" for s in steps), f"cold run: every step ran ({st})")
check(r.stdout.strip() == os.path.join(out_a, "report.md"), "stdout is the report path")
for rel in ("report.md", "summary.json", "data/dataset.tsv", "data/train.tsv", "data/validation.tsv", "data/test.tsv",
            "model/adapter/adapter_model.safetensors", "model/adapter/adapter_config.json", "model/metrics.jsonl",
            "report/model/metrics.json", "report/model/roc.svg", "report/model/pr.svg", "report/model/loss.svg",
            "report/cadd/metrics.json", "report/consequence/metrics.json", "model.tar.gz"):
    check(os.path.isfile(os.path.join(out_a, rel)), f"output {rel} exists")
md = open(os.path.join(out_a, "report.md")).read()
check("randomly initialised" in md and "roc.svg" in md and "| cadd |" in md, "report.md: random-base warning, plots, CADD row")


def read_tsv(p):
    with open(p) as f:
        head = f.readline().rstrip("\n").split("\t")
        return [dict(zip(head, l.rstrip("\n").split("\t"))) for l in f if l.strip()]


test = read_tsv(os.path.join(out_a, "data/test.tsv"))
dev = read_tsv(os.path.join(out_a, "data/development.tsv"))
train = read_tsv(os.path.join(out_a, "data/train.tsv"))
val = read_tsv(os.path.join(out_a, "data/validation.tsv"))
check(len(train) + len(val) == len(dev), "train + validation = development")
te_ex, tr_ex, va_ex = {r["exon"] for r in test}, {r["exon"] for r in train}, {r["exon"] for r in val}
check(te_ex and not (te_ex & tr_ex) and not (te_ex & va_ex) and not (tr_ex & va_ex),
      f"exons on one side only (test {sorted(te_ex)}, validation {sorted(va_ex)}, train {sorted(tr_ex)})")
check({r["label"] for r in test} == {"FUNC", "LOF"}, "labels FUNC/LOF, INT excluded")

# CADD baseline vs sklearn on the raw scores
rows = [r for r in test if r["cadd"] not in ("NA", "")]
y = [1 if r["label"] == "LOF" else 0 for r in rows]
auc = roc_auc_score(y, [float(r["cadd"]) for r in rows])
ours = json.load(open(os.path.join(out_a, "report/cadd/metrics.json")))["metrics"]["roc_auc"]
check(abs(ours - auc) < 1e-9, f"CADD AUROC {ours:.6f} == sklearn on raw CADD {auc:.6f}")
# consequence baseline: Laplace-smoothed LOF rate per consequence among development rows
pred = read_tsv(os.path.join(out_a, "baselines/consequence.predictions.tsv"))
cons = {}
for r in dev:
    c = cons.setdefault(r["consequence"], [0, 0])
    c[0] += r["label"] == "LOF"
    c[1] += 1
allc = [sum(r["label"] == "LOF" for r in dev), len(dev)]
bad = 0
for p, r in zip(pred, test):
    c = cons.get(r["consequence"], allc)
    bad += p["id"] != r["id"] or abs(float(p["prob_LOF"]) - (c[0] + 1) / (c[1] + 2)) > 1e-8
check(len(pred) == len(test) and bad == 0, f"consequence baseline = development LOF rates ({bad} of {len(pred)} differ)")
m_model = json.load(open(os.path.join(out_a, "report/model/metrics.json")))
check(m_model["n"] == len(test), f"model evaluated on the {len(test)} test rows")
summary = json.load(open(os.path.join(out_a, "summary.json")))
check(summary["random_base"] is True and len(summary["results"]) == 3, "summary.json: random base, 3 results")

# 2. rerun: all cached, same bytes
before = digest_tree(out_a)
t0 = time.time()
r = run(["run", cfg, "--store", store_a, "-o", out_a, "--threads", "2"])
st = stage_lines(r.stderr)
check(r.returncode == 0 and all(st.get(s) == "cached" for s in steps), f"rerun: every step cached ({time.time() - t0:.1f} s)")
check(digest_tree(out_a) == before, "rerun: outputs byte-identical")

# 3. dry runs
r = run(["run", cfg, "--store", store_a, "-o", out_a, "--dry-run"])
check(r.returncode == 0 and "9 cached, 0 to run, 0 after them" in r.stdout, "dry-run on the finished store: all cached\n" + r.stdout)
store_e = os.path.join(TMP, "store_empty")
r = run(["run", cfg, "--store", store_e, "-o", os.path.join(TMP, "out_e"), "--dry-run"])
plan = {l.split()[0] + (" " + l.split()[1] if l.split()[1] not in ("kmerize", "split", "init_model", "train", "evaluate", "-") else ""): l for l in r.stdout.splitlines()[1:-1]}
check(r.returncode == 0 and "0 cached, 2 to run, 7 after them" in r.stdout, "dry-run on an empty store: 2 to run, 7 after\n" + r.stdout)
check(not os.path.exists(os.path.join(TMP, "out_e", "report.md")), "dry-run writes no report")

# 4. kill -9 during train, rerun: identical outputs
store_b, out_b = os.path.join(TMP, "store_b"), os.path.join(TMP, "out_b")
p = subprocess.Popen([BIN, "run", cfg, "--store", store_b, "-o", out_b, "--threads", "1"], stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
killed = False
deadline = time.time() + 300
while p.poll() is None and time.time() < deadline:
    found = False
    for d, _, files in os.walk(store_b):
        if "checkpoint.bin" in files:
            found = True
            break
    if found:
        os.kill(p.pid, signal.SIGKILL)
        killed = True
        break
    time.sleep(0.05)
p.wait()
check(killed, "killed with SIGKILL after a training checkpoint")
r = run(["run", cfg, "--store", store_b, "-o", out_b, "--threads", "2"])
st = stage_lines(r.stderr)
check(r.returncode == 0, "rerun after the kill exits 0")
check(all(st.get(s) == "cached" for s in steps[:4]) and st.get("train") == "ran", f"steps before train cached, train ran ({st})")
check("resuming" in r.stderr, "training resumed from its checkpoint")
check(digest_tree(out_b) == before, "killed + rerun outputs byte-identical to the uninterrupted run")

# 5. lineage of the final bundle
ev_key = [s for s in summary["steps"] if s["stage"] == "package"][0]["key"]
r = run(["store", "log", ev_key, "--store", store_a])
check(r.returncode == 0, "store log exits 0")
for step in ("package", "evaluate", "train", "init_model", "split", "kmerize"):
    check(f" {step} v" in r.stdout, f"store log names {step}")
check("findlay_quarter.vcf" in r.stdout and "GRCh37_chr17_41100001-41300000.fa" in r.stdout,
      "store log reaches the input files (VCF and FASTA)")
bundle_digest = hashlib.sha256(open(os.path.join(out_a, "model.tar.gz"), "rb").read()).hexdigest()
r = run(["store", "log", bundle_digest, "--store", store_a])
check(r.returncode == 0 and " kmerize v" in r.stdout and "findlay_quarter.vcf" in r.stdout,
      "store log on the bundle's digest reaches kmerize and the VCF")

print(f"{failures} failure(s)", file=sys.stderr)
sys.exit(1 if failures else 0)
