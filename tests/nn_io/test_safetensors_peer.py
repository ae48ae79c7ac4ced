"""safetensors parity with the Python library (the peer): files written by safetensors.torch.save_file
read identically here (F32, F16, BF16, I64, scalars, empty tensors, odd names), and what sl_nn_st_write
writes for the same tensors is byte-identical to save_file and loads in Python with equal values.

usage: test_safetensors_peer.py NNIO_TOOL"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

tool = sys.argv[1]
tmp = os.environ.get("SEQLORA_TEST_TMP") or tempfile.mkdtemp()
os.makedirs(tmp, exist_ok=True)
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg, file=sys.stderr)


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\":
            out.append({"\\": "\\", "t": "\t", "n": "\n"}[s[i + 1]])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def dump(path):
    out = subprocess.run([tool, "st-dump", path], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    meta, tensors = {}, {}
    for line in out.stdout.split("\n"):
        if not line:
            continue
        parts = line.split("\t")
        if parts[0] == "meta":
            meta[unescape(parts[1])] = unescape(parts[2])
        else:
            _, name, dtype, shape, values = parts
            tensors[unescape(name)] = (dtype, shape, values)
    return meta, tensors


def expected_values(t):
    """The f32 bit patterns (float dtypes) or raw little-endian bytes (others) of a torch tensor."""
    if t.dtype in (torch.float32, torch.float16, torch.bfloat16):
        flat = t.to(torch.float32).reshape(-1).tolist()
        return " ".join("%08x" % struct.unpack("<I", struct.pack("<f", v))[0] for v in flat)
    return t.contiguous().reshape(-1).numpy().tobytes().hex()


dtype_names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
               torch.int32: "I32", torch.uint8: "U8", torch.float64: "F64", torch.bool: "BOOL"}

g = torch.Generator().manual_seed(1234)
cases = []
for trial in range(12):
    tensors = {}
    for j in range(1 + trial % 7):
        dtype = [torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.float32, torch.int32,
                 torch.uint8, torch.float64][(trial + j) % 8]
        ndim = (trial + 2 * j) % 4
        shape = [int(x) for x in torch.randint(0, 5, (ndim,), generator=g)]
        if dtype.is_floating_point:
            t = (torch.randn(shape, generator=g) * 10 ** (trial % 5 - 2)).to(dtype)
        else:
            t = torch.randint(-1000 if dtype != torch.uint8 else 0, 1000 if dtype != torch.uint8 else 255, shape,
                              generator=g).to(dtype)
        names = ["bert.encoder.layer.%d.attention.self.query.weight" % j, "w%d" % j, "quote\"%d" % j,
                 "ünïcode.%d" % j, "tab\t%d\\n" % j, "z%d" % j, "a.%d" % j]
        tensors[names[(trial * 3 + j) % len(names)]] = t
    meta = [None, {"format": "pt"}, {"format": "pt", "note": "a\tb\\"}, {}][trial % 4]
    cases.append((tensors, meta))
# a realistic all-F32 adapter-like file
cases.append(({"base_model.model.bert.encoder.layer.%d.attention.self.%s.lora_%s.weight" % (i, m, ab):
               torch.randn((4, 32) if ab == "A" else (32, 4), generator=g)
               for i in range(2) for m in ("query", "value") for ab in ("A", "B")} |
              {"base_model.model.classifier.weight": torch.randn(2, 32, generator=g),
               "base_model.model.classifier.bias": torch.zeros(2)}, {"format": "pt"}))

for i, (tensors, meta) in enumerate(cases):
    src = os.path.join(tmp, "py_%d.safetensors" % i)
    save_file(tensors, src, metadata=meta)
    try:
        got_meta, got = dump(src)
    except RuntimeError as e:
        fail("case %d: reading save_file output failed: %s" % (i, e))
        continue
    if got_meta != (meta or {}):
        fail("case %d: metadata %r != %r" % (i, got_meta, meta))
    if set(got) != set(tensors):
        fail("case %d: names %r != %r" % (i, sorted(got), sorted(tensors)))
        continue
    for name, t in tensors.items():
        dtype, shape, values = got[name]
        if dtype != dtype_names[t.dtype]:
            fail("case %d %r: dtype %s != %s" % (i, name, dtype, dtype_names[t.dtype]))
        if shape != ",".join(str(d) for d in t.shape):
            fail("case %d %r: shape %s != %s" % (i, name, shape, list(t.shape)))
        if values != expected_values(t):
            fail("case %d %r: values differ" % (i, name))
    # our writer: same bytes as save_file, and Python loads it
    ours = os.path.join(tmp, "c_%d.safetensors" % i)
    r = subprocess.run([tool, "st-copy", src, ours], capture_output=True, text=True)
    if r.returncode != 0:
        fail("case %d: st-copy failed: %s" % (i, r.stderr))
        continue
    a, b = open(src, "rb").read(), open(ours, "rb").read()
    if meta and len(meta) > 1:
        # save_file keeps metadata in a Rust HashMap: its key order is random, so compare the headers as
        # JSON and the data bytes exactly
        ha, hb = struct.unpack("<Q", a[:8])[0], struct.unpack("<Q", b[:8])[0]
        if json.loads(a[8:8 + ha]) != json.loads(b[8:8 + hb]) or a[8 + ha:] != b[8 + hb:] or ha != hb:
            fail("case %d: header or data differ from save_file" % i)
    elif a != b:
        hl = struct.unpack("<Q", a[:8])[0]
        fail("case %d: bytes differ from save_file\n  py: %r\n  c:  %r" % (i, a[8:8 + hl], b[8:8 + hl]))
    loaded = load_file(ours)
    for name, t in tensors.items():
        if not torch.equal(loaded[name], t):
            fail("case %d %r: loaded tensor differs" % (i, name))

print("safetensors peer cases: %d, failures: %d" % (len(cases), failures))
sys.exit(1 if failures else 0)
