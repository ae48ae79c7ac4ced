"""Secrets and permissions.

1. A planted GDC token: a GDC manifest fetch (token from a file, then from $GDC_TOKEN, then a 403 failure with
   a wrong token) at SEQLORA_LOG=debug, then every way data leaves the store (store ls/show/log/stats, prov
   in both formats for every blob and action, export tar). The token must appear nowhere: not in any
   stdout/stderr, any file under the store (records, index, blobs, tmp/work leftovers), the export, the
   provenance documents or the output folder.
2. File modes follow the user's umask: with umask 022 and 077, every file and folder the store and the
   step outputs get has no permission bit the umask removes, and with 022 every store file is readable by
   the group (a store shared by a lab group must not become owner-only through mkstemp's 0600).
Known issue (docs/reliability.md): published blobs, records and pins are chmod 0444 whatever the umask, so
under umask 077 they are world-readable (the folders do follow the umask). By default those are counted as
KNOWN; STRICT_UMASK=1 (the DISABLED ctest reliability_umask_strict) fails on them.
Uses the fetch tests' local HTTP server (tests/fetch/http_server.py), so it runs offline."""
import glob, hashlib, os, shutil, stat, subprocess, sys, tarfile

SRC = os.environ["SEQLORA_SOURCE_DIR"]
sys.path.insert(0, os.path.join(SRC, "tests", "fetch"))
import http_server  # noqa: E402

BIN = os.environ["SEQLORA_BIN"]
TMP = os.environ["SEQLORA_TEST_TMP"]
DATA = os.environ["SEQLORA_TEST_DATA"]
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += 0 if cond else 1


outputs = []


def run(*args, env_extra=None, umask=None, ok=True):
    env = {k: v for k, v in os.environ.items() if k not in ("GDC_TOKEN", "SEQLORA_STORE")}
    env["SEQLORA_LOG"] = "debug"
    env.update(env_extra or {})
    pre = (lambda: os.umask(umask)) if umask is not None else None
    p = subprocess.run([BIN, *args], capture_output=True, env=env, preexec_fn=pre, timeout=300)
    outputs.append(p.stdout + p.stderr)
    if ok and p.returncode != 0:
        print("command failed:", args, p.stderr.decode(errors="replace")[-500:])
    return p


# ---- 1. the planted token ---------------------------------------------------------------------------
TOKEN = "PLANTED-gdc-TOKEN-" + hashlib.sha256(b"seqlora-reliability").hexdigest()[:40]
srv = http_server.start()
base = "http://127.0.0.1:%d" % srv.server_address[1]
srv.token = TOKEN
uuids = ["ead53b27-6ad9-4b96-b5d4-0d4f06fb2d13", "0e1999e0-9c02-4804-88b6-60b46d100739"]
blobs = [os.urandom(5000), os.urandom(7000)]
for u, b in zip(uuids, blobs):
    srv.gdc[u] = b
manifest = os.path.join(TMP, "manifest.txt")
with open(manifest, "w") as f:
    f.write("id\tfilename\tmd5\tsize\tstate\n")
    for i, (u, b) in enumerate(zip(uuids, blobs)):
        f.write("%s\tf%d.tsv\t%s\t%d\treleased\n" % (u, i, hashlib.md5(b).hexdigest(), len(b)))
token_file = os.path.join(TMP, "token.txt")
with open(token_file, "w") as f:
    f.write(TOKEN + "\n")
S = os.path.join(TMP, "store")
out = os.path.join(TMP, "gdc")
p = run("fetch", "--gdc-manifest", manifest, "-o", out, "--gdc-url", base + "/gdc", "--gdc-token-file", token_file,
        "--store", S)
check(p.returncode == 0, "GDC fetch with a token file")
check(any(e["token"] == TOKEN for e in srv.log), "the token reached the server (the plant is live)")
p = run("fetch", "--gdc-manifest", manifest, "-o", out + "2", "--gdc-url", base + "/gdc", "--no-cache", "--store", S,
        env_extra={"GDC_TOKEN": TOKEN})
check(p.returncode == 0, "GDC fetch with $GDC_TOKEN, --no-cache")
srv.gdc["3e8cff80-ed17-479c-8327-ca8e71ee7482"] = b"x"
bad = os.path.join(TMP, "manifest-403.txt")
with open(bad, "w") as f:
    f.write("id\tfilename\tmd5\tsize\tstate\n3e8cff80-ed17-479c-8327-ca8e71ee7482\tx.tsv\t%s\t1\treleased\n"
            % hashlib.md5(b"x").hexdigest())
srv.token = TOKEN + "-other"  # the server now refuses our token: the error path must not print it either
p = run("fetch", "--gdc-manifest", bad, "-o", out + "3", "--gdc-url", base + "/gdc", "--gdc-token-file", token_file,
        "--store", S, ok=False)
check(p.returncode != 0, "GDC fetch refused (403) fails")
vcf = os.path.join(DATA, "callers", "samtools.vcf")
run("clean", "--vcf", vcf, "-o", os.path.join(TMP, "c.vcf.gz"), "--min-qual", "none", "--min-dp", "none",
    "--store", S, env_extra={"GDC_TOKEN": TOKEN})
ids = [l.split()[0] for l in run("store", "ls", "--store", S).stdout.decode().splitlines() if l.strip()]
ids += [l.split()[0] for l in run("store", "ls", "--blobs", "--store", S).stdout.decode().splitlines() if l.strip()]
ids = [i for i in ids if all(c in "0123456789abcdef" for c in i) and len(i) >= 8]
check(len(ids) >= 4, "store ls lists actions and blobs (%d ids)" % len(ids))
docs = 0
for i in ids:
    run("store", "show", i, "--store", S)
    run("store", "log", i, "--store", S, ok=False)
    for fmt in ("ro-crate", "prov-json"):
        docs += run("store", "prov", i, "--format", fmt, "--store", S, ok=False).returncode == 0
run("store", "stats", "--json", "--store", S)
tar = os.path.join(TMP, "export.tar")
check(run("store", "export", tar, "--store", S).returncode == 0, "store export")
run("store", "verify", "--store", S)
leaks = []
files = [f for f in glob.glob(os.path.join(TMP, "**"), recursive=True) if os.path.isfile(f) and f != token_file
         and not f.startswith(os.path.join(TMP, "manifest"))]
for f in files:
    with open(f, "rb") as fh:
        if TOKEN.encode() in fh.read():
            leaks.append(f)
with tarfile.open(tar) as t:
    for m in t.getmembers():
        if m.isfile() and TOKEN.encode() in t.extractfile(m).read():
            leaks.append("export.tar:" + m.name)
check(not leaks, "token in none of %d files (store incl. LMDB index, outputs, export tar members): %s"
      % (len(files), leaks[:5]))
check(not any(TOKEN.encode() in o for o in outputs),
      "token in none of %d stdout/stderr at SEQLORA_LOG=debug (%d provenance documents)" % (len(outputs), docs))
n_secret_runs = len(outputs)
secret_ok = not leaks and not any(TOKEN.encode() in o for o in outputs)

# ---- 2. umask -----------------------------------------------------------------------------------------
perm_files = perm_bad = n_known_perm = 0
for um in (0o022, 0o077):
    St = os.path.join(TMP, "store-%03o" % um)
    od = os.path.join(TMP, "out-%03o" % um)
    os.makedirs(od)
    os.chmod(od, 0o777 & ~um)  # made by this test, as the user's shell would make it under that umask
    data = os.path.join(TMP, "in-%03o.bin" % um)
    with open(data, "wb") as f:
        f.write(os.urandom(100_000))
    r1 = run("fetch", "file://" + data, "-o", os.path.join(od, "in.bin"), "--store", St, umask=um)
    r2 = run("clean", "--vcf", vcf, "-o", os.path.join(od, "c.vcf.gz"), "--min-qual", "none", "--min-dp", "none",
             "--store", St, umask=um)
    r3 = run("store", "pin", r1.stdout.decode().split()[0] if False else hashlib.sha256(open(data, "rb").read()).hexdigest(),
             "--store", St, umask=um)
    check(r1.returncode == 0 and r2.returncode == 0 and r3.returncode == 0, "umask %03o: fetch, clean, pin" % um)
    too_open, not_group_readable = [], []
    for root in (St, od):
        for f in sorted(set([root] + [x.rstrip("/") for x in glob.glob(os.path.join(root, "**"), recursive=True)])):
            st = os.lstat(f)
            if stat.S_ISLNK(st.st_mode):
                continue
            perm_files += 1
            mode = stat.S_IMODE(st.st_mode)
            if mode & um:
                too_open.append("%s %04o" % (os.path.relpath(f, TMP), mode))
            if um == 0o022 and root == St and stat.S_ISREG(st.st_mode) and not mode & stat.S_IRGRP \
                    and "/index/" not in f and "/tmp/" not in f and not f.endswith(".lock"):
                not_group_readable.append("%s %04o" % (os.path.relpath(f, TMP), mode))
    strict = os.environ.get("STRICT_UMASK") == "1"
    known = [x for x in too_open if x.endswith(" 0444") and ("/blobs/" in x or "/actions/" in x or "/pins/" in x)]
    if known and not strict:
        print("KNOWN umask %03o: %d published store files are 0444 whatever the umask, e.g. %s"
              % (um, len(known), known[0]))
        too_open = [x for x in too_open if x not in known]
        n_known_perm = len(known)
    perm_bad += len(too_open) + len(not_group_readable)
    check(not too_open, "umask %03o: no file or folder has a bit the umask removes: %s" % (um, too_open[:6]))
    if um == 0o022:
        check(not not_group_readable, "umask 022: store files (blobs, records, pins) readable by the group: %s (%d)"
              % (not_group_readable[:6], len(not_group_readable)))

print("RESULT\tsecrets\t%d\t%d\tplanted GDC token vs %d files + export tar + %d stdout/stderr at debug log level"
      % (n_secret_runs, n_secret_runs if secret_ok else 0, len(files), n_secret_runs))
print("RESULT\tumask\t%d\t%d\tfile/folder modes under umask 022 and 077 (store + outputs); known 0444-under-077: %d"
      % (perm_files, perm_files - perm_bad - n_known_perm, n_known_perm))
srv.shutdown()
if failures:
    print("%d check(s) failed" % failures)
    sys.exit(1)
print("all checks passed")
