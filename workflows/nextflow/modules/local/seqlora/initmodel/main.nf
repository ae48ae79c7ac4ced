process SEQLORA_INITMODEL {
    tag "${meta.id}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "${ workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
        'docker://ghcr.io/seqlora/seqlora:0.1.0' :
        'ghcr.io/seqlora/seqlora:0.1.0' }"

    input:
    tuple val(meta), path(bert_config)
    val store

    output:
    tuple val(meta), path("${prefix}"), emit: model
    tuple val("${task.process}"), val('seqlora'), eval("seqlora --version | sed '1!d;s/.* //'"), topic: versions, emit: versions_seqlora

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def store_dir = store ?: 'seqlora-store'
    def config_opt = bert_config ? "--config ${bert_config}" : ''
    """
    seqlora init-model \\
        ${config_opt} \\
        ${args} \\
        --store ${store_dir} \\
        --threads ${task.cpus} \\
        -o ${prefix}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}
    echo '{}' > ${prefix}/config.json
    touch ${prefix}/model.safetensors ${prefix}/vocab.txt
    """
}
