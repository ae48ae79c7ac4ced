# LoRA fine-tuning, one job per sweep point (rank r, learning rate lr, fold). Resumable: a job killed by the
# scheduler continues from its last checkpoint in the store when Snakemake reruns it.


rule seqlora_train:
    input:
        unpack(train_inputs),
    output:
        adapter=directory("results/train/r{r}_lr{lr}_fold{fold}"),
    log:
        "logs/train/r{r}_lr{lr}_fold{fold}.log",
    benchmark:
        "benchmarks/train/r{r}_lr{lr}_fold{fold}.tsv"
    conda:
        "../envs/seqlora-cuda.yaml" if config.get("gpu") else "../envs/seqlora.yaml"
    container:
        SEQLORA_CUDA_IMAGE if config.get("gpu") else SEQLORA_IMAGE
    threads: 4
    resources:
        gpu=1 if config.get("gpu") else 0,
    params:
        store=store_flag(),
        eval=eval_flag,
        options=cli_flags(config["train"]),
    shell:
        "seqlora train --base {input.base} --train {input.train} {params.eval} "
        "--lora-r {wildcards.r} --lr {wildcards.lr} {params.options} "
        "-o {output.adapter} {params.store} --threads {threads} > {log} 2>&1"
