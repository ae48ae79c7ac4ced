/*
 * SEQLORA: a LoRA sweep. Every (fold, LoRA rank, learning rate) is one training task and one evaluation
 * task, so a cluster runs them in parallel; all tasks share the seqlora store (`store`), which makes any step
 * already computed anywhere with the same inputs and parameters a cache hit.
 */
include { SEQLORA_TRAIN    } from '../../modules/local/seqlora/train/main'
include { SEQLORA_EVALUATE } from '../../modules/local/seqlora/evaluate/main'

workflow SEQLORA {
    take:
    ch_folds        // channel: [ val(meta), path(train), path(eval) or [], path(test) ]
    ch_base_model   // channel (value): [ val(meta2), path(base_model) ]
    lora_ranks      // list of integers
    learning_rates  // list of numbers
    store           // val: the shared seqlora store ('' = a private store per task)

    main:
    ch_points = ch_folds
        .flatMap { meta, train, eval, test ->
            lora_ranks.collectMany { r ->
                learning_rates.collect { lr ->
                    [ meta + [ id: "r${r}_lr${lr}_${meta.id}", fold: meta.id, lora_r: r, lr: lr ], train, eval, test ]
                }
            }
        }

    SEQLORA_TRAIN(
        ch_points.map { meta, train, eval, _test -> [ meta, train, eval ] },
        ch_base_model,
        store
    )

    SEQLORA_EVALUATE(
        SEQLORA_TRAIN.out.adapter.join(ch_points.map { meta, _train, _eval, test -> [ meta, test ] }),
        ch_base_model,
        store
    )

    emit:
    adapters = SEQLORA_TRAIN.out.adapter     // channel: [ val(meta), path(adapter) ]
    reports  = SEQLORA_EVALUATE.out.report   // channel: [ val(meta), path(report) ]
    metrics  = SEQLORA_EVALUATE.out.metrics  // channel: [ val(meta), path(metrics.json) ]
}
