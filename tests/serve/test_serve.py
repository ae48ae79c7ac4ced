"""`seqlora serve` over real HTTP on 127.0.0.1 (a free port chosen by the server, --port 0).

A tiny random DNABERT-style model + PEFT adapter (tests/package/common.py) packaged with `seqlora package`, then:
  - the seed's request/response shape on POST /predict_risk; the probability == transformers + PeftModel (rounded
    to 4 decimals) and the interpretation follows the threshold (0.7, and a second bundle at 0.3);
  - POST /v1/predict: a batch == `seqlora score` on the same sequences (within 1e-9), variants (p_ref/p_alt/delta);
  - every status code: 200, 400 (with the position), 401 (no / wrong token), 404, 405, 413 (Content-Length and
    chunked), 422 (malformed JSON, missing field, wrong type, field name in the answer);
  - GET /healthz, /v1/model (card, metrics, digest), /openapi.json (== docs/openapi.json), /docs (no external URL);
  - 16 concurrent clients x 8 requests: all 200, answers identical to the sequential ones;
  - an idle connection is closed after --request-timeout; SIGTERM while a request is in flight: the request
    completes, the server exits 0 (under ASan/LSan a leak makes the exit status non-zero);
  - one access-log line per request on stderr.
Exits 1 on any failure."""
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "package"))
from common import BIN, Reference, make_model, random_dna, read_tsv, run  # noqa: E402

import numpy as np  # noqa: E402

TMP = os.environ.get("SEQLORA_TEST_TMP", "/tmp/seqlora_serve_test")
SRC = os.environ.get("SEQLORA_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
STORE = os.path.join(TMP, "store")
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


base, adapter = make_model(TMP)
ref = Reference(base, adapter)
bundle = os.path.join(TMP, "model.tar.gz")
r = run(["package", "--base", base, "--adapter", adapter, "--embed-base", "-o", bundle], STORE)
check(r.returncode == 0, f"package ({r.stderr.strip()[-300:]})")
token_file = os.path.join(TMP, "token")
open(token_file, "w").write("s3cret-token\n")
AUTH = {"Authorization": "Bearer s3cret-token"}


class Server:
    def __init__(self, model, *extra):
        self.log = open(os.path.join(TMP, f"serve{len(extra)}.log"), "w+")
        self.p = subprocess.Popen([BIN, "serve", "--model", model, "--port", "0"] + list(extra),
                                  stdout=subprocess.PIPE, stderr=self.log, text=True)
        url = self.p.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        self.port = int(url.rsplit(":", 1)[1])

    def req(self, method, path, body=None, headers=None, raw=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        resp = c.getresponse()
        text = resp.read().decode()
        c.close()
        try:
            return resp.status, json.loads(text), resp
        except ValueError:
            return resp.status, text, resp

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout=60)
        self.log.seek(0)
        return rc, self.log.read()


srv = Server(bundle, "--token-file", token_file, "--max-body", "20000", "--threads", "4")
n_requests = 0


def call(*a, **k):
    global n_requests
    n_requests += 1
    return srv.req(*a, **k)


# ---- the seed's endpoint ------------------------------------------------------------------------------------
rng = np.random.default_rng(11)
seqs = random_dna(rng, 12, 30, 300)
seen = set()
for s in seqs:
    lower = s.lower()
    st, j, _ = call("POST", "/predict_risk", {"brca1_sequence": lower}, AUTH)
    expect = ref.probs_dna(s)[0][1]
    ok = (st == 200 and set(j) == {"status", "brca1_sequence", "breast_cancer_risk_probability", "interpretation"} and
          j["status"] == "success" and j["brca1_sequence"] == s and
          abs(j["breast_cancer_risk_probability"] - round(expect, 4)) < 1.1e-4 and
          j["breast_cancer_risk_probability"] == round(j["breast_cancer_risk_probability"], 4) and
          j["interpretation"] == ("High risk" if expect > 0.7 else "Low risk"))
    seen.add(j.get("interpretation"))
    if not ok:
        check(False, f"/predict_risk {st} {j} expected p={expect:.6f}")
        break
else:
    check(True, f"/predict_risk: the seed's shape, upper-cased sequence, p == PEFT (4 decimals), threshold 0.7 "
                f"({len(seqs)} sequences, interpretations seen: {sorted(seen)})")

# ---- batches and variants ------------------------------------------------------------------------------------
tsv = os.path.join(TMP, "batch.tsv")
with open(tsv, "w") as f:
    f.write("id\tsequence\n" + "".join(f"b{i}\t{s}\n" for i, s in enumerate(seqs)))
out = os.path.join(TMP, "batch_scores.tsv")
r = run(["score", "--model", bundle, "--input", tsv, "-o", out], STORE)
h, rows = read_tsv(out)
st, j, _ = call("POST", "/v1/predict", {"sequences": [{"id": f"b{i}", "sequence": s} for i, s in enumerate(seqs)]}, AUTH)
ok = st == 200 and len(j["results"]) == len(seqs)
for row, res in zip(rows, j["results"] if ok else []):
    ok &= (res["id"] == row[0] and abs(res["probabilities"]["pathogenic"] - float(row[3])) < 1e-8 and
           res["windows"] == int(row[4]))
check(ok, "/v1/predict batch == seqlora score (ids, probabilities within 1e-8, window counts)")
ctx = seqs[0][:67]
var = {"id": "v1", "sequence": ctx, "position": 34, "ref": ctx[33], "alt": "A" if ctx[33] != "A" else "C"}
st, j, _ = call("POST", "/v1/predict", {"variants": [var]}, AUTH)
alt_seq = ctx[:33] + var["alt"] + ctx[34:]
pr, pa = ref.probs_dna(ctx)[0][1], ref.probs_dna(alt_seq)[0][1]
check(st == 200 and j["class"] == "pathogenic" and abs(j["results"][0]["p_ref"] - pr) < 1e-4 and
      abs(j["results"][0]["p_alt"] - pa) < 1e-4 and abs(j["results"][0]["delta"] - (pa - pr)) < 1e-4,
      f"/v1/predict variants: p_ref, p_alt, delta == PEFT within 1e-4 ({j})")

# ---- status codes -----------------------------------------------------------------------------------------------
cases = [
    ("400 bad base, position", ("POST", "/predict_risk", {"brca1_sequence": "ACGTNacgtnXAC"}, AUTH), 400,
     lambda j: j["position"] == 11 and j["field"] == "brca1_sequence" and "'X'" in j["error"]),
    ("400 empty sequence", ("POST", "/predict_risk", {"brca1_sequence": ""}, AUTH), 400, lambda j: j["field"] == "brca1_sequence"),
    ("400 bad base in a batch", ("POST", "/v1/predict", {"sequences": [{"sequence": "ACGT"}, {"sequence": "AC-GT"}]}, AUTH), 400,
     lambda j: j["field"] == "sequences[1].sequence" and j["position"] == 3),
    ("400 variant ref mismatch", ("POST", "/v1/predict", {"variants": [dict(var, ref="T" if ctx[33] != "T" else "G")]}, AUTH), 400,
     lambda j: j["field"] == "variants[0].ref"),
    ("401 no token", ("POST", "/predict_risk", {"brca1_sequence": "ACGT"}, None), 401, lambda j: j["status"] == "error"),
    ("401 wrong token", ("POST", "/predict_risk", {"brca1_sequence": "ACGT"}, {"Authorization": "Bearer s3cret-tokeN"}), 401,
     lambda j: True),
    ("401 on /v1/model", ("GET", "/v1/model", None, None), 401, lambda j: True),
    ("404 unknown path", ("GET", "/predict", None, AUTH), 404, lambda j: j["status"] == "error"),
    ("405 wrong method", ("GET", "/predict_risk", None, AUTH), 405, lambda j: True),
    ("422 malformed JSON", ("POST", "/predict_risk", None, AUTH, '{"brca1_sequence": "ACGT"'), 422, lambda j: j["field"] == "body"),
    ("422 empty body", ("POST", "/predict_risk", None, AUTH, ""), 422, lambda j: j["field"] == "body"),
    ("422 missing field", ("POST", "/predict_risk", {"sequence": "ACGT"}, AUTH), 422, lambda j: j["field"] == "brca1_sequence"),
    ("422 wrong type", ("POST", "/predict_risk", {"brca1_sequence": 42}, AUTH), 422, lambda j: j["field"] == "brca1_sequence"),
    ("422 not an object", ("POST", "/v1/predict", [1, 2], AUTH), 422, lambda j: j["field"] == "body"),
    ("422 batch missing", ("POST", "/v1/predict", {"seqs": []}, AUTH), 422, lambda j: j["field"] == "sequences"),
    ("413 body over --max-body", ("POST", "/predict_risk", {"brca1_sequence": "A" * 30000}, AUTH), 413, lambda j: j["status"] == "error"),
    ("413 too many items", ("POST", "/v1/predict", {"sequences": [{"sequence": "A"}] * 1001}, AUTH), 413, lambda j: True),
]
for name, args, code, pred in cases:
    method, path, body, hdr = args[:4]
    raw = args[4] if len(args) > 4 else None
    st, j, resp = call(method, path, body, hdr, raw)
    good = st == code and isinstance(j, dict) and pred(j)
    if code == 401:
        good &= resp.getheader("WWW-Authenticate") == "Bearer"
    check(good, f"{name}: {st} {j if not good else ''}")
# 413 while streaming a chunked body (no Content-Length)
c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
c.putrequest("POST", "/predict_risk")
c.putheader("Transfer-Encoding", "chunked")
c.putheader("Authorization", AUTH["Authorization"])
c.endheaders()
try:
    for _ in range(10):
        chunk = ("A" * 4000).encode()
        c.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    c.send(b"0\r\n\r\n")
    resp = c.getresponse()
    st = resp.status
    resp.read()
except (BrokenPipeError, ConnectionResetError):
    st = "reset"
c.close()
n_requests += 1
check(st == 413, f"413 for a chunked body over the limit ({st})")

# ambiguous framing (RFC 9112 6.3): two different Content-Lengths, or Content-Length + Transfer-Encoding → one 400,
# connection closed, the bytes after the first length never answered as a second request
hidden = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
for name, head in (("two Content-Lengths", b"Content-Length: 2\r\nContent-Length: 40\r\n"),
                   ("Content-Length + chunked", b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")):
    so = socket.create_connection(("127.0.0.1", srv.port))
    so.sendall(b"POST /predict_risk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-token\r\n" + head +
               b"\r\n{}" + hidden)
    so.settimeout(10)
    got = b""
    try:
        while True:
            d = so.recv(65536)
            if not d:
                break
            got += d
    except socket.timeout:
        pass
    so.close()
    n_requests += 1
    check(got.startswith(b"HTTP/1.1 400") and got.count(b"HTTP/1.1 ") == 1,
          f"{name}: one 400 and the connection closed ({got[:30]!r}, {got.count(b'HTTP/1.1 ')} answers)")

# ---- GET endpoints ----------------------------------------------------------------------------------------------
st, j, _ = call("GET", "/healthz")
check(st == 200 and j["status"] == "ok" and len(j["model"]) == 64, "/healthz (no token needed)")
st, j, _ = call("GET", "/v1/model", None, AUTH)
check(st == 200 and "not a diagnostic" in j["model_card"] and j["bundle"]["task"]["threshold"] == 0.7 and
      j["inference"]["window"] == 67 and len(j["digest"]) == 64 and len(j["provenance"]["ro_crate_sha256"]) == 64 and
      j["provenance"]["ro_crate"]["@context"] == "https://w3id.org/ro/crate/1.1/context",
      "/v1/model: card, task, windowing, digest, RO-Crate provenance with its digest")
st, j, _ = call("GET", "/openapi.json")
doc = json.load(open(os.path.join(SRC, "docs", "openapi.json")))
check(st == 200 and j == doc and j["openapi"].startswith("3.") and
      {"/predict_risk", "/v1/predict", "/healthz", "/v1/model", "/openapi.json", "/docs"} <= set(j["paths"]),
      "/openapi.json == docs/openapi.json, every endpoint described")
st, html, resp = call("GET", "/docs")
check(st == 200 and resp.getheader("Content-Type").startswith("text/html") and "<form" in html and
      "http://" not in html and "https://" not in html, "/docs: an HTML page with a form, no external resources")

# ---- concurrency ------------------------------------------------------------------------------------------------
sequential = {}
for i, s in enumerate(seqs[:8]):
    sequential[i] = call("POST", "/predict_risk", {"brca1_sequence": s}, AUTH)[1]


def client(k):
    res = []
    for t in range(8):
        i = (k + t) % 8
        st, j, _ = srv.req("POST", "/predict_risk", {"brca1_sequence": seqs[i]}, AUTH)
        res.append((st, j == sequential[i]))
    return res


with concurrent.futures.ThreadPoolExecutor(16) as ex:
    results = [x for r_ in ex.map(client, range(16)) for x in r_]
n_requests += len(results)
check(all(st == 200 and same for st, same in results), f"16 concurrent clients x 8 requests: all 200, answers identical "
                                                       f"({sum(st == 200 for st, _ in results)}/{len(results)})")

# ---- SIGTERM while a request is in flight -----------------------------------------------------------------------
# the request's body is half sent when SIGTERM arrives; the rest follows 0.5 s later and must still be answered
body = json.dumps({"sequences": [{"id": str(i), "sequence": q} for i, q in enumerate(seqs)]}).encode()
holder = {}
c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
c.putrequest("POST", "/v1/predict")
c.putheader("Content-Type", "application/json")
c.putheader("Content-Length", str(len(body)))
c.putheader("Authorization", AUTH["Authorization"])
c.endheaders()
c.send(body[:len(body) // 2])
time.sleep(0.3)


def finish():
    time.sleep(0.5)
    c.send(body[len(body) // 2:])
    resp = c.getresponse()
    holder["r"] = (resp.status, json.loads(resp.read()))


th = threading.Thread(target=finish)
th.start()
rc, log = srv.stop()
th.join()
n_requests += 1
check(holder.get("r", (0,))[0] == 200 and len(holder["r"][1]["results"]) == len(seqs),
      "SIGTERM: the in-flight request completes")
check(rc == 0, f"server exits 0 after SIGTERM (exit {rc}; a leak under ASan makes it non-zero)")
lines = [l for l in log.splitlines() if '"' in l and ("POST" in l or "GET" in l)]
check(len(lines) == n_requests, f"one access-log line per request ({len(lines)} lines, {n_requests} requests)")

# ---- idle timeout, a bundle with another threshold ------------------------------------------------------------
b2 = os.path.join(TMP, "t03.tar.gz")
run(["package", "--base", base, "--adapter", adapter, "--embed-base", "--threshold", "0.3", "-o", b2], STORE)
srv = Server(b2, "--request-timeout", "2", "--quiet")
s = socket.create_connection(("127.0.0.1", srv.port))
s.sendall(b"POST /predict_risk HTTP/1.1\r\nHost: x\r\n")  # headers never finished
s.settimeout(10)
t0 = time.time()
try:
    data = s.recv(100)
except socket.timeout:
    data = None
check(data is not None and time.time() - t0 < 8, f"an idle connection is closed after --request-timeout ({time.time() - t0:.1f} s)")
s.close()
ok = True
for q in seqs[:6]:
    st, j, _ = srv.req("POST", "/predict_risk", {"brca1_sequence": q})
    ok &= st == 200 and j["interpretation"] == ("High risk" if ref.probs_dna(q)[0][1] > 0.3 else "Low risk")
check(ok, "threshold 0.3 from the bundle; no token file = no authentication")
st, j, _ = srv.req("POST", "/predict_risk", {"brca1_sequence": "ACGT" * 75000})  # 300,000 bases: ~9,000 windows
check(st == 413 and j["field"] == "brca1_sequence" and "windows" in j["error"],
      f"a request needing more than 4096 model windows → 413 ({st})")
rc, log = srv.stop()
check(rc == 0 and "POST" not in log, "--quiet: no access log; exit 0")

print(f"{len(FAILED)} failed" if FAILED else "all passed")
sys.exit(1 if FAILED else 0)
