"""Shared helpers of the evaluation tests: run `seqlora evaluate` (or, while the CLI cannot run the step, the
step function itself through eval_step_driver), read its report and the SVG data."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

BIN = os.environ.get("SEQLORA_BIN", "")
DRIVER = os.environ.get("SEQLORA_EVAL_DRIVER", "")
TMP = os.environ.get("SEQLORA_TEST_TMP") or "/tmp/seqlora-eval-test"
os.makedirs(TMP, exist_ok=True)


def cli_available():
    """True when `seqlora evaluate` is a registered command (it needs the step runner)."""
    if not BIN or not os.path.exists(BIN):
        return False
    r = subprocess.run([BIN, "evaluate", "--help"], capture_output=True, text=True)
    return r.returncode == 0 and "--predictions" in r.stdout


USE_CLI = cli_available()
if not USE_CLI and not DRIVER:
    sys.exit("neither `seqlora evaluate` nor SEQLORA_EVAL_DRIVER is available")
print("evaluating through", "the CLI" if USE_CLI else "the step function (eval_step_driver)", file=sys.stderr)

_PARAM = {"task": "--task", "threshold": "--threshold", "positive_class": "--positive-class",
          "bootstrap": "--bootstrap", "seed": "--seed", "ci_level": "--ci-level"}


def run_eval(pred_path, out_dir, history=None, **params):
    """Run the evaluation; returns (returncode, stderr, report_dir)."""
    if USE_CLI:
        cmd = [BIN, "evaluate", "--store", os.path.join(TMP, "store"), "--predictions", pred_path, "-o", out_dir]
        for k, v in params.items():
            cmd += [_PARAM[k], str(v)]
        if history:
            cmd += ["--history", history]
        r = subprocess.run(cmd, capture_output=True, text=True)
        return r.returncode, r.stderr, out_dir
    p = dict(params)
    if "threshold" in p:
        p["threshold"] = float(p["threshold"])
    if "ci_level" in p:
        p["ci_level"] = float(p["ci_level"])
    cmd = [DRIVER, out_dir, json.dumps(p), "predictions=" + pred_path]
    if history:
        cmd.append("history=" + history)
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.returncode, r.stderr, os.path.join(out_dir, "report")


def evaluate(pred_path, out_dir, history=None, **params):
    rc, err, rdir = run_eval(pred_path, out_dir, history, **params)
    if rc != 0:
        raise AssertionError(f"evaluate failed ({rc}) on {pred_path}: {err}")
    with open(os.path.join(rdir, "metrics.json")) as f:
        return json.load(f), rdir


def svg_series(path):
    """{data-name: (x array, y array)} of every plotted series; the file must parse as XML."""
    import numpy as np
    root = ET.parse(path).getroot()
    out = {}
    for el in root.iter("{http://www.w3.org/2000/svg}polyline"):
        if el.get("class") != "series":
            continue
        def vals(s):
            return np.array([float(v) for v in s.split()]) if s else np.array([])
        out[el.get("data-name")] = (vals(el.get("data-x")), vals(el.get("data-y")))
    return out


def write_tsv(path, header, rows):
    with open(path, "w") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(str(v) for v in r) + "\n")


def fmt(v):
    """A probability as text that reads back as exactly the same double."""
    return repr(float(v))
