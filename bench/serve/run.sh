#!/usr/bin/env bash
# Benchmark `seqlora serve` with wrk: requests/s, p99 latency, errors, and the server's RSS after the first 1,000
# and after 10,000 requests (a leak shows as growth). About a minute on 2 cores.
#
#   bench/serve/run.sh [SEQLORA_BIN] [DURATION_S]
#
# The model: a random BERT with DNABERT's 6-mer vocabulary, hidden 128, 2 layers, 2 heads, max length 64 (made
# with transformers + peft, packaged with --merged), so the numbers measure the server plus a small model, not
# DNABERT-base. The body: the first 60 bases (one window) of the real BRCA1 CDS (NM_007294.3, tests/data/brca1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build/src/cli/seqlora}
dur=${2:-20}
py=${SEQLORA_PYTHON:-$root/.venv/bin/python}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; [ -n "${SEQLORA_BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT
export SEQLORA_BIN=$bin
"$py" - "$work" "$root" <<'PY'
import itertools, json, os, sys
import torch
from peft import LoraConfig, get_peft_model
from transformers import BertConfig, BertForSequenceClassification
work, root = sys.argv[1], sys.argv[2]
base, adapter = os.path.join(work, "base"), os.path.join(work, "adapter")
os.makedirs(base)
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["".join(p) for p in itertools.product("ACGT", repeat=6)]
open(os.path.join(base, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
json.dump({"do_lower_case": False, "model_max_length": 64}, open(os.path.join(base, "tokenizer_config.json"), "w"))
torch.manual_seed(0)
cfg = BertConfig(vocab_size=len(vocab), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=512, max_position_embeddings=64, num_labels=2,
                 id2label={0: "control", 1: "case"}, label2id={"control": 0, "case": 1})
BertForSequenceClassification(cfg).save_pretrained(base, safe_serialization=True)
m = get_peft_model(BertForSequenceClassification.from_pretrained(base),
                   LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value"], task_type="SEQ_CLS",
                              init_lora_weights=False))
m.save_pretrained(adapter)
cds = "".join(l.strip() for l in open(os.path.join(root, "tests/data/brca1/NM_007294.3.cds.fa")) if not l.startswith(">"))
json.dump({"brca1_sequence": cds[:60]}, open(os.path.join(work, "body.json"), "w"))
PY
"$bin" package --base "$work/base" --adapter "$work/adapter" --merged -o "$work/model.tar.gz" --store "$work/store" --quiet >/dev/null
"$bin" serve --model "$work/model.tar.gz" --port 0 --threads 2 --quiet >"$work/url" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -1 "$work/url")
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
export SEQLORA_BENCH_BODY=$work/body.json
# 1,000 then 9,000 more requests from 4 keep-alive clients (wrk cannot stop after N requests: it always runs for
# its whole duration), counting non-200 answers
count() {
  "$py" - "$url" "$1" "$work/body.json" <<'PY'
import http.client, sys, urllib.parse
from concurrent.futures import ThreadPoolExecutor
u = urllib.parse.urlparse(sys.argv[1]); n = int(sys.argv[2]); body = open(sys.argv[3], "rb").read()
def client(k):
    c, bad = http.client.HTTPConnection(u.hostname, u.port, timeout=30), 0
    for _ in range(k):
        c.request("POST", "/predict_risk", body, {"Content-Type": "application/json"})
        r = c.getresponse(); r.read(); bad += r.status != 200
    return bad
with ThreadPoolExecutor(4) as ex:
    print(sum(ex.map(client, [n // 4] * 4)))
PY
}
bad1=$(count 1000)
rss1=$(rss)
bad2=$(count 9000)
rss2=$(rss)
n1=1000; n2=9000
# throughput and latency for DURATION_S seconds
wrk -t2 -c8 -d"${dur}s" --latency -s "$here/post.lua" "$url/predict_risk" >"$work/w3" 2>&1
rss3=$(rss)
rps=$(awk '/Requests\/sec/ {print $2}' "$work/w3")
p50=$(awk '$1 == "50%" {print $2}' "$work/w3"); p99=$(awk '$1 == "99%" {print $2}' "$work/w3")
total=$(awk '/requests in/ {print $1}' "$work/w3")
# wrk prints "Socket errors: connect A, read B, write C, timeout D" and "Non-2xx or 3xx responses: N" only when non-zero
errs=$(cat "$work/w3" | awk '/Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10}
                                     /Non-2xx/ {n += $NF} END {print n + 0}')
errs=$((errs + bad1 + bad2))
growth=$(awk -v a="$rss1" -v b="$rss2" 'BEGIN {printf "%.2f", 100 * (b - a) / a}')
echo "model: random BERT 6-mer vocab, hidden 128, 2 layers, max length 64, LoRA r 8 merged; body: 60 bases (1 window)"
echo "warm-up: $n1 requests, then $n2 more (total $((n1 + n2))), non-200 answers: $((bad1 + bad2))"
echo "RSS after first $n1 requests: ${rss1} kB; after $((n1 + n2)): ${rss2} kB (growth ${growth}%); after the ${dur}s run: ${rss3} kB"
echo "throughput: ${rps} requests/s over ${dur}s with 8 connections ($total requests); latency p50 ${p50}, p99 ${p99}"
echo "errors (socket errors + non-2xx responses): ${errs}"
st=0; kill -TERM $pid; wait $pid || st=$?; echo "server exit status after SIGTERM: $st"
awk -v g="$growth" -v e="$errs" 'BEGIN {exit !(g < 5 && g > -5 && e == 0)}' && echo "PASS: RSS within 5%, 0 errors" || { echo "FAIL"; exit 1; }
