process SEQLORA_PACKAGE {
    tag "${meta.id}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/seqlora/seqlora:0.1.0' :
        'ghcr.io/seqlora/seqlora:0.1.0' }"

    input:
    tuple val(meta), path(adapter), path(report)
    tuple val(meta2), path(base_model)
    val store

    output:
    tuple val(meta), path("${prefix}.tar.gz"), emit: bundle
    tuple val("${task.process}"), val('seqlora'), eval("seqlora --version | sed '1!d;s/.* //'"), topic: versions, emit: versions_seqlora

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def store_dir = store ?: 'seqlora-store'
    def report_opt = report ? "--report ${report}" : ''
    """
    seqlora package \\
        --base ${base_model} \\
        --adapter ${adapter} \\
        ${report_opt} \\
        ${args} \\
        --store ${store_dir} \\
        --threads ${task.cpus} \\
        -o ${prefix}.tar.gz
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    echo | gzip > ${prefix}.tar.gz
    """
}
