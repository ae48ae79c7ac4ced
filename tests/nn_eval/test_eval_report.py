"""The evaluation report beyond the point metrics: bootstrap intervals (contain the estimate, shrink with n,
reproducible from the seed), training-history plots (parse as XML, carry the values), and clear errors on bad
input (file:line and column named, non-zero exit, no report published)."""
import json
import math
import os
import shutil
import sys

import numpy as np
from sklearn import metrics as skm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaltest import TMP, USE_CLI, evaluate, fmt, run_eval, svg_series, write_tsv  # noqa: E402

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def binary_data(rng, n, path):
    y = rng.integers(0, 2, size=n)
    s = np.round(np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1), 2)  # ties
    write_tsv(path, ["id", "label", "prob_ctrl", "prob_case"],
              [(f"s{i}", "case" if y[i] else "ctrl", fmt(1 - s[i]), fmt(s[i])) for i in range(n)])
    return y, s


def multiclass_data(rng, n, path):
    k = 3
    y = rng.integers(0, k, size=n)
    P = rng.dirichlet(np.ones(k), size=n)
    P[np.arange(n), y] += 0.5
    P /= P.sum(axis=1, keepdims=True)
    write_tsv(path, ["id", "label", "prob_A", "prob_B", "prob_C"],
              [[f"s{i}", "ABC"[y[i]]] + [fmt(v) for v in P[i]] for i in range(n)])


def multilabel_data(rng, n, path):
    k = 3
    Y = (rng.random((n, k)) < 0.4).astype(int)
    P = np.round(np.clip(0.3 * Y + 0.7 * rng.random((n, k)), 0, 1), 2)
    write_tsv(path, ["id", "label", "prob_x", "prob_y", "prob_z"],
              [[f"s{i}", ",".join("xyz"[c] for c in range(k) if Y[i, c])] + [fmt(v) for v in P[i]]
               for i in range(n)])


def regression_data(rng, n, path):
    y = rng.normal(size=n)
    p = y + rng.normal(scale=0.7, size=n)
    write_tsv(path, ["id", "label", "prediction"], [(f"s{i}", fmt(y[i]), fmt(p[i])) for i in range(n)])


def test_bootstrap():
    for task, gen in [("binary", binary_data), ("multiclass", multiclass_data), ("multilabel", multilabel_data),
                      ("regression", regression_data)]:
        widths = {}
        for n in (120, 3000):
            rng = np.random.default_rng(n)
            path = os.path.join(TMP, f"boot_{task}_{n}.tsv")
            gen(rng, n, path)
            rep, _ = evaluate(path, os.path.join(TMP, f"boot_{task}_{n}.out"), seed=7)
            b = rep.get("bootstrap")
            check(b is not None and b["resamples"] == 1000 and b["level"] == 0.95,
                  f"{task} n={n}: bootstrap block {b}")
            if not b:
                continue
            iv = b["intervals"]
            check(len(iv) >= 2, f"{task} n={n}: intervals {iv}")
            for name, ci in iv.items():
                point = rep["metrics"][name]
                check(ci["lower"] <= point <= ci["upper"],
                      f"{task} n={n}: {name} = {point} outside [{ci['lower']}, {ci['upper']}]")
                check(ci["defined"] == 1000, f"{task} n={n}: {name} defined in {ci['defined']} resamples")
                widths.setdefault(name, []).append(ci["upper"] - ci["lower"])
        for name, (w_small, w_large) in widths.items():
            # the width scales like 1/sqrt(n): 25x the rows ≈ 1/5 of the width
            check(w_large < 0.5 * w_small, f"{task}: {name} interval does not shrink: {w_small} -> {w_large}")
        print(f"bootstrap {task}: widths " + ", ".join(f"{k} {v[0]:.4f}->{v[1]:.4f}" for k, v in widths.items()),
              file=sys.stderr)


def test_bootstrap_reproducible():
    rng = np.random.default_rng(1)
    path = os.path.join(TMP, "seed.tsv")
    binary_data(rng, 200, path)
    texts = []
    for i, seed in enumerate((5, 5, 6)):
        rep, rdir = evaluate(path, os.path.join(TMP, f"seed{i}.out"), seed=seed, bootstrap=300)
        with open(os.path.join(rdir, "metrics.json"), "rb") as f:
            texts.append(f.read())
    check(texts[0] == texts[1], "same seed, different metrics.json bytes")
    check(texts[0] != texts[2], "different seeds, identical intervals")


def test_history_plots():
    rng = np.random.default_rng(3)
    path = os.path.join(TMP, "hist_pred.tsv")
    binary_data(rng, 50, path)
    hist = os.path.join(TMP, "metrics.jsonl")
    lines = [
        {"epoch": 1, "train_loss": 0.69, "eval_loss": 0.66, "eval_auc": 0.61, "lr": 3e-4},
        {"epoch": 2, "step": 20, "train_loss": 0.52, "eval_loss": 0.58, "lr": 2e-4, "eval_auc": None,
         "best": False},  # eval_auc null, as the trainer writes an undefined metric
        {"epoch": 3, "train_loss": 0.41, "eval_loss": 0.57, "eval_auc": 0.74, "eval_f1": 0.7},
    ]
    with open(hist, "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")
        f.write("\n")
    rep, rdir = evaluate(path, os.path.join(TMP, "hist.out"), history=hist, bootstrap=0)
    check("loss.svg" in rep["plots"] and "metrics_history.svg" in rep["plots"], f"plots {rep['plots']}")
    loss = svg_series(os.path.join(rdir, "loss.svg"))
    check(set(loss) == {"train_loss", "eval_loss"}, f"loss series {list(loss)}")
    if "train_loss" in loss:
        x, y = loss["train_loss"]
        check(list(x) == [1, 2, 3] and list(y) == [0.69, 0.52, 0.41], f"train_loss {x} {y}")
    met = svg_series(os.path.join(rdir, "metrics_history.svg"))
    check(set(met) == {"eval_auc", "eval_f1"}, f"metric series {list(met)}")
    if "eval_auc" in met:
        y = met["eval_auc"][1]
        check(y[0] == 0.61 and math.isnan(y[1]) and y[2] == 0.74, f"eval_auc {y}")
    # the ROC curve plotted is sklearn's and its legend states the AUC
    roc = svg_series(os.path.join(rdir, "roc.svg"))
    name = next(iter(roc))
    check(name == "AUC = %.4f" % rep["metrics"]["roc_auc"], f"ROC legend {name!r}")
    with open(hist, "a") as f:
        f.write("{\"epoch\": 4, \"train_loss\": \n")
    rc, err, _ = run_eval(path, os.path.join(TMP, "hist_bad.out"), history=hist, bootstrap=0)
    check(rc == 3 and "metrics.jsonl:5:" in err, f"malformed history: rc {rc}, {err!r}")


def expect_error(name, header, rows, want_rc, wants, **params):
    path = os.path.join(TMP, f"{name}.tsv")
    write_tsv(path, header, rows)
    out = os.path.join(TMP, f"{name}.out")
    shutil.rmtree(out, ignore_errors=True)
    rc, err, rdir = run_eval(path, out, **params)
    check(rc == want_rc, f"{name}: exit {rc}, expected {want_rc} ({err.strip()})")
    for w in wants:
        check(w in err, f"{name}: message {err.strip()!r} lacks {w!r}")
    check(err.startswith("seqlora: error: "), f"{name}: message {err!r}")
    if USE_CLI:
        check(not os.path.exists(out), f"{name}: a report was published despite the error")
    print(f"{name}: {err.strip()}", file=sys.stderr)


def test_errors():
    h = ["id", "label", "prob_a", "prob_b"]
    expect_error("missing_column", ["id", "prob_a", "prob_b"], [("x", "0.5", "0.5")], 3,
                 ["missing_column.tsv:1:", "'label'"])
    expect_error("out_of_range", h, [("x", "a", "0.5", "0.5"), ("y", "b", "-0.1", "1.1")], 3,
                 ["out_of_range.tsv:3:", "prob_a", "[0, 1]"])
    expect_error("nan", h, [("x", "a", "0.5", "0.5"), ("y", "b", "nan", "0.5")], 3, ["nan.tsv:3:", "prob_a"])
    expect_error("not_number", h, [("x", "a", "0.5", "high")], 3, ["not_number.tsv:2:", "prob_b"])
    expect_error("single_class", h, [("x", "a", "0.5", "0.5"), ("y", "a", "0.2", "0.8")], 3,
                 ["single_class.tsv", "undefined", "'label'"])
    expect_error("unknown_positive", h, [("x", "a", "0.5", "0.5"), ("y", "b", "0.2", "0.8")], 2,
                 ["positive class 'c'"], positive_class="c")
    expect_error("unknown_label", h, [("x", "a", "0.5", "0.5"), ("y", "z", "0.2", "0.8")], 3,
                 ["unknown_label.tsv:3:", "unknown class 'z'"])
    expect_error("short_row", h, [("x", "a", "0.5", "0.5"), ("y", "b", "0.2")], 3, ["short_row.tsv:3:", "fields"])
    expect_error("bad_regression", ["id", "label", "prediction"], [("x", "1.0", "2.0"), ("y", "one", "2.0")], 3,
                 ["bad_regression.tsv:3:", "'label'"])


def test_threshold_option():
    """--threshold changes the confusion matrix as sklearn says it should."""
    rng = np.random.default_rng(9)
    path = os.path.join(TMP, "thr.tsv")
    y, s = binary_data(rng, 300, path)
    for thr in (0.2, 0.5, 0.81):
        rep, _ = evaluate(path, os.path.join(TMP, f"thr{thr}.out"), threshold=thr, bootstrap=0)
        cm = skm.confusion_matrix(y, (s >= thr).astype(int)).tolist()
        check(rep["confusion_matrix"]["matrix"] == cm, f"threshold {thr}: {rep['confusion_matrix']} != {cm}")


def main():
    test_bootstrap()
    test_bootstrap_reproducible()
    test_history_plots()
    test_errors()
    test_threshold_option()
    for f in failures:
        print("FAIL", f, file=sys.stderr)
    print(f"{len(failures)} failures", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
