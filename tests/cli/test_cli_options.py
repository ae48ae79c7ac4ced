"""The shared option parser (src/cli/cli_options.c) through the real binary.

1. Every numeric option of train, pretrain, init-model and evaluate (and --threads) given junk, an empty
   string, a negative where negatives are invalid, values just outside its range, overflowing integers and
   reals (1e999), inf and nan: exit status 2, one "seqlora: error: --OPT: expected ..., got 'VALUE'" line,
   and nothing written (neither the store nor the output path exists afterwards); likewise a bad --device or
   --precision for train and run, where the CPU gives the same plan (keys) as no --device.
2. The range ends themselves are accepted: the command gets past option parsing (it then fails on the
   missing input files, with another message and status).
3. --quiet: `seqlora train` and `seqlora pretrain` on a tiny model print nothing on stderr (the per-epoch
   lines and the cache line included), while without --quiet they print the per-epoch lines.
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
        for value in good:
            r = seqlora([cmd] + required + ["-o", os.path.join(TMP, "good-out"),
                                            "--store", os.path.join(TMP, "good-store"), "--quiet", "--" + opt, value])
            n_good += 1
            check("--%s:" % opt not in r.stderr,
                  "%s --%s %s is accepted (got %d: %r)" % (cmd, opt, value, r.returncode, r.stderr[-500:]))

# string options: an empty value is an error naming the option; device/precision are checked before any work
for args in (["train", "--base", "", "--train", MISSING, "-o", os.path.join(TMP, "o")],
             ["predict", "--base", MISSING, "--input", MISSING, "-o", ""]):
    shutil.rmtree(os.path.join(TMP, "bad-store"), ignore_errors=True)
    r = seqlora(args + ["--store", os.path.join(TMP, "bad-store")])
    check(r.returncode == 2 and "expected a value, got ''" in r.stderr,
          "%s with an empty value: exit 2 (got %d: %r)" % (args[0], r.returncode, r.stderr))
for args, want in ((["--device", "gpu0"], "--device"), (["--device", "cpu", "--precision", "bf16"], "--precision"),
                   (["--precision", "fp8"], "fp8")):
    shutil.rmtree(os.path.join(TMP, "bad-store"), ignore_errors=True)
    r = seqlora(["train", "--base", MISSING, "--train", MISSING, "-o", os.path.join(TMP, "o"),
                 "--store", os.path.join(TMP, "bad-store")] + args)
    check(r.returncode == 2 and want in r.stderr and not os.path.exists(os.path.join(TMP, "bad-store")),
          "train %s: exit 2 naming %s, nothing written (got %d: %r)" % (" ".join(args), want, r.returncode, r.stderr))
# run --device/--precision: checked before anything is written; the CPU leaves the plan (keys) unchanged
for args, want in ((["--device", "cuda"], "--device cuda"), (["--device", "gpu"], "--device"),
                   (["--device", "cpu", "--precision", "bf16"], "--precision bf16")):
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

print("ok   %d rejected values (exit 2, message, nothing written), %d accepted range ends" % (n_bad, n_good))

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

print("%d checks, %d failed" % (N_CHECKS, len(FAILED)))
sys.exit(1 if FAILED else 0)
