process SEQLORA_SCORE {
    tag "${meta.id}"
    label 'process_medium'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/seqlora/seqlora:0.1.0' :
        'ghcr.io/seqlora/seqlora:0.1.0' }"

    input:
    tuple val(meta), path(rows)
    tuple val(meta2), path(bundle), path(base_model)
    val store

    output:
    tuple val(meta), path("${prefix}.scores.tsv"), emit: scores
    tuple val("${task.process}"), val('seqlora'), eval("seqlora --version | sed '1!d;s/.* //'"), topic: versions, emit: versions_seqlora

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def store_dir = store ?: 'seqlora-store'
    def base_opt = base_model ? "--base ${base_model}" : ''
    """
    seqlora score \\
        --model ${bundle} \\
        ${base_opt} \\
        --input ${rows} \\
        ${args} \\
        --store ${store_dir} \\
        --threads ${task.cpus} \\
        -o ${prefix}.scores.tsv
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    printf 'id\\tlabel\\n' > ${prefix}.scores.tsv
    """
}
