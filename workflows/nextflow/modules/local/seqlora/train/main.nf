process SEQLORA_TRAIN {
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
    tuple val(meta), path(train), path(eval)
    tuple val(meta2), path(base_model)
    val store

    output:
    tuple val(meta), path("${prefix}_adapter"), emit: adapter
    tuple val(meta), path("${prefix}_adapter/metrics.jsonl"), emit: history
    tuple val("${task.process}"), val('seqlora'), eval("seqlora --version | sed '1!d;s/.* //'"), topic: versions, emit: versions_seqlora

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def store_dir = store ?: 'seqlora-store'
    def eval_opt = eval ? "--eval ${eval}" : ''
    """
    seqlora train \\
        --base ${base_model} \\
        --train ${train} \\
        ${eval_opt} \\
        --lora-r ${meta.lora_r} \\
        --lr ${meta.lr} \\
        ${args} \\
        --store ${store_dir} \\
        --threads ${task.cpus} \\
        -o ${prefix}_adapter
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}_adapter
    echo '{}' > ${prefix}_adapter/adapter_config.json
    touch ${prefix}_adapter/adapter_model.safetensors
    touch ${prefix}_adapter/metrics.jsonl
    """
}
