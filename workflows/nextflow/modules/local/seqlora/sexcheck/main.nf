process SEQLORA_SEXCHECK {
    tag "${meta.id}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/seqlora/seqlora:0.1.0' :
        'ghcr.io/seqlora/seqlora:0.1.0' }"

    input:
    tuple val(meta), path(vcf), path(sex_table)
    val build
    val store

    output:
    tuple val(meta), path("${prefix}.sexcheck.tsv"), emit: tsv
    tuple val("${task.process}"), val('seqlora'), eval("seqlora --version | sed '1!d;s/.* //'"), topic: versions, emit: versions_seqlora

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def store_dir = store ?: 'seqlora-store'
    def sex_opt = sex_table ? "--sex-table ${sex_table}" : ''
    """
    seqlora sexcheck \\
        --vcf ${vcf} \\
        --build ${build} \\
        ${sex_opt} \\
        ${args} \\
        --store ${store_dir} \\
        --threads ${task.cpus} \\
        -o ${prefix}.sexcheck.tsv
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    printf 'sample\\tF\\n' > ${prefix}.sexcheck.tsv
    """
}
