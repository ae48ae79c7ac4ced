# Helpers shared by the rules: config validation, command-line flags from config sections, sweep points.
import shlex

from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml")


# Software: the Bioconda package with --sdm conda, or the container image with --sdm apptainer.
SEQLORA_IMAGE = "docker://ghcr.io/seqlora/seqlora:0.1.0"
SEQLORA_CUDA_IMAGE = "docker://ghcr.io/seqlora/seqlora:0.1.0-cuda12.6"


def cli_flags(section):
    """A config section as seqlora options: key lora_alpha: 32 -> `--lora-alpha 32`; true -> `--flag`;
    false/null -> left out. Values are shell-quoted."""
    words = []
    for key, value in (section or {}).items():
        flag = f"--{key.replace('_', '-')}"
        if value is None or value is False:
            continue
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            words += [flag, shlex_quote(",".join(str(v) for v in value))]
        else:
            words += [flag, shlex_quote(str(value))]
    return " ".join(words)


def shlex_quote(s):
    return shlex.quote(s)


def store_flag():
    """--store for every seqlora command: the shared store (absolute, so rules agree whatever their cwd)."""
    return f"--store {shlex_quote(os.path.abspath(config['store']))}"


def fold(wildcards):
    return config["folds"][int(wildcards.fold)]


def fold_file(role):
    """An input function: the `role` file (train, eval, test) of the fold of the wildcards."""

    def f(wildcards):
        return fold(wildcards)[role]

    return f


def train_inputs(wildcards):
    inputs = {"base": config["base_model"], "train": fold(wildcards)["train"]}
    if fold(wildcards).get("eval"):
        inputs["eval"] = fold(wildcards)["eval"]
    return inputs


def eval_flag(wildcards, input):
    return f"--eval {shlex_quote(input.eval)}" if "eval" in input.keys() else ""


def sweep_points():
    """Every (rank, learning rate, fold) of the sweep as wildcard values."""
    s = config["sweep"]
    folds = s.get("folds") or list(range(len(config["folds"])))
    return [
        {"r": r, "lr": lr, "fold": f} for r in s["lora_r"] for lr in s["lr"] for f in folds
    ]


def sweep_outputs(pattern):
    return [pattern.format(**p) for p in sweep_points()]


wildcard_constraints:
    r=r"\d+",
    lr=r"[0-9.eE+-]+",
    fold=r"\d+",
