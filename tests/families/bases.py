"""Tiny random bases of the non-BERT families for the end-to-end tests: a DNABERT-2 (MosaicBERT config with
auto_map, a BPE tokenizer.json trained on random DNA, d2_reference.D2Ref weights without a pooler, as published),
a Nucleotide Transformer v1 and an ESM-2 (transformers' EsmForSequenceClassification; 6-mer / amino-acid
EsmTokenizer vocabularies)."""
import itertools
import json
import os

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import EsmConfig, EsmForSequenceClassification, EsmTokenizer

from d2_reference import D2Ref

def rand_dna(rng, n, lo, hi):
    return ["".join(rng.choice(list("ACGT"), size=int(rng.integers(lo, hi)))) for _ in range(n)]


def make_d2(d, rng):
    """Write a DNABERT-2 base into the new directory d; returns its `tokenizers` Tokenizer (pad id 3)."""
    os.makedirs(d)
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(rand_dna(rng, 200, 20, 60), trainers.BpeTrainer(
        vocab_size=80, special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]))
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    tok.save(os.path.join(d, "tokenizer.json"))
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "cls_token": "[CLS]",
               "sep_token": "[SEP]", "pad_token": "[PAD]", "mask_token": "[MASK]"},
              open(os.path.join(d, "tokenizer_config.json"), "w"))
    V = tok.get_vocab_size()
    torch.manual_seed(0)
    model = D2Ref(V, 32, 2, 4, 48, 2, "single_label_classification")
    sd = {k: v for k, v in model.state_dict().items() if "pooler" not in k}  # as published: no pooler
    save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    json.dump({"alibi_starting_size": 512, "attention_probs_dropout_prob": 0.0, "hidden_act": "gelu",
               "hidden_dropout_prob": 0.1, "hidden_size": 32, "intermediate_size": 48, "layer_norm_eps": 1e-12,
               "max_position_embeddings": 512, "num_attention_heads": 4, "num_hidden_layers": 2,
               "type_vocab_size": 2, "vocab_size": V,
               "auto_map": {"AutoConfig": "configuration_bert.BertConfig", "AutoModel": "bert_layers.BertModel"}},
              open(os.path.join(d, "config.json"), "w"))
    return tok


NT_VOCAB = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"] + \
    ["".join(p) for p in itertools.product("ATCG", repeat=6)] + list("ATCGN")


def _make_esm(d, vocab, **kw):
    """An EsmForSequenceClassification base (hidden 32, 2 layers, 2 classes) with `vocab` and EsmTokenizer files."""
    os.makedirs(d)
    open(os.path.join(d, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
    json.dump({"model_max_length": 64, "tokenizer_class": "EsmTokenizer"},
              open(os.path.join(d, "tokenizer_config.json"), "w"))
    torch.manual_seed(0)
    cfg = EsmConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=64, max_position_embeddings=66, num_labels=2, hidden_dropout_prob=0.0,
                    attention_probs_dropout_prob=0.0, pad_token_id=1, mask_token_id=vocab.index("<mask>"),
                    layer_norm_eps=1e-5, **kw)
    EsmForSequenceClassification(cfg).save_pretrained(d, safe_serialization=True)
    return EsmTokenizer(os.path.join(d, "vocab.txt"))


def make_nt(d, rng=None):
    """Write a Nucleotide Transformer v1 base (absolute pad-aware positions, 6-mer vocabulary) into the new
    directory d; returns its EsmTokenizer."""
    return _make_esm(d, NT_VOCAB, position_embedding_type="absolute", token_dropout=False)


ESM_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>"] + list("LAGVSERTIDPKQNFYMHWCXBUZO") + [".", "-", "<null_1>", "<mask>"]


def make_esm2(d, rng=None):
    """Write an ESM-2-style protein base (rotary positions, token dropout, the 33-token alphabet) into the new
    directory d; returns its EsmTokenizer."""
    return _make_esm(d, ESM_VOCAB, position_embedding_type="rotary", token_dropout=True)
