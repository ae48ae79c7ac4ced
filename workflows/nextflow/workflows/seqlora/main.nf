/*
 * SEQLORA: from a labelled variant VCF and a reference to validated, packaged LoRA models.
 *
 *   [INITMODEL] [-> PRETRAIN] -> KMERIZE -> SPLIT (one task per fold) -> SPLIT_EVAL -> TRAIN (fold x rank x lr) -> EVALUATE -> PACKAGE
 *
 * Every sweep point is its own training, evaluation and packaging task, so a cluster runs them in
 * parallel; all tasks share the seqlora store (`store`), which makes any step already computed anywhere with
 * the same inputs and parameters a cache hit with byte-identical outputs.
 */
include { SEQLORA_INITMODEL                    } from '../../modules/local/seqlora/initmodel/main'
include { SEQLORA_PRETRAIN                     } from '../../modules/local/seqlora/pretrain/main'
include { SEQLORA_KMERIZE                      } from '../../modules/local/seqlora/kmerize/main'
include { SEQLORA_SPLIT                        } from '../../modules/local/seqlora/split/main'
include { SEQLORA_SPLIT as SEQLORA_SPLIT_EVAL  } from '../../modules/local/seqlora/split/main'
include { SEQLORA_TRAIN                        } from '../../modules/local/seqlora/train/main'
include { SEQLORA_EVALUATE                     } from '../../modules/local/seqlora/evaluate/main'
include { SEQLORA_PACKAGE                      } from '../../modules/local/seqlora/package/main'

workflow SEQLORA {
    take:
    ch_variants       // channel: [ val(meta), path(vcf) ]
    ch_reference      // channel (value): [ val(meta2), path(fasta) ]
    base_model        // val: a Hugging Face checkpoint directory, or null: a seeded random model (init-model)
    ch_init_config    // channel: [ val(meta), path(bert_config.json) or [] ] (used when base_model is null)
    pretrain          // boolean: MLM-pretrain the base on the reference first (its FASTA must be plain)
    n_folds           // integer: k-fold cross-validation when >= 2
    test_folds        // list of integers: the folds to run
    eval_split        // boolean: hold out part of each fold's training rows for early stopping
    lora_ranks        // list of integers
    learning_rates    // list of numbers
    store             // val: the shared seqlora store ('' = a private store per task)

    main:
    ch_model = channel.empty()
    if (base_model) {
        ch_model = channel.value([ [ id: file(base_model).name ], file(base_model, checkIfExists: true) ])
    } else {
        SEQLORA_INITMODEL(ch_init_config, store)
        ch_model = SEQLORA_INITMODEL.out.model.first()
    }
    if (pretrain) {
        SEQLORA_PRETRAIN(ch_reference, ch_model, store)
        ch_model = SEQLORA_PRETRAIN.out.model.first()
    }

    SEQLORA_KMERIZE(ch_variants, ch_reference, store)

    SEQLORA_SPLIT(
        SEQLORA_KMERIZE.out.dataset.flatMap { meta, dataset ->
            test_folds.collect { f -> [ meta + [ id: "${meta.id}_fold${f}".toString(), fold: f, folds: n_folds ], dataset ] }
        },
        store
    )
    ch_test = SEQLORA_SPLIT.out.split.map { meta, _train, test -> [ meta, test ] }
    ch_fit = channel.empty()
    if (eval_split) {
        SEQLORA_SPLIT_EVAL(SEQLORA_SPLIT.out.split.map { meta, train, _test -> [ meta, train ] }, store)
        ch_fit = SEQLORA_SPLIT_EVAL.out.split                       // [ meta, fit_train, fit_eval ]
    } else {
        ch_fit = SEQLORA_SPLIT.out.split.map { meta, train, _test -> [ meta, train, [] ] }
    }

    ch_points = ch_fit
        .join(ch_test)
        .flatMap { meta, train, eval, test ->
            lora_ranks.collectMany { r ->
                learning_rates.collect { lr ->
                    [ meta + [ id: "r${r}_lr${lr}_fold${meta.fold}".toString(), lora_r: r, lr: lr ], train, eval, test ]
                }
            }
        }

    SEQLORA_TRAIN(ch_points.map { meta, train, eval, _test -> [ meta, train, eval ] }, ch_model, store)
    SEQLORA_EVALUATE(
        SEQLORA_TRAIN.out.adapter.join(ch_points.map { meta, _train, _eval, test -> [ meta, test ] }),
        ch_model,
        store
    )
    SEQLORA_PACKAGE(SEQLORA_TRAIN.out.adapter.join(SEQLORA_EVALUATE.out.report), ch_model, store)

    emit:
    dataset  = SEQLORA_KMERIZE.out.dataset   // channel: [ val(meta), path(dataset.tsv) ]
    adapters = SEQLORA_TRAIN.out.adapter     // channel: [ val(meta), path(adapter) ]
    reports  = SEQLORA_EVALUATE.out.report   // channel: [ val(meta), path(report) ]
    metrics  = SEQLORA_EVALUATE.out.metrics  // channel: [ val(meta), path(metrics.json) ]
    bundles  = SEQLORA_PACKAGE.out.bundle    // channel: [ val(meta), path(model.tar.gz) ]
}
