"""seqlora run with base.pretrain on a reduced config (a quarter of the Findlay variants, a tiny BERT, a few
pretraining steps on the bundled BRCA1 region):

1. a cold run: init model -> pretrain -> train ran; the train, evaluate and package actions take the pretrain
   action's `model` output as their base (not the init model's); the pretrained base loads in transformers'
   BertForMaskedLM with no missing weights; summary.json's pretrain losses equal the step's metrics.jsonl
   (first and last epoch); report.md and the printed summary say the base was pretrained here, with those
   losses;
2. a rerun: every step cached, outputs byte-identical; --dry-run on the finished store: all cached; on an
   empty store: init model "run", pretrain "run later";
3. `seqlora store log` on the bundle goes through pretrain and init_model back to the FASTA;
4. changing a pretraining parameter changes the pretrain key and everything after it, not what comes before.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

BIN = os.environ["SEQLORA_BIN"]
SRC = os.environ["SEQLORA_SOURCE_DIR"]
TMP = os.path.join(os.environ.get("SEQLORA_TEST_TMP", "/tmp"), "run_pretrain")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what, file=sys.stderr)
    if not cond:
        failures += 1


def run(args):
    try:
        return subprocess.run([BIN] + args, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        print(f"FAIL seqlora {' '.join(args)} did not finish in 240 s", file=sys.stderr)
        sys.exit(1)


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

FASTA = os.path.join(SRC, "data", "GRCh37_chr17_41100001-41300000.fa")
config = {
    "description": "CI: reduced demo with pretraining",
    "data": {"reference": FASTA, "variants": "findlay_quarter.vcf", "window": 41, "strand": "-"},
    "split": {"test_fraction": 0.3, "validation_fraction": 0.25},
    "base": {"pretrain": {"init": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                   "intermediate_size": 64, "max_position_embeddings": 64},
                          "window": 48, "windows_per_epoch": 32, "epochs": 3, "batch_size": 8, "lr": 0.003,
                          "checkpoint_every": 4}},
    "lora": {"r": 4},
    "train": {"epochs": 2, "patience": 0, "max_length": 40},
    "evaluate": {"bootstrap": 100, "positive_class": "LOF"},
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
            if rel not in ("report.md", "summary.json"):
                with open(p, "rb") as fh:
                    out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


def stage_lines(stderr):
    lines = {}
    for line in stderr.splitlines():
        for status in ("ran", "cached", "wrote", "skipped"):
            if f"  {status}  " in line and line.startswith("  "):
                lines[line.split(f"  {status}  ")[0].strip()] = status
    return lines


def log_of(key, store):
    """{step key: record text} of `seqlora store log`."""
    r = run(["store", "log", key, "--store", store])
    recs, cur = {}, None
    for line in r.stdout.splitlines():
        if line and not line.startswith(" "):
            cur = line.split()[0]
            recs[cur] = line + "\n"
        elif cur:
            recs[cur] += line + "\n"
    return r, recs


# 1. cold run
store_a, out_a = os.path.join(TMP, "store_a"), os.path.join(TMP, "out_a")
r = run(["run", cfg, "--store", store_a, "-o", out_a, "--threads", "2"])
print(r.stderr[-3000:], file=sys.stderr)
check(r.returncode == 0, "cold run exits 0")
if r.returncode:
    sys.exit(1)
st = stage_lines(r.stderr)
steps = ["kmerize", "split test", "split validation", "init model", "pretrain", "train", "evaluate model",
         "package", "evaluate cadd", "evaluate consequence"]
check(all(st.get(s) == "ran" for s in steps), f"cold run: every step ran, pretrain included ({st})")
summary = json.load(open(os.path.join(out_a, "summary.json")))
keys = {s["stage"]: s.get("key") for s in summary["steps"]}
check(summary["pretrained_base"] is True and summary["random_base"] is False, "summary.json: pretrained base")

# the pretrained base: transformers loads it; the train/evaluate/package actions use it
base = os.path.join(out_a, "model", "base")
hist = [json.loads(l) for l in open(os.path.join(out_a, "model", "pretrain_metrics.jsonl")) if l.strip()]
check(len(hist) == 3 and [h["epoch"] for h in hist] == [1, 2, 3], "pretrain metrics: 3 epochs")
pre = summary.get("pretrain", {})
check(hist and abs(pre.get("first_epoch_mlm_loss", -1) - hist[0]["mlm_loss"]) < 1e-6
      and abs(pre.get("last_epoch_mlm_loss", -1) - hist[-1]["mlm_loss"]) < 1e-6 and pre.get("steps") == 12,
      f"summary.json pretrain losses = the step's metrics.jsonl first/last epoch (written to 6 decimals), 12 steps ({pre})")
probe = subprocess.run([sys.executable, "-c", f"""
import json, sys
from transformers import BertForMaskedLM
m, info = BertForMaskedLM.from_pretrained({base!r}, output_loading_info=True)
print(json.dumps({{"missing": info["missing_keys"], "hidden": m.config.hidden_size}}))
"""], capture_output=True, text=True, timeout=120)
loaded = json.loads(probe.stdout.strip().splitlines()[-1]) if probe.returncode == 0 else None
check(loaded is not None and loaded["missing"] == [] and loaded["hidden"] == 32,
      f"the pretrained base loads in BertForMaskedLM with no missing weights ({loaded or probe.stderr[-500:]})")
rl, recs = log_of(keys["package"], store_a)
check(rl.returncode == 0, "store log on the package action exits 0")
pre_rec = recs.get(keys["pretrain"], "")
init_rec = recs.get(keys["init model"], "")
model_digest = [l.split("sha256:")[1].strip() for l in pre_rec.splitlines() if "output  model =" in l]
init_digest = [l.split("sha256:")[1].strip() for l in init_rec.splitlines() if "output  model =" in l]
check(len(model_digest) == 1 and len(init_digest) == 1, "store log shows the pretrain and init model actions")
if model_digest and init_digest:
    check(f"init_from = sha256:{init_digest[0]}" in pre_rec, "pretrain continues from the init model's output")
    check("fasta = " + FASTA in pre_rec, "pretrain reads the config's reference FASTA")
    for stage, role in (("train", "base"), ("evaluate model", "base_model"), ("package", "base")):
        rec = recs.get(keys[stage], "")
        check(f"{role} = sha256:{model_digest[0]}" in rec and init_digest[0] not in rec,
              f"{stage}'s {role} is the pretrained model, not the init model")
md = open(os.path.join(out_a, "report.md")).read()
check("pretrained here" in md and f"{hist[0]['mlm_loss']:.3f}" in md and f"{hist[-1]['mlm_loss']:.3f}" in md
      and "randomly initialised" not in md, "report.md: the base was pretrained here, with first/last MLM loss")
check(f"MLM loss {hist[0]['mlm_loss']:.3f} (first epoch) -> {hist[-1]['mlm_loss']:.3f}" in r.stderr,
      "the printed summary gives the pretraining losses")
check(any(x["name"].startswith("LoRA on a BERT pretrained here") for x in summary["results"]),
      "the model's row is named as pretrained here")

# 2. rerun: all cached, same bytes; dry runs
before = digest_tree(out_a)
r = run(["run", cfg, "--store", store_a, "-o", out_a, "--threads", "2"])
st = stage_lines(r.stderr)
check(r.returncode == 0 and all(st.get(s) == "cached" for s in steps), f"rerun: every step cached ({st})")
check(digest_tree(out_a) == before, "rerun: outputs byte-identical")
r = run(["run", cfg, "--store", store_a, "-o", out_a, "--dry-run"])
check(r.returncode == 0 and "10 cached, 0 to run, 0 after them" in r.stdout,
      "dry-run on the finished store: all 10 cached\n" + r.stdout)
r = run(["run", cfg, "--store", os.path.join(TMP, "store_e"), "-o", os.path.join(TMP, "out_e"), "--dry-run"])
rows = {l[:22].strip(): l for l in r.stdout.splitlines()[1:-1]}
check(r.returncode == 0 and "0 cached, 2 to run, 8 after them" in r.stdout
      and " run " in rows.get("init model", "") and "run later" in rows.get("pretrain", ""),
      "dry-run on an empty store: init model to run, pretrain after it\n" + r.stdout)

# 3. lineage of the bundle back to the FASTA, through pretrain
bundle_digest = hashlib.sha256(open(os.path.join(out_a, "model.tar.gz"), "rb").read()).hexdigest()
r = run(["store", "log", bundle_digest, "--store", store_a])
check(r.returncode == 0 and " pretrain v" in r.stdout and " init_model v" in r.stdout
      and "GRCh37_chr17_41100001-41300000.fa" in r.stdout and "findlay_quarter.vcf" in r.stdout,
      "store log on the bundle goes through pretrain and init_model to the FASTA and VCF")

# 4. another pretraining length: pretrain and later steps get new keys, earlier ones keep theirs
config["base"]["pretrain"]["epochs"] = 2
cfg2 = os.path.join(TMP, "config2.json")
with open(cfg2, "w") as f:
    json.dump(config, f)
r = run(["run", cfg2, "--store", store_a, "-o", os.path.join(TMP, "out_2"), "--dry-run"])
rows = {l[:22].strip(): l for l in r.stdout.splitlines()[1:-1]}
check(r.returncode == 0 and all(" cached " in rows.get(s, "") for s in steps[:4])
      and " run " in rows.get("pretrain", "") and "run later" in rows.get("train", ""),
      "pretrain.epochs changed: steps before pretrain cached, pretrain to run, train after it\n" + r.stdout)

print(f"{failures} failure(s)", file=sys.stderr)
sys.exit(1 if failures else 0)
