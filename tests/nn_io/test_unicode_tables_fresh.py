"""The committed Unicode tables (src/nn/tokenizer_unicode_data.c) are what tokenizer_unicode_gen.py
generates from this Python's unicodedata, i.e. the C tokenizer classifies characters exactly as the
Python peers do. Skipped (exit 77, reported as skipped by ctest) when this Python ships another Unicode
version than the one the tables were generated from."""
import os
import re
import subprocess
import sys
import unicodedata

src = os.environ.get("SEQLORA_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
committed = open(os.path.join(src, "src/nn/tokenizer_unicode_data.c"), encoding="utf-8").read()
m = re.search(r"\(Unicode ([0-9.]+)\)", committed)
if not m:
    print("FAIL: no Unicode version in the committed tables", file=sys.stderr)
    sys.exit(1)
if m.group(1) != unicodedata.unidata_version:
    print("SKIP: tables are Unicode %s, this Python has %s" % (m.group(1), unicodedata.unidata_version),
          file=sys.stderr)
    sys.exit(77)
fresh = subprocess.run([sys.executable, os.path.join(src, "src/nn/tokenizer_unicode_gen.py")], capture_output=True,
                       text=True, check=True).stdout
strip = lambda s: [l for i, l in enumerate(s.split("\n")) if i != 1]  # line 2 names the Python patch version
if strip(fresh) != strip(committed):
    print("FAIL: src/nn/tokenizer_unicode_data.c is stale; regenerate it with tokenizer_unicode_gen.py",
          file=sys.stderr)
    sys.exit(1)
print("Unicode %s tables are fresh" % unicodedata.unidata_version, file=sys.stderr)
