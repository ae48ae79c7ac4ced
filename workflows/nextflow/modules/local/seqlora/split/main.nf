process SEQLORA_SPLIT {
    tag "${meta.id}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/seqlora/seqlora:0.1.0' :
        'ghcr.io/seqlora/seqlora:0.1.0' }"

    input:
    tuple val(meta), path(dataset)
    val store

    output:
    tuple val(meta), path("${prefix}/train.tsv"), path("${prefix}/test.tsv"), emit: split
    tuple val(meta), path("${prefix}/split.json"), emit: info
    tuple val("${task.process}"), val('seqlora'), eval("seqlora --version | sed '1!d;s/.* //'"), topic: versions, emit: versions_seqlora

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_split"
    def store_dir = store ?: 'seqlora-store'
    """
    seqlora split \\
        --dataset ${dataset} \\
        ${args} \\
        --store ${store_dir} \\
        --threads ${task.cpus} \\
        -o ${prefix}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_split"
    """
    mkdir -p ${prefix}
    printf 'id\\tsequence\\tlabel\\n' > ${prefix}/train.tsv
    printf 'id\\tsequence\\tlabel\\n' > ${prefix}/test.tsv
    echo '{}' > ${prefix}/split.json
    """
}
