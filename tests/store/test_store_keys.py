"""Golden vectors for the action key: the C key (store_driver key) must equal SHA-256 of the canonical JSON
written by a Python encoder that follows docs/store.md only; reordering parameters gives the same key, any
changed value a different one."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import canonical  # noqa: E402

DRIVER = os.environ["STORE_DRIVER"]
D1 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
D2 = "e258d248fda94c63753607f7c4494ee0fcbe92f1a76bfdac795c9d84101eb317"

VECTORS = [
    ("clean", 1, {}, {}),
    ("clean", 1, {"min_qual": 30, "min_dp": 10, "pass_only": True}, {"vcf": [D1]}),
    ("kmerize", 3, {"k": 6, "window": 512, "mode": "variant", "stride": None}, {"reference": [D1], "variants": [D2]}),
    ("train", 2, {"lr": 0.0001, "alpha": 16.0, "dropout": 0.1, "rank": 8, "eps": 1e-8, "big": 1e20,
                  "targets": ["query", "value"], "nested": {"z": [1, 2.5, -0.0], "a": {"b": False}}},
     {"base_model": [D2], "train": [D1, D2]}),
    ("fetch", 1, {"url": "https://example.org/a b/é?x=1&y=\"2\"", "note": "tab\there\nnewline \u0001 /slash"}, {}),
]


def c_key(step, version, params, inputs):
    out = subprocess.run([DRIVER, "key", step, str(version), canonical.encode(params), canonical.encode(inputs)],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def c_key_text(step, version, params_text, inputs_text):
    out = subprocess.run([DRIVER, "key", step, str(version), params_text, inputs_text], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


for step, version, params, inputs in VECTORS:
    want = canonical.action_key(step, version, params, inputs)
    check(c_key(step, version, params, inputs) == want, f"key of {step} v{version} {canonical.encode(params)[:60]}")

# parameter order and whitespace do not change the key
p = VECTORS[3][2]
a = c_key_text("train", 2, '{"rank": 8, "lr": 0.0001, "alpha": 16.0, "dropout": 0.1, "eps": 1e-8, "big": 1e20, '
               '"nested": {"a": {"b": false}, "z": [1, 2.5, -0.0]}, "targets": ["query", "value"]}',
               canonical.encode(VECTORS[3][3]))
check(a == canonical.action_key("train", 2, p, VECTORS[3][3]), "reordered parameters give the same key")
# any value change gives another key
base = canonical.action_key("train", 2, p, VECTORS[3][3])
for change in [("rank", 16), ("lr", 0.0002), ("targets", ["value", "query"])]:
    q = dict(p)
    q[change[0]] = change[1]
    check(c_key("train", 2, q, VECTORS[3][3]) != base, f"changing {change[0]} changes the key")
check(c_key("train", 3, p, VECTORS[3][3]) != base, "changing the step version changes the key")
check(c_key("train", 2, p, {"base_model": [D2], "train": [D2, D1]}) != base, "input order within a role matters")
check(c_key("train", 2, p, {"base_model": [D1], "train": [D1, D2]}) != base, "another input digest changes the key")
sys.exit(1 if failures else 0)
