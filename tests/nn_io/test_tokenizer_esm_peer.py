"""ESM tokenizer parity with transformers' EsmTokenizer (the peer): the same ids, attention mask and length
after truncation and padding on >= 1,000 random inputs per vocabulary:
  - the ESM-2 amino-acid alphabet (formats.md §5.4): residue strings with lower case, gaps, stops,
    whitespace, unknown characters and embedded special tokens;
  - Nucleotide Transformer 6-mer vocabularies (formats.md §5.5, the v2 id order and the JAX order with
    <eos>/<bos> last): random DNA with N and lower case, non-overlapping 6-mers with single-nucleotide
    fallback; with the <eos> token, with eos = <pad> (as DNABERT-2's fine-tuning script sets it for NT),
    and with no eos token.

usage: test_tokenizer_esm_peer.py NNIO_TOOL"""
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile

from transformers import EsmTokenizer
from transformers.utils import logging

logging.set_verbosity_error()
tool = sys.argv[1]
tmp = os.environ.get("SEQLORA_TEST_TMP") or tempfile.mkdtemp()
os.makedirs(tmp, exist_ok=True)
rng = random.Random(7)
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg, file=sys.stderr)


def make_dir(name, vocab, config):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab))  # EsmTokenizer.save_vocabulary writes no final newline
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(config, f)
    return d


def compare(label, d, texts, max_length, peer_kwargs=None):
    peer = EsmTokenizer.from_pretrained(d, **(peer_kwargs or {}))
    r = subprocess.run([tool, "tok-encode", d, str(max_length)], input="".join(t + "\n" for t in texts).encode(),
                       capture_output=True)
    if r.returncode != 0:
        fail("%s: nnio_tool failed: %s" % (label, r.stderr.decode()))
        return
    rows = r.stdout.decode().split("\n")[:-1]
    enc = peer(texts, max_length=max_length, truncation=True, padding="max_length")
    bad = 0
    for i, t in enumerate(texts):
        ids, mask, n = rows[i].split("\t")
        ids = [int(x) for x in ids.split()]
        mask = [int(x) for x in mask.split()]
        if ids != enc["input_ids"][i] or mask != enc["attention_mask"][i] or int(n) != sum(mask):
            bad += 1
            if bad <= 3:
                fail("%s: text %r\n  ours: %s\n  peer: %s" % (label, t, ids, enc["input_ids"][i]))
    if bad > 3:
        fail("%s: %d of %d texts differ" % (label, bad, len(texts)))
    print("%-40s %5d texts, %d differ" % (label, len(texts), bad), file=sys.stderr)


# ---- ESM-2 amino acids --------------------------------------------------------------------------------
esm_vocab = ["<cls>", "<pad>", "<eos>", "<unk>"] + list("LAGVSERTIDPKQNFYMHWCXBUZO") + [".", "-", "<null_1>",
                                                                                      "<mask>"]
d = make_dir("esm2", esm_vocab, {"tokenizer_class": "EsmTokenizer", "model_max_length": 1026})
texts = []
for _ in range(1200):
    parts = []
    for _ in range(rng.randint(1, 6)):
        r = rng.random()
        if r < 0.6:
            parts.append("".join(rng.choice("LAGVSERTIDPKQNFYMHWCXBUZO") for _ in range(rng.randint(1, 60))))
        elif r < 0.75:
            parts.append("".join(rng.choice("lagvsertidpkqnAG.-*#J") for _ in range(rng.randint(1, 8))))
        else:
            parts.append(rng.choice(["<mask>", "<unk>", "<cls>", "<eos>", "<pad>", "<null_1>", "<mask", "mask>",
                                     " ", "\t", "  ", "<<mask>>", "é", "Ü"]))
    texts.append(rng.choice(["", " "]).join(parts))
compare("ESM-2 residues", d, texts, rng.choice([32, 128]))

# ---- Nucleotide Transformer 6-mers --------------------------------------------------------------------
kmers = ["".join(p) for p in itertools.product("ATCG", repeat=6)]
nt_v2 = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"] + kmers + list("ATCGN")
nt_jax = ["<unk>", "<pad>", "<mask>", "<cls>"] + kmers + list("ATCGN") + ["<eos>", "<bos>"]
dna = []
for _ in range(1200):
    alphabet = rng.choice(["ACGT", "ACGTN", "ACGTNacgtn", "ACGTNNNNN", "ACGTRY"])
    dna.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 150))))
for label, vocab, config, kwargs in [
        ("NT v2 6-mers", nt_v2, {"tokenizer_class": "EsmTokenizer"}, None),
        ("NT v2 6-mers, eos = <pad>", nt_v2, {"tokenizer_class": "EsmTokenizer", "eos_token": "<pad>"}, None),
        ("NT v2 6-mers, no eos", nt_v2, {"tokenizer_class": "EsmTokenizer", "eos_token": None}, None),
        ("NT JAX-order 6-mers", nt_jax, {}, None)]:
    d = make_dir(label.replace(" ", "_").replace(",", "").replace("=", "").replace("<", "").replace(">", ""), vocab,
                 config)
    compare(label, d, dna, rng.choice([16, 40, 64]), kwargs)

# the worked example of the Nucleotide Transformer documentation (instadeepai/nucleotide-transformer,
# docs/nucleotide_transformer.md): ACGTGTACNTGCACGGANCGACTAGTCTGA -> ACGTGT A C N TGCACG G A N CGACTA GTCTGA
d = os.path.join(tmp, "NT_v2_6-mers")
r = subprocess.run([tool, "tok-tokenize", d], input=b"ACGTGTACNTGCACGGANCGACTAGTCTGA\n", capture_output=True)
want = ["ACGTGT", "A", "C", "N", "TGCACG", "G", "A", "N", "CGACTA", "GTCTGA"]
got = [nt_v2[int(x)] for x in r.stdout.split()] if r.returncode == 0 else r.stderr
if got != want:
    fail("NT documentation example: %r != %r" % (got, want))

print("ESM tokenizer peer failures: %d" % failures, file=sys.stderr)
sys.exit(1 if failures else 0)
