process SEQLORA_KMERIZE {
    tag "${meta.id}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/seqlora/seqlora:0.1.0' :
        'ghcr.io/seqlora/seqlora:0.1.0' }"

    input:
    tuple val(meta), path(vcf)
    tuple val(meta2), path(reference)
    val store

    output:
    tuple val(meta), path("${prefix}.dataset.tsv"), emit: dataset
    tuple val(meta), path("${prefix}.summary.json"), emit: summary
    tuple val("${task.process}"), val('seqlora'), eval("seqlora --version | sed '1!d;s/.* //'"), topic: versions, emit: versions_seqlora

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def store_dir = store ?: 'seqlora-store'
    """
    seqlora kmerize \\
        --vcf ${vcf} \\
        --reference ${reference} \\
        ${args} \\
        --summary ${prefix}.summary.json \\
        --store ${store_dir} \\
        --threads ${task.cpus} \\
        -o ${prefix}.dataset.tsv
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    printf 'id\\tsequence\\tlabel\\n' > ${prefix}.dataset.tsv
    echo '{}' > ${prefix}.summary.json
    """
}
