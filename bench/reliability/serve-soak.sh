#!/usr/bin/env bash
# `seqlora serve` under a wrk load (POST /v1/predict) for SOAK_SECONDS (default 60; 600+ for a soak): the
# server's RSS after the load must stay within SOAK_RSS_MB (default 32) MiB of the RSS after warm-up, every
# response must be 2xx, and SIGTERM must end it with exit 0. The RSS is sampled every SOAK_SAMPLE seconds
# (default 10) during the load into rss.tsv (seconds, KiB); the RESULT line reports start, end, max and the
# growth in % over the load and over its second half (a leak grows steadily; allocator warm-up does not).
# Prints a RESULT line (scripts/reliability-report.sh).
set -euo pipefail
. "$(dirname "$0")/env.sh"
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/install-deps.sh test)"; exit 2; }
T=${SEQLORA_TEST_TMP:-$build/bench-tmp/serve-soak}
rm -rf "$T" && mkdir -p "$T" && cd "$T"
secs=${SOAK_SECONDS:-60}
sl() { "$SEQLORA_BIN" "$@" --store S --quiet >/dev/null; }
echo '{"hidden_size":32,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":64,"max_position_embeddings":64,"initializer_range":0.02}' >cfg.json
sl init-model --config cfg.json --vocab-kmer 3 -o base
python3 -c "
import random
r = random.Random(2)
print('id\tsequence\tlabel')
for i in range(32):
    s = ''.join(r.choice('ACGT') for _ in range(20))
    print('t%d\t%s\t%s' % (i, ' '.join(s[j:j + 3] for j in range(18)), 'pos' if i % 2 else 'neg'))
" >train.tsv
sl train --base base --train train.tsv -o ad --epochs 1 --max-length 32
sl package --base base --adapter ad --embed-base -o model.tar.gz
"$SEQLORA_BIN" serve --model model.tar.gz --port 0 --threads 4 --quiet >url.txt 2>serve.err &
pid=$!
for _ in $(seq 50); do [ -s url.txt ] && break; sleep 0.2; done
url=$(head -1 url.txt)
cat >post.lua <<'LUA'
wrk.method = "POST"
wrk.body = '{"sequences":[{"id":"a","sequence":"ACGTACGTACGTAGGCTTAGCA"},{"id":"b","sequence":"TTGACCAGT"}]}'
wrk.headers["Content-Type"] = "application/json"
LUA
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
wrk -t2 -c16 -d5s -s post.lua "$url/v1/predict" >warm.txt
rss0=$(rss)
every=${SOAK_SAMPLE:-10}
(
    t=0
    while kill -0 $pid 2>/dev/null; do
        printf '%s\t%s\n' "$t" "$(rss)"
        sleep "$every"
        t=$((t + every))
    done
) >rss.tsv 2>/dev/null &
sampler=$!
wrk -t2 -c32 -d"${secs}s" -s post.lua --latency "$url/v1/predict" >load.txt
rss1=$(rss)
kill $sampler 2>/dev/null || true
wait $sampler 2>/dev/null || true
printf '%s\t%s\n' "$secs" "$rss1" >>rss.tsv
# max over the samples; the sample nearest half-time; growth in % (end vs warm-up, end vs half-time)
read -r rss_max rss_half n_samples < <(awk -v h=$((secs / 2)) '$2 != "" { if ($2 > m) m = $2; d = $1 - h; if (d < 0) d = -d;
    if (best == "" || d < best) { best = d; half = $2 } n++ } END { print m, half, n }' rss.tsv)
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 100 / a }'; }
grow_all=$(pct "$rss0" "$rss1")
grow_half=$(pct "$rss_half" "$rss1")
kill -TERM $pid
set +e
wait $pid
rc=$?
set -e
reqs=$(awk '/requests in/ {print $1}' load.txt)
non2xx=$(awk '/Non-2xx/ {print $NF}' load.txt)
errs=$(awk '/Socket errors/ {print}' load.txt)
cat load.txt
echo "RSS samples (seconds, KiB):"
cat rss.tsv
echo "RSS after warm-up $rss0 KiB, at half-time $rss_half KiB, after $secs s of load $rss1 KiB, max $rss_max KiB ($n_samples samples); exit after SIGTERM $rc"
ok=1
[ $((rss1 - rss0)) -lt $((${SOAK_RSS_MB:-32} * 1024)) ] || { echo "FAIL RSS grew by $((rss1 - rss0)) KiB"; ok=0; }
[ -z "$non2xx" ] || { echo "FAIL $non2xx non-2xx responses"; ok=0; }
[ $rc -eq 0 ] || { echo "FAIL exit $rc after SIGTERM"; ok=0; }
printf 'RESULT\tserve-soak\t%s\t%s\twrk %s s, 32 connections: RSS %s -> %s KiB (max %s, %s samples; growth %s%%, second half %s%%), non-2xx %s, %s\n' \
    "$reqs" "$([ $ok = 1 ] && echo "$reqs" || echo 0)" "$secs" "$rss0" "$rss1" "$rss_max" "$n_samples" "$grow_all" \
    "$grow_half" "${non2xx:-0}" "${errs:-no socket errors}"
[ $ok = 1 ]
