"""`seqlora fetch` end to end against the local server (http_server.py): exit statuses, the store after a
failure, cache hits, resume after a kill, a GDC manifest with a token that must never leak, and the Ensembl
endpoint. The bytes the server holds and hashlib are the reference."""
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_server  # noqa: E402

BIN = os.environ["SEQLORA_BIN"]
if os.environ.get("SEQLORA_TEST_TMP"):
    os.makedirs(os.environ["SEQLORA_TEST_TMP"], exist_ok=True)
TMP = tempfile.mkdtemp(dir=os.environ.get("SEQLORA_TEST_TMP"))
STORE = os.path.join(TMP, "store")
TOKEN = "tok-9f8e7d6c5b4a-NEVER-LOG-ME"
failures = 0
all_stderr = []


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures += 1


def fetch(*args, env_extra=None):
    env = dict(os.environ)
    env.pop("GDC_TOKEN", None)
    env.update(env_extra or {})
    p = subprocess.run([BIN, "fetch", "--store", STORE, "--retry-delay", "0.01", *args], capture_output=True,
                       text=True, timeout=300, env=env)
    all_stderr.append(p.stderr + p.stdout)
    return p


def store_files():
    return [f for f in glob.glob(os.path.join(STORE, "**"), recursive=True) if os.path.isfile(f)]


def records():
    out = []
    for f in glob.glob(os.path.join(STORE, "actions", "**", "*.json"), recursive=True):
        with open(f) as fh:
            out.append(fh.read())
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    srv = http_server.start()
    base = srv.base
    data = os.urandom(150_001)
    srv.files["data.bin"] = data
    sha = hashlib.sha256(data).hexdigest()
    out = os.path.join(TMP, "out.bin")

    # a verified download, then the same call again: a cache hit that asks the server nothing
    p = fetch(base + "/files/data.bin", "-o", out, "--sha256", sha)
    check(p.returncode == 0 and read(out) == data and "ran: fetch" in p.stderr, "fetch -> verified file")
    check(p.stdout.strip() == out, "stdout names the output")
    srv.reset_counts()
    os.unlink(out)
    p = fetch(base + "/files/data.bin", "-o", out, "--sha256", sha.upper())
    check(p.returncode == 0 and "cached: fetch" in p.stderr and read(out) == data and not srv.log,
          "second identical call -> cached:, no request (%d)" % len(srv.log))
    # transfer settings are not in the key
    p = fetch(base + "/files/data.bin", "-o", out, "--sha256", sha, "--retries", "9", "--stall-timeout", "5")
    check(p.returncode == 0 and "cached: fetch" in p.stderr, "retry/timeout options do not change the key")

    # 404: exit 1, nothing written
    out404 = os.path.join(TMP, "nothing.bin")
    p = fetch(base + "/status/404/data.bin", "-o", out404)
    check(p.returncode == 1 and "404" in p.stderr and not os.path.exists(out404), "404 -> exit 1: " + p.stderr.strip())

    # an expected size of 0 is no proof the resource exists: a missing file or a 404 still fails, nothing written
    # (it used to count the fresh empty partial file as "already complete": exit 0, an empty output)
    for url in (base + "/status/404/empty.bin", "file://" + os.path.join(TMP, "no-such-file")):
        out0 = os.path.join(TMP, "size0.bin")
        p = fetch(url, "-o", out0, "--size", "0")
        check(p.returncode == 1 and not os.path.exists(out0), "--size 0, missing source -> exit 1: " + p.stderr.strip())

    # 500 then 200: retried
    srv.reset_counts()
    p = fetch(base + "/flaky/1/data.bin", "-o", os.path.join(TMP, "flaky.bin"), "--sha256", sha)
    check(p.returncode == 0 and read(os.path.join(TMP, "flaky.bin")) == data and len(srv.log) == 2,
          "500 then 200 -> success")

    # wrong body: exit 4 (integrity), no output, no blob of the wrong bytes, no record for the URL
    wrong = bytearray(data)
    wrong[-1] ^= 0xFF
    wrong_sha = hashlib.sha256(bytes(wrong)).hexdigest()
    outw = os.path.join(TMP, "wrong.bin")
    p = fetch(base + "/wrong/data.bin", "-o", outw, "--sha256", sha)
    check(p.returncode == 4 and "expected sha256" in p.stderr and not os.path.exists(outw),
          "wrong checksum -> exit 4: " + p.stderr.strip())
    check(not any(wrong_sha in f for f in store_files()) and not any("/wrong/" in r for r in records()),
          "wrong checksum -> nothing stored (no blob, no action record)")

    # truncated body: resumed within the run
    srv.reset_counts()
    p = fetch(base + "/truncate/data.bin", "-o", os.path.join(TMP, "trunc.bin"), "--sha256", sha)
    check(p.returncode == 0 and read(os.path.join(TMP, "trunc.bin")) == data and
          [e["range"] for e in srv.log] == [None, "bytes=%d-" % (len(data) // 2)], "truncated body -> resumed")

    # killed mid-transfer, then rerun: the second run resumes from the partial file in the store's workdir
    srv.reset_counts()
    outk = os.path.join(TMP, "killed.bin")
    cmd = [BIN, "fetch", "--store", STORE, base + "/stall/data.bin", "-o", outk, "--sha256", sha]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    half = len(data) // 2
    deadline = time.time() + 30
    partial = []
    while time.time() < deadline:
        partial = [f for f in glob.glob(os.path.join(STORE, "work", "*", "partial")) if os.path.getsize(f) == half]
        if partial:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    check(bool(partial), "the killed run left half the bytes in the workdir")
    p = fetch(base + "/stall/data.bin", "-o", outk, "--sha256", sha)
    srv.release.set()
    check(p.returncode == 0 and read(outk) == data and srv.log[-1]["range"] == "bytes=%d-" % half,
          "rerun after kill -> resumed at byte %d (%s)" % (half, [e["range"] for e in srv.log]))

    # two processes asking for the same file at once (two workflow jobs): the second waits for the first
    # instead of writing the same partial file
    srv.release.clear()
    srv.files["data2.bin"] = data[::-1]
    sha2 = hashlib.sha256(data[::-1]).hexdigest()
    srv.reset_counts()
    outs2 = [os.path.join(TMP, "twin%d.bin" % i) for i in range(2)]
    procs = [subprocess.Popen([BIN, "fetch", "--store", STORE, base + "/stall/data2.bin", "-o", o, "--sha256", sha2],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for o in outs2]
    deadline = time.time() + 30
    while time.time() < deadline and not srv.log:
        time.sleep(0.05)
    time.sleep(1.0)
    n_during = len(srv.log)
    srv.release.set()
    rcs = [pr.wait(timeout=120) for pr in procs]
    for pr in procs:
        all_stderr.append(pr.stderr.read())
    check(n_during == 1, "concurrent identical fetches: one transfer at a time (%d requests while stalled)" % n_during)
    check(rcs == [0, 0] and all(read(o) == data[::-1] for o in outs2), "concurrent identical fetches: both verified")

    # ---- GDC --------------------------------------------------------------------------------------------
    srv.token = TOKEN
    uuids = ["ead53b27-6ad9-4b96-b5d4-0d4f06fb2d13", "0e1999e0-9c02-4804-88b6-60b46d100739",
             "9e056a2a-a643-478a-b96c-85d5221f487a"]
    names = ["a.star_gene_counts.tsv", "b.star_gene_counts.tsv", "c.star_gene_counts.tsv"]
    blobs = [os.urandom(20_000 + 1000 * i) for i in range(3)]
    for u, b in zip(uuids, blobs):
        srv.gdc[u] = b
    srv.gdc_flaky[uuids[1]] = 1  # one 503 first
    manifest = os.path.join(TMP, "manifest.txt")
    with open(manifest, "w") as f:
        f.write("id\tfilename\tmd5\tsize\tstate\n")
        for u, n, b in zip(uuids, names, blobs):
            f.write("%s\t%s\t%s\t%d\treleased\n" % (u, n, hashlib.md5(b).hexdigest(), len(b)))
    token_file = os.path.join(TMP, "token.txt")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    gdir = os.path.join(TMP, "gdc")
    srv.reset_counts()
    p = fetch("--gdc-manifest", manifest, "-o", gdir, "--gdc-url", base + "/gdc", "--gdc-token-file", token_file,
              "--jobs", "2")
    check(p.returncode == 0 and all(read(os.path.join(gdir, n)) == b for n, b in zip(names, blobs)),
          "GDC manifest -> every file, md5 verified: " + p.stderr.strip().replace("\n", " | "))
    check("gdc: 3 fetched, 0 cached, 0 failed" in p.stderr, "GDC summary counts 3 fetched")
    check(all(e["token"] == TOKEN for e in srv.log), "the token was sent with every GDC request")
    # rerun with the token from the environment: all cached (the token is not part of any key)
    shutil.rmtree(gdir)
    srv.reset_counts()
    p = fetch("--gdc-manifest", manifest, "-o", gdir, "--gdc-url", base + "/gdc", env_extra={"GDC_TOKEN": TOKEN})
    check(p.returncode == 0 and "gdc: 0 fetched, 3 cached, 0 failed" in p.stderr and not srv.log and
          all(read(os.path.join(gdir, n)) == b for n, b in zip(names, blobs)), "GDC rerun -> all cached")
    # no token: 403, exit 1, the message says so
    bad = os.path.join(TMP, "manifest-new.txt")
    extra = os.urandom(999)
    srv.gdc["3e8cff80-ed17-479c-8327-ca8e71ee7482"] = extra
    with open(bad, "w") as f:
        f.write("id\tfilename\tmd5\tsize\tstate\n3e8cff80-ed17-479c-8327-ca8e71ee7482\td.tsv\t%s\t999\treleased\n"
                % hashlib.md5(extra).hexdigest())
    p = fetch("--gdc-manifest", bad, "-o", os.path.join(TMP, "gdc-none"), "--gdc-url", base + "/gdc")
    check(p.returncode == 1 and "403" in p.stderr and "1 failed" in p.stderr, "GDC without a token -> 403, exit 1")
    # a wrong md5 in the manifest: that file fails with exit 4, the others still arrive
    mixed = os.path.join(TMP, "manifest-mixed.txt")
    with open(mixed, "w") as f:
        f.write("id\tfilename\tmd5\tsize\tstate\n")
        f.write("%s\t%s\t%s\t%d\treleased\n" % (uuids[0], names[0], hashlib.md5(blobs[0]).hexdigest(), len(blobs[0])))
        f.write("3e8cff80-ed17-479c-8327-ca8e71ee7482\td.tsv\t%s\t999\treleased\n" % ("0" * 32))
    mdir = os.path.join(TMP, "gdc-mixed")
    p = fetch("--gdc-manifest", mixed, "-o", mdir, "--gdc-url", base + "/gdc", "--gdc-token-file", token_file)
    check(p.returncode == 4 and "gdc: 0 fetched, 1 cached, 1 failed" in p.stderr and
          read(os.path.join(mdir, names[0])) == blobs[0] and not os.path.exists(os.path.join(mdir, "d.tsv")),
          "GDC md5 mismatch -> exit 4, that file absent, the rest in place")
    # a malformed manifest: exit 3, file:line and field named
    broken = os.path.join(TMP, "manifest-broken.txt")
    with open(broken, "w") as f:
        f.write("id\tfilename\tmd5\tsize\tstate\n%s\tx.tsv\tnot-an-md5\t5\treleased\n" % uuids[0])
    p = fetch("--gdc-manifest", broken, "-o", os.path.join(TMP, "gdc-broken"), "--gdc-url", base + "/gdc")
    check(p.returncode == 3 and "manifest-broken.txt:2" in p.stderr and "'md5'" in p.stderr,
          "malformed manifest -> exit 3: " + p.stderr.strip())
    # the token never appears: not in any output of any run, not anywhere in the store (records, index, blobs)
    leaked = [f for f in store_files() if TOKEN.encode() in read(f)]
    check(not leaked, "token absent from every store file (%d files checked)" % len(store_files()))
    check(not any(TOKEN in s for s in all_stderr), "token absent from every stdout/stderr")

    # ---- Ensembl ----------------------------------------------------------------------------------------
    fasta = b">ENST00000357654.9\nATGGATTTATCTGCTCTTCGCGTTGAAGAAGTACAAAATGTCATTAATGCTATGCAGAAAATCTTAG\n"
    srv.ensembl[("ENST00000357654", "cds")] = fasta
    fa = os.path.join(TMP, "brca1.cds.fa")
    p = fetch("--ensembl", "ENST00000357654", "--type", "cds", "--ensembl-url", base + "/ensembl", "-o", fa)
    check(p.returncode == 0 and read(fa) == fasta, "Ensembl CDS -> FASTA as served")
    check(srv.log[-1]["content_type"] == "text/x-fasta" and srv.log[-1]["query"] == "type=cds" and
          srv.log[-1]["token"] is None, "Ensembl request: Content-Type text/x-fasta, ?type=cds, no token")
    p = fetch("--ensembl", "EMPTY", "--ensembl-url", base + "/ensembl", "-o", os.path.join(TMP, "e.fa"))
    check(p.returncode == 3 and "empty" in p.stderr and not os.path.exists(os.path.join(TMP, "e.fa")),
          "Ensembl empty body -> exit 3")
    p = fetch("--ensembl", "ENSG_UNKNOWN", "--ensembl-url", base + "/ensembl", "-o", os.path.join(TMP, "u.fa"))
    check(p.returncode == 1 and "not found" in p.stderr, "Ensembl unknown ID -> the server's message: " + p.stderr.strip())

    # ---- usage ------------------------------------------------------------------------------------------
    check(fetch(base + "/files/data.bin").returncode == 2, "no -o -> exit 2")
    check(fetch("/etc/hostname", "-o", out).returncode == 2, "a plain path is not a URL -> exit 2")
    check(fetch(base + "/files/data.bin", "-o", out, "--sha256", "xyz").returncode == 2, "bad --sha256 -> exit 2")
    check(fetch("--ensembl", "../x", "-o", out).returncode == 2, "bad Ensembl ID -> exit 2")

    srv.release.set()
    srv.shutdown()
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
