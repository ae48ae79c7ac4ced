# A deployable bundle per sweep point (adapter, task, tokenizer, report, model card, provenance), for
# `seqlora score` / `seqlora serve`. The base model is referenced by checksum, not embedded, unless
# package.embed_base is set.


rule seqlora_package:
    input:
        base=base_model(),
        adapter="results/train/r{r}_lr{lr}_fold{fold}",
        report="results/evaluate/r{r}_lr{lr}_fold{fold}",
    output:
        "results/package/r{r}_lr{lr}_fold{fold}.tar.gz",
    log:
        "logs/package/r{r}_lr{lr}_fold{fold}.log",
    conda:
        "../envs/seqlora.yaml"
    container:
        SEQLORA_IMAGE
    params:
        store=store_flag(),
        options=cli_flags(config["package"]),
    shell:
        "seqlora package --base {input.base} --adapter {input.adapter} --report {input.report} "
        "{params.options} -o {output} {params.store} > {log} 2>&1"
