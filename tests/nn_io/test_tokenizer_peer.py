"""WordPiece tokenizer parity with transformers' BertTokenizer (the peer): the same ids, attention mask and
length after truncation and padding, on >= 1,000 random inputs per family:
  - DNABERT k-mer vocabularies (k = 3..6, ids as formats.md §3), random DNA with N and lower case,
    written as overlapping k-mers (do_lower_case false, and once true as a stock config would say);
  - a ProtBERT-style residue vocabulary, space-separated residues (do_lower_case false);
  - text: lines of the 1000 Genomes panel and the GDC clinical table, and generated strings with accents
    (composed and decomposed), Unicode punctuation, CJK, control and zero-width characters, Unicode
    spaces, long words and embedded special tokens; WordPiece vocabularies trained on that text with the
    `tokenizers` library, under several tokenizer_config.json settings (lower case, strip_accents,
    tokenize_chinese_chars, never_split).
DNA and protein ids are also checked against BertTokenizerFast.

usage: test_tokenizer_peer.py NNIO_TOOL"""
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile

from tokenizers import BertWordPieceTokenizer
from transformers import BertTokenizer, BertTokenizerFast
from transformers.utils import logging

logging.set_verbosity_error()
tool = sys.argv[1]
data = os.environ.get("SEQLORA_TEST_DATA") or os.path.join(os.path.dirname(__file__), "..", "data")
tmp = os.environ.get("SEQLORA_TEST_TMP") or tempfile.mkdtemp()
os.makedirs(tmp, exist_ok=True)
rng = random.Random(20261128)
failures = 0
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg, file=sys.stderr)


def make_dir(name, vocab, config):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(config, f)
    return d


def run_c(d, texts, max_length):
    r = subprocess.run([tool, "tok-encode", d, str(max_length)], input="".join(t + "\n" for t in texts).encode(),
                       capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())
    rows = []
    for line in r.stdout.decode().split("\n")[:-1]:
        ids, mask, n = line.split("\t")
        rows.append(([int(x) for x in ids.split()], [int(x) for x in mask.split()], int(n)))
    return rows


def compare(label, d, texts, max_length, fast_too=False):
    peers = [("BertTokenizer", BertTokenizer.from_pretrained(d))]
    if fast_too:
        peers.append(("BertTokenizerFast", BertTokenizerFast.from_pretrained(d)))
    try:
        ours = run_c(d, texts, max_length)
    except RuntimeError as e:
        fail("%s: nnio_tool failed: %s" % (label, e))
        return
    if len(ours) != len(texts):
        fail("%s: %d rows for %d texts" % (label, len(ours), len(texts)))
        return
    for pname, peer in peers:
        enc = peer(texts, max_length=max_length, truncation=True, padding="max_length")
        bad = 0
        for i, t in enumerate(texts):
            ids, mask, n = ours[i]
            if ids != enc["input_ids"][i] or mask != enc["attention_mask"][i] or n != sum(enc["attention_mask"][i]):
                bad += 1
                if bad <= 3:
                    fail("%s vs %s: text %r\n  ours: %s\n  peer: %s" % (label, pname, t, ids, enc["input_ids"][i]))
        if bad > 3:
            fail("%s vs %s: %d of %d texts differ" % (label, pname, bad, len(texts)))
        print("%-34s vs %-17s %5d texts, %d differ" % (label, pname, len(texts), bad), file=sys.stderr)


# ---- DNABERT k-mers -----------------------------------------------------------------------------------
def kmers(seq, k):
    return " ".join(seq[i:i + k] for i in range(len(seq) + 1 - k))


for k in (3, 4, 5, 6):
    vocab = SPECIALS + ["".join(p) for p in itertools.product("ATCG", repeat=k)]
    for lower in (False, True):
        d = make_dir("dnabert%d_%s" % (k, lower), vocab, {"do_lower_case": lower, "model_max_length": 512})
        texts = []
        n = 1000 if not lower else 200
        for _ in range(n):
            length = rng.randint(k, 120)
            alphabet = rng.choice(["ACGT", "ACGTN", "ACGTacgtN", "ACGTNNNN"])
            texts.append(kmers("".join(rng.choice(alphabet) for _ in range(length)), k))
        compare("DNABERT k=%d do_lower_case=%s" % (k, lower), d, texts, rng.choice([16, 64, 128]), fast_too=True)

# ---- ProtBERT residues --------------------------------------------------------------------------------
prot_vocab = SPECIALS + list("LAGVESIKRDTPNQFYMHCWXUBZO")
d = make_dir("protbert", prot_vocab, {"do_lower_case": False, "tokenizer_class": "BertTokenizer"})
texts = []
for _ in range(1000):
    length = rng.randint(1, 200)
    s = "".join(rng.choice("ACDEFGHIKLMNPQRSTVWYXUBZOacd*-") for _ in range(length))
    texts.append(" ".join(s))
compare("ProtBERT residues", d, texts, 96, fast_too=True)

# ---- text ---------------------------------------------------------------------------------------------
lines = []
for name in ("1kg_panel_head300.tsv", "gdc_clinical_head300.tsv"):
    with open(os.path.join(data, "text", name), encoding="utf-8") as f:
        lines += [l.rstrip("\n") for l in f]

pieces = ["café", "cafe\u0301", "naïve", "Ångström", "Zürich", "São Paulo", "Œuvre", "İstanbul", "ΣΟΦΙΑ", "σοφίας",
          "straße", "ﬁnance", "Ǆemal", "ǅ", "Ⅻ", "ＡＢＣ", "½", "x²", "e\u0301\u0327", "\u1e0b\u0323", "한국어", "조선",
          "日本語", "中文字符", "漢字テスト", "𠀀𠀁", "カタカナ", "ไทย", "עברית", "العربية", "Ελληνικά", "русский",
          "¿Qué?", "¡Hola!", "«quote»", "“smart”", "‘single’", "—dash–", "…", "•", "§4.2", "©®™", "€100", "£5", "¥",
          "a\u200bb", "zero\u200dwidth", "soft\u00adhyphen", "tab\there", "cr\rhere", "bell\x07", "del\x7f", "\x85nel",
          "no\u00a0break", "ideo\u3000space", "line\u2028sep", "para\u2029sep", "en\u2002space", "\ufeffbom", "\ufffd",
          "\ue000private", "\U000e0001tag", "\u0378unassigned", "emoji😀", "👍🏽", "[MASK]", "[CLS] x [SEP]", "[mask]",
          "[UNK]ed", "a[PAD]b", "https://example.org/a_b?c=d&e", "BRCA1:c.68_69delAG", "p.Glu23fs", "rs80357713",
          "chr17:41,197,694", "TCGA-A8-A09G", "(CAG)n", "5'-UTR", "3′", "H₂O", "α-helix", "β-sheet", "Δ", "μg/mL",
          "x" * 99, "y" * 100, "z" * 101, "é" * 101, "ab" * 60]
texts = list(lines)
while len(texts) < 1500:
    n = rng.randint(1, 12)
    words = []
    for _ in range(n):
        r = rng.random()
        if r < 0.4:
            words.append(rng.choice(pieces))
        elif r < 0.7:
            words.append(rng.choice(rng.choice(lines).split("\t")))
        else:
            words.append("".join(chr(rng.choice([rng.randint(0x21, 0x7e), rng.randint(0xa1, 0x24f),
                                                 rng.randint(0x300, 0x36f), rng.randint(0x370, 0x3ff),
                                                 rng.randint(0x2000, 0x206f), rng.randint(0x3000, 0x30ff),
                                                 rng.randint(0x4e00, 0x4e40), rng.randint(0xac00, 0xac40),
                                                 rng.randint(0xff00, 0xff5e)]))
                                 for _ in range(rng.randint(1, 8))))
    sep = rng.choice([" ", "  ", "\t", " \u3000", ""])
    texts.append(sep.join(words))
texts = [t.replace("\n", " ") for t in texts]

corpus = os.path.join(tmp, "corpus.txt")
with open(corpus, "w", encoding="utf-8") as f:
    f.write("\n".join(texts) + "\n")

configs = [
    ("uncased", True, {"do_lower_case": True}),
    ("cased", False, {"do_lower_case": False}),
    ("uncased keep accents", True, {"do_lower_case": True, "strip_accents": False}),
    ("cased strip accents", False, {"do_lower_case": False, "strip_accents": True}),
    ("no chinese split", True, {"do_lower_case": True, "tokenize_chinese_chars": False}),
    ("never_split", False, {"do_lower_case": False, "never_split": ["TCGA-BRCA", "not"]}),
]
for label, lower, config in configs:
    trainer = BertWordPieceTokenizer(lowercase=lower, strip_accents=config.get("strip_accents"),
                                     handle_chinese_chars=config.get("tokenize_chinese_chars", True))
    trainer.train([corpus], vocab_size=rng.choice([600, 2000]), min_frequency=1, show_progress=False,
                  special_tokens=SPECIALS, limit_alphabet=400)
    vocab = [t for t, _ in sorted(trainer.get_vocab().items(), key=lambda kv: kv[1])]
    d = make_dir("text_" + label.replace(" ", "_"), vocab, config)
    compare("text %s" % label, d, texts, rng.choice([32, 128, 512]))

print("tokenizer peer failures: %d" % failures, file=sys.stderr)
sys.exit(1 if failures else 0)
