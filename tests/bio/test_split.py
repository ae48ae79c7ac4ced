"""split on the Findlay 2018 BRCA1 dataset (kmerize output): per-class test counts within one of
scikit-learn's stratified train_test_split; --group-by exon keeps every exon on one side (as sklearn's
GroupShuffleSplit guarantees); k-fold folds partition the rows with per-class sizes within one (as
StratifiedKFold); the same seed gives the same bytes and another seed another split; augmentation touches
training rows only (revcomp of the #rc row is the original, the substitution rate is near P); the class
minimum warns and, when set hard, fails; a cache hit the second time."""
import collections
import json
import os
import shutil
import subprocess
import sys

from sklearn.model_selection import train_test_split

S = os.environ["SEQLORA_BIN"]
D = os.environ["SEQLORA_TEST_DATA"]
T = os.environ["SEQLORA_TEST_TMP"]
os.makedirs(T, exist_ok=True)
env = dict(os.environ, SEQLORA_STORE=os.path.join(T, "store"))
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def run(args):
    return subprocess.run([S] + args, env=env, capture_output=True, text=True)


def read(path):
    lines = open(path).read().splitlines()
    return lines[0], [l.split("\t") for l in lines[1:]]


ds = os.path.join(T, "dataset.tsv")
p = run(["kmerize", "--vcf", os.path.join(D, "brca1", "findlay2018_sge.GRCh37.vcf"), "--reference",
         os.path.join(D, "brca1", "GRCh37_chr17_41100001-41300000.fa"), "--label-field", "FUNC_CLASS",
         "--strand", "minus", "--tokens", "kmer", "--k", "6", "-o", ds])
check(p.returncode == 0, "kmerize: " + p.stderr)
hdr, rows = read(ds)
labels = [r[2] for r in rows]

# 1. stratified split vs sklearn's class counts
out = os.path.join(T, "s1")
p = run(["split", "--dataset", ds, "--seed", "11", "-o", out])
check(p.returncode == 0, "split: " + p.stderr)
h1, train = read(os.path.join(out, "train.tsv"))
h2, test = read(os.path.join(out, "test.tsv"))
check(h1 == hdr and h2 == hdr, "headers differ from the dataset's")
check(sorted(r[0] for r in train + test) == sorted(r[0] for r in rows), "train + test is not the dataset")
_, sk_test = train_test_split(labels, test_size=0.3, stratify=labels, random_state=0)
ours_c, sk_c = collections.Counter(r[2] for r in test), collections.Counter(sk_test)
check(all(abs(ours_c[k] - sk_c[k]) <= 1 for k in sk_c), "stratified counts %r vs sklearn %r" % (ours_c, sk_c))
print("stratified test counts %s; sklearn %s" % (dict(ours_c), dict(sk_c)))
summ = json.load(open(os.path.join(out, "split.json")))
check(summ["warnings"] == [], "no warnings expected: %r" % summ["warnings"])
# determinism and seed sensitivity
out2 = os.path.join(T, "s1b")
p = run(["split", "--dataset", ds, "--seed", "11", "-o", out2, "--no-cache"])
check(open(os.path.join(out, "test.tsv")).read() == open(os.path.join(out2, "test.tsv")).read(), "same seed, other bytes")
p = run(["split", "--dataset", ds, "--seed", "11", "-o", out2])
check("cached: split" in p.stderr, "second run not cached: " + p.stderr)
out3 = os.path.join(T, "s1c")
run(["split", "--dataset", ds, "--seed", "12", "-o", out3])
check(open(os.path.join(out, "test.tsv")).read() != open(os.path.join(out3, "test.tsv")).read(), "seed ignored")

# 2. grouped by exon
out = os.path.join(T, "g")
p = run(["split", "--dataset", ds, "--seed", "3", "--group-by", "exon", "-o", out])
check(p.returncode == 0, "group split: " + p.stderr)
_, train = read(os.path.join(out, "train.tsv"))
_, test = read(os.path.join(out, "test.tsv"))
ex = hdr.split("\t").index("exon")
gtr, gte = {r[ex] for r in train}, {r[ex] for r in test}
check(not (gtr & gte) and gtr and gte, "exons on both sides: %r" % (gtr & gte))
print("group split: train exons %s, test exons %s, test fraction %.3f" % (sorted(gtr), sorted(gte),
      len(test) / len(rows)))

# 3. stratified 5-fold
folds = collections.defaultdict(collections.Counter)
ids_in_test = []
for f in range(5):
    out = os.path.join(T, "k%d" % f)
    p = run(["split", "--dataset", ds, "--seed", "5", "--folds", "5", "--fold", str(f), "-o", out])
    check(p.returncode == 0, "fold %d: %s" % (f, p.stderr))
    _, test = read(os.path.join(out, "test.tsv"))
    ids_in_test += [r[0] for r in test]
    for r in test:
        folds[f][r[2]] += 1
check(sorted(ids_in_test) == sorted(r[0] for r in rows), "the test folds do not partition the rows")
for lab in set(labels):
    sizes = [folds[f][lab] for f in range(5)]
    check(max(sizes) - min(sizes) <= 1, "fold sizes of %s: %r" % (lab, sizes))
fa = [l.split("\t") for l in open(os.path.join(T, "k0", "folds.tsv")).read().splitlines()[1:]]
check(len(fa) == len(rows) and {x[1] for x in fa} == {"0", "1", "2", "3", "4"}, "folds.tsv")

# 4. augmentation: training rows only
out = os.path.join(T, "aug")
p = run(["split", "--dataset", ds, "--seed", "9", "--augment", "substitute:0.03,revcomp", "-o", out])
check(p.returncode == 0, "augment: " + p.stderr)
_, train = read(os.path.join(out, "train.tsv"))
_, test = read(os.path.join(out, "test.tsv"))
check(not any("#" in r[0] for r in test), "augmented rows in the test set")
orig = {r[0]: r for r in rows}


def bases(text):
    w = text.split(" ")
    return "".join(x[0] for x in w) + w[-1][1:]


comp = str.maketrans("ACGT", "TGCA")
subs = total = 0
for r in train:
    if r[0].endswith("#rc"):
        o = orig[r[0][:-3]]
        check(bases(r[1]).translate(comp)[::-1] == bases(o[1]) and r[2:] == o[2:], "revcomp row %s" % r[0])
    elif r[0].endswith("#sub"):
        o = orig[r[0][:-4]]
        a, b = bases(r[1]), bases(o[1])
        subs += sum(x != y for x, y in zip(a, b))
        total += len(a)
        check(r[2:] == o[2:], "metadata changed in %s" % r[0])
rate = subs / total
check(0.025 < rate < 0.035, "substitution rate %.4f" % rate)
n_train_orig = sum(1 for r in train if "#" not in r[0])
check(sum(1 for r in train if r[0].endswith("#rc")) == n_train_orig == sum(1 for r in train if r[0].endswith("#sub")),
      "one #rc and one #sub per training row")
print("augmentation: %d training rows + %d augmented; substitution rate %.4f" % (n_train_orig, len(train) - n_train_orig, rate))

# 5. class minimum: INT (169 rows) is below 200 → warning; hard minimum → error, nothing written
out = os.path.join(T, "min")
p = run(["split", "--dataset", ds, "--seed", "1", "--warn-per-class", "200", "-o", out])
check(p.returncode == 0 and "warning: label 'INT' has 169 rows, fewer than 200" in p.stderr, "warning: " + p.stderr)
out = os.path.join(T, "min2")
shutil.rmtree(out, ignore_errors=True)
p = run(["split", "--dataset", ds, "--seed", "1", "--min-per-class", "200", "-o", out])
check(p.returncode == 3 and "label 'INT' has 169 rows" in p.stderr, "hard minimum: %d %s" % (p.returncode, p.stderr))
check(not os.path.exists(out), "the output directory exists despite the error")

# 6. a failed split leaves no -o directory behind (a workflow engine would take it for a finished output):
# a missing dataset, one that is not a dataset, and the hard minimum above; a nested -o as well
empty = os.path.join(T, "empty.tsv")
open(empty, "w").close()
for dataset, rc in ((os.path.join(T, "no-such.tsv"), 1), (empty, 3)):
    for out in (os.path.join(T, "fail"), os.path.join(T, "fail-parent", "sub")):
        shutil.rmtree(os.path.join(T, "fail"), ignore_errors=True)
        shutil.rmtree(os.path.join(T, "fail-parent"), ignore_errors=True)
        p = run(["split", "--dataset", dataset, "--seed", "1", "-o", out])
        check(p.returncode == rc and not os.path.exists(out),
              "failed split (%s): exit %d, %s left behind (got %d, %s)"
              % (os.path.basename(dataset), rc, out, p.returncode, p.stderr.strip()))
sys.exit(1 if failures else 0)
