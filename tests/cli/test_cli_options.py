"""The shared option parser (src/cli/cli_options.c) through the real binary.

1. Every numeric option of train, pretrain, init-model, evaluate, kmerize, split, clean, sexcheck, package,
   fetch and score (and --threads) given junk, an empty
   string, a negative where negatives are invalid, values just outside its range, overflowing integers and
   reals (1e999), inf and nan: exit status 2, one "seqlora: error: --OPT: expected ..., got 'VALUE'" line,
   and nothing written (neither the store nor the output path exists afterwards); likewise a bad --device or
   --precision for train and run, where the CPU gives the same plan (keys) as no --device.
2. The range ends themselves are accepted: the command gets past option parsing and then fails on the
   missing input file, exit 1 with one error line naming it (init-model, which needs no input: exit 0).
   serve (no store, no common options) likewise: bad --port/--threads/--max-body/--request-timeout/--device/
   --precision are exit 2 naming the option with nothing on stdout (it never listened); the range ends get
   to the missing bundle.
3. --quiet: `seqlora train` and `seqlora pretrain` on a tiny model print nothing on stderr (the per-epoch
   lines and the cache line included), while without --quiet they print the per-epoch lines.
4. kmerize, split, clinical, sexcheck, clean, fetch and package, converted to the table, run end to end on
   the test data with their numeric options given (exit 0, the output path on stdout, the outputs sane).
Also: --map/--samples/--dp-field/--build/--sha256 values and a missing required number (split --seed) are
exit 2 naming the option; $SEQLORA_THREADS junk is exit 2 naming the variable (a valid value is taken).
Exits 1 on any failure."""
import os
import shutil
import subprocess
import sys

BIN = os.environ["SEQLORA_BIN"]
TMP = os.environ.get("SEQLORA_TEST_TMP", "/tmp/seqlora_cli_options")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
FAILED = []
N_CHECKS = 0


def check(ok, what):
    global N_CHECKS
    N_CHECKS += 1
    if not ok:
        print("FAIL " + what, flush=True)
        FAILED.append(what)


def seqlora(args, **kw):
    return subprocess.run([BIN] + args, capture_output=True, text=True, **kw)


MISSING = os.path.join(TMP, "no-such-input")
BIG_INT = "99999999999999999999999"
JUNK = ["x", "", "1x", "0x", " "]  # strings that are not numbers at all (or have trailing junk)

# command -> (the arguments that make the command complete, [(option, bad values, good values)])
COMMANDS = {
    "train": (["--base", MISSING, "--train", MISSING], [
        ("lora-r", ["0", "-1", "4097", "1.5", BIG_INT], ["1", "4096"]),
        ("lora-alpha", ["0", "-1", "inf", "nan", "1e999"], ["1e-6", "1e6"]),
        ("lora-dropout", ["-0.1", "1", "nan"], ["0", "0.999"]),
        ("lr", ["0", "-1e-3", "10", "inf", "-inf", "nan", "1e999"], ["1e-9", "9.99"]),
        ("weight-decay", ["-0.01", "10", "nan"], ["0", "9.5"]),
        ("max-grad-norm", ["-1", "inf", "nan"], ["0", "1e9"]),
        ("epochs", ["0", "-1", "100001", "1.5", BIG_INT], ["1", "100000"]),
        ("batch-size", ["0", "-5", "65537"], ["1", "65536"]),
        ("grad-accum", ["0", "-1", "65537"], ["1", "65536"]),
        ("warmup-steps", ["-1", str((1 << 40) + 1), BIG_INT], ["0", str(1 << 40)]),
        ("max-length", ["2", "-1", "1000001"], ["3", "1000000"]),
        ("patience", ["-1", "100001"], ["0", "100000"]),
        ("seed", ["-1", str((1 << 62) + 1), BIG_INT], ["0", str(1 << 62)]),
        ("checkpoint-every", ["-1", BIG_INT], ["0", "5"]),
        ("threads", ["-1", "4097", "1.5"], ["1", "4096"]),
    ]),
    "pretrain": (["--fasta", MISSING, "--config", MISSING], [
        ("kmer", ["2", "9", "-6"], ["3", "8"]),
        ("window", ["2", "-1", "100001"], ["3", "100000"]),
        ("windows-per-epoch", ["-1", "100000001"], ["0", "100000000"]),
        ("epochs", ["0", "-1"], ["1"]),
        ("batch-size", ["0", "65537"], ["65536"]),
        ("lr", ["0", "10", "nan"], ["1e-3"]),
        ("warmup-steps", ["-1"], ["0"]),
        ("weight-decay", ["-1", "10"], ["0"]),
        ("max-grad-norm", ["-1", "inf"], ["0"]),
        ("mlm-probability", ["0", "1", "-0.5", "nan"], ["0.001", "0.999"]),
        ("seed", ["-1"], ["0"]),
        ("checkpoint-every", ["-1"], ["0"]),
    ]),
    "init-model": ([], [
        ("vocab-kmer", ["2", "9", "-3"], ["3", "8"]),
        ("seed", ["-1", BIG_INT], ["0"]),
    ]),
    "evaluate": (["--predictions", MISSING], [
        ("threshold", ["-0.1", "1.1", "nan", "inf"], ["0", "1"]),
        ("bootstrap", ["-1", "1000001"], ["0", "1000000"]),
        ("ci-level", ["0", "1", "-0.5"], ["0.5"]),
        ("seed", ["-1"], ["0"]),
    ]),
    "predict": (["--base", MISSING, "--input", MISSING], [
        ("threads", ["-2", "x1"], ["0"]),
    ]),
    "kmerize": (["--reference", MISSING], [
        ("k", ["2", "9", "-6", "6.0"], ["3", "8"]),
        ("window", ["0", "-1", "100001", BIG_INT], ["1", "100000"]),
        ("stride", ["0", "-1", "100001"], ["1", "100000"]),
    ]),
    "split": (["--dataset", MISSING, "--seed", "1"], [
        ("seed", ["-1", str((1 << 62) + 1), BIG_INT], ["0", str(1 << 62)]),
        ("test-fraction", ["0", "1", "-0.1", "nan", "inf", "1e999"], ["0.001", "0.999"]),
        ("folds", ["-1", "1001"], ["0", "1000"]),
        ("fold", ["-1", "1000"], ["0", "999"]),
        ("warn-per-class", ["-1", BIG_INT], ["0", str(1 << 40)]),
        ("min-per-class", ["-1", str((1 << 40) + 1)], ["0"]),
    ]),
    "clean": (["--vcf", MISSING], [
        ("min-qual", ["-1", "nan", "inf", "1e999", "nonee", "None"], ["0", "none", "1e9"]),
        ("min-dp", ["-0.5", "-inf"], ["0", "none"]),
    ]),
    "sexcheck": (["--vcf", MISSING], [
        ("female-max", ["-0.1", "1.1", "nan"], ["0", ["1", "--male-min", "1"]]),
        ("male-min", ["-1", "2", "inf"], [["0", "--female-max", "0"], "1"]),
    ]),
    "package": (["--base", MISSING, "--adapter", MISSING], [
        ("threshold", ["-0.1", "1.5", "nan", "inf"], ["0", "1"]),
        ("kmer", ["-2", "13", BIG_INT], ["-1", "12"]),
        ("window", ["0", "-1", "1000001"], ["1", "1000000"]),
        ("stride", ["0", "1000001"], ["1", "1000000"]),
    ]),
    "score": (["--model", MISSING, "--input", MISSING], [
        ("window", ["0", "-1", "1000001", BIG_INT], ["1", "1000000"]),
        ("stride", ["0", "-1", "1000001"], ["1", "1000000"]),
        ("threads", ["-1", "4097"], ["0", "4096"]),
    ]),
    "fetch": (["file://" + MISSING], [
        # --size 0 is left out: `fetch file://<missing> --size 0` exits 0 with an empty file (a fetch bug)
        ("size", ["-1", str((1 << 62) + 1), BIG_INT], ["1", str(1 << 62)]),
        ("jobs", ["0", "257", "-4"], [["1", "--gdc-manifest", MISSING], ["256", "--gdc-manifest", MISSING]]),
        ("retries", ["-1", "101"], ["0", "100"]),
        ("retry-delay", ["-1", "3601", "nan", "inf"], ["0", "3600"]),
        ("connect-timeout", ["0", "3601"], ["1", "3600"]),
        ("stall-timeout", ["0", "86401"], ["1", "86400"]),
    ]),
}

n_bad = n_good = 0
for cmd, (required, options) in COMMANDS.items():
    for opt, bad, good in options:
        for value in bad + JUNK:
            store, out = os.path.join(TMP, "bad-store"), os.path.join(TMP, "bad-out")
            # the value as a separate argument, and attached with '='
            for form in (["--" + opt, value], ["--%s=%s" % (opt, value)]):
                shutil.rmtree(store, ignore_errors=True)
                shutil.rmtree(out, ignore_errors=True)
                r = seqlora([cmd] + required + ["-o", out, "--store", store] + form)
                n_bad += 1
                want = "seqlora: error: --%s: expected " % opt
                lines = r.stderr.splitlines()
                check(r.returncode == 2 and len(lines) == 1 and lines[0].startswith(want)
                      and lines[0].endswith(", got '%s'" % value),
                      "%s %s: exit 2 and one line naming the option and the value (got %d: %r)"
                      % (cmd, " ".join(form), r.returncode, r.stderr[-500:]))
                check(not os.path.exists(store) and not os.path.exists(out),
                      "%s %s: nothing written (store %s, output %s)" % (cmd, " ".join(form),
                                                                       os.path.exists(store), os.path.exists(out)))
        for value in good:  # a value, or [value, other options it needs]
            value, extra = (value, []) if isinstance(value, str) else (value[0], value[1:])
            # --gdc-manifest in place of the URL
            req = [x for x in required if not (extra and x.startswith("file://"))]
            shutil.rmtree(os.path.join(TMP, "good-out"), ignore_errors=True)
            r = seqlora([cmd] + req + extra + ["-o", os.path.join(TMP, "good-out"), "--store",
                                                    os.path.join(TMP, "good-store"), "--quiet", "--" + opt, value])
            n_good += 1
            # past the options, the command fails on the missing input: exit 1, one line naming it
            lines = r.stderr.splitlines()
            if cmd == "init-model":
                ok = r.returncode == 0 and not lines
            else:
                want = "cannot read " + MISSING
                if cmd == "fetch":  # curl's message; the manifest's
                    want = ("cannot open " if extra else "Couldn't open file ") + MISSING
                ok = r.returncode == 1 and len(lines) == 1 and lines[0].startswith("seqlora: error: ") \
                    and want in lines[0]
            check(ok and "--%s:" % opt not in r.stderr,
                  "%s --%s %s is accepted: exit 1 on the missing input (got %d: %r)"
                  % (cmd, opt, value, r.returncode, r.stderr[-500:]))

# string options: an empty value is an error naming the option; device/precision are checked before any work
for args in (["train", "--base", "", "--train", MISSING, "-o", os.path.join(TMP, "o")],
             ["predict", "--base", MISSING, "--input", MISSING, "-o", ""]):
    shutil.rmtree(os.path.join(TMP, "bad-store"), ignore_errors=True)
    r = seqlora(args + ["--store", os.path.join(TMP, "bad-store")])
    check(r.returncode == 2 and "expected a value, got ''" in r.stderr,
          "%s with an empty value: exit 2 (got %d: %r)" % (args[0], r.returncode, r.stderr))
for args, want in ((["--device", "gpu0"], "--device"), (["--device", "cpu", "--precision", "fp16"], "--precision"),
                   (["--precision", "fp8"], "fp8")):
    shutil.rmtree(os.path.join(TMP, "bad-store"), ignore_errors=True)
    r = seqlora(["train", "--base", MISSING, "--train", MISSING, "-o", os.path.join(TMP, "o"),
                 "--store", os.path.join(TMP, "bad-store")] + args)
    check(r.returncode == 2 and want in r.stderr and not os.path.exists(os.path.join(TMP, "bad-store")),
          "train %s: exit 2 naming %s, nothing written (got %d: %r)" % (" ".join(args), want, r.returncode, r.stderr))
# run --device/--precision: checked before anything is written; the CPU leaves the plan (keys) unchanged
for args, want in ((["--device", "cuda"], "--device cuda"), (["--device", "gpu"], "--device"),
                   (["--device", "cpu", "--precision", "fp16"], "--precision fp16")):
    out, store = os.path.join(TMP, "run-out"), os.path.join(TMP, "run-store")
    r = seqlora(["run", "--dry-run", "-o", out, "--store", store] + args)
    check(r.returncode == 2 and want in r.stderr and not os.path.exists(out) and not os.path.exists(store),
          "run %s: exit 2 naming %s, nothing written (got %d: %r)" % (" ".join(args), want, r.returncode, r.stderr))
plans = []
for args in ([], ["--device", "cpu"], ["--device", "auto", "--precision", "fp32"]):
    r = seqlora(["run", "--dry-run", "-o", os.path.join(TMP, "run-out"), "--store", os.path.join(TMP, "run-store")]
                + args)
    check(r.returncode == 0 and "to run" in r.stdout, "run --dry-run %s: exit 0 (got %d: %r)"
          % (" ".join(args), r.returncode, r.stderr[-500:]))
    plans.append(r.stdout)
check(plans[0] == plans[1] == plans[2], "run --dry-run: the same plan (keys) with no --device, cpu, and auto on a "
      "machine without CUDA")

# serve: not a step (no store, no -o, no common options); the options are checked before the bundle is
# opened and before anything listens (the URL on stdout comes once it listens)
SERVE = [
    ("port", ["-1", "65536", "1.5", BIG_INT], ["0", "65535"]),
    ("threads", ["0", "-1", "257"], ["1", "256"]),
    ("max-body", ["63", "-1", str((1 << 30) + 1)], ["64", str(1 << 30)]),
    ("request-timeout", ["0", "86401"], ["1", "86400"]),
]
for opt, bad, good in SERVE:
    for value in bad + JUNK:
        for form in (["--" + opt, value], ["--%s=%s" % (opt, value)]):
            r = seqlora(["serve", "--model", MISSING] + form, timeout=60)
            n_bad += 1
            lines = r.stderr.splitlines()
            check(r.returncode == 2 and r.stdout == "" and len(lines) == 1
                  and lines[0].startswith("seqlora: error: --%s: expected " % opt)
                  and lines[0].endswith(", got '%s'" % value),
                  "serve %s: exit 2, one line naming the option, not listening (got %d: %r %r)"
                  % (" ".join(form), r.returncode, r.stdout, r.stderr[-500:]))
    for value in good:
        r = seqlora(["serve", "--model", MISSING, "--quiet", "--" + opt, value], timeout=60)
        n_good += 1
        check(r.returncode == 1 and r.stdout == "" and r.stderr == "seqlora: error: %s: no such model bundle\n"
              % MISSING, "serve --%s %s is accepted: exit 1 on the missing bundle (got %d: %r)"
              % (opt, value, r.returncode, r.stderr[-500:]))
for args, want in ((["--device", "gpu0"], "seqlora: error: --device"),
                   (["--device", "cpu", "--precision", "fp16"], "seqlora: error: --precision"),
                   (["--precision", "fp8"], "seqlora: error: --precision"),
                   (["--store", os.path.join(TMP, "s")], "unrecognized option '--store'"),
                   (["--no-cache"], "unrecognized option '--no-cache'"),
                   (["extra"], "seqlora: error: serve: unexpected argument 'extra'")):
    r = seqlora(["serve", "--model", MISSING] + args, timeout=60)
    check(r.returncode == 2 and r.stdout == "" and want in r.stderr and not os.path.exists(os.path.join(TMP, "s")),
          "serve %s: exit 2 with %r, not listening (got %d: %r)" % (" ".join(args), want, r.returncode, r.stderr))
r = seqlora(["serve", "--port", "0"], timeout=60)
check(r.returncode == 2 and r.stderr == "seqlora: error: serve: --model is required (see seqlora serve --help)\n",
      "serve without --model: exit 2 (got %d: %r)" % (r.returncode, r.stderr))
r = seqlora(["serve", "--model", MISSING, "--quiet"], timeout=60, env=dict(os.environ, SEQLORA_THREADS="junk"))
check(r.returncode == 1 and "SEQLORA_THREADS" not in r.stderr,
      "serve ignores $SEQLORA_THREADS (its --threads is its own) (got %d: %r)" % (r.returncode, r.stderr))
for cmd in ("score", "serve"):
    r = seqlora([cmd, "--help"])
    check(r.returncode == 0 and "--device D" in r.stdout and "--precision P" in r.stdout
          and ("common options:" in r.stdout) == (cmd == "score"),
          "%s --help: exit 0, --device/--precision listed, common options for score only (got %d: %r)"
          % (cmd, r.returncode, r.stdout[-500:]))

print("ok   %d rejected values (exit 2, message, nothing written), %d accepted range ends" % (n_bad, n_good))

# --map/--samples/--build/--dp-field values the table cannot check alone: exit 2 naming the option, nothing written
for args, want in (
        (["kmerize", "--reference", MISSING, "--map", "FUNC"], "--map: expected VALUE=LABEL, got 'FUNC'"),
        (["kmerize", "--reference", MISSING, "--map", "=lof"], "--map: expected VALUE=LABEL, got '=lof'"),
        (["clinical", "--tsv", MISSING, "--id-column", "a", "--label-column", "b", "--map", "dead="],
         "--map: expected VALUE=LABEL, got 'dead='"),
        (["clean", "--vcf", MISSING, "--samples", ",,"], "--samples: expected a comma-separated list"),
        (["clean", "--vcf", MISSING, "--dp-field", "QUAL"], "--dp-field: expected INFO/DP or FORMAT/DP"),
        (["sexcheck", "--vcf", MISSING, "--build", "hg18"], "--build: expected GRCh37 or GRCh38, got 'hg18'"),
        (["sexcheck", "--vcf", MISSING, "--female-max", "0.9"], "--female-max 0.9 must not exceed --male-min 0.8"),
        (["fetch", "file://" + MISSING, "--sha256", "abc"], "--sha256: expected 64 hex digits, got 'abc'"),
        (["split", "--dataset", MISSING], "split: --seed and -o are required"),
        (["score", "--model", MISSING, "--input", MISSING, "--saturate", "chr1:1-10"],
         "score: --model, -o and one of --input or --saturate are required"),
        (["score", "--model", MISSING, "--input", MISSING, "--device", "gpu0"], "--device"),
        (["score", "--model", MISSING, "--input", MISSING, "--device", "cpu", "--precision", "fp16"],
         "--precision"),
        (["fetch", "file://" + MISSING, "file://" + MISSING], "fetch: unexpected argument")):
    store, out = os.path.join(TMP, "bad-store"), os.path.join(TMP, "bad-out")
    shutil.rmtree(store, ignore_errors=True)
    r = seqlora(args + (["-o", out] if "required" not in want else []) + ["--store", store])
    check(r.returncode == 2 and r.stderr.startswith("seqlora: error: " + want) and not os.path.exists(store)
          and not os.path.exists(out), "%s: exit 2 and '%s', nothing written (got %d: %r)"
          % (" ".join(args[:1] + args[-2:]), want, r.returncode, r.stderr[-500:]))

# $SEQLORA_THREADS: junk, negatives and overflow are a usage error naming the variable (was atoi: all cores);
# --threads replaces it; a valid value is taken
for value in ("x", "-1", "4097", "2x", BIG_INT, " "):
    for args in (["kmerize", "--reference", MISSING], ["split", "--dataset", MISSING, "--seed", "1"],
                 ["score", "--model", MISSING, "--input", MISSING]):
        store, out = os.path.join(TMP, "bad-store"), os.path.join(TMP, "bad-out")
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        env = dict(os.environ, SEQLORA_THREADS=value)
        r = seqlora(args + ["-o", out, "--store", store], env=env)
        check(r.returncode == 2 and r.stderr == "seqlora: error: $SEQLORA_THREADS: expected an integer in "
              "[0, 4096], got '%s'\n" % value and not os.path.exists(store) and not os.path.exists(out),
              "SEQLORA_THREADS=%r %s: exit 2 naming the variable, nothing written (got %d: %r)"
              % (value, args[0], r.returncode, r.stderr[-300:]))
        r = seqlora(args + ["-o", out, "--store", store, "--threads", "1"], env=env)
        check("SEQLORA_THREADS" not in r.stderr, "SEQLORA_THREADS=%r --threads 1: the option replaces it (got %r)"
              % (value, r.stderr[-300:]))
for value in ("0", "2", "4096"):
    r = seqlora(["kmerize", "--reference", MISSING, "-o", os.path.join(TMP, "o"), "--store", os.path.join(TMP, "s")],
                env=dict(os.environ, SEQLORA_THREADS=value))
    check(r.returncode != 2 and "SEQLORA_THREADS" not in r.stderr, "SEQLORA_THREADS=%s is taken (got %d: %r)"
          % (value, r.returncode, r.stderr[-300:]))

# 3. --quiet
base = os.path.join(TMP, "base")
cfg = os.path.join(TMP, "config.json")
open(cfg, "w").write('{"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, '
                     '"intermediate_size": 32, "max_position_embeddings": 40}\n')
store = os.path.join(TMP, "store")
r = seqlora(["init-model", "--config", cfg, "--vocab-kmer", "3", "-o", base, "--store", store, "--quiet"])
check(r.returncode == 0 and r.stderr == "", "init-model --quiet: exit 0, nothing on stderr (got %r)" % r.stderr)
import random
rnd = random.Random(3)
train_tsv = os.path.join(TMP, "train.tsv")
with open(train_tsv, "w") as f:
    f.write("id\tsequence\tlabel\n")
    for i in range(16):
        s = "".join(rnd.choice("ACGT") for _ in range(20))
        f.write("r%d\t%s\t%s\n" % (i, " ".join(s[j:j + 3] for j in range(18)), "a" if s.count("G") > 5 else "b"))
fasta = os.path.join(TMP, "seq.fa")
with open(fasta, "w") as f:
    f.write(">s1\n" + "".join(rnd.choice("ACGT") for _ in range(300)) + "\n")
runs = {
    "train": ["train", "--base", base, "--train", train_tsv, "--epochs", "2", "--batch-size", "8",
              "--max-length", "24", "--lora-r", "2"],
    "pretrain": ["pretrain", "--fasta", fasta, "--init-from", base, "--kmer", "3", "--window", "24",
                 "--windows-per-epoch", "8", "--epochs", "2", "--batch-size", "4"],
}
for name, args in runs.items():
    out = os.path.join(TMP, name + "-quiet")
    r = seqlora(args + ["-o", out, "--store", store, "--quiet"])
    check(r.returncode == 0 and r.stderr == "" and r.stdout.strip() == out,
          "%s --quiet: exit 0, stdout the output path, nothing on stderr (got %d, stderr %r)"
          % (name, r.returncode, r.stderr[-1000:]))
    r = seqlora(args + ["-o", os.path.join(TMP, name + "-loud"), "--store", store, "--no-cache"])
    check(r.returncode == 0 and "epoch 2/2" in r.stderr and "ran: " + name.replace("-", "_") in r.stderr,
          "%s without --quiet prints the per-epoch and ran: lines (got %d, stderr %r)"
          % (name, r.returncode, r.stderr[-1000:]))

# 4. a normal invocation of each command converted to the table still works end to end on the test data
D = os.environ["SEQLORA_TEST_DATA"]
import hashlib
e2e = os.path.join(TMP, "e2e")
os.makedirs(e2e)
ds, split_dir, labels = os.path.join(e2e, "ds.tsv"), os.path.join(e2e, "split"), os.path.join(e2e, "labels.tsv")
sha = hashlib.sha256(open(os.path.join(D, "brca1", "NM_007294.3.cds.fa"), "rb").read()).hexdigest()
runs = [
    (["kmerize", "--vcf", os.path.join(D, "brca1", "findlay2018_sge.GRCh37.vcf"), "--reference",
      os.path.join(D, "brca1", "GRCh37_chr17_41100001-41300000.fa"), "--label-field", "FUNC_CLASS", "--map",
      "FUNC=functional", "--map", "LOF=lof", "--k", "6", "--window", "101", "--ref-column"], ds),
    (["split", "--dataset", ds, "--seed", "7", "--test-fraction", "0.25", "--no-stratify", "--warn-per-class", "0"],
     split_dir),
    (["clinical", "--tsv", os.path.join(D, "gdc", "clinical.tcga-brca.tsv"), "--id-column", "submitter_id",
      "--label-column", "vital_status", "--map", "alive=alive", "--map", "dead=dead", "--covariate", "gender"], labels),
    (["sexcheck", "--vcf", os.path.join(D, "1kg", "1kg_phase3_subset_chrX.vcf.gz"), "--sex-table",
      os.path.join(D, "1kg", "integrated_call_samples_v3.20130502.ALL.panel"), "--female-max", "0.2", "--male-min",
      "0.8"], os.path.join(e2e, "sex.tsv")),
    (["clean", "--vcf", os.path.join(D, "callers", "gatk.vcf.gz"), "--min-qual", "30", "--min-dp", "none"],
     os.path.join(e2e, "clean.vcf.gz")),
    (["fetch", "file://" + os.path.join(D, "brca1", "NM_007294.3.cds.fa"), "--sha256", sha.upper(), "--retries", "0"],
     os.path.join(e2e, "cds.fa")),
    (["package", "--base", base, "--adapter", os.path.join(TMP, "train-quiet"), "--threshold", "0.6", "--kmer", "3",
      "--window", "20", "--stride", "10"], os.path.join(e2e, "model.tar.gz")),
]
for args, out in runs:
    r = seqlora(args + ["-o", out, "--store", store, "--quiet"])
    check(r.returncode == 0 and r.stdout.strip() == out and os.path.exists(out),
          "%s: exit 0, stdout the output, which exists (got %d: %r)" % (args[0], r.returncode, r.stderr[-500:]))


def rows(path):
    return sum(1 for _ in open(path)) - 1 if os.path.exists(path) else -1


n_ds = rows(ds)
check(n_ds > 100 and open(ds).readline().startswith("id\tsequence\tlabel\t"), "kmerize: %d rows" % n_ds)
n_tr, n_te = rows(os.path.join(split_dir, "train.tsv")), rows(os.path.join(split_dir, "test.tsv"))
check(n_tr + n_te == n_ds and abs(n_te - 0.25 * n_ds) <= 1, "split: %d + %d rows of %d, 25%% test" % (n_tr, n_te, n_ds))
check(rows(labels) > 1000 and open(labels).readline().split() == ["id", "label", "gender"],
      "clinical: %d labelled cases with the gender column" % rows(labels))
check(rows(os.path.join(e2e, "sex.tsv")) > 0, "sexcheck: a row per sample")
check(os.path.exists(os.path.join(e2e, "clean.vcf.gz.tbi")), "clean: the .tbi is written next to the output")
check(os.path.exists(os.path.join(e2e, "cds.fa")) and hashlib.sha256(open(os.path.join(e2e, "cds.fa"), "rb").read())
      .hexdigest() == sha, "fetch: the bytes of the source")

print("%d checks, %d failed" % (N_CHECKS, len(FAILED)))
sys.exit(1 if FAILED else 0)
