# The base model. config.base_model: a pretrained checkpoint. Without one, `seqlora init-model` writes a
# seeded random BERT with a DNABERT k-mer vocabulary (it runs the pipeline end to end but knows nothing
# about DNA). With a `pretrain` section, `seqlora pretrain` continues from either of them with masked-language
# modelling on the reference sequence (both strands), and that is the base every training job uses.

PRETRAIN = bool(config.get("pretrain"))


rule seqlora_init_model:
    input:
        config=config.get("init_model", {}).get("config") or [],
    output:
        directory("results/init_model" if PRETRAIN else "results/base_model"),
    log:
        "logs/init_model.log",
    conda:
        "../envs/seqlora.yaml"
    container:
        SEQLORA_IMAGE
    params:
        store=store_flag(),
        config=lambda wildcards, input: (
            f"--config {input.config}" if input.config else ""
        ),
        options=cli_flags(config.get("init_model"), skip=("config",)),
    shell:
        "seqlora init-model {params.config} {params.options} -o {output} {params.store} > {log} 2>&1"


rule seqlora_pretrain:
    input:
        model=config.get("base_model") or "results/init_model",
        fasta=config["reference"],
    output:
        directory("results/base_model"),
    log:
        "logs/pretrain.log",
    benchmark:
        "benchmarks/pretrain.tsv"
    conda:
        "../envs/seqlora-cuda.yaml" if config.get("gpu") else "../envs/seqlora.yaml"
    container:
        SEQLORA_CUDA_IMAGE if config.get("gpu") else SEQLORA_IMAGE
    threads: 4
    resources:
        gpu=1 if config.get("gpu") else 0,
    params:
        store=store_flag(),
        options=cli_flags(config.get("pretrain")),
    shell:
        "seqlora pretrain --fasta {input.fasta} --init-from {input.model} {params.options} "
        "-o {output} {params.store} --threads {threads} > {log} 2>&1"
