"""HTTP behaviour of the download library and the fetch steps, against the local server (http_server.py).

Run by ctest with the path of the fetch_probe driver as the first argument. Every check compares with the
bytes the server holds (hashlib is the reference for the digests)."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_server  # noqa: E402

PROBE = sys.argv[1]
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures += 1


def probe(*args):
    p = subprocess.run([PROBE, *args], capture_output=True, text=True, timeout=120)
    try:
        out = json.loads(p.stdout)
    except ValueError:
        out = {"rc": None, "stdout": p.stdout, "stderr": p.stderr}
    out["exit"] = p.returncode
    out["stderr"] = p.stderr
    return out


def main():
    srv = http_server.start()
    base = srv.base
    data = bytes((i * 2654435761 >> 24) & 0xFF for i in range(200_003))
    srv.files["data.bin"] = data
    sha = hashlib.sha256(data).hexdigest()
    md5 = hashlib.md5(data).hexdigest()
    if os.environ.get("SEQLORA_TEST_TMP"):
        os.makedirs(os.environ["SEQLORA_TEST_TMP"], exist_ok=True)
    tmp = tempfile.mkdtemp(dir=os.environ.get("SEQLORA_TEST_TMP"))
    part = os.path.join(tmp, "part")

    def fresh():
        if os.path.exists(part):
            os.unlink(part)
        srv.reset_counts()

    def content():
        with open(part, "rb") as f:
            return f.read()

    # plain download, digests checked against hashlib
    fresh()
    r = probe("get", base + "/files/data.bin", part, "--sha256", sha, "--md5", md5, "--size", str(len(data)))
    check(r["rc"] == 0 and r["sha256"] == sha and r["md5"] == md5 and content() == data, "200 -> verified bytes")

    # 404: an error at once, no retries
    fresh()
    r = probe("get", base + "/status/404/data.bin", part)
    check(r["exit"] == 1 and r["code"] == "not found" and "404" in r["msg"], "404 -> not found: " + r["msg"])
    check(len(srv.log) == 1, "404 is not retried (%d requests)" % len(srv.log))

    # 403 (a 4xx): no retries either
    fresh()
    r = probe("get", base + "/status/403/data.bin", part)
    check(r["exit"] == 1 and len(srv.log) == 1, "403 -> error without retries: " + r["msg"])

    # 500 twice then 200: retried, success
    fresh()
    r = probe("get", base + "/flaky/2/data.bin", part, "--sha256", sha)
    check(r["rc"] == 0 and r["attempts"] == 3 and content() == data, "500, 500, 200 -> success after 3 attempts")

    # 503 for ever: gives up after 1 + retries attempts with the server's status in the message
    fresh()
    r = probe("get", base + "/status/503/data.bin", part, "--retries", "2")
    check(r["exit"] == 1 and len(srv.log) == 3 and "503" in r["msg"] and "3 attempts" in r["msg"],
          "503 always -> gives up after 3 attempts: " + r["msg"])

    # wrong body: integrity error (exit 4), partial file removed
    fresh()
    r = probe("get", base + "/wrong/data.bin", part, "--sha256", sha)
    check(r["exit"] == 4 and "expected sha256" in r["msg"] and not os.path.exists(part),
          "wrong body -> integrity error, nothing kept: " + r["msg"])

    # truncated body: resumed with a Range request, right bytes in the end
    fresh()
    r = probe("get", base + "/truncate/data.bin", part, "--sha256", sha, "--size", str(len(data)))
    ranges = [e["range"] for e in srv.log]
    half = len(data) // 2
    check(r["rc"] == 0 and content() == data, "truncated body -> resumed to the right bytes")
    check(ranges == [None, "bytes=%d-" % half] and r["resumed"] == 1 and r["bytes"] == len(data),
          "resume asked for bytes=%d- (requests: %s)" % (half, ranges))

    # truncated without a known size: curl sees the short body against Content-Length and resumes too
    fresh()
    r = probe("get", base + "/truncate/data.bin", part)
    check(r["rc"] == 0 and content() == data and r["resumed"] == 1, "truncated, size unknown -> resumed")

    # a partial file from an earlier (killed) run is continued, not restarted
    fresh()
    with open(part, "wb") as f:
        f.write(data[:1234])
    r = probe("get", base + "/files/data.bin", part, "--sha256", sha)
    check(r["rc"] == 0 and content() == data and srv.log[0]["range"] == "bytes=1234-" and
          r["bytes"] == len(data) - 1234, "earlier partial -> Range bytes=1234-")

    # a server that ignores Range: start again from zero
    fresh()
    with open(part, "wb") as f:
        f.write(data[:1234])
    r = probe("get", base + "/norange/data.bin", part, "--sha256", sha)
    check(r["rc"] == 0 and content() == data, "server without Range support -> full download, right bytes")

    # a corrupted earlier partial: verification fails, one clean download from zero fixes it
    fresh()
    with open(part, "wb") as f:
        f.write(b"X" * 1000)
    r = probe("get", base + "/files/data.bin", part, "--sha256", sha)
    check(r["rc"] == 0 and content() == data and [e["range"] for e in srv.log] == ["bytes=1000-", None],
          "corrupted partial -> redownloaded from zero")

    # redirects: followed; a secret header goes only to the first origin
    fresh()
    r = probe("get", base + "/redirect/data.bin", part, "--sha256", sha, "--secret", "X-Auth-Token", "s3cr3t")
    check(r["rc"] == 0 and [e["token"] for e in srv.log] == ["s3cr3t", "s3cr3t"], "same-origin redirect keeps the token")
    fresh()
    r = probe("get", base + "/redirect-other/data.bin", part, "--sha256", sha, "--secret", "X-Auth-Token", "s3cr3t")
    check(r["rc"] == 0 and [e["token"] for e in srv.log] == ["s3cr3t", None] and
          srv.log[1]["host"].startswith("localhost"), "cross-origin redirect drops the token (%s)" % srv.log)

    # a token the server rejects: the message says 403 and never contains the token
    srv.token = "right-token"
    srv.gdc["ead53b27-6ad9-4b96-b5d4-0d4f06fb2d13"] = data
    fresh()
    r = probe("get", base + "/gdc/data/ead53b27-6ad9-4b96-b5d4-0d4f06fb2d13", part, "--secret", "X-Auth-Token",
              "wrong-token-XYZ")
    check(r["exit"] == 1 and "403" in r["msg"] and "wrong-token-XYZ" not in r["msg"] + r["stderr"],
          "rejected token -> 403 without the token in the message: " + r["msg"])
    srv.token = None

    # an unreachable port: connection refused is retried, then a clear error
    fresh()
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()
    r = probe("get", "http://127.0.0.1:%d/x" % dead, part, "--retries", "1")
    check(r["exit"] == 1 and "2 attempts" in r["msg"], "connection refused -> error after retries: " + r["msg"])

    # in memory (the Ensembl path): the header is sent, 400 bodies are quoted in the error
    srv.ensembl[("ENST00000357654", "cds")] = b">ENST00000357654.9\nATGGATTTATCTGCTCTTCGCGTTGAAG\n"
    fresh()
    r = probe("mem", base + "/ensembl/sequence/id/ENST00000357654?type=cds", "--header", "Content-Type: text/x-fasta")
    check(r["rc"] == 0 and r["body"].startswith(">ENST00000357654.9"), "mem download with the FASTA header")
    r = probe("mem", base + "/ensembl/sequence/id/NOPE?type=cds", "--header", "Content-Type: text/x-fasta")
    check(r["exit"] == 1 and "not found" in r["msg"] and "400" in r["msg"], "400 body quoted: " + r["msg"])

    # the fetch_ensembl step: FASTA written; empty and HTML bodies are errors
    out = os.path.join(tmp, "out")
    work = os.path.join(tmp, "work")
    os.makedirs(out)
    os.makedirs(work)
    params = {"id": "ENST00000357654", "type": "cds", "url": base + "/ensembl"}
    r = probe("step", "fetch_ensembl", json.dumps(params), out, work)
    fa = os.path.join(out, "sequence.fa")
    check(r["rc"] == 0 and open(fa, "rb").read() == srv.ensembl[("ENST00000357654", "cds")],
          "fetch_ensembl step writes the FASTA as served")
    os.unlink(fa)
    for ident, what in (("EMPTY", "empty"), ("HTML", "expected FASTA")):
        r = probe("step", "fetch_ensembl", json.dumps(dict(params, id=ident)), out, work)
        check(r["exit"] == 3 and what in r["msg"] and not os.listdir(out), "%s body -> data error: %s" % (ident, r["msg"]))

    # the fetch step keeps its partial file in the workdir: a truncated transfer resumes within one run
    fresh()
    r = probe("step", "fetch", json.dumps({"url": base + "/truncate/data.bin", "sha256": sha}), out, work)
    check(r["rc"] == 0 and open(os.path.join(out, "file"), "rb").read() == data and r["summary"]["resumed"] == 1,
          "fetch step: truncated -> resumed, output verified")
    check(not os.path.exists(os.path.join(work, "partial")), "fetch step: the partial file moved into the output")
    os.unlink(os.path.join(out, "file"))
    # ...and a partial left by a killed run is continued
    with open(os.path.join(work, "partial"), "wb") as f:
        f.write(data[:5000])
    fresh()
    r = probe("step", "fetch", json.dumps({"url": base + "/files/data.bin", "sha256": sha}), out, work)
    check(r["rc"] == 0 and srv.log[0]["range"] == "bytes=5000-" and
          open(os.path.join(out, "file"), "rb").read() == data, "fetch step: resumes the workdir partial")
    os.unlink(os.path.join(out, "file"))
    # wrong checksum: integrity, nothing in the outdir
    r = probe("step", "fetch", json.dumps({"url": base + "/wrong/data.bin", "sha256": sha}), out, work)
    check(r["exit"] == 4 and not os.listdir(out), "fetch step: wrong body -> integrity error, empty outdir")

    srv.shutdown()
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
