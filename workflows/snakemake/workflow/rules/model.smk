# The base model when config.base_model is not set: a seeded random BERT with a DNABERT k-mer vocabulary
# (`seqlora init-model`). It knows nothing about DNA: it runs the pipeline end to end; real work needs a
# pretrained checkpoint (config.base_model).


rule seqlora_init_model:
    input:
        config=config.get("init_model", {}).get("config") or [],
    output:
        directory("results/base_model"),
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
