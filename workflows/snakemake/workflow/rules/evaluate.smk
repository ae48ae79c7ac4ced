# Held-out metrics with bootstrap confidence intervals, ROC/PR and loss plots, per sweep point.


rule seqlora_evaluate:
    input:
        base=base_model(),
        adapter="results/train/r{r}_lr{lr}_fold{fold}",
        test="results/split/fold{fold}/test.tsv",
    output:
        report=directory("results/evaluate/r{r}_lr{lr}_fold{fold}"),
    log:
        "logs/evaluate/r{r}_lr{lr}_fold{fold}.log",
    conda:
        "../envs/seqlora.yaml"
    container:
        SEQLORA_IMAGE
    threads: 2
    params:
        store=store_flag(),
        options=cli_flags(config["evaluate"]),
    shell:
        "seqlora evaluate --base {input.base} --adapter {input.adapter} --dataset {input.test} "
        "--history {input.adapter}/metrics.jsonl {params.options} "
        "-o {output.report} {params.store} --threads {threads} > {log} 2>&1"
