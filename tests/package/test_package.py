"""`seqlora package` and `seqlora score` against the real peers.

A tiny random DNABERT-style base + a random PEFT LoRA adapter (made by peft itself), then:
  1. `seqlora predict` (the engine engineer's command) on k-mer text, `seqlora score` on the bundle with the same
     rows as raw DNA, and transformers + PeftModel all give the same probabilities (score == predict within 1e-6,
     both == PEFT within 1e-4); `seqlora evaluate` on both outputs gives the same metrics;
  2. long sequences: windows of 67 bases every 33, probabilities averaged, == the Python reference within 1e-4,
     and --window/--stride change it as documented;
  3. --merged: transformers' BertForSequenceClassification.from_pretrained(merged/) has the logits of
     PeftModel(base, adapter) within 1e-4, and scoring with the merged weights == with the adapter within 1e-5;
  4. the bundle: byte-identical when packaged twice (--no-cache, a second apart); SHA256SUMS verified by Python's
     hashlib; the model card says "not a diagnostic" and carries the metrics with CIs; ro-crate-metadata.json is
     RO-Crate 1.1 listing every file with its SHA-256; a flipped byte → exit 4 (integrity);
  5. a bundle without the base: score needs --base (exit 2), refuses a different base (exit 4);
  6. variants: 40 SNVs of the real BRCA1 SGE VCF (Findlay 2018) on the real GRCh37 region: p_ref/p_alt/delta ==
     the Python reference within 1e-4; --saturate over 5 bases gives 15 SNVs that agree with the VCF mode;
  7. bad input (and: 1 vs 2 threads and a cache hit give byte-identical scores): a sequence with 'X' → exit 3 naming the record and position;
  8. the round trip with the real trainer: `seqlora train` → `seqlora evaluate --base --adapter --dataset` →
     `package --report` → `score` gives evaluate's probabilities (difference 0) for the same rows as raw DNA.
Exits 1 on any failure."""
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (BIN, K, STRIDE, WINDOW, Reference, make_model, random_dna, read_tsv, run)  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import BertForSequenceClassification  # noqa: E402

TMP = os.environ.get("SEQLORA_TEST_TMP", "/tmp/seqlora_package_test")
DATA = os.environ.get("SEQLORA_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
STORE = os.path.join(TMP, "store")
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


def ok_run(args, what):
    r = run(args, STORE)
    check(r.returncode == 0, f"{what} (exit {r.returncode}) {r.stderr.strip()[-400:] if r.returncode else ''}")
    return r


base, adapter = make_model(TMP)
ref = Reference(base, adapter)
rng = np.random.default_rng(5)

# ---- 1. short sequences: score == predict == PEFT ---------------------------------------------------------
short = random_dna(rng, 40, 20, WINDOW + 1)
labels = ["pathogenic" if i % 3 == 0 else "benign" for i in range(len(short))]
kmer_tsv, dna_tsv, fasta = (os.path.join(TMP, n) for n in ("kmer.tsv", "dna.tsv", "seqs.fa"))
with open(kmer_tsv, "w") as f:
    f.write("id\tsequence\tlabel\n" + "".join(f"s{i}\t{Reference.kmers(s)}\t{l}\n" for i, (s, l) in enumerate(zip(short, labels))))
with open(dna_tsv, "w") as f:  # raw DNA, mixed case
    f.write("id\tsequence\tlabel\n" + "".join(f"s{i}\t{s.lower() if i % 2 else s}\t{l}\n"
                                             for i, (s, l) in enumerate(zip(short, labels))))
with open(fasta, "w") as f:
    f.write("".join(f">s{i} description\n{s[:30]}\n{s[30:]}\n" for i, s in enumerate(short)))

bundle = os.path.join(TMP, "model.tar.gz")
report = os.path.join(TMP, "report")
pred = os.path.join(TMP, "pred.tsv")
ok_run(["predict", "--base", base, "--adapter", adapter, "--input", kmer_tsv, "-o", pred], "seqlora predict")
ok_run(["evaluate", "--predictions", pred, "-o", report, "--bootstrap", "200"], "seqlora evaluate")
ok_run(["package", "--base", base, "--adapter", adapter, "--report", report, "--embed-base", "--threshold", "0.6",
        "-o", bundle], "seqlora package --embed-base")


def probs_of(path, cols=("prob_benign", "prob_pathogenic")):
    h, rows = read_tsv(path)
    return {r[0]: np.array([float(r[h.index(c)]) for c in cols]) for r in rows}, h, rows


P_pred, _, _ = probs_of(pred)
peft = ref.probs_text([Reference.kmers(s) for s in short])
check(max(abs(P_pred[f"s{i}"] - peft[i]).max() for i in range(len(short))) < 1e-4, "predict == PEFT within 1e-4")
for name, inp in (("dna TSV", dna_tsv), ("FASTA", fasta), ("k-mer TSV", kmer_tsv)):
    out = os.path.join(TMP, f"score_{name.replace(' ', '_')}.tsv")
    ok_run(["score", "--model", bundle, "--input", inp, "-o", out], f"score {name}")
    P, h, rows = probs_of(out)
    d = max(abs(P[k] - P_pred[k]).max() for k in P_pred)
    check(len(P) == len(short) and d < 1e-6, f"score ({name}) == predict within 1e-6 (max diff {d:.2e})")
    check(h[-1] == f"windows[window={WINDOW};stride={STRIDE};k={K}]" if name != "k-mer TSV" else h[-1].startswith("windows["),
          f"score ({name}) records the windowing in the header: {h[-1]}")
    if name == "dna TSV":
        rep2 = os.path.join(TMP, "report_score")
        ok_run(["evaluate", "--predictions", out, "-o", rep2, "--bootstrap", "200"], "evaluate on score output")
        m1 = json.load(open(os.path.join(report, "metrics.json")))["metrics"]
        m2 = json.load(open(os.path.join(rep2, "metrics.json")))["metrics"]
        check(all(abs(m1[k] - m2[k]) < 1e-9 for k in m1 if isinstance(m1[k], float)),
              f"evaluate gives the same metrics on score and predict outputs ({m1})")

# `seqlora predict --model` is the same command
vp = os.path.join(TMP, "via_predict.tsv")
ok_run(["predict", "--model", bundle, "--input", dna_tsv, "-o", vp], "seqlora predict --model")
check(os.path.exists(vp) and open(vp, "rb").read() == open(os.path.join(TMP, "score_dna_TSV.tsv"), "rb").read(),
      "predict --model == score, byte for byte")

# thread count and cache: the same bytes
t1_out, t2_out = os.path.join(TMP, "thr1.tsv"), os.path.join(TMP, "thr2.tsv")
t3_out = os.path.join(TMP, "thr3.tsv")
r1 = run(["score", "--model", bundle, "--input", dna_tsv, "-o", t1_out, "--no-cache"], STORE, threads=1)
r2 = run(["score", "--model", bundle, "--input", dna_tsv, "-o", t2_out, "--no-cache"], STORE, threads=2)
r3 = run(["score", "--model", bundle, "--input", dna_tsv, "-o", t3_out], STORE, threads=2)
b1_, b2_, b3_ = (open(p_, "rb").read() if os.path.exists(p_) else b"" for p_ in (t1_out, t2_out, t3_out))
check(r1.returncode == 0 and r2.returncode == 0 and b1_ == b2_ and b1_ != b"", "1 vs 2 threads: byte-identical scores")
check(r3.returncode == 0 and "cached" in r3.stderr and b3_ == b1_, "a cache hit gives the same bytes")

# ---- 2. long sequences in windows ------------------------------------------------------------------------
long = random_dna(rng, 6, 100, 400)
long_tsv = os.path.join(TMP, "long.tsv")
with open(long_tsv, "w") as f:
    f.write("id\tsequence\n" + "".join(f"L{i}\t{s}\n" for i, s in enumerate(long)))
for w, s in ((None, None), (50, 10)):
    out = os.path.join(TMP, f"long_{w}.tsv")
    extra = ["--window", str(w), "--stride", str(s)] if w else []
    ok_run(["score", "--model", bundle, "--input", long_tsv, "-o", out] + extra, f"score long sequences {extra}")
    P, h, rows = probs_of(out)
    worst, nw_ok = 0.0, True
    for i, q in enumerate(long):
        e, nw = ref.probs_dna(q, w or WINDOW, s or STRIDE)
        worst = max(worst, abs(P[f"L{i}"] - e).max())
        nw_ok &= int(rows[i][-1]) == nw
    check(worst < 1e-4 and nw_ok, f"windowed mean (window {w or WINDOW}, stride {s or STRIDE}) == reference within 1e-4 "
                                  f"(max diff {worst:.2e}), window counts equal")

# ---- 3. merged checkpoint ----------------------------------------------------------------------------------
mbundle = os.path.join(TMP, "merged.tar.gz")
ok_run(["package", "--base", base, "--adapter", adapter, "--merged", "-o", mbundle], "package --merged")
mdir = os.path.join(TMP, "merged_x")
with tarfile.open(mbundle) as t:
    t.extractall(mdir)
merged = BertForSequenceClassification.from_pretrained(os.path.join(mdir, "merged")).eval()
enc = ref.tok([Reference.kmers(s) for s in short], padding=True, truncation=True, max_length=64, return_tensors="pt")
with torch.no_grad():
    lm = merged(**enc).logits
    lp = ref.model(**enc).logits
check(float((lm - lp).abs().max()) < 1e-4, f"merged checkpoint in transformers == PeftModel logits within 1e-4 "
                                           f"(max diff {float((lm - lp).abs().max()):.2e})")
check(merged.config.id2label == {0: "benign", 1: "pathogenic"}, "merged config carries the class names")
out_m = os.path.join(TMP, "score_merged.tsv")
ok_run(["score", "--model", mbundle, "--input", dna_tsv, "-o", out_m, "--base", base], "score with merged weights")
Pm, _, _ = probs_of(out_m)
d = max(abs(Pm[k] - P_pred[k]).max() for k in P_pred)
check(d < 1e-5, f"merged-weight scores == adapter scores within 1e-5 (max diff {d:.2e})")

# ---- 4. the bundle itself ----------------------------------------------------------------------------------
b1 = open(bundle, "rb").read()
time.sleep(1.1)
again = os.path.join(TMP, "again.tar.gz")
ok_run(["package", "--base", base, "--adapter", adapter, "--report", report, "--embed-base", "--threshold", "0.6",
        "-o", again, "--no-cache"], "package again (--no-cache)")
check(open(again, "rb").read() == b1, "the bundle is byte-identical when rebuilt later")
with tarfile.open(bundle) as t:
    names = t.getnames()
    files = {m.name: t.extractfile(m).read() for m in t.getmembers()}
    meta_ok = all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in t.getmembers())
check(names == sorted(names) and meta_ok, "entries sorted, mtime/uid/gid fixed")
sums = dict(reversed(l.split("  ", 1)) for l in files["SHA256SUMS"].decode().splitlines())
check(set(sums) == set(files) - {"SHA256SUMS"} and all(hashlib.sha256(files[n]).hexdigest() == h for n, h in sums.items()),
      "SHA256SUMS lists every file with its hashlib SHA-256")
card = files["MODEL_CARD.md"].decode()
m1 = json.load(open(os.path.join(report, "metrics.json")))
auc_ci = m1["bootstrap"]["intervals"]["roc_auc"]
check("not a diagnostic" in card and f"{m1['metrics']['roc_auc']:.4f}" in card and f"{auc_ci['lower']:.4f}" in card,
      "model card: not a diagnostic, ROC AUC with its CI")
crate = json.loads(files["ro-crate-metadata.json"])
ids = {e["@id"]: e for e in crate["@graph"]}
check(crate["@context"] == "https://w3id.org/ro/crate/1.1/context" and
      ids["ro-crate-metadata.json"]["conformsTo"]["@id"] == "https://w3id.org/ro/crate/1.1" and
      all(ids[n]["sha256"] == hashlib.sha256(files[n]).hexdigest() for n in files
          if n not in ("SHA256SUMS", "ro-crate-metadata.json")),
      "RO-Crate 1.1: every file with its SHA-256")
meta = json.loads(files["bundle.json"])
check(meta["task"]["threshold"] == 0.6 and meta["task"]["positive_class"] == "pathogenic" and
      meta["base"]["files"]["model.safetensors"] == hashlib.sha256(open(os.path.join(base, "model.safetensors"), "rb").read()).hexdigest(),
      "bundle.json: threshold, positive class, base SHA-256")
# a damaged bundle: flip one byte inside the adapter weights (re-tar with the damaged content)
bad = os.path.join(TMP, "bad.tar.gz")
with tarfile.open(bundle) as t, tarfile.open(bad, "w:gz") as o:
    for m in t.getmembers():
        data = bytearray(t.extractfile(m).read())
        if m.name == "adapter/adapter_model.safetensors":
            data[-5] ^= 0x40
        o.addfile(m, io.BytesIO(bytes(data)))
r = run(["score", "--model", bad, "--input", dna_tsv, "-o", os.path.join(TMP, "bad.tsv")], STORE)
check(r.returncode == 4 and "adapter_model.safetensors" in r.stderr and not os.path.exists(os.path.join(TMP, "bad.tsv")),
      f"damaged bundle → exit 4 naming the file ({r.returncode}: {r.stderr.strip()[-200:]})")
r = run(["score", "--model", os.path.join(TMP, "kmer.tsv"), "--input", dna_tsv, "-o", os.path.join(TMP, "x.tsv")], STORE)
check(r.returncode == 3, f"not a bundle → exit 3 ({r.returncode}: {r.stderr.strip()[-200:]})")

# ---- 5. base by reference ----------------------------------------------------------------------------------
nb = os.path.join(TMP, "nobase.tar.gz")
ok_run(["package", "--base", base, "--adapter", adapter, "-o", nb], "package without the base")
with tarfile.open(nb) as t:
    check(not any(n.startswith("base/") for n in t.getnames()), "no base/ in a bundle without --embed-base")
r = run(["score", "--model", nb, "--input", dna_tsv, "-o", os.path.join(TMP, "nb.tsv")], STORE)
check(r.returncode == 2 and "--base" in r.stderr, f"no --base → usage error ({r.returncode})")
out_nb = os.path.join(TMP, "nb.tsv")
ok_run(["score", "--model", nb, "--input", dna_tsv, "-o", out_nb, "--base", base], "score with --base")
Pn, _, _ = probs_of(out_nb)
check(max(abs(Pn[k] - P_pred[k]).max() for k in P_pred) == 0, "base-by-reference scores == embedded-base scores exactly")
other = os.path.join(TMP, "other")
make_model(other, seed=1)
r = run(["score", "--model", nb, "--input", dna_tsv, "-o", os.path.join(TMP, "nb2.tsv"), "--base", os.path.join(other, "base")], STORE)
check(r.returncode == 4 and "SHA-256" in r.stderr, f"a different base → exit 4 ({r.returncode}: {r.stderr.strip()[-200:]})")

# ---- 6. variants on real data ------------------------------------------------------------------------------
fa = os.path.join(DATA, "brca1", "GRCh37_chr17_41100001-41300000.fa")
vcf_src = os.path.join(DATA, "brca1", "findlay2018_sge.GRCh37.vcf")
seq = "".join(l.strip() for l in open(fa) if not l.startswith(">")).upper()
OFF = 41100001
vcf = os.path.join(TMP, "sge40.vcf")
with open(vcf_src) as f, open(vcf, "w") as o:
    n = 0
    for line in f:
        if line.startswith("#"):
            o.write(line)
        elif n < 40:
            o.write(line)
            n += 1
out_v = os.path.join(TMP, "variants.tsv")
ok_run(["score", "--model", bundle, "--input", vcf, "--reference", fa, "-o", out_v], "score a VCF")
h, rows = read_tsv(out_v)
worst = 0.0
for r_ in rows:
    pos0, rf, al = int(r_[1]) - 1 - (OFF - 1), r_[3], r_[4]
    left = (WINDOW - len(rf)) // 2
    s0 = pos0 - left
    w_ref = seq[s0:s0 + max(WINDOW, len(rf))]
    w_alt = w_ref[:left] + al + w_ref[left + len(rf):]
    pr, pa = ref.probs_dna(w_ref)[0][1], ref.probs_dna(w_alt)[0][1]
    worst = max(worst, abs(float(r_[5]) - pr), abs(float(r_[6]) - pa), abs(float(r_[7]) - (pa - pr)))
check(len(rows) == 40 and h[5] == "p_ref[pathogenic]" and worst < 1e-4,
      f"VCF mode: 40 SGE SNVs, p_ref/p_alt/delta == reference within 1e-4 (max diff {worst:.2e})")
first = rows[0]
p1 = int(first[1])
out_s = os.path.join(TMP, "saturate.tsv")
ok_run(["score", "--model", bundle, "--saturate", f"chr17:{p1}-{p1 + 4}", "--reference", fa, "-o", out_s], "saturate")
hs, srows = read_tsv(out_s)
same = [s for s in srows if s[1] == first[1] and s[4] == first[4]]
check(len(srows) == 15 and len(same) == 1 and abs(float(same[0][7]) - float(first[7])) < 1e-9,
      f"saturation: 15 SNVs over 5 bases, the VCF's SNV has the same delta ({len(srows)} rows)")

# ---- 7. bad input ------------------------------------------------------------------------------------------
badtsv = os.path.join(TMP, "bad.tsv")
with open(badtsv, "w") as f:
    f.write("id\tsequence\nok\tACGTACGTAC\nbad\tACGTXACG\n")
r = run(["score", "--model", bundle, "--input", badtsv, "-o", os.path.join(TMP, "bad_out.tsv")], STORE)
check(r.returncode == 3 and "record 2 (bad): position 5" in r.stderr and not os.path.exists(os.path.join(TMP, "bad_out.tsv")),
      f"bad base → exit 3 naming record and position ({r.stderr.strip()[-200:]})")

# ---- 8. train → evaluate → package → score -----------------------------------------------------------------
rt = [s_ for s_ in random_dna(rng, 48, 20, 36)]
rlab = ["pathogenic" if s_.count("GC") >= 2 else "benign" for s_ in rt]
rt_kmer, rt_dna = os.path.join(TMP, "rt_kmer.tsv"), os.path.join(TMP, "rt_dna.tsv")
with open(rt_kmer, "w") as f:
    f.write("id\tsequence\tlabel\n" + "".join(f"r{i}\t{Reference.kmers(q)}\t{l}\n" for i, (q, l) in enumerate(zip(rt, rlab))))
with open(rt_dna, "w") as f:
    f.write("id\tsequence\tlabel\n" + "".join(f"r{i}\t{q}\t{l}\n" for i, (q, l) in enumerate(zip(rt, rlab))))
trained = os.path.join(TMP, "trained")
ok_run(["train", "--base", base, "--train", rt_kmer, "-o", trained, "--metrics", os.path.join(TMP, "rt_metrics.jsonl"),
        "--lora-r", "4", "--lora-alpha", "8", "--epochs", "2",
        "--batch-size", "8", "--lr", "1e-3", "--max-length", "32", "--seed", "3"], "seqlora train (2 epochs)")
rt_report = os.path.join(TMP, "rt_report")
ok_run(["evaluate", "--base", base, "--adapter", trained, "--dataset", rt_kmer, "-o", rt_report, "--bootstrap", "100"],
       "seqlora evaluate --base --adapter --dataset")
rt_bundle = os.path.join(TMP, "rt.tar.gz")
ok_run(["package", "--base", base, "--adapter", trained, "--report", rt_report, "--embed-base", "-o", rt_bundle],
       "package the trained adapter")
rt_scores = os.path.join(TMP, "rt_scores.tsv")
ok_run(["score", "--model", rt_bundle, "--input", rt_dna, "-o", rt_scores], "score with the trained bundle")
ev_path = os.path.join(rt_report, "predictions.tsv")
he, _ = read_tsv(ev_path)
cls = [c for c in he if c.startswith("prob_")]
Pe, _, _ = probs_of(ev_path, cls)
Ps, hs, _ = probs_of(rt_scores, cls)
d = max(abs(Pe[k] - Ps[k]).max() for k in Pe)
check(len(Pe) == len(rt) and d == 0 and hs[-1] == "windows[window=35;stride=17;k=6]",
      f"train → evaluate → package → score: evaluate's probabilities exactly (max diff {d:.1e}; {hs[-1]})")

print(f"{len(FAILED)} failed" if FAILED else "all passed")
sys.exit(1 if FAILED else 0)
