"""seqlora's evaluation metrics against scikit-learn on many random datasets with tied scores.

Scalar metrics must agree within 1e-12 relative, counts exactly, and the curves drawn in roc.svg/pr.svg must
carry exactly sklearn's roc_curve / precision_recall_curve arrays."""
import math
import os
import sys
import warnings

import numpy as np
from sklearn import metrics as skm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaltest import TMP, evaluate, fmt, svg_series, write_tsv  # noqa: E402

warnings.filterwarnings("ignore")
failures = []
checked = 0


def close(name, ours, ref, where):
    global checked
    checked += 1
    if ref is None or (isinstance(ref, float) and math.isnan(ref)):
        ok = ours is None
    else:
        ok = ours is not None and math.isclose(ours, ref, rel_tol=1e-12, abs_tol=1e-15)
    if not ok:
        failures.append(f"{where}: {name}: seqlora {ours!r} != sklearn {ref!r}")


def same_array(name, ours, ref, where):
    global checked
    checked += 1
    ref = np.asarray(ref, dtype=float)
    if ours.shape != ref.shape or not np.allclose(ours, ref, rtol=1e-15, atol=0, equal_nan=True):
        failures.append(f"{where}: {name}: arrays differ\n  seqlora {ours[:12]}...\n  sklearn {ref[:12]}...")


def quantized(rng, n, levels):
    """Scores with many ties: multiples of 1/levels."""
    return rng.integers(0, levels + 1, size=n) / levels


def check_binary(rng, case):
    n = int(rng.choice([4, 9, 30, 200, 1500]))
    names = [["neg", "pos"], ["control", "case"], ["1", "0"], ["b", "a"]][case % 4]
    levels = int(rng.choice([2, 5, 10, 100, 10 ** 6]))
    y = rng.integers(0, 2, size=n)
    y[0], y[1] = 0, 1  # both classes present
    # informative but noisy positive-class scores, quantized to create ties
    s = np.clip(0.35 * y + 0.65 * quantized(rng, n, levels), 0, 1)
    s = np.round(s * levels) / levels
    pos_idx = int(rng.integers(0, 2)) if case % 3 == 0 else 1
    probs = np.zeros((n, 2))
    probs[:, pos_idx] = s
    probs[:, 1 - pos_idx] = 1 - s
    labels = np.where(y == 1, names[pos_idx], names[1 - pos_idx])
    thr = float(rng.choice([0.5, 0.3, 0.7, s[int(rng.integers(0, n))]]))
    path = os.path.join(TMP, f"bin{case}.tsv")
    write_tsv(path, ["id", "label", f"prob_{names[0]}", f"prob_{names[1]}"],
              [(f"r{i}", labels[i], fmt(probs[i, 0]), fmt(probs[i, 1])) for i in range(n)])
    params = {"threshold": thr, "bootstrap": 0}
    if pos_idx != 1 or case % 2:
        params["positive_class"] = names[pos_idx]
    rep, rdir = evaluate(path, os.path.join(TMP, f"bin{case}.out"), **params)
    where = f"binary case {case} (n={n}, levels={levels}, thr={thr})"
    ytrue = (labels == names[pos_idx]).astype(int)
    m = rep["metrics"]
    close("roc_auc", m["roc_auc"], skm.roc_auc_score(ytrue, s), where)
    close("average_precision", m["average_precision"], skm.average_precision_score(ytrue, s), where)
    pred_lab = np.where(s >= thr, names[pos_idx], names[1 - pos_idx])
    close("accuracy", m["accuracy"], skm.accuracy_score(labels, pred_lab), where)
    close("f1_macro", m["f1_macro"], skm.f1_score(labels, pred_lab, average="macro"), where)
    close("mcc", m["mcc"], skm.matthews_corrcoef(labels, pred_lab), where)
    cm = skm.confusion_matrix(labels, pred_lab, labels=names)
    global checked
    checked += 1
    if rep["confusion_matrix"]["matrix"] != cm.tolist() or rep["confusion_matrix"]["labels"] != names:
        failures.append(f"{where}: confusion {rep['confusion_matrix']} != {cm.tolist()}")
    p, r, f, sup = skm.precision_recall_fscore_support(labels, pred_lab, labels=names, zero_division=0)
    for i, c in enumerate(names):
        pc = rep["per_class"][c]
        close(f"precision[{c}]", pc["precision"], p[i], where)
        close(f"recall[{c}]", pc["recall"], r[i], where)
        close(f"f1[{c}]", pc["f1"], f[i], where)
        checked += 1
        if pc["support"] != sup[i]:
            failures.append(f"{where}: support[{c}] {pc['support']} != {sup[i]}")
    # the curves in the SVGs are sklearn's arrays
    fpr, tpr, _ = skm.roc_curve(ytrue, s)
    roc = svg_series(os.path.join(rdir, "roc.svg"))
    (x, yv), = roc.values()
    same_array("roc fpr", x, fpr, where)
    same_array("roc tpr", yv, tpr, where)
    prec, rec, _ = skm.precision_recall_curve(ytrue, s)
    pr = svg_series(os.path.join(rdir, "pr.svg"))
    (x, yv), = pr.values()
    same_array("pr recall", x, rec, where)
    same_array("pr precision", yv, prec, where)


def check_multiclass(rng, case):
    k = int(rng.integers(3, 6))
    n = int(rng.choice([10, 60, 400]))
    names = [f"class{c}" for c in range(k)]
    if case % 2:
        names = names[::-1]  # header order differs from sorted order
    denom = int(rng.choice([4, 10, 20]))
    counts = rng.multinomial(denom, np.ones(k) / k, size=n)
    P = counts / denom
    y = rng.integers(0, k, size=n)
    y[:k] = np.arange(k)
    # make the true class somewhat more probable
    labels = np.array(names)[y]
    path = os.path.join(TMP, f"mc{case}.tsv")
    write_tsv(path, ["id", "label"] + [f"prob_{c}" for c in names],
              [[f"r{i}", labels[i]] + [fmt(v) for v in P[i]] for i in range(n)])
    rep, rdir = evaluate(path, os.path.join(TMP, f"mc{case}.out"), bootstrap=0)
    where = f"multiclass case {case} (k={k}, n={n}, denom={denom})"
    m = rep["metrics"]
    if rep["task"] != "multiclass":
        failures.append(f"{where}: task {rep['task']}")
    pred = np.array(names)[np.argmax(P, axis=1)]
    close("accuracy", m["accuracy"], skm.accuracy_score(labels, pred), where)
    close("f1_macro", m["f1_macro"], skm.f1_score(labels, pred, average="macro"), where)
    close("mcc", m["mcc"], skm.matthews_corrcoef(labels, pred), where)
    cm = skm.confusion_matrix(labels, pred, labels=names)
    global checked
    checked += 1
    if rep["confusion_matrix"]["matrix"] != cm.tolist():
        failures.append(f"{where}: confusion {rep['confusion_matrix']['matrix']} != {cm.tolist()}")
    order = np.argsort(names)  # sklearn wants the score columns in sorted label order
    ref = skm.roc_auc_score(labels, P[:, order], multi_class="ovr", average="macro")
    close("roc_auc_ovr_macro", m["roc_auc_ovr_macro"], ref, where)
    for c, name in enumerate(names):
        yc = (labels == name).astype(int)
        close(f"roc_auc[{name}]", rep["per_class"][name]["roc_auc"], skm.roc_auc_score(yc, P[:, c]), where)
        close(f"ap[{name}]", rep["per_class"][name]["average_precision"],
              skm.average_precision_score(yc, P[:, c]), where)


def check_multilabel(rng, case):
    k = int(rng.integers(2, 6))
    n = int(rng.choice([8, 50, 300]))
    names = [f"L{c}" for c in range(k)]
    Y = (rng.random((n, k)) < rng.uniform(0.1, 0.6, size=k)).astype(int)
    if case % 3 == 0:
        Y[:, k - 1] = 0  # a label without positives: AP 0, macro AUC undefined
    Y[0, :] = 0  # at least one empty label set
    P = np.clip(0.3 * Y + 0.7 * quantized(rng, n * k, 10).reshape(n, k), 0, 1)
    P = np.round(P * 10) / 10
    path = os.path.join(TMP, f"ml{case}.tsv")
    write_tsv(path, ["id", "label"] + [f"prob_{c}" for c in names],
              [[f"r{i}", ",".join(names[c] for c in range(k) if Y[i, c])] + [fmt(v) for v in P[i]]
               for i in range(n)])
    rep, rdir = evaluate(path, os.path.join(TMP, f"ml{case}.out"), bootstrap=0)
    where = f"multilabel case {case} (k={k}, n={n})"
    if rep["task"] != "multilabel":
        failures.append(f"{where}: task {rep['task']}")
    m = rep["metrics"]
    close("map", m["map"], skm.average_precision_score(Y, P, average="macro"), where)
    try:
        ref_auc = skm.roc_auc_score(Y, P, average="macro")
    except ValueError:
        ref_auc = None
    close("roc_auc_macro", m["roc_auc_macro"], ref_auc, where)
    for c, name in enumerate(names):
        close(f"ap[{name}]", rep["per_label"][name]["average_precision"],
              skm.average_precision_score(Y[:, c], P[:, c]), where)
    pr = svg_series(os.path.join(rdir, "pr.svg"))
    for c, name in enumerate(names):
        key = [s for s in pr if s.startswith(name + ":")]
        prec, rec, _ = skm.precision_recall_curve(Y[:, c], P[:, c])
        same_array(f"pr recall[{name}]", pr[key[0]][0], rec, where)
        same_array(f"pr precision[{name}]", pr[key[0]][1], prec, where)


def check_regression(rng, case):
    n = int(rng.choice([2, 7, 100, 2000]))
    y = np.round(rng.normal(size=n), int(rng.integers(0, 4)))
    if case % 4 == 3:
        y[:] = 1.5  # constant truth: r2 is 0 (or 1 when predictions are perfect)
    pred = np.round(y + rng.normal(scale=rng.uniform(0.01, 2), size=n), 3)
    if case % 8 == 7:
        pred = y.copy()
    path = os.path.join(TMP, f"reg{case}.tsv")
    write_tsv(path, ["id", "label", "prediction"], [(f"r{i}", fmt(y[i]), fmt(pred[i])) for i in range(n)])
    rep, _ = evaluate(path, os.path.join(TMP, f"reg{case}.out"), bootstrap=0)
    where = f"regression case {case} (n={n})"
    m = rep["metrics"]
    close("mse", m["mse"], skm.mean_squared_error(y, pred), where)
    close("r2", m["r2"], skm.r2_score(y, pred), where)


def main():
    rng = np.random.default_rng(20261128)
    n_cases = int(os.environ.get("SEQLORA_EVAL_CASES", "60"))
    for case in range(n_cases):
        check_binary(rng, case)
    for case in range(n_cases // 2):
        check_multiclass(rng, case)
        check_multilabel(rng, case)
        check_regression(rng, case)
    print(f"{checked} comparisons with scikit-learn {__import__('sklearn').__version__}, "
          f"{len(failures)} failures", file=sys.stderr)
    for f in failures[:30]:
        print("FAIL", f, file=sys.stderr)
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
