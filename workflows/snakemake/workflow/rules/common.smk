# Helpers shared by the rules: config validation, seqlora options from config sections, sweep points.
import shlex

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")


# Software: the Bioconda package with --sdm conda, or the container image with --sdm apptainer.
SEQLORA_IMAGE = "docker://ghcr.io/seqlora/seqlora:0.1.0"
SEQLORA_CUDA_IMAGE = "docker://ghcr.io/seqlora/seqlora:0.1.0-cuda12.6"

# Options given once per value (`--map FUNC=FUNC --map LOF=LOF`); other lists are joined with commas.
REPEATED = {"map"}


def cli_flags(section, skip=()):
    """A config section as seqlora options: key lora_alpha: 32 -> `--lora-alpha 32`; true -> `--flag`;
    false/null -> left out. Values are shell-quoted."""
    words = []
    for key, value in (section or {}).items():
        if key in skip or value is None or value is False:
            continue
        flag = f"--{key.replace('_', '-')}"
        if value is True:
            words.append(flag)
        elif isinstance(value, list) and key in REPEATED:
            for v in value:
                words += [flag, shlex.quote(str(v))]
        elif isinstance(value, list):
            words += [flag, shlex.quote(",".join(str(v) for v in value))]
        else:
            words += [flag, shlex.quote(str(value))]
    return " ".join(words)


def store_flag():
    """--store for every seqlora command: the shared store, absolute so every job agrees."""
    return f"--store {shlex.quote(os.path.abspath(config['store']))}"


def base_model():
    """The base model directory every training job uses: the pretrained one (with a `pretrain` section),
    else the configured checkpoint, else the random one rule seqlora_init_model writes.
    """
    if config.get("pretrain"):
        return "results/base_model"
    return config.get("base_model") or "results/base_model"


def n_folds():
    return max(1, int(config["split"].get("folds") or 1))


def use_eval_split():
    return bool(config["split"].get("eval_fraction"))


def train_inputs(wildcards):
    """The training rows of a fold, and its early-stopping rows when split.eval_fraction is set."""
    fold = f"results/split/fold{wildcards.fold}"
    if use_eval_split():
        return {
            "base": base_model(),
            "train": f"{fold}/fit/train.tsv",
            "eval": f"{fold}/fit/test.tsv",
        }
    return {"base": base_model(), "train": f"{fold}/train.tsv"}


def eval_flag(wildcards, input):
    return f"--eval {shlex.quote(input.eval)}" if "eval" in input.keys() else ""


def sweep_points():
    """Every (rank, learning rate, fold) of the sweep as wildcard values."""
    s = config["sweep"]
    folds = s.get("folds") or list(range(n_folds()))
    return [
        {"r": r, "lr": lr, "fold": f}
        for r in s["lora_r"]
        for lr in s["lr"]
        for f in folds
    ]


def sweep_outputs(pattern):
    return [pattern.format(**p) for p in sweep_points()]


wildcard_constraints:
    r=r"\d+",
    lr=r"[0-9.eE+-]+",
    fold=r"\d+",
