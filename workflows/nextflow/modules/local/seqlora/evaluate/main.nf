process SEQLORA_EVALUATE {
    tag "${meta.id}"
    label 'process_low'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/seqlora/seqlora:0.1.0' :
        'ghcr.io/seqlora/seqlora:0.1.0' }"

    input:
    tuple val(meta), path(adapter), path(test)
    tuple val(meta2), path(base_model)
    val store

    output:
    tuple val(meta), path("${prefix}_report"), emit: report
    tuple val(meta), path("${prefix}_report/metrics.json"), emit: metrics
    tuple val("${task.process}"), val('seqlora'), eval("seqlora --version | sed '1!d;s/.* //'"), topic: versions, emit: versions_seqlora

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def store_dir = store ?: 'seqlora-store'
    """
    seqlora evaluate \\
        --base ${base_model} \\
        --adapter ${adapter} \\
        --dataset ${test} \\
        --history ${adapter}/metrics.jsonl \\
        ${args} \\
        --store ${store_dir} \\
        --threads ${task.cpus} \\
        -o ${prefix}_report
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}_report
    echo '{"metrics": {}}' > ${prefix}_report/metrics.json
    """
}
