process SEQLORA_PREDICT {
    tag "${meta.id}"
    label 'process_medium'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/seqlora/seqlora:0.1.0' :
        'ghcr.io/seqlora/seqlora:0.1.0' }"

    input:
    tuple val(meta), path(rows)
    tuple val(meta2), path(base_model), path(adapter)
    val store

    output:
    tuple val(meta), path("${prefix}.predictions.tsv"), emit: predictions
    tuple val("${task.process}"), val('seqlora'), eval("seqlora --version | sed '1!d;s/.* //'"), topic: versions, emit: versions_seqlora

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def store_dir = store ?: 'seqlora-store'
    def adapter_opt = adapter ? "--adapter ${adapter}" : ''
    """
    seqlora predict \\
        --base ${base_model} \\
        ${adapter_opt} \\
        --input ${rows} \\
        ${args} \\
        --store ${store_dir} \\
        --threads ${task.cpus} \\
        -o ${prefix}.predictions.tsv
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    printf 'id\\tlabel\\n' > ${prefix}.predictions.tsv
    """
}
