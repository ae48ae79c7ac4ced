"""Collect the held-out metrics of every sweep point into one TSV (rank, learning rate, fold, metrics...)."""
import json
import os
import re
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 - provided by Snakemake

rows, names = [], []
for report in snakemake.input:  # noqa: F821
    m = re.search(r"r(\d+)_lr([^_/]+)_fold(\d+)$", os.path.normpath(report))
    with open(os.path.join(report, "metrics.json")) as f:
        metrics = json.load(f).get("metrics", {})
    values = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) or v is None}
    for k in values:
        if k not in names:
            names.append(k)
    rows.append((m.group(1), m.group(2), m.group(3), values))

with open(snakemake.output[0], "w") as out:  # noqa: F821
    out.write("\t".join(["lora_r", "lr", "fold"] + names) + "\n")
    for r, lr, fold, values in rows:
        cells = ["" if values.get(k) is None else f"{values[k]:.6g}" for k in names]
        out.write("\t".join([r, lr, fold] + cells) + "\n")
print(f"{len(rows)} sweep points", file=sys.stderr)
