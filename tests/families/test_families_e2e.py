"""Model families end to end: a tiny random DNABERT-2 base (MosaicBERT config with auto_map, BPE tokenizer.json,
LoRA on Wqkv), a tiny random Nucleotide Transformer v1 base (EsmForSequenceClassification, 6-mer EsmTokenizer) and
a tiny random ESM-2 protein base (rotary, token dropout; its sequences are residues, not DNA) each go through
`seqlora train` -> `package` -> `score` / `predict --model` -> `serve` (/v1/predict).

Checks, per family:
  - bundle.json records the family, the tokenizer kind, its input (dna / protein) and files; raw DNA is never
    k-merised (kmer 0); the model card names the family, the input and the tokenizer;
  - for sequences that fit one window, `score`, `predict --model` and `serve` give exactly (to the 9 digits of
    the TSV) the probabilities of `seqlora predict DATASET` on the same rows, and these equal the Python reference
    within 1e-5: the `tokenizers` BPE tokenizer + tests/families/d2_reference.py + PeftModel (DNABERT-2), or
    transformers' EsmTokenizer + EsmForSequenceClassification + PeftModel (NT, ESM-2);
  - longer sequences (lower case, N) are scored in windows of W bases every S (the last aligned to the end), each
    window tokenized by the family's own tokenizer on the upper-cased bases and the probabilities averaged: equal
    to the reference doing the same within 1e-5; the window count is reported;
  - a window larger than what max_length tokens are certain to hold is refused, and so is a character the model
    does not read (X in DNA, J in protein), naming its position;
  - `package --merged`: merged/ loaded as a plain model (EsmForSequenceClassification.from_pretrained; D2Ref with
    load_state_dict(strict=True)) gives PEFT's merge_and_unload() logits within 1e-5, and `score` on the merged
    weights equals the reference within 1e-5;
Other weight files: a DNABERT-2 base with only pytorch_model.bin (as published; embedded) and a sharded NT base
(given with --base) are packaged with those files' digests and score exactly as the model.safetensors bundles.
Across families: a bundle given a base of the other family -> a clear error naming both families, nothing written;
`package --kmer 6` with a BPE base and variant scoring with the protein bundle -> refused. Exits 1 on any
failure."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile

import numpy as np
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import EsmForSequenceClassification

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bases  # noqa: E402
from bases import make_d2, make_esm2, make_nt  # noqa: E402
from d2_reference import D2Ref  # noqa: E402

BIN = os.environ["SEQLORA_BIN"]
TMP = os.path.join(os.environ.get("SEQLORA_TEST_TMP", "/tmp/seqlora_families_e2e"), "families_e2e")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
FAILED = []
torch.set_num_threads(1)
MAXLEN = 32  # train --max-length: tokens per window, specials included


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


def seqlora(args, store="store", **kw):
    return subprocess.run([BIN] + args + ["--store", os.path.join(TMP, store), "--threads", "1"],
                          capture_output=True, text=True, **kw)


rng = np.random.default_rng(11)


ALPHABET = "ACGT"  # set per family: DNA, or the 20 amino acids for ESM-2
MOTIF = "GCG"


def rand_dna(n, lo, hi):
    if ALPHABET == "ACGT":
        return bases.rand_dna(rng, n, lo, hi)
    return ["".join(rng.choice(list(ALPHABET), size=int(rng.integers(lo, hi)))) for _ in range(n)]


def write_tsv(path, rows):
    with open(path, "w") as f:
        f.write("id\tsequence\tlabel\n")
        for i, s in rows:
            f.write(f"{i}\t{s}\t{'case' if MOTIF in s.upper() else 'control'}\n")


def read_tsv(path):
    rows = [l.rstrip("\n").split("\t") for l in open(path)]
    return rows[0], rows[1:]


class D2Reference:
    def __init__(self, base, adapter, tok):
        cfg = json.load(open(os.path.join(base, "config.json")))
        m = D2Ref(cfg["vocab_size"], 32, 2, 4, 48, 2, "single_label_classification")
        m.load_state_dict(load_file(os.path.join(base, "model.safetensors")), strict=False)
        self.model = PeftModel.from_pretrained(m.eval(), adapter).eval()
        self.tok = tok

    def probs(self, texts):
        enc = [self.tok.encode(t).ids for t in texts]
        assert all(len(e) <= MAXLEN for e in enc), "a reference window was truncated"
        T = max(len(e) for e in enc)
        ids = torch.tensor([e + [3] * (T - len(e)) for e in enc])
        mask = torch.tensor([[1] * len(e) + [0] * (T - len(e)) for e in enc])
        with torch.no_grad():
            return torch.softmax(self.model(input_ids=ids, attention_mask=mask).logits.double(), -1).numpy()


class PlainD2(D2Reference):
    def __init__(self, model, tok):
        self.model, self.tok = model, tok


def d2_load_plain(d, tok):
    cfg = json.load(open(os.path.join(d, "config.json")))
    m = D2Ref(cfg["vocab_size"], 32, 2, 4, 48, len(cfg["id2label"]), cfg["problem_type"])
    m.load_state_dict(load_file(os.path.join(d, "model.safetensors")), strict=True)
    return PlainD2(m.eval(), tok)


D2Reference.load_plain = staticmethod(d2_load_plain)


class NTReference:
    def __init__(self, base, adapter, tok):
        self.model = PeftModel.from_pretrained(EsmForSequenceClassification.from_pretrained(base), adapter).eval()
        self.tok = tok

    @staticmethod
    def load_plain(d, tok):
        r = NTReference.__new__(NTReference)
        r.model, r.tok = EsmForSequenceClassification.from_pretrained(d).eval(), tok
        return r

    def probs(self, texts):
        enc = self.tok(texts, padding=True, return_tensors="pt")
        assert enc["input_ids"].shape[1] <= MAXLEN, "a reference window was truncated"
        with torch.no_grad():
            return torch.softmax(self.model(**enc).logits.double(), -1).numpy()


def windows_of(L, W, S):
    return [0] if L <= W else list(range(0, L - W, S)) + [L - W]


def ref_dna(ref, seq, W, S):
    """The documented windowing: windows of W bases every S, the last ending at the end, mean of the windows."""
    s = seq.upper()
    starts = windows_of(len(s), W, S)
    return ref.probs([s[a:a + W] for a in starts]).mean(0), len(starts)


class Server:
    def __init__(self, model, *extra):
        self.log = open(os.path.join(TMP, "serve.log"), "a")
        self.p = subprocess.Popen([BIN, "serve", "--model", model, "--port", "0", "--threads", "1"] + list(extra),
                                  stdout=subprocess.PIPE, stderr=self.log, text=True)
        url = self.p.stdout.readline().strip()
        self.port = int(url.rsplit(":", 1)[1]) if url.startswith("http://") else None

    def post(self, path, body):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        return r.status, json.loads(text)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return -1


# ---- one family through the whole chain --------------------------------------------------------------------
def family(name, fam, kind, make, Ref, targets, embed, protein=False):
    global ALPHABET, MOTIF
    ALPHABET, MOTIF, unknown = ("ACDEFGHIKLMNPQRSTVWY", "K", "X") if protein else ("ACGT", "GCG", "N")
    base = os.path.join(TMP, name + "_base")
    tok = make(base, rng)
    # short sequences (every one fits one window of MAXLEN - 2 bases), N included; upper case, since predict
    # DATASET gives the tokenizer the text as it is while score upper-cases raw DNA (lower case: below)
    short = rand_dna(40, 8, MAXLEN - 2)
    short[5] = short[5][:4] + unknown + short[5][5:]
    train = os.path.join(TMP, name + "_train.tsv")
    evl = os.path.join(TMP, name + "_eval.tsv")
    write_tsv(train, [(f"t{i}", s) for i, s in enumerate(rand_dna(48, 8, MAXLEN - 2))])
    write_tsv(evl, [(f"s{i}", s) for i, s in enumerate(short)])
    adapter = os.path.join(TMP, name + "_adapter")
    r = seqlora(["train", "--base", base, "--train", train, "-o", adapter, "--lora-r", "4", "--lora-alpha", "8",
                 "--epochs", "2", "--batch-size", "4", "--lr", "2e-2", "--max-length", str(MAXLEN), "--seed", "3",
                 "--target-modules", targets, "--metrics", os.path.join(TMP, name + "_metrics.jsonl")])
    check(r.returncode == 0, f"{name}: train exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-1500:]))
    if r.returncode:
        return None
    pred = os.path.join(TMP, name + "_pred.tsv")
    r = seqlora(["predict", "--base", base, "--adapter", adapter, "--input", evl, "-o", pred])
    check(r.returncode == 0, f"{name}: predict DATASET exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
    bundle = os.path.join(TMP, name + ".tar.gz")
    r = seqlora(["package", "--base", base, "--adapter", adapter, "-o", bundle] + (["--embed-base"] if embed else []))
    check(r.returncode == 0, f"{name}: package exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
    if r.returncode:
        return None
    with tarfile.open(bundle) as t:
        meta = json.load(t.extractfile("bundle.json"))
        card = t.extractfile("MODEL_CARD.md").read().decode()
        names = t.getnames()
    check(f"base model family: {fam}" in card and f"model's {kind.upper()} tokenizer" in card and
          ("input: protein" in card if protein else "input: DNA" in card) and
          "-mers" not in card.replace("6-mers from the left", ""),
          f"{name}: the model card names the family, the input and the {kind} tokenizer")
    tfiles = meta["tokenizer"].get("files", [])
    check(meta["base"].get("family") == fam and meta["tokenizer"].get("kind") == kind and meta["tokenizer"]["kmer"] == 0
          and meta["tokenizer"].get("input") == ("protein" if protein else "dna")
          and tfiles and all("tokenizer/" + f in names for f in tfiles),
          f"{name}: bundle.json records family {meta['base'].get('family')}, tokenizer kind "
          f"{meta['tokenizer'].get('kind')}, kmer {meta['tokenizer']['kmer']}, files {tfiles}")
    W, S = meta["inference"]["window"], meta["inference"]["stride"]
    check(W == MAXLEN - 2 and S == W // 2, f"{name}: default window {W} bases (max_length {MAXLEN} - 2 specials), "
                                           f"stride {S}")
    extra = [] if embed else ["--base", base]

    # score / predict --model on the same rows as predict DATASET
    scores = os.path.join(TMP, name + "_scores.tsv")
    r = seqlora(["score", "--model", bundle, "--input", evl, "-o", scores] + extra)
    check(r.returncode == 0, f"{name}: score exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
    if r.returncode:
        return None
    h_p, rows_p = read_tsv(pred)
    h_s, rows_s = read_tsv(scores)
    same = h_s[:4] == h_p and [r_[:4] for r_ in rows_s] == rows_p and all(r_[4] == "1" for r_ in rows_s)
    check(same, f"{name}: score probabilities == predict DATASET on all {len(rows_p)} rows (9 digits), one window each")
    pm = os.path.join(TMP, name + "_predmodel.tsv")
    r = seqlora(["predict", "--model", bundle, "--input", evl, "-o", pm] + extra)
    check(r.returncode == 0 and open(pm).read() == open(scores).read(),
          f"{name}: predict --model gives the score output byte for byte" + ("" if r.returncode == 0 else ": " + r.stderr[-500:]))
    ref = Ref(base, adapter, tok)
    ours = np.array([[float(x) for x in r_[2:4]] for r_ in rows_s])
    theirs = ref.probs([s.upper() for s in short])
    d = float(np.max(np.abs(ours - theirs)))
    check(d < 1e-5, f"{name}: one-window probabilities vs the Python reference: max|diff| {d:.2e} < 1e-5")

    # windowing of long sequences, default and explicit settings
    long_ = rand_dna(6, 40, 140)
    long_[0] = long_[0].lower()
    long_[1] = long_[1][:20] + unknown * 3 + long_[1][23:]
    fa = os.path.join(TMP, name + "_long.fa")
    open(fa, "w").write("".join(f">l{i}\n{s}\n" for i, s in enumerate(long_)))
    for w, s in ((0, 0), (20, 7)):
        out = os.path.join(TMP, f"{name}_long_{w}.tsv")
        r = seqlora(["score", "--model", bundle, "--input", fa, "-o", out] + extra +
                    (["--window", str(w), "--stride", str(s)] if w else []))
        if r.returncode:
            check(False, f"{name}: score of long sequences (window {w}) exits 0: {r.stderr[-800:]}")
            continue
        hdr, rows = read_tsv(out)
        ww, ss = (w, s) if w else (W, S)
        worst, counts_ok = 0.0, True
        for row, seq in zip(rows, long_):
            p, nw = ref_dna(ref, seq, ww, ss)
            worst = max(worst, float(np.max(np.abs(np.array([float(x) for x in row[2:4]]) - p))))
            counts_ok &= int(row[4]) == nw
        check(hdr[4] == f"windows[window={ww};stride={ss};k=0]" and counts_ok and worst < 1e-5,
              f"{name}: windows of {ww} bases every {ss}: header {hdr[4]}, window counts "
              f"{[r_[4] for r_ in rows]}, mean probabilities vs the reference max|diff| {worst:.2e} < 1e-5")
    r = seqlora(["score", "--model", bundle, "--input", fa, "-o", os.path.join(TMP, name + "_toolong.tsv"),
                 "--window", str(MAXLEN)] + extra)
    check(r.returncode != 0 and "window" in r.stderr and not os.path.exists(os.path.join(TMP, name + "_toolong.tsv")),
          f"{name}: a window of {MAXLEN} bases (more than {MAXLEN} tokens may need) refused: {r.stderr.strip()[-200:]}")

    # a character the model does not read: refused naming the position
    bad = os.path.join(TMP, name + "_bad.tsv")
    write_tsv(bad, [("b0", short[0][:3] + ("J" if protein else "X") + short[0][4:])])
    r = seqlora(["score", "--model", bundle, "--input", bad, "-o", bad + ".out"] + extra)
    check(r.returncode != 0 and "position 4" in r.stderr and ("residue" in r.stderr if protein else "A, C, G, T, N" in
                                                                r.stderr) and not os.path.exists(bad + ".out"),
          f"{name}: a sequence with a character the model does not read is refused: {r.stderr.strip()[-200:]}")

    # serve /v1/predict: the same numbers as score
    srv = Server(bundle, *extra)
    if srv.port is None:
        check(False, f"{name}: serve starts")
        srv.stop()
        return None
    # the rows of score in the same order (the same batches: results depend on the batch composition at float
    # rounding, docs/deploy.md), then the long one alone
    st, js = srv.post("/v1/predict", {"sequences": [{"id": f"s{i}", "sequence": s} for i, s in enumerate(short)]})
    st2, js2 = srv.post("/v1/predict", {"sequences": [{"id": "long0", "sequence": long_[0]}]})
    ok = st == 200 and st2 == 200 and len(js.get("results", [])) == len(short) and len(js2.get("results", [])) == 1
    worst = worst_long = float("inf")
    if ok:
        got = np.array([[res["probabilities"]["case"], res["probabilities"]["control"]] for res in js["results"]])
        worst = float(np.max(np.abs(got - ours)))  # score prints 9 significant digits
        res = js2["results"][0]
        p, nw = ref_dna(ref, long_[0], W, S)
        worst_long = float(np.max(np.abs(np.array([res["probabilities"]["case"], res["probabilities"]["control"]]) - p)))
        ok = worst < 1e-9 and worst_long < 1e-5 and res["windows"] == nw
    check(ok, f"{name}: serve /v1/predict (status {st}, {st2}): == score within its 9 printed digits ({worst:.1e}); "
              f"a long one windowed as the reference ({worst_long:.1e})")
    rc = srv.stop()
    check(rc == 0, f"{name}: serve exits 0 on SIGTERM (exit {rc})")

    # --merged: the checkpoint equals PEFT's merge_and_unload(), loads in the Python model, and scores as before
    mb = os.path.join(TMP, name + "_merged.tar.gz")
    r = seqlora(["package", "--base", base, "--adapter", adapter, "--merged", "-o", mb])
    check(r.returncode == 0, f"{name}: package --merged exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
    if r.returncode == 0:
        mdir = os.path.join(TMP, name + "_merged")
        with tarfile.open(mb) as t:
            t.extractall(mdir, members=[m for m in t.getmembers() if m.name.startswith("merged/")])
        mdir = os.path.join(mdir, "merged")
        mw, bw = load_file(os.path.join(mdir, "model.safetensors")), load_file(os.path.join(base, "model.safetensors"))
        k = next(k for k in sorted(mw) if k.endswith(("Wqkv.weight", "query.weight")))
        delta = float((mw[k] - bw[k]).abs().max())
        check(delta > 1e-6, f"{name}: merged/{k} differs from the base's by the LoRA delta (max {delta:.2e})")
        texts = [s.upper() for s in short]
        merged_ref = Ref(base, adapter, tok)
        merged_ref.model = merged_ref.model.merge_and_unload().eval()
        want = merged_ref.probs(texts)
        got = Ref.load_plain(mdir, tok).probs(texts)
        d = float(np.max(np.abs(got - want)))
        check(d < 1e-5, f"{name}: merged/ loaded as a plain model == PEFT merge_and_unload(): max|diff| {d:.2e} < 1e-5")
        out = os.path.join(TMP, name + "_merged_scores.tsv")
        r = seqlora(["score", "--model", mb, "--input", evl, "-o", out] + extra)
        ok = r.returncode == 0
        if ok:
            got = np.array([[float(x) for x in row[2:4]] for row in read_tsv(out)[1]])
            d = float(np.max(np.abs(got - theirs)))
        check(ok and d < 1e-5, f"{name}: score with the merged weights vs the reference (adapter unmerged): "
                               f"max|diff| {d if ok else float('nan'):.2e} < 1e-5" + ("" if ok else ": " + r.stderr[-500:]))
    return base, adapter, bundle


d2 = family("dnabert2", "dnabert2", "bpe", make_d2, D2Reference, "Wqkv", embed=True)
nt = family("ntv1", "esm", "esm", make_nt, NTReference, "query,key,value", embed=False)
esm2 = family("esm2", "esm", "esm", make_esm2, NTReference, "query,value,attention.output.dense", embed=True,
              protein=True)

# ---- other weight files: pytorch_model.bin only (as DNABERT-2 is published), a sharded checkpoint ----------------
def other_weights(name, src, adapter, bundle, evl, make_dir, files_expected, embed):
    d = os.path.join(TMP, name)
    make_dir(src, d)
    for f in os.listdir(src):
        if f not in ("model.safetensors", "config.json") and not os.path.exists(os.path.join(d, f)):
            shutil.copy(os.path.join(src, f), d)
    if not os.path.exists(os.path.join(d, "config.json")):
        shutil.copy(os.path.join(src, "config.json"), d)
    b = os.path.join(TMP, name + ".tar.gz")
    r = seqlora(["package", "--base", d, "--adapter", adapter, "-o", b] + (["--embed-base"] if embed else []))
    ok = r.returncode == 0
    if ok:
        with tarfile.open(b) as t:
            meta = json.load(t.extractfile("bundle.json"))
            names = t.getnames()
        listed = sorted(meta["base"]["files"])
        ok = listed == sorted(["config.json"] + files_expected) and \
            (not embed or all("base/" + f in names for f in listed))
    out, ref_out = os.path.join(TMP, name + "_scores.tsv"), os.path.join(TMP, name + "_ref_scores.tsv")
    extra = [] if embed else ["--base", d]
    r2 = seqlora(["score", "--model", b, "--input", evl, "-o", out] + extra)
    seqlora(["score", "--model", bundle, "--input", evl, "-o", ref_out] + ([] if embed else ["--base", src]))
    same = r2.returncode == 0 and os.path.exists(ref_out) and open(out).read() == open(ref_out).read()
    check(ok and same, f"{name}: package {'--embed-base ' if embed else ''}records {listed if r.returncode == 0 else '?'}"
                       f" and scores exactly as the model.safetensors bundle" +
          ("" if r.returncode == 0 and r2.returncode == 0 else ": " + (r.stderr + r2.stderr)[-600:]))


def to_bin(src, d):
    os.makedirs(d)
    torch.save(load_file(os.path.join(src, "model.safetensors")), os.path.join(d, "pytorch_model.bin"))


def to_shards(src, d):
    EsmForSequenceClassification.from_pretrained(src).save_pretrained(d, max_shard_size="60KB", safe_serialization=True)


if d2:
    other_weights("dnabert2_bin", d2[0], d2[1], d2[2], os.path.join(TMP, "dnabert2_eval.tsv"), to_bin,
                  ["pytorch_model.bin"], embed=True)
if nt:
    d = os.path.join(TMP, "ntv1_shards_probe")
    to_shards(nt[0], d)
    shards = sorted(f for f in os.listdir(d) if f.startswith("model-"))
    check(len(shards) > 1, f"the NT base saved in {len(shards)} shards")
    other_weights("ntv1_shards", nt[0], nt[1], nt[2], os.path.join(TMP, "ntv1_eval.tsv"), to_shards,
                  ["model.safetensors.index.json"] + shards, embed=False)

# ---- across families -----------------------------------------------------------------------------------------
if d2 and nt:
    out = os.path.join(TMP, "mismatch.tsv")
    r = seqlora(["score", "--model", nt[2], "--base", d2[0], "--input", os.path.join(TMP, "ntv1_eval.tsv"),
                 "-o", out])
    check(r.returncode != 0 and "dnabert2" in r.stderr and "esm" in r.stderr and not os.path.exists(out),
          f"an NT bundle given a DNABERT-2 base is refused naming both families: {r.stderr.strip()[-300:]}")
    out = os.path.join(TMP, "kmer.tar.gz")
    if esm2:
        fa = os.path.join(TMP, "ref.fa")
        vcf = os.path.join(TMP, "v.vcf")
        open(fa, "w").write(">1\nACGTACGTAC\n")
        open(vcf, "w").write("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t3\t.\tG\tA\t.\t.\t.\n")
        out = os.path.join(TMP, "protein_vcf.tsv")
        r = seqlora(["score", "--model", esm2[2], "--input", vcf, "--reference", fa, "-o", out])
        check(r.returncode != 0 and "protein" in r.stderr and not os.path.exists(out),
              f"variant scoring with a protein (ESM-2) bundle refused: {r.stderr.strip()[-200:]}")
    r = seqlora(["package", "--base", d2[0], "--adapter", d2[1], "--kmer", "6", "-o", out])
    check(r.returncode != 0 and "bpe" in r.stderr and not os.path.exists(out),
          f"package --kmer 6 of a BPE (DNABERT-2) base refused: {r.stderr.strip()[-300:]}")

print(f"{len(FAILED)} failed" if FAILED else "all ok")
sys.exit(1 if FAILED else 0)
