"""The Nextflow modules against the seqlora CLI, without Nextflow (which cannot run on these machines).

For every module in workflows/nextflow/modules/local/seqlora/<step>/:
  - nf-core shape: main.nf + meta.yml + environment.yml; process SEQLORA_<STEP>; only tag/label/conda/container
    directives; one standard resource label (+ process_gpu); the `when:` condition; task.ext.args/prefix;
    `tuple val(meta), ...` first input; versions via `topic: versions` with `seqlora --version`; a stub;
    the conda env and the container tag pin the recipe's version; meta.yml names the same inputs and emits;
  - its script is one `seqlora <step>` command whose every option exists in `seqlora <step> --help`, and so
    does every option the pipeline passes through ext.args (train_args, evaluate_args in nextflow.config);
  - the command runs in a shell on the demo data, as Nextflow would run it (inputs staged by name into a task
    directory, Groovy values substituted), chained as the pipeline chains them: initmodel (tiny random BERT)
    -> kmerize (data/: Findlay BRCA1 variants + GRCh37 region) -> split (exon-grouped folds) -> train ->
    evaluate -> package -> score, and predict; fetch (a file:// URL with its sha256), clean, sexcheck and
    clinical on real files from tests/data; each
    exits 0 and writes every declared output; the same command in a fresh task directory with the same store
    is a cache hit (`cached:`); no output is named like a staged input;
  - the options the pipeline passes through ext.args (params.*_args and the closures of conf/modules.config)
    exist in the help of the module's command;
  - its stub, run in a shell, writes every declared output too.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from nfmodule import Module, flags_of, help_flags, interpolations, substitute  # noqa: E402

SRC = os.environ["SEQLORA_SOURCE_DIR"]
BIN = os.environ["SEQLORA_BIN"]
PY = os.environ.get("SEQLORA_PYTHON", sys.executable)
TMP = os.path.join(os.environ["SEQLORA_TEST_TMP"], "nextflow")
NF = os.path.join(SRC, "workflows", "nextflow")
DATA = os.path.join(SRC, "tests", "data")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)
    return ok


def version():
    text = open(os.path.join(SRC, "conda-recipe", "meta.yaml")).read()
    return re.search(r'set version = "([^"]+)"', text).group(1)


VERSION = version()
COMMANDS = set(re.findall(r"^  ([\w-]+) ", subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout, re.M))


def help_of(step):
    r = subprocess.run([BIN, step, "--help"], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


STORE = os.path.join(TMP, "store")
DEMO = os.path.join(SRC, "data")
TINY = os.path.join(NF, "assets", "tiny_bert.json")

# What each module gets in the shell run: staged inputs ("@module:emit[:index]" = an output of an earlier
# module), meta, ext.args (small settings for a fast test). Modules run in this order.
PLAN = {
    "initmodel": dict(meta={"id": "base_model"}, inputs={"bert_config": TINY}, args="--vocab-kmer 6 --seed 7"),
    "pretrain": dict(meta={"id": "brca1"}, inputs={"fasta": f"{DEMO}/GRCh37_chr17_41100001-41300000.fa", "init_model": "@initmodel:model"},
                     args="--window 32 --windows-per-epoch 64 --epochs 1 --batch-size 16 --seed 7"),
    "kmerize": dict(meta={"id": "brca1"},
                    inputs={"vcf": f"{DEMO}/findlay2018_sge.GRCh37.vcf", "reference": f"{DEMO}/GRCh37_chr17_41100001-41300000.fa"},
                    args="--window 31 --strand minus --label-field FUNC_CLASS --map FUNC=FUNC --map LOF=LOF"),
    "split": dict(meta={"id": "brca1_fold0", "fold": 0}, inputs={"dataset": "@kmerize:dataset"},
                  args="--seed 1 --group-by exon --folds 3 --fold 0"),
    "train": dict(meta={"id": "r4_lr0.001_fold0", "lora_r": 4, "lr": 0.001},
                  inputs={"train": "@split:split:0", "eval": "@split:split:1", "base_model": "@pretrain:model"},
                  args="--lora-alpha 8 --epochs 2 --batch-size 16 --max-length 32 --seed 7 --labels FUNC,LOF"),
    "evaluate": dict(meta={"id": "r4_lr0.001_fold0"},
                     inputs={"adapter": "@train:adapter", "test": "@split:split:1", "base_model": "@initmodel:model"},
                     args="--bootstrap 100 --seed 0"),
    "package": dict(meta={"id": "r4_lr0.001_fold0"},
                    inputs={"adapter": "@train:adapter", "report": "@evaluate:report", "base_model": "@initmodel:model"},
                    args="--threshold 0.7"),
    "score": dict(meta={"id": "fold0_test"},
                  inputs={"rows": "@split:split:1", "bundle": "@package:bundle", "base_model": "@initmodel:model"}, args=""),
    "predict": dict(meta={"id": "fold0_test"},
                    inputs={"rows": "@split:split:1", "base_model": "@initmodel:model", "adapter": "@train:adapter"}, args=""),
    "clean": dict(meta={"id": "bcftools_calls"}, inputs={"vcf": f"{DATA}/callers/bcftools.vcf.gz", "sex_table": None},
                  args="--min-qual 30 --min-dp 10"),
    "sexcheck": dict(meta={"id": "1kg_chrX"}, inputs={"vcf": f"{DATA}/1kg/1kg_phase3_subset_chrX.vcf.gz",
                                                      "sex_table": f"{DATA}/1kg/integrated_call_samples_v3.20130502.ALL.panel"},
                     vals={"build": "GRCh37"}, args=""),
    "fetch": dict(meta={"id": "findlay.vcf"}, inputs={},
                  vals={"url": "file://" + f"{DEMO}/findlay2018_sge.GRCh37.vcf",
                        "sha256": hashlib.sha256(open(f"{DEMO}/findlay2018_sge.GRCh37.vcf", "rb").read()).hexdigest()},
                  args="--retries 1"),
    "clinical": dict(meta={"id": "tcga_brca"}, inputs={"clinical_tsv": f"{DATA}/gdc/clinical.tcga-brca.tsv"},
                     args="--id-column submitter_id --label-column vital_status --covariate gender"),
}

PREAMBLE = [
    (re.compile(r"^def args = task\.ext\.args \?: ''$"), "args"),
    (re.compile(r'^prefix = task\.ext\.prefix \?: "(.*)"$'), "prefix"),
    (re.compile(r"^def (\w+) = (\w+) \?: '([^']*)'$"), "default"),
    (re.compile(r'^def (\w+) = (\w+) \? "(.*)" : \'\'$'), "optional"),
]


def evaluate_preamble(mod, section, values, plan):
    """The script's Groovy preamble, for the forms the modules use; anything else fails the test."""
    for line in mod.script_preamble(section).splitlines():
        s = line.strip()
        if not s or s.startswith("//"):
            continue
        if s.startswith("if (") or s.startswith("error(") or s == "}":
            continue  # the input/output name collision guard
        for rx, kind in PREAMBLE:
            m = rx.match(s)
            if not m:
                continue
            if kind == "args":
                values["args"] = plan.get("args", "")
            elif kind == "prefix":
                values["prefix"] = substitute(m.group(1), values)
            elif kind == "default":
                values[m.group(1)] = values.get(m.group(2)) or m.group(3)
            else:
                values[m.group(1)] = substitute(m.group(3), values) if values.get(m.group(2)) else ""
            break
        else:
            check(False, f"{mod.name}: preamble line the test cannot evaluate: {s}")


def output_paths(mod, values):
    """The files/dirs of each emit (versions excepted), with the Groovy values substituted."""
    outs = {}
    for decl in mod.outputs():
        m = re.search(r"emit:\s*(\w+)", decl)
        if not m or "topic:" in decl:
            continue
        paths = re.findall(r'path\("([^"]+)"\)', decl)
        outs[m.group(1)] = [substitute(p, values) for p in paths]
    return outs


def exists_glob(pattern, cwd):
    pats = [pattern]
    m = re.search(r"\{([^}]*)\}", pattern)
    if m:
        pats = [pattern[:m.start()] + alt + pattern[m.end():] for alt in m.group(1).split(",")]
    return any(glob.glob(os.path.join(cwd, p)) for p in pats)


produced = {}
modules = sorted(glob.glob(os.path.join(NF, "modules", "local", "seqlora", "*", "main.nf")))
check(len(modules) >= 5, f"{len(modules)} modules")
order = [s for s in PLAN if os.path.exists(os.path.join(NF, "modules", "local", "seqlora", s, "main.nf"))]
check(sorted(order) == sorted(os.path.basename(os.path.dirname(m)) for m in modules),
      "every module has a shell-run plan in this test (and every plan a module)")

# The options the pipeline passes via ext.args must exist too.
cfg = open(os.path.join(NF, "nextflow.config")).read()
for step in ("pretrain", "kmerize", "train", "evaluate", "package"):
    m = re.search(rf"^\s*{step}_args\s*=\s*'([^']*)'", cfg if step != "pretrain" else open(os.path.join(NF, "conf", "test.config")).read(), flags=re.M)
    if check(m is not None, f"{'conf/test.config' if step == 'pretrain' else 'nextflow.config'} sets {step}_args"):
        bad = [f for f in flags_of(m.group(1)) if f not in help_flags(help_of(step))]
        check(not bad, f"params.{step}_args: every option exists in `seqlora {step} --help` (unknown: {bad})")

# ... and the ext.args closures of conf/modules.config (withName: 'SEQLORA_X' or an alias SEQLORA_X_Y).
mcfg = open(os.path.join(NF, "conf", "modules.config")).read()
for m in re.finditer(r"withName:\s*'(SEQLORA_\w+)'\s*\{(.*?)\n    \}", mcfg, flags=re.S):
    proc, body = m.group(1), m.group(2)
    a = re.search(r"ext\.args\s*=\s*(.*?)(?=\n        (?:ext\.\w+|containerOptions|//)|\Z)", body, flags=re.S)
    if not a:
        continue
    mods_by_len = sorted(order, key=len, reverse=True)
    step = next((x for x in mods_by_len if proc == f"SEQLORA_{x.upper()}" or proc.startswith(f"SEQLORA_{x.upper()}_")), None)
    if not check(step is not None, f"modules.config {proc}: a module of that name"):
        continue
    sub = {"initmodel": "init-model"}.get(step, step)
    bad = [f for f in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", a.group(1)) if f not in help_flags(help_of(sub))]
    check(not bad, f"modules.config {proc}: every ext.args option exists in `seqlora {sub} --help` (unknown: {bad})")

for step in order:
    d = os.path.join(NF, "modules", "local", "seqlora", step)
    mod = Module(os.path.join(d, "main.nf"))
    plan = PLAN[step]
    name = f"SEQLORA_{step.upper()}"
    print(f"--- {name}")
    # ---- shape ------------------------------------------------------------------------------------------
    check(mod.name == name, f"{step}: process name {mod.name}")
    check(os.path.isfile(os.path.join(d, "meta.yml")) and os.path.isfile(os.path.join(d, "environment.yml")),
          f"{step}: meta.yml and environment.yml")
    nft = os.path.join(d, "tests", "main.nf.test")
    check(os.path.isfile(nft) and f'process "{name}"' in open(nft).read() and '"-stub"' in open(nft).read(),
          f"{step}: tests/main.nf.test (stub) names the process")
    dirs = mod.directives()
    check(set(dirs) <= {"tag", "label", "conda", "container"}, f"{step}: only tag/label/conda/container directives ({dirs})")
    labels = re.findall(r"^\s*label\s+'(\w+)'", mod.sections["directives"], flags=re.M)
    std = [l for l in labels if l in ("process_single", "process_low", "process_medium", "process_high")]
    check(len(std) == 1 and set(labels) - set(std) <= {"process_gpu"}, f"{step}: one standard resource label ({labels})")
    check('conda "${moduleDir}/environment.yml"' in mod.text or "${moduleDir}/environment.yml" in mod.text,
          f"{step}: conda from the module's environment.yml")
    check("workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container"
          in mod.text, f"{step}: container ternary on the engine")
    images = re.findall(r"'((?:docker://)?ghcr\.io/seqlora/seqlora:[^']+)'", mod.text)
    check(images and all(i.split(":")[-1].startswith(VERSION) for i in images), f"{step}: images pinned to {VERSION} ({images})")
    check(mod.sections.get("when", "").strip() == "task.ext.when == null || task.ext.when", f"{step}: when: condition unchanged")
    check(re.match(r"^tuple val\(meta\), (path|val)\(\w+\)", (mod.inputs() or [""])[0]) is not None, f"{step}: first input is tuple val(meta), ...")
    check(any("topic: versions" in o and "eval(\"seqlora --version" in o for o in mod.outputs()),
          f"{step}: seqlora version to the versions topic")
    pre = mod.script_preamble()
    check("task.ext.args" in pre and "task.ext.prefix" in pre, f"{step}: uses task.ext.args and task.ext.prefix")
    check(mod.script_text("stub") is not None, f"{step}: has a stub")
    env = yaml.safe_load(open(os.path.join(d, "environment.yml")))
    check(env["channels"] == ["conda-forge", "bioconda"] and f"bioconda::seqlora={VERSION}" in env["dependencies"],
          f"{step}: environment.yml pins bioconda::seqlora={VERSION}")
    meta = yaml.safe_load(open(os.path.join(d, "meta.yml")))
    check(meta["name"] == f"seqlora_{step}", f"{step}: meta.yml name")
    meta_inputs = []
    for item in meta["input"]:
        for x in (item if isinstance(item, list) else [item]):
            meta_inputs += list(x.keys())
    check(meta_inputs == re.findall(r"(?:val|path)\s*\(\s*(\w+)\s*\)", "\n".join(mod.inputs())) +
          [n for n in mod.input_names() if n not in re.findall(r"(?:val|path)\s*\(\s*(\w+)\s*\)", "\n".join(mod.inputs()))]
          or meta_inputs == mod.input_names(), f"{step}: meta.yml input names match the module ({meta_inputs})")
    emits = re.findall(r"emit:\s*(\w+)", "\n".join(mod.outputs()))
    check(sorted(meta["output"].keys()) == sorted(emits), f"{step}: meta.yml outputs match the emits ({emits})")

    # ---- the command against --help ----------------------------------------------------------------------
    cmds = mod.seqlora_commands()
    if not check(len(cmds) == 1, f"{step}: the script is one seqlora command"):
        continue
    cmd = cmds[0]
    sub = cmd.split()[1]
    check(sub.replace("-", "") == step and sub in COMMANDS, f"{step}: runs `seqlora {sub}`, a command of this build")
    hf = help_flags(help_of(sub))
    bad = [f for f in flags_of(cmd) if f not in hf]
    check(not bad, f"{step}: every option exists in `seqlora {sub} --help` (unknown: {bad})")
    for var in [v for v in interpolations(cmd) if v.startswith("def ")]:
        check(False, f"{step}: odd interpolation {var}")

    # ---- run it in a task directory, twice (second: a cache hit) -----------------------------------------------
    for attempt in ("run", "rerun"):
        work = os.path.join(TMP, "work", f"{step}-{attempt}")
        os.makedirs(work)
        values = {"meta.id": plan["meta"]["id"], "task.cpus": 2, "store": STORE}
        values.update({f"meta.{k}": v for k, v in plan["meta"].items()})
        values.update(plan.get("vals", {}))
        for role, src in plan["inputs"].items():
            if src is None:
                values[role] = ""  # an optional input given as []
                continue
            if src.startswith("@"):
                up, emit, *idx = src[1:].split(":")
                if not check((up, emit) in produced, f"{step}: its input {role} from {up} exists"):
                    break
                src = produced[(up, emit)][int(idx[0]) if idx else 0]
            os.symlink(src, os.path.join(work, os.path.basename(src)))
            values[role] = os.path.basename(src)
        evaluate_preamble(mod, "script", values, plan)
        try:
            script = substitute(mod.script_text(), values)
        except KeyError as e:
            check(False, f"{step}: no test value for ${{{e.args[0]}}}")
            break
        script = script.replace("\\\\\n", "\\\n")
        env = dict(os.environ, PATH=os.path.dirname(BIN) + os.pathsep + os.environ["PATH"])
        env.pop("SEQLORA_STORE", None)
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env, capture_output=True, text=True)
        if not check(r.returncode == 0, f"{step} ({attempt}): the module's command exits 0 in a shell"):
            print(script, r.stderr[-3000:])
            break
        outs = output_paths(mod, values)
        staged = {values[role] for role in plan["inputs"] if values.get(role)}
        clash = [p for ps in outs.values() for p in ps if p.split("/")[0] in staged]
        check(not clash, f"{step} ({attempt}): no output has the name of a staged input (clash: {clash})")
        missing = [p for ps in outs.values() for p in ps if not exists_glob(p, work)]
        check(not missing, f"{step} ({attempt}): every declared output exists ({sum(map(len, outs.values()))}; missing {missing})")
        if attempt == "run":
            check("ran: " in r.stderr, f"{step} (run): the step ran")
            for emit, ps in outs.items():
                produced[(step, emit)] = [os.path.join(work, p) for p in ps]
        else:
            check("cached: " in r.stderr and "ran: " not in r.stderr, f"{step} (rerun): a store cache hit")

    # ---- the stub -----------------------------------------------------------------------------------------
    work = os.path.join(TMP, "work", f"{step}-stub")
    os.makedirs(work)
    values = {"meta.id": plan["meta"]["id"]}
    values.update({f"meta.{k}": v for k, v in plan["meta"].items()})
    evaluate_preamble(mod, "stub", values, plan)
    stub = substitute(mod.script_text("stub"), values).replace("\\\\", "\\")
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", stub], cwd=work, capture_output=True, text=True)
    outs = output_paths(mod, values)
    missing = [p for ps in outs.values() for p in ps if not exists_glob(p, work)]
    check(r.returncode == 0 and not missing, f"{step}: the stub writes every declared output (missing {missing}) {r.stderr[-300:]}")

# ---- the pipeline around the modules (static: Nextflow does not run here) --------------------------------
print("--- pipeline")
for nf in (os.path.join(NF, "main.nf"), os.path.join(NF, "workflows", "seqlora", "main.nf")):
    text = open(nf).read()
    for m in re.finditer(r"include\s*\{\s*(\w+)(?:\s+as\s+(\w+))?\s*\}\s*from\s*'([^']+)'", text):
        name, alias, rel = m.groups()
        if rel.startswith("plugin/"):
            continue
        target = os.path.normpath(os.path.join(os.path.dirname(nf), rel + ("" if rel.endswith(".nf") else ".nf")))
        ok = os.path.isfile(target) and re.search(rf"^(process|workflow)\s+{name}\s*\{{", open(target).read(), re.M)
        check(bool(ok), f"{os.path.relpath(nf, NF)}: include {name}{' as ' + alias if alias else ''} from {rel} resolves")
        called = alias or name
        check(re.search(rf"\b{called}\s*\(", text) is not None, f"{os.path.relpath(nf, NF)}: {called} is called")
cfg_all = cfg + open(os.path.join(NF, "conf", "base.config")).read() + mcfg
for prof in ("conda", "mamba", "docker", "singularity", "apptainer", "podman", "gpu", "test", "debug"):
    check(re.search(rf"^\s*{prof}\s*\{{", cfg, re.M) is not None, f"nextflow.config: profile {prof}")
for engine in ("docker", "singularity", "apptainer", "podman"):
    block = re.search(rf"^    {engine} \{{(.*?)^    \}}", cfg, re.M | re.S)
    others = {"docker", "singularity", "apptainer", "podman", "conda"} - {engine}
    check(block is not None and all(re.search(rf"{o}\.enabled\s*=\s*false", block.group(1)) for o in others),
          f"nextflow.config: profile {engine} disables the other engines")
check(re.search(r"withLabel:\s*process_gpu\s*\{\s*\n(?:[^\n]*\n){0,3}?\s*accelerator\s*=", cfg_all) is not None,
      "conf/base.config: process_gpu sets accelerator (the module never does)")
check("'--nv'" in mcfg and "'--gpus all'" in mcfg and "withName: 'SEQLORA_TRAIN'" in mcfg,
      "conf/modules.config: training gets --nv / --gpus all through containerOptions")
check(re.search(r"-B \$\{params\.store\}", mcfg) is not None and "--volume ${params.store}:${params.store}" in mcfg,
      "conf/modules.config: the store is bound into containers")
check("nextflowVersion = '!>=25.04.0'" in cfg and "process.shell" in cfg, "nextflow.config: nextflowVersion and strict shell")
check("resourceLimits" in open(os.path.join(NF, "conf", "test.config")).read(), "conf/test.config: resourceLimits")
train_mod = open(os.path.join(NF, "modules", "local", "seqlora", "train", "main.nf")).read()
check("task.accelerator" in train_mod and "environment.gpu.yml" in train_mod and "-cuda" in train_mod,
      "train module: CUDA image / environment.gpu.yml when the task has an accelerator")

print(f"FAILED: {len(FAILED)}")
sys.exit(1 if FAILED else 0)
