# The sweep: one table of every point's held-out metrics (rank, learning rate, fold, metric, CI).


rule sweep_summary:
    input:
        sweep_outputs("results/evaluate/r{r}_lr{lr}_fold{fold}"),
    output:
        "results/sweep/summary.tsv",
    log:
        "logs/sweep/summary.log",
    conda:
        "../envs/python.yaml"
    container:
        "docker://python:3.12-slim"
    script:
        "../scripts/sweep_summary.py"
