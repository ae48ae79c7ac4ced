#!/usr/bin/env bash
# Turn a finished `seqlora run` (its OUTDIR/summary.json) into the README's results table (Markdown on
# stdout). Every number comes from the run's own files: nothing here is typed by hand.
#
#   scripts/demo-results.sh [OUTDIR]      (default ./seqlora-demo)
set -euo pipefail
out=${1:-seqlora-demo}
summary="$out/summary.json"
[ -f "$summary" ] || { echo "demo-results: $summary not found (run scripts/demo.sh first)" >&2; exit 1; }
py=python3
[ -x "$(dirname "$0")/../.venv/bin/python" ] && py="$(dirname "$0")/../.venv/bin/python"
"$py" - "$summary" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
res = s["results"]
if not res:
    sys.exit("demo-results: the summary has no results (did the run finish?)")
task_binary = "roc_auc" in res[0]["metrics"]
head = "roc_auc" if task_binary else "roc_auc_ovr_macro"
second = "average_precision" if task_binary else "f1_macro"
level = res[0]["bootstrap"]["level"] if res[0].get("bootstrap") else None


def cell(r, name):
    v = r["metrics"].get(name)
    if v is None:
        return "n/a"
    ci = (r.get("bootstrap") or {}).get("intervals", {}).get(name)
    return f"{v:.3f} ({ci['lower']:.3f}–{ci['upper']:.3f})" if ci and ci.get("lower") is not None else f"{v:.3f}"


label = {"roc_auc": "AUROC", "average_precision": "average precision", "roc_auc_ovr_macro": "macro AUROC (OvR)",
         "f1_macro": "macro F1"}
d = s["data"]
test = d.get("test", {})
print(f"| predictor (test: {test.get('rows', '?')} variants, exons {', '.join(test.get('groups', []))}) | "
      f"{label[head]} ({int(round((level or 0.95) * 100))}% CI) | {label[second]} ({int(round((level or 0.95) * 100))}% CI) |")
print("|---|---|---|")
names = {"cadd": "CADD v1.3 PHRED (as published with the study)",
         "consequence": "consequence class alone (LOF rate per class on the training exons)"}
for r in res:
    print(f"| {names.get(r['name'], r['name'])} | {cell(r, head)} | {cell(r, second)} |")
tr = [st for st in s["steps"] if st["stage"] == "train"]
if tr and tr[0].get("summary"):
    t = tr[0]["summary"]
    print()
    print(f"Training: {t.get('trainable', '')}; {t.get('epochs', '?')} epochs"
          + (f", best epoch {t['best_epoch']}" if "best_epoch" in t else "") + ".")
pre = s.get("pretrain")
if s.get("pretrained_base") and pre:
    print(f"Pretraining (here, on the bundled sequence): {pre['steps']} MLM steps ({pre['epochs']} epochs of "
          f"{pre['windows_per_epoch']} windows), {pre['parameters']:,} parameters, mean MLM loss "
          f"{pre['first_epoch_mlm_loss']:.3f} (first epoch) → {pre['last_epoch_mlm_loss']:.3f} (last epoch).")
if s.get("random_base"):
    print("The base model was randomly initialised (no pretrained DNA model): see docs/run.md.")
ran = [st for st in s["steps"] if st["status"] == "ran"]
if ran:
    print(f"Steps run: {', '.join(st['stage'] for st in ran)} ({sum(st['seconds'] for st in ran):.0f} s in all; "
          "per step in summary.json).")
PY
