"""BPE tokenizer (tokenizer.json, DNABERT-2 layout: formats.md §4.4) parity with the `tokenizers` library
and transformers' PreTrainedTokenizerFast (the peers): the same ids without special tokens, and the same
ids / attention mask after [CLS] ... [SEP], truncation and padding, on >= 1,000 random inputs per file.
The files are BPE models the `tokenizers` trainer builds on random DNA here (vocabularies of 64 to 4096
like DNABERT-2's), saved with tuple merges and rewritten with DNABERT-2's legacy "A B" merge strings;
variants: fuse_unk, WhitespaceSplit, ignore_merges. Inputs: DNA with N, lower case, spaces, punctuation,
non-ASCII letters and embedded special tokens.

usage: test_tokenizer_bpe_peer.py NNIO_TOOL"""
import json
import os
import random
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast
from transformers.utils import logging

logging.set_verbosity_error()
tool = sys.argv[1]
tmp = os.environ.get("SEQLORA_TEST_TMP") or tempfile.mkdtemp()
os.makedirs(tmp, exist_ok=True)
rng = random.Random(11)
failures = 0
SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg, file=sys.stderr)


def run_tool(mode, d, texts, *args):
    r = subprocess.run([tool, mode, d, *args], input="".join(t + "\n" for t in texts).encode(), capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())
    return r.stdout.decode().split("\n")[:-1]


genome = "".join(rng.choice("ACGT") for _ in range(60000))
corpus = [genome[i:i + 500] for i in range(0, len(genome), 500)]


def build(name, vocab_size, legacy, fuse_unk=False, split=False, ignore_merges=False):
    tok = Tokenizer(models.BPE(unk_token="[UNK]", fuse_unk=fuse_unk, ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit() if split else pre_tokenizers.Whitespace()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                                        show_progress=False))
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "tokenizer.json")
    tok.save(path)
    if legacy:
        j = json.load(open(path))
        j["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in j["model"]["merges"]]
        json.dump(j, open(path, "w"))
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "cls_token": "[CLS]",
               "sep_token": "[SEP]", "pad_token": "[PAD]", "mask_token": "[MASK]"},
              open(os.path.join(d, "tokenizer_config.json"), "w"))
    return d


texts = []
for _ in range(1200):
    parts = []
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        if r < 0.7:
            alphabet = rng.choice(["ACGT", "ACGTN", "ACGTNacgtn", "ACGTNNNN"])
            parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))))
        else:
            parts.append(rng.choice(["[MASK]", "[PAD]", "[CLS]", "-", ".", ",", "ACG-TTA", "ÀCGT", "AC_GT", "12",
                                     "AC\tGT", "[MASK", "x[SEP]y"]))
    texts.append(rng.choice([" ", "", "  "]).join(parts))

for name, kw in [("bpe_4096_legacy", dict(vocab_size=4096, legacy=True)),
                 ("bpe_512_tuple", dict(vocab_size=512, legacy=False)),
                 ("bpe_64_fuse_unk", dict(vocab_size=64, legacy=True, fuse_unk=True)),
                 ("bpe_1024_split", dict(vocab_size=1024, legacy=False, split=True)),
                 ("bpe_300_ignore_merges", dict(vocab_size=300, legacy=True, ignore_merges=True))]:
    d = build(name, **kw)
    raw = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    fast = PreTrainedTokenizerFast.from_pretrained(d)
    max_length = rng.choice([16, 64, 128])
    try:
        ours_tok = run_tool("tok-tokenize", d, texts)
        ours_enc = run_tool("tok-encode", d, texts, str(max_length))
    except RuntimeError as e:
        fail("%s: nnio_tool failed: %s" % (name, e))
        continue
    enc = fast(texts, max_length=max_length, truncation=True, padding="max_length")
    bad_tok = bad_enc = 0
    for i, t in enumerate(texts):
        want = raw.encode(t, add_special_tokens=False).ids
        got = [int(x) for x in ours_tok[i].split()]
        if got != want:
            bad_tok += 1
            if bad_tok <= 3:
                fail("%s tokenize %r\n  ours: %s\n  peer: %s" % (name, t, got, want))
        ids, mask, n = ours_enc[i].split("\t")
        if [int(x) for x in ids.split()] != enc["input_ids"][i] or [int(x) for x in mask.split()] != \
                enc["attention_mask"][i]:
            bad_enc += 1
            if bad_enc <= 3:
                fail("%s encode %r\n  ours: %s\n  peer: %s" % (name, t, ids, enc["input_ids"][i]))
    if bad_tok > 3 or bad_enc > 3:
        fail("%s: %d tokenize / %d encode of %d differ" % (name, bad_tok, bad_enc, len(texts)))
    print("%-24s %5d texts: tokenize vs tokenizers %d differ, encode vs PreTrainedTokenizerFast %d differ" %
          (name, len(texts), bad_tok, bad_enc), file=sys.stderr)

# unsupported parts of a tokenizer.json are refused with a message naming them
d = os.path.join(tmp, "bpe_bad")
os.makedirs(d, exist_ok=True)
src = json.load(open(os.path.join(tmp, "bpe_512_tuple", "tokenizer.json")))
for key, value, want in [("normalizer", {"type": "NFD"}, "normalizer"), ("pre_tokenizer", {"type": "ByteLevel"},
                                                                           "ByteLevel"),
                         ("model", dict(src["model"], type="WordLevel"), "WordLevel"),
                         ("model", dict(src["model"], merges=[["A", "QQ"]]), "merges[0]")]:
    json.dump(dict(src, **{key: value}), open(os.path.join(d, "tokenizer.json"), "w"))
    r = subprocess.run([tool, "tok-info", d], capture_output=True, text=True)
    if r.returncode != 3 or want not in r.stderr:
        fail("%s=%r: expected a data error naming %s, got %d %r" % (key, value, want, r.returncode, r.stderr))

print("BPE tokenizer peer failures: %d" % failures, file=sys.stderr)
sys.exit(1 if failures else 0)
