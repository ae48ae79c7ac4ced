# From a labelled variant VCF and a reference to the datasets of every fold.


rule seqlora_kmerize:
    input:
        vcf=config["variants"],
        reference=config["reference"],
    output:
        dataset="results/dataset/dataset.tsv",
        summary="results/dataset/summary.json",
    log:
        "logs/kmerize.log",
    conda:
        "../envs/seqlora.yaml"
    container:
        SEQLORA_IMAGE
    params:
        store=store_flag(),
        options=cli_flags(config["kmerize"]),
    shell:
        "seqlora kmerize --vcf {input.vcf} --reference {input.reference} {params.options} "
        "--summary {output.summary} -o {output.dataset} {params.store} > {log} 2>&1"


rule seqlora_split:
    input:
        "results/dataset/dataset.tsv",
    output:
        train="results/split/fold{fold}/train.tsv",
        test="results/split/fold{fold}/test.tsv",
        info="results/split/fold{fold}/split.json",
    log:
        "logs/split/fold{fold}.log",
    conda:
        "../envs/seqlora.yaml"
    container:
        SEQLORA_IMAGE
    params:
        store=store_flag(),
        folds=lambda wildcards: (
            f"--folds {n_folds()} --fold {wildcards.fold}" if n_folds() > 1 else ""
        ),
        # Augmented rows go to training rows only: with an early-stopping split, augment there instead.
        options=cli_flags(
            config["split"],
            skip=(
                ("folds", "eval_fraction", "augment")
                if use_eval_split()
                else ("folds", "eval_fraction")
            ),
        ),
        outdir=lambda wildcards, output: os.path.dirname(output.info),
    shell:
        "seqlora split --dataset {input} {params.folds} {params.options} "
        "-o {params.outdir} {params.store} > {log} 2>&1"


# Early-stopping rows: a second, grouped split of each fold's training rows (never its test rows).
rule seqlora_split_eval:
    input:
        "results/split/fold{fold}/train.tsv",
    output:
        train="results/split/fold{fold}/fit/train.tsv",
        test="results/split/fold{fold}/fit/test.tsv",
        info="results/split/fold{fold}/fit/split.json",
    log:
        "logs/split/fold{fold}.fit.log",
    conda:
        "../envs/seqlora.yaml"
    container:
        SEQLORA_IMAGE
    params:
        store=store_flag(),
        fraction=config["split"].get("eval_fraction") or 0.2,
        options=cli_flags(
            config["split"], skip=("folds", "eval_fraction", "test_fraction")
        ),
        outdir=lambda wildcards, output: os.path.dirname(output.info),
    shell:
        "seqlora split --dataset {input} --test-fraction {params.fraction} {params.options} "
        "-o {params.outdir} {params.store} > {log} 2>&1"
