"""The `seqlora run` config: the C validator and docs/config.schema.json agree.

- every shipped config (the embedded demo, examples/*.json) validates against the schema (python jsonschema);
- the defaults `seqlora run --print-config` fills in equal the schema's "default" values, key for key;
- bad configs (unknown keys at several depths, wrong types, out-of-range values, missing required keys, bad
  enum values, not JSON) are rejected by seqlora with exit status 2 and a message naming the key path, and by
  the schema too (so the schema is not looser than the program);
- seqlora's own defaults are the seed's (k 6, 7:3, r 16, alpha 32, dropout 0.1, query/value, lr 3e-4, wd 0.01,
  10 epochs, patience 3, batch 8, max length 512): these numbers come from the issue, not from the code.
"""
import copy
import glob
import json
import os
import subprocess
import sys

import jsonschema

BIN = os.environ["SEQLORA_BIN"]
SRC = os.environ["SEQLORA_SOURCE_DIR"]
TMP = os.environ.get("SEQLORA_TEST_TMP", "/tmp")
os.makedirs(TMP, exist_ok=True)
schema = json.load(open(os.path.join(SRC, "docs", "config.schema.json")))
jsonschema.Draft202012Validator.check_schema(schema)
V = jsonschema.Draft202012Validator(schema)
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what, file=sys.stderr)
    if not cond:
        failures += 1


def seqlora(args):
    return subprocess.run([BIN] + args, capture_output=True, text=True)


def write(name, obj):
    p = os.path.join(TMP, name)
    with open(p, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))
    return p


# 1. the demo config and the examples validate; print-config of each is itself a valid config
r = seqlora(["run", "--print-config"])
check(r.returncode == 0, "print-config of the demo")
demo = json.loads(r.stdout)
errs = list(V.iter_errors(demo))
check(not errs, "the demo's effective config validates against the schema " + "; ".join(e.message for e in errs[:3]))
for ex in sorted(glob.glob(os.path.join(SRC, "examples", "*.json"))):
    user = json.load(open(ex))
    errs = list(V.iter_errors(user))
    check(not errs, f"{os.path.relpath(ex, SRC)} validates against the schema " + "; ".join(e.message for e in errs[:3]))
    r = seqlora(["run", ex, "--print-config"])
    check(r.returncode == 0, f"seqlora accepts {os.path.relpath(ex, SRC)}: {r.stderr.strip()}")

# 2. defaults: seqlora's == the schema's
minimal = {"data": {"reference": "ref.fa", "variants": "v.vcf"}}
r = seqlora(["run", write("minimal.json", minimal), "--print-config"])
check(r.returncode == 0, "minimal config accepted")
eff = json.loads(r.stdout)
check(not list(V.iter_errors(eff)), "the effective minimal config validates")


def schema_defaults(s, path, out):
    for key, sub in s.get("properties", {}).items():
        p = path + [key]
        if "default" in sub:
            out[".".join(p)] = sub["default"]
        if sub.get("type") == "object":
            schema_defaults(sub, p, out)
    return out


def get(obj, dotted):
    for k in dotted.split("."):
        obj = obj[k]
    return obj


defaults = schema_defaults(schema, [], {})
init_schema = schema["properties"]["base"]["oneOf"][1]["properties"]["init"]
for k, v in schema_defaults(init_schema, [], {}).items():
    defaults["base.init." + k] = v
defaults.pop("base")  # {"init": {}} expands to the init defaults below
defaults.pop("data.variants")  # given by the minimal config
mismatch = [(k, v, get(eff, k)) for k, v in defaults.items() if get(eff, k) != v]
check(not mismatch, f"{len(defaults)} schema defaults equal seqlora's ({mismatch[:3]})")
check(eff["base"] == {"init": {k[len('base.init.'):]: v for k, v in defaults.items() if k.startswith("base.init.")}},
      "base defaults to {init: {...}} with the init defaults")
seed = {"kmer.k": 6, "split.test_fraction": 0.3, "lora.r": 16, "lora.alpha": 32, "lora.dropout": 0.1,
        "lora.target_modules": ["query", "value"], "train.lr": 3e-4, "train.weight_decay": 0.01, "train.epochs": 10,
        "train.patience": 3, "train.batch_size": 8, "train.max_length": 512}
check(all(abs(get(eff, k) - v) < 1e-12 if isinstance(v, float) else get(eff, k) == v for k, v in seed.items()),
      "defaults are the seed's (k 6, 7:3, r 16, alpha 32, dropout 0.1, query/value, lr 3e-4, wd 0.01, 10 epochs, "
      "patience 3, batch 8, max 512)")
check(eff["data"]["reference"] == os.path.join(TMP, "ref.fa"), "relative paths are taken from the config's folder")


# 3. bad configs: seqlora exit 2 naming the key; the schema rejects them too
def bad(name, mutate, needle):
    cfg = copy.deepcopy(minimal)
    mutate(cfg)
    p = write(f"bad_{name}.json", cfg)
    r = seqlora(["run", p, "--dry-run", "--store", os.path.join(TMP, "store")])
    check(r.returncode == 2 and needle in r.stderr and "error" in r.stderr,
          f"{name}: exit {r.returncode}, message names '{needle}': {r.stderr.strip()}")
    check(not V.is_valid(cfg), f"{name}: the schema rejects it too")


bad("unknown_top", lambda c: c.update(epochs=3), "'epochs'")
bad("unknown_nested", lambda c: c.update(train={"epoch": 3}), "train.epoch")
bad("unknown_init", lambda c: c.update(base={"init": {"hidden": 8}}), "base.init.hidden")
bad("unknown_base_kind", lambda c: c.update(base={"model": "x"}), "base")
bad("wrong_type_int", lambda c: c.update(train={"epochs": "10"}), "train.epochs")
bad("wrong_type_float_for_int", lambda c: c.update(lora={"r": 16.5}), "lora.r")
bad("wrong_type_section", lambda c: c.update(lora=[1]), "lora")
bad("out_of_range", lambda c: c.update(kmer={"k": 12}), "kmer.k")
bad("negative_lr", lambda c: c.update(train={"lr": -1}), "train.lr")
bad("enum", lambda c: c.update(kmer={"tokens": "bpe"}), "kmer.tokens")
bad("target_module", lambda c: c.update(lora={"target_modules": ["qkv"]}), "lora.target_modules[0]")
bad("empty_targets", lambda c: c.update(lora={"target_modules": []}), "lora.target_modules")
bad("missing_reference", lambda c: c["data"].pop("reference"), "data.reference")
bad("missing_data", lambda c: c.pop("data"), "data.reference")
bad("labels_value", lambda c: c["data"].update(labels={"LOF": 1}), "data.labels.LOF")
bad("strand", lambda c: c["data"].update(strand="minus"), "data.strand")
bad("sample_without_vcf", lambda c: c["data"].update(mode="sample", clinical="c.tsv", region="chr17:1-100"), "data.vcf")
bad("sample_two_regions", lambda c: c["data"].update(mode="sample", vcf="v.vcf", clinical="c.tsv", region="chr17:1-100",
                                                     annotation="a.gff3"), "exactly one of annotation, regions, region")
bad("clean_dp_field", lambda c: c.update(clean={"dp_field": "DP"}), "clean.dp_field")
bad("haplotype", lambda c: c["data"].update(haplotype="3"), "data.haplotype")
bad("pretrain_unknown", lambda c: c.update(base={"pretrain": {"steps": 3}}), "base.pretrain.steps")
bad("pretrain_unknown_init", lambda c: c.update(base={"pretrain": {"init": {"layers": 2}}}), "base.pretrain.init.layers")
bad("pretrain_epochs", lambda c: c.update(base={"pretrain": {"epochs": 0}}), "base.pretrain.epochs")
bad("pretrain_mlm", lambda c: c.update(base={"pretrain": {"mlm_probability": 1.5}}), "base.pretrain.mlm_probability")
bad("pretrain_type", lambda c: c.update(base={"pretrain": []}), "base.pretrain")
bad("pretrain_and_init", lambda c: c.update(base={"pretrain": {}, "init": {}}), "base")
# hidden_size a multiple of the heads: a JSON Schema cannot say it, so only seqlora is checked
r = seqlora(["run", write("bad_pretrain_heads.json", dict(minimal, base={"pretrain": {"init": {
    "hidden_size": 30, "num_attention_heads": 4}}})), "--dry-run", "--store", os.path.join(TMP, "store")])
check(r.returncode == 2 and "base.pretrain.init.hidden_size" in r.stderr,
      f"pretrain_heads: exit {r.returncode}, names base.pretrain.init.hidden_size: {r.stderr.strip()}")

# base.pretrain: its defaults (every key filled) equal the schema's, and the init defaults are init's
pre_schema = schema["properties"]["base"]["oneOf"][2]["properties"]["pretrain"]
r = seqlora(["run", write("pretrain.json", dict(minimal, base={"pretrain": {}})), "--print-config"])
check(r.returncode == 0, f"base.pretrain {{}} accepted ({r.stderr.strip()})")
pre_eff = json.loads(r.stdout)["base"]["pretrain"] if r.returncode == 0 else {}
check(not list(V.iter_errors(json.loads(r.stdout))) if r.returncode == 0 else False,
      "the effective base.pretrain config validates against the schema")
pre_defaults = schema_defaults(pre_schema, [], {})
pre_defaults.update({"init." + k: v for k, v in schema_defaults(pre_schema["properties"]["init"], [], {}).items()})

def get_or(obj, dotted):
    for k in dotted.split("."):
        if not isinstance(obj, dict) or k not in obj:
            return "<missing>"
        obj = obj[k]
    return obj


mismatch = [(k, v, get_or(pre_eff, k)) for k, v in pre_defaults.items() if get_or(pre_eff, k) != v]
check(pre_defaults and not mismatch and set(pre_eff) == set(pre_schema["properties"]),
      f"{len(pre_defaults)} base.pretrain schema defaults equal seqlora's ({mismatch[:3]})")
# the pretrain step's own defaults (docs/steps/pretrain.md): the config passes them unchanged
step_defaults = {"window": 512, "windows_per_epoch": 0, "epochs": 1, "batch_size": 8, "lr": 4e-4, "warmup_steps": 0,
                 "weight_decay": 0.01, "mlm_probability": 0.15, "max_grad_norm": 1.0, "seed": 42,
                 "checkpoint_every": 50}
check(all(abs(pre_eff.get(k, -1) - v) < 1e-12 for k, v in step_defaults.items()),
      "base.pretrain defaults are the pretrain step's documented defaults")
check(pre_eff.get("fasta", "x") is None, "base.pretrain.fasta defaults to null (= data.reference)")
r = seqlora(["run", write("pretrain_fa.json", dict(minimal, base={"pretrain": {"fasta": "other.fa"}})), "--print-config"])
check(r.returncode == 0 and json.loads(r.stdout)["base"]["pretrain"]["fasta"] == os.path.join(TMP, "other.fa"),
      "base.pretrain.fasta is taken relative to the config's folder")

p = write("notjson.json", '{"data": {"reference": "a",}')
r = seqlora(["run", p, "--dry-run"])
check(r.returncode == 2 and "notjson.json:1:" in r.stderr, f"not JSON: exit 2 with file:line ({r.stderr.strip()})")
p = write("dup.json", '{"data": {"reference": "a", "variants": "b"}, "data": {}}')
r = seqlora(["run", p, "--dry-run"])
check(r.returncode == 2 and "dup.json" in r.stderr, f"duplicate key: exit 2 ({r.stderr.strip()})")
r = seqlora(["run", os.path.join(TMP, "no_such.json")])
check(r.returncode != 0 and "no_such.json" in r.stderr, "a missing config file is an error naming it")
# a config that is valid but names a missing input: an error naming the file, nothing written
p = write("missing_input.json", {"data": {"reference": "nope.fa", "variants": "nope.vcf"}})
out = os.path.join(TMP, "out_missing")
r = seqlora(["run", p, "--store", os.path.join(TMP, "store"), "-o", out])
check(r.returncode != 0 and "nope.vcf" in r.stderr and not os.path.exists(os.path.join(out, "report.md")),
      f"missing input file: error naming it, no report ({r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''})")

print(f"{failures} failure(s)", file=sys.stderr)
sys.exit(1 if failures else 0)
