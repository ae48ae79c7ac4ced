#!/usr/bin/env nextflow
/*
 * seqlora: LoRA fine-tuning of a genomic language model as a sweep of cached, shared-store steps.
 *
 *   nextflow run workflows/nextflow -profile test,docker --outdir results
 *   nextflow run workflows/nextflow -profile singularity,gpu --variants labelled.vcf.gz --reference ref.fa \
 *       --base_model dnabert6/ --lora_ranks 8,16,32 --learning_rates 1e-4,3e-4 \
 *       --store /shared/seqlora-store --outdir results -resume
 *
 * Every module runs one `seqlora` command (tests/workflows/test_nextflow_modules.py checks each against
 * `seqlora <step> --help` and runs it on the demo data).
 */
include { validateParameters; paramsSummaryLog } from 'plugin/nf-schema'
include { SEQLORA } from './workflows/seqlora/main'

workflow {
    main:
    validateParameters()
    log.info paramsSummaryLog(workflow)

    ch_variants  = channel.value([ [ id: file(params.variants).simpleName ], file(params.variants, checkIfExists: true) ])
    ch_reference = channel.value([ [ id: file(params.reference).simpleName ], file(params.reference, checkIfExists: true) ])
    ch_init      = channel.of([ [ id: 'base_model' ], params.init_model_config ? file(params.init_model_config, checkIfExists: true) : [] ])
    def n_folds  = params.folds as Integer
    def folds    = params.test_folds ? params.test_folds.toString().tokenize(',').collect { it.trim() as Integer } : (0..<Math.max(n_folds, 1)).toList()
    def ranks    = params.lora_ranks.toString().tokenize(',').collect { it.trim() as Integer }
    def lrs      = params.learning_rates.toString().tokenize(',').collect { it.trim() as BigDecimal }

    SEQLORA(
        ch_variants, ch_reference, params.base_model, ch_init, params.pretrain_args != null,
        n_folds, folds, (params.eval_fraction ?: 0) > 0, ranks, lrs, params.store ?: ''
    )

    // One table of every sweep point's held-out metrics.
    SEQLORA.out.metrics
        .map { meta, json ->
            def m = new groovy.json.JsonSlurper().parse(json).metrics ?: [:]
            [ meta.lora_r, meta.lr, meta.fold, m.roc_auc, m.average_precision, m.accuracy, m.f1_macro, m.mcc ].join('\t')
        }
        .collectFile(
            name: 'summary.tsv',
            storeDir: "${params.outdir}/sweep",
            seed: [ 'lora_r', 'lr', 'fold', 'roc_auc', 'average_precision', 'accuracy', 'f1_macro', 'mcc' ].join('\t'),
            newLine: true,
            sort: true
        )

    channel.topic('versions')
        .map { process, tool, version -> "${process.tokenize(':').last()}:\n  ${tool}: ${version}" }
        .unique()
        .collectFile(name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info", newLine: true, sort: true)
}
