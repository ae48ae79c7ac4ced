"""A PyTorch reference of DNABERT-2's BertForSequenceClassification (MosaicBERT remote code), shared by
test_dnabert2_parity.py and test_dnabert2_train_cli.py. Provenance: written from the description of the
published bert_layers.py (zhihan1996/DNABERT-2-117M on the Hugging Face hub) in reference/formats.md
§4.2-4.3; the hub file itself could not be downloaded here, so it was not compared line by line."""
import math

import torch
from torch import nn
from transformers import PretrainedConfig


def alibi_slopes(n):  # bert_layers.py _get_alibi_head_slopes
    def pow2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return pow2(n)
    c = 2 ** math.floor(math.log2(n))
    return pow2(c) + alibi_slopes(2 * c)[0::2][:n - c]


class Out:
    def __init__(self, logits, loss):
        self.logits, self.loss = logits, loss


class NS(nn.Module):
    pass


class Pooler(nn.Module):  # a module with a forward, so that PEFT's modules_to_save wrapper can call it
    def __init__(self, H):
        super().__init__()
        self.dense = nn.Linear(H, H)

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class D2Ref(nn.Module):
    def __init__(self, V, H, L, nh, I, C, problem_type, pooler=True):
        super().__init__()
        self.config = PretrainedConfig(num_labels=C, problem_type=problem_type)
        self.H, self.nh, self.I, self.C, self.pt = H, nh, I, C, problem_type
        self.bert = NS()
        e = self.bert.embeddings = NS()
        e.word_embeddings = nn.Embedding(V, H)
        e.token_type_embeddings = nn.Embedding(2, H)
        e.LayerNorm = nn.LayerNorm(H, eps=1e-12)
        self.bert.encoder = NS()
        self.bert.encoder.layer = nn.ModuleList()
        for _ in range(L):
            layer = NS()
            layer.attention = NS()
            layer.attention.self = NS()
            layer.attention.self.Wqkv = nn.Linear(H, 3 * H)
            layer.attention.output = NS()
            layer.attention.output.dense = nn.Linear(H, H)
            layer.attention.output.LayerNorm = nn.LayerNorm(H, eps=1e-12)
            layer.mlp = NS()
            layer.mlp.gated_layers = nn.Linear(H, 2 * I, bias=False)
            layer.mlp.wo = nn.Linear(I, H)
            layer.mlp.layernorm = nn.LayerNorm(H, eps=1e-12)
            self.bert.encoder.layer.append(layer)
        self.bert.pooler = Pooler(H)
        self.classifier = nn.Linear(H, C)
        self.slopes = torch.tensor(alibi_slopes(nh), dtype=torch.float32)

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kw):
        B, T = input_ids.shape
        H, nh, I = self.H, self.nh, self.I
        d = H // nh
        e = self.bert.embeddings
        x = e.LayerNorm(e.word_embeddings(input_ids) + e.token_type_embeddings(torch.zeros_like(input_ids)))
        pos = torch.arange(T)
        rel = torch.abs(pos[None, :] - pos[:, None])
        alibi = self.slopes[:, None, None] * -rel[None].float()  # [nh, T, T]
        bias = alibi[None] + (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
        for layer in self.bert.encoder.layer:
            qkv = layer.attention.self.Wqkv(x).view(B, T, 3, nh, d)
            q, k, v = (qkv[:, :, i].permute(0, 2, 1, 3) for i in range(3))
            p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, -1)
            ctx = (p @ v).permute(0, 2, 1, 3).reshape(B, T, H)
            o = layer.attention.output
            a = o.LayerNorm(o.dense(ctx) + x)
            g = layer.mlp.gated_layers(a)
            z = nn.functional.gelu(g[..., :I]) * g[..., I:]
            x = layer.mlp.layernorm(layer.mlp.wo(z) + a)
        pooled = self.bert.pooler(x)
        logits = self.classifier(pooled)
        loss = None
        if labels is not None:
            if self.pt == "regression":
                loss = nn.functional.mse_loss(logits.squeeze(), labels.squeeze())
            elif self.pt == "single_label_classification":
                loss = nn.functional.cross_entropy(logits, labels)
            else:
                loss = nn.functional.binary_cross_entropy_with_logits(logits, labels)
        return Out(logits, loss)
