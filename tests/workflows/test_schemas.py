"""The shipped workflow configurations validate against their schemas (jsonschema, JSON Schema 2020-12):

  - Snakemake: config/config.yaml and .test/config/config.yaml against workflow/schemas/config.schema.yaml
    (and two broken configs are rejected, so the schema is not a no-op);
  - Nextflow: the params of nextflow.config, and of the test profile on top of them, against
    nextflow_schema.json (its $defs groups); every param is described by the schema and every schema
    property is a param; the default of each schema property equals the config's value; broken values are
    rejected.
"""
import copy
import json
import os
import re
import sys

import jsonschema
import yaml

SRC = os.environ.get("SEQLORA_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SMK = os.path.join(SRC, "workflows", "snakemake")
NF = os.path.join(SRC, "workflows", "nextflow")
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)
    return ok


def errors(schema, instance):
    v = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(instance)]


# ---- Snakemake --------------------------------------------------------------------------------------------
schema = yaml.safe_load(open(os.path.join(SMK, "workflow", "schemas", "config.schema.yaml")))
jsonschema.Draft202012Validator.check_schema(schema)
check(True, "Snakemake config schema is a valid 2020-12 schema")
default = yaml.safe_load(open(os.path.join(SMK, "config", "config.yaml")))
test = yaml.safe_load(open(os.path.join(SMK, ".test", "config", "config.yaml")))
for name, cfg in (("config/config.yaml", default), (".test/config/config.yaml", test)):
    e = errors(schema, cfg)
    check(not e, f"Snakemake {name} validates {e}")
bad = copy.deepcopy(test)
bad["train"]["lora_alpah"] = 8
check(errors(schema, bad), "Snakemake schema rejects an unknown train option (lora_alpah)")
bad = copy.deepcopy(test)
bad["sweep"]["lora_r"] = [0]
check(errors(schema, bad), "Snakemake schema rejects a LoRA rank of 0")

# ---- Nextflow ---------------------------------------------------------------------------------------------
VALUE = re.compile(r"^\s*(\w+)\s*=\s*(.+?)\s*(//.*)?$")


def groovy_value(text):
    text = text.strip()
    if text in ("null",):
        return None
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"'[^']*'", text) or re.fullmatch(r'"[^"]*"', text):
        return text[1:-1].replace("${projectDir}", NF)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d*\.\d+([eE][-+]?\d+)?", text):
        return float(text)
    raise ValueError(f"cannot read the Groovy value {text!r}")


def params_block(path):
    """The `params { name = value ... }` assignments of a Nextflow config (simple literals only)."""
    text = open(path).read()
    m = re.search(r"^params\s*\{(.*?)^\}", text, flags=re.M | re.S)
    out = {}
    if not m:
        return out
    for line in m.group(1).splitlines():
        if not line.strip() or line.strip().startswith("//"):
            continue
        mm = VALUE.match(line)
        if mm is None:
            check(False, f"{os.path.basename(path)}: params line parses: {line.strip()}")
            continue
        try:
            out[mm.group(1)] = groovy_value(mm.group(2))
        except ValueError as e:
            check(False, f"{os.path.basename(path)}: {e}")
    return out


nf_schema = json.load(open(os.path.join(NF, "nextflow_schema.json")))
jsonschema.Draft202012Validator.check_schema(nf_schema)
check(nf_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema" and "$defs" in nf_schema,
      "nextflow_schema.json: draft 2020-12 with $defs groups")
props = {}
for group in nf_schema["$defs"].values():
    props.update(group["properties"])
params = params_block(os.path.join(NF, "nextflow.config"))
check(len(params) > 5, f"nextflow.config: {len(params)} params read")
check(set(params) == set(props), f"params and schema properties are the same set "
      f"(config only: {sorted(set(params) - set(props))}, schema only: {sorted(set(props) - set(params))})")
for k, p in props.items():
    if "default" in p:
        check(p["default"] == params.get(k), f"schema default of {k} equals nextflow.config ({p['default']!r} vs {params.get(k)!r})")
# The required params have no default (the user gives them): validate the defaults with stand-ins for those.
required = [r for g in nf_schema["$defs"].values() for r in g.get("required", [])]
stand_in = {"variants": "variants.vcf.gz", "reference": "ref.fa", "outdir": "results"}
e = errors(nf_schema, {**params, **{k: stand_in[k] for k in required}})
check(not e, f"nextflow.config params (+ the required ones) validate {e}")
test_params = {**params, **params_block(os.path.join(NF, "conf", "test.config"))}
e = errors(nf_schema, {**test_params, **{k: test_params.get(k) or stand_in[k] for k in required}})
check(not e, f"test profile params validate {e}")
for k in ("variants", "reference", "init_model_config"):
    check(os.path.isfile(test_params[k]), f"test profile {k} exists: {test_params[k]}")
bad = {**params, **stand_in, "lora_ranks": "8,x"}
check(errors(nf_schema, bad), "nextflow schema rejects lora_ranks '8,x'")
bad = {**params, **stand_in, "use_gpu": "yes"}
check(errors(nf_schema, bad), "nextflow schema rejects use_gpu 'yes'")

print(f"FAILED: {len(FAILED)}")
sys.exit(1 if FAILED else 0)
