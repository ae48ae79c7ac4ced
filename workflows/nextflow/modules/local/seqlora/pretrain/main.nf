process SEQLORA_PRETRAIN {
    tag "${meta.id}"
    label 'process_high'
    label 'process_gpu'

    conda "${ task.accelerator ? "${moduleDir}/environment.gpu.yml" : "${moduleDir}/environment.yml" }"
    container "${ task.accelerator ?
        (workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
            'docker://ghcr.io/seqlora/seqlora:0.1.0-cuda12.6' :
            'ghcr.io/seqlora/seqlora:0.1.0-cuda12.6') :
        (workflow.containerEngine in ['singularity', 'apptainer'] && !task.ext.singularity_pull_docker_container ?
            'docker://ghcr.io/seqlora/seqlora:0.1.0' :
            'ghcr.io/seqlora/seqlora:0.1.0') }"

    input:
    tuple val(meta), path(fasta)
    tuple val(meta2), path(init_model)
    val store

    output:
    tuple val(meta), path("${prefix}"), emit: model
    tuple val("${task.process}"), val('seqlora'), eval("seqlora --version | sed '1!d;s/.* //'"), topic: versions, emit: versions_seqlora

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_pretrained"
    def store_dir = store ?: 'seqlora-store'
    """
    seqlora pretrain \\
        --fasta ${fasta} \\
        --init-from ${init_model} \\
        ${args} \\
        --store ${store_dir} \\
        --threads ${task.cpus} \\
        -o ${prefix}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_pretrained"
    """
    mkdir -p ${prefix}
    echo '{}' > ${prefix}/config.json
    touch ${prefix}/model.safetensors ${prefix}/vocab.txt
    """
}
