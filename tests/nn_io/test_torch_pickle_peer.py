"""pytorch_model.bin parity with torch (the peer): files torch.save writes for random tiny models
(BertForSequenceClassification, BertForMaskedLM with tied weights, EsmForSequenceClassification) and for
hand-made state dicts (strided views, storage offsets, shared storages, F32/F16/BF16/F64/I64/I32/U8/BOOL,
scalars, empty tensors) load here with identical values, and the safetensors conversion is byte-identical
to safetensors.torch.save_file of the same tensors. Pickles that call anything else (os.system,
builtins.eval, a pickled nn.Module) are refused naming the global, and nothing runs; the legacy
non-zip format, truncated and non-zip files are refused.

usage: test_torch_pickle_peer.py NNIO_TOOL"""
import collections
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification, EsmConfig, \
    EsmForSequenceClassification
from transformers.utils import logging

logging.set_verbosity_error()
tool = sys.argv[1]
tmp = os.environ.get("SEQLORA_TEST_TMP") or tempfile.mkdtemp()
os.makedirs(tmp, exist_ok=True)
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg, file=sys.stderr)


def expected_values(t):
    if t.dtype in (torch.float32, torch.float16, torch.bfloat16):
        flat = t.to(torch.float32).reshape(-1).tolist()
        return " ".join("%08x" % struct.unpack("<I", struct.pack("<f", v))[0] for v in flat)
    return t.contiguous().reshape(-1).numpy().tobytes().hex()


NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64", torch.int64: "I64",
         torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL", torch.int16: "I16", torch.int8: "I8"}

torch.manual_seed(3)
bert = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                  max_position_embeddings=40, num_labels=3)
esm = EsmConfig(vocab_size=33, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                max_position_embeddings=40, pad_token_id=1, position_embedding_type="rotary", num_labels=2)
base = torch.randn(6, 5)
cases = {
    "bert_seqcls": BertForSequenceClassification(bert).state_dict(),
    "bert_mlm_tied": BertForMaskedLM(bert).state_dict(),
    "esm_seqcls": EsmForSequenceClassification(esm).state_dict(),
    "views": collections.OrderedDict([
        ("transposed", base.t()), ("row", base[2]), ("column", base[:, 3]), ("sliced", base[1:4, 1:3]),
        ("base", base), ("f16", torch.randn(3, 4).half()), ("bf16", torch.randn(5).bfloat16()),
        ("f64", torch.randn(2, 2).double()), ("position_ids", torch.arange(12).expand(1, -1)),
        ("i32", torch.randint(-5, 5, (4,), dtype=torch.int32)), ("u8", torch.randint(0, 255, (3,), dtype=torch.uint8)),
        ("mask", torch.rand(4) > 0.5), ("scalar", torch.tensor(2.5)), ("empty", torch.zeros(0, 3)),
        ("big_offset", torch.randn(100)[90:]),
    ]),
}
for name, sd in cases.items():
    path = os.path.join(tmp, name + ".bin")
    torch.save(sd, path)
    r = subprocess.run([tool, "pt-dump", path], capture_output=True, text=True)
    if r.returncode != 0:
        fail("%s: pt-dump failed: %s" % (name, r.stderr))
        continue
    got = {}
    order = []
    for line in r.stdout.split("\n")[:-1]:
        _, key, dtype, shape, values = line.split("\t")
        got[key] = (dtype, shape, values)
        order.append(key)
    if order != list(sd.keys()):
        fail("%s: names/order differ: %s" % (name, order[:5]))
    for key, t in sd.items():
        if key not in got:
            continue
        dtype, shape, values = got[key]
        if dtype != NAMES[t.dtype] or shape != ",".join(str(d) for d in t.shape) or values != expected_values(t):
            fail("%s: tensor %s differs (%s %s)" % (name, key, dtype, shape))
    # conversion to safetensors: the bytes save_file writes for contiguous copies
    ours = os.path.join(tmp, name + ".safetensors")
    r = subprocess.run([tool, "pt-convert", path, ours], capture_output=True, text=True)
    ref = os.path.join(tmp, name + ".ref.safetensors")
    save_file({k: v.contiguous().clone() for k, v in sd.items()}, ref, metadata={"format": "pt"})
    if r.returncode != 0 or open(ours, "rb").read() != open(ref, "rb").read():
        fail("%s: converted safetensors differs from save_file (%s)" % (name, r.stderr))
    # a model directory with only pytorch_model.bin opens as safetensors (converted in memory)
    d = os.path.join(tmp, name + "_dir")
    os.makedirs(d, exist_ok=True)
    os.replace(path, os.path.join(d, "pytorch_model.bin"))
    r = subprocess.run([tool, "weights-dump", d], capture_output=True, text=True)
    lines = [l for l in r.stdout.split("\n")[:-1] if l.startswith("tensor\t")]
    if r.returncode != 0 or {l.split("\t")[1]: tuple(l.split("\t")[2:]) for l in lines} != got:
        fail("%s: the model directory with pytorch_model.bin reads differently: %s" % (name, r.stderr))
    os.replace(os.path.join(d, "pytorch_model.bin"), path)
    print("%-14s %3d tensors checked" % (name, len(sd)), file=sys.stderr)

# ---- sharded checkpoints (save_pretrained with a small max_shard_size), both formats ------------------------
import json  # noqa: E402

model = BertForSequenceClassification(bert)
want = {k: (NAMES[v.dtype], ",".join(str(d) for d in v.shape), expected_values(v)) for k, v in model.state_dict().items()}
for label, safe in (("sharded safetensors", True), ("sharded bin", False)):
    d = os.path.join(tmp, label.replace(" ", "_"))
    model.save_pretrained(d, max_shard_size="40KB", safe_serialization=safe)
    index = "model.safetensors.index.json" if safe else "pytorch_model.bin.index.json"
    n_shards = len(set(json.load(open(os.path.join(d, index)))["weight_map"].values()))
    r = subprocess.run([tool, "weights-dump", d], capture_output=True, text=True)
    got = {l.split("\t")[1]: tuple(l.split("\t")[2:]) for l in r.stdout.split("\n")[:-1] if l.startswith("tensor\t")}
    if r.returncode != 0 or n_shards < 2 or got != want:
        fail("%s (%d shards): tensors differ from the model's state dict: %s" % (label, n_shards, r.stderr))
    else:
        print("%-20s %d shards, %d tensors identical" % (label, n_shards, len(got)), file=sys.stderr)
    # an index pointing outside the directory, or at a shard without the tensor, is refused
    j = json.load(open(os.path.join(d, index)))
    first = next(iter(j["weight_map"]))
    other = [f for f in sorted(set(j["weight_map"].values())) if f != j["weight_map"][first]][0]
    for bad, msg in (("../" + j["weight_map"][first], "file name in the model directory"), (other, "is not in")):
        jb = json.loads(json.dumps(j))
        jb["weight_map"][first] = bad
        json.dump(jb, open(os.path.join(d, index), "w"))
        r = subprocess.run([tool, "weights-dump", d], capture_output=True, text=True)
        if r.returncode != 3 or msg not in r.stderr:
            fail("%s: index with %r: expected %r, got %d %r" % (label, bad, msg, r.returncode, r.stderr))
    json.dump(j, open(os.path.join(d, index), "w"))

# ---- refused ---------------------------------------------------------------------------------------------
marker = os.path.join(tmp, "pwned")


class Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


refusals = [
    ("os_system", {"w": torch.zeros(2), "x": Evil(os.system, "touch " + marker)}, "system"),
    ("builtins_eval", {"x": Evil(eval, "__import__('os').system('touch %s')" % marker)}, "eval"),
    ("nn_module", BertForSequenceClassification(bert), "BertForSequenceClassification"),
    ("not_a_dict", [torch.zeros(2)], "no dict of tensors"),
]
for name, obj, want in refusals:
    path = os.path.join(tmp, name + ".bin")
    torch.save(obj, path)
    r = subprocess.run([tool, "pt-dump", path], capture_output=True, text=True)
    if r.returncode != 3 or want not in r.stderr or os.path.exists(marker):
        fail("%s: expected a refusal naming %r, got %d %r" % (name, want, r.returncode, r.stderr))
    else:
        print("%-14s refused: %s" % (name, r.stderr.strip()[:150]), file=sys.stderr)

legacy = os.path.join(tmp, "legacy.bin")
torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
truncated = os.path.join(tmp, "truncated.bin")
data = open(os.path.join(tmp, "bert_seqcls.bin"), "rb").read()
open(truncated, "wb").write(data[:len(data) // 2])
nodata = os.path.join(tmp, "nodata.bin")
with zipfile.ZipFile(os.path.join(tmp, "views.bin")) as src, zipfile.ZipFile(nodata, "w") as dst:
    for item in src.namelist():
        if not item.endswith("/data/3"):
            dst.writestr(item, src.read(item))
for path, want in [(legacy, "not a PyTorch zip"), (truncated, ""), (nodata, "is missing from the zip"),
                   (os.path.join(tmp, "views.safetensors"), "not a PyTorch zip")]:
    r = subprocess.run([tool, "pt-dump", path], capture_output=True, text=True)
    if r.returncode != 3 or want not in r.stderr:
        fail("%s: expected a data error %r, got %d %r" % (os.path.basename(path), want, r.returncode, r.stderr))

# mutated pickles (truncated, bytes flipped): a clear refusal or a clean load, never a crash
import random  # noqa: E402

rng = random.Random(5)
with zipfile.ZipFile(os.path.join(tmp, "views.bin")) as src:
    entries = {item: src.read(item) for item in src.namelist()}
pkl_name = [k for k in entries if k.endswith("data.pkl")][0]
crashes = 0
for trial in range(150):
    pkl = bytearray(entries[pkl_name])
    if trial % 3 == 0:
        pkl = pkl[:rng.randint(0, len(pkl) - 1)]
    else:
        for _ in range(rng.randint(1, 4)):
            pkl[rng.randrange(len(pkl))] = rng.randrange(256)
    path = os.path.join(tmp, "mutated.bin")
    with zipfile.ZipFile(path, "w") as dst:
        for item, blob in entries.items():
            dst.writestr(item, bytes(pkl) if item == pkl_name else blob)
    r = subprocess.run([tool, "pt-dump", path], capture_output=True, text=True, errors="replace")
    if r.returncode not in (0, 3):
        crashes += 1
        if crashes <= 3:
            fail("mutated pickle %d: exit %d %r" % (trial, r.returncode, r.stderr[-300:]))
print("mutated pickles: 150 tried, %d crashed" % crashes, file=sys.stderr)

print("torch pickle peer failures: %d" % failures, file=sys.stderr)
sys.exit(1 if failures else 0)
