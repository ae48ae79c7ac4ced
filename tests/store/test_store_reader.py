"""Read a store by following docs/store.md only: find a zstd blob and decode it with the `zstd` command
line, check its frame header has the content size and checksum flags, read a raw (gzip) blob as is, read a
tree manifest, and parse an action record with a JSON parser, checking its checksum and recomputing its key
(canonical.py is written from the same document)."""
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import canonical  # noqa: E402

DRIVER = os.environ["STORE_DRIVER"]
T = os.environ["SEQLORA_TEST_TMP"]
shutil.rmtree(T, ignore_errors=True)
os.makedirs(T)
os.chdir(T)
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += 0 if cond else 1


text = b"".join(b"chr1\t%d\tA\tG\t0.5\n" % i for i in range(3000))
open("variants.tsv", "wb").write(text)
with gzip.open("ref.fa.gz", "wb") as f:
    f.write(b">chr1\n" + b"ACGTTGCA" * 4000 + b"\n")
os.makedirs("model/sub")
open("model/config.json", "w").write('{"hidden_size": 8}\n')
open("model/sub/vocab.txt", "w").write("[PAD]\n[CLS]\nAAAAAA\n")
out = subprocess.run([DRIVER, "run", "st", "test.concat", '{"sep":"\\n","n":16.0}', "a=variants.tsv", "b=ref.fa.gz",
                      "--quiet"], check=True, capture_output=True, text=True).stdout.split()
key = out[0]
subprocess.run([DRIVER, "run", "st", "test.tree", "{}", "model=model", "--quiet"], check=True, capture_output=True)


def blob_path(hex_):
    return os.path.join("st", "blobs", "sha256", hex_[:2], hex_[2:4], hex_)


# 1. a zstd blob, decoded with the zstd command line
d = hashlib.sha256(text).hexdigest()
raw = open(blob_path(d), "rb").read()
check(raw[:4] == b"\x28\xb5\x2f\xfd", "a text input is stored as zstd (frame magic)")
fhd = raw[4]
check(fhd & 0x04 != 0, "the frame header has the content-checksum flag")
check((fhd >> 6) != 0 or (fhd & 0x20) != 0, "the frame header has the content size")
dec = subprocess.run(["zstd", "-dc", blob_path(d)], check=True, capture_output=True).stdout
check(hashlib.sha256(dec).hexdigest() == d, "zstd -dc of the blob gives bytes whose SHA-256 is its name")
check(len(raw) < len(text), "compressed")

# 2. a raw blob (gzip magic): the file is the content
g = hashlib.sha256(open("ref.fa.gz", "rb").read()).hexdigest()
raw = open(blob_path(g), "rb").read()
check(raw[:2] == b"\x1f\x8b" and hashlib.sha256(raw).hexdigest() == g, "a gzip input is stored raw, named by its SHA-256")

# 3. the action record
path = os.path.join("st", "actions", key[:2], key + ".json")
line = open(path, "rb").read()
check(line.endswith(b"\n") and line.count(b"\n") == 1, "a record is one line ending in a newline")
rec = json.loads(line)
check(canonical.encode(rec) + "\n" == line.decode("utf-8"), "the record is canonical JSON as the document defines it")
check(canonical.record_checksum(rec) == rec["checksum"], "its checksum is the SHA-256 of the record without it")
check(canonical.action_key(rec["step"], rec["version"], rec["params"], rec["inputs"]) == key == rec["key"],
      "its key recomputes from step, version, params, inputs")
check(isinstance(rec["params"]["n"], float), "a real parameter stays a real (16.0)")
check(rec["inputs"] == {"a": [d], "b": [g]}, "inputs by role")
out_digest = rec["outputs"]["out.txt"]["digest"]
dec = subprocess.run(["zstd", "-dc", blob_path(out_digest)], check=True, capture_output=True).stdout
check(dec == text + b"\n" + open("ref.fa.gz", "rb").read(), "the output blob holds what the step wrote")
check(rec["outputs"]["out.txt"]["size"] == len(dec) and rec["outputs"]["out.txt"]["type"] == "file", "output size and type")
prov = rec["provenance"]
check(all(k in prov for k in ("seqlora_version", "host", "user", "start", "end", "wall_seconds", "cpu_seconds",
                              "peak_rss_bytes", "threads")), "provenance members")

# 4. a tree manifest (the folder output of test.tree)
trees = []
for root, _, files in os.walk(os.path.join("st", "actions")):
    for f in files:
        r = json.load(open(os.path.join(root, f)))
        trees += [o["digest"] for o in r["outputs"].values() if o["type"] == "tree"]
check(len(trees) == 1, "one folder output")
m = json.loads(subprocess.run(["zstd", "-dc", blob_path(trees[0])], check=True, capture_output=True).stdout)
check(m["seqlora_tree"] == 1 and [e["path"] for e in m["entries"]] == sorted(e["path"] for e in m["entries"]),
      "the manifest lists the files sorted by path")
vocab = [e for e in m["entries"] if e["path"] == "sub/vocab.txt"][0]
vb = subprocess.run(["zstd", "-dc", blob_path(vocab["digest"])], check=True, capture_output=True).stdout
check(vb == open("model/sub/vocab.txt", "rb").read()[::-1], "a folder entry's blob holds its bytes")
sys.exit(1 if failures else 0)
