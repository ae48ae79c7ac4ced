"""adapter_config.json parity with PEFT (the peer, 0.13.2 here):
  - configs written by PeftModel.save_pretrained for varied LoraConfigs read back here, and what
    sl_nn_peft_config_write writes for them is byte-identical to PEFT's file;
  - that file loads in LoraConfig.from_pretrained with equal fields, and PeftModel.from_pretrained loads
    the adapter with it;
  - sl_nn_peft_config_targets picks exactly the modules PEFT put LoRA layers on (list and regex
    target_modules, modules_to_save, layers_to_transform, layers_pattern);
  - a config with the keys of newer PEFT versions (0.17, formats.md §6.5) reads and is written back with the 0.13 key set (24 keys); unsupported features
    (use_dora, layer_replication, lora_bias, exclude_modules) and bad types are refused naming the key.

usage: test_peft_config_peer.py NNIO_TOOL"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import BertConfig, BertForSequenceClassification
from transformers.utils import logging

logging.set_verbosity_error()
tool = sys.argv[1]
tmp = os.environ.get("SEQLORA_TEST_TMP") or tempfile.mkdtemp()
os.makedirs(tmp, exist_ok=True)
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg, file=sys.stderr)


def run(*args, stdin=None):
    return subprocess.run([tool, *args], input=stdin, capture_output=True, text=True)


torch.manual_seed(0)
bert = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=32,
                  max_position_embeddings=32, num_labels=2)
configs = [
    dict(task_type="SEQ_CLS", r=8, lora_alpha=16, lora_dropout=0.1, target_modules=["query", "value"]),
    dict(task_type="SEQ_CLS", r=4, lora_alpha=32, lora_dropout=0.0, target_modules=["query", "key", "value", "dense"],
         use_rslora=True),
    dict(task_type="SEQ_CLS", r=2, lora_alpha=3.5, lora_dropout=0.05, target_modules=r".*\.attention\.self\.(query|key)",
         init_lora_weights="gaussian"),
    dict(task_type="SEQ_CLS", r=16, lora_alpha=8, lora_dropout=0.25, target_modules=["query", "value", "dense"],
         layers_to_transform=[0, 2], modules_to_save=["pooler"]),
    dict(task_type="SEQ_CLS", r=3, lora_alpha=6, target_modules=["dense"], layers_to_transform=1,
         layers_pattern="layer", rank_pattern={"output.dense": 5}, alpha_pattern={"intermediate.dense": 12.5}),
    dict(task_type="SEQ_CLS", r=4, lora_alpha=8, target_modules=["query", "value", "dense"],
         rank_pattern={"value": 2, "layer.1.attention.self.query": 6}, alpha_pattern={"dense": 3, "value": 5}),
    dict(task_type="SEQ_CLS", r=5, lora_alpha=10, target_modules=["value"], layers_to_transform=[1],
         layers_pattern=["layer"], modules_to_save=None),
    dict(task_type="SEQ_CLS", r=1, lora_alpha=1, lora_dropout=1e-05, target_modules=["intermediate.dense", "attention.output.dense"],
         init_lora_weights=False, bias="none"),
]
for i, kw in enumerate(configs):
    base = BertForSequenceClassification(bert).eval()
    names = [n for n, _ in base.named_modules() if n]
    cfg = LoraConfig(**kw)
    model = get_peft_model(base, cfg)
    peft_dir = os.path.join(tmp, "peft_%d" % i)
    shutil.rmtree(peft_dir, ignore_errors=True)
    model.save_pretrained(peft_dir)
    src = os.path.join(peft_dir, "adapter_config.json")
    ours_dir = os.path.join(tmp, "ours_%d" % i)
    os.makedirs(ours_dir, exist_ok=True)
    ours = os.path.join(ours_dir, "adapter_config.json")
    r = run("peft-copy", src, ours)
    if r.returncode != 0:
        fail("config %d: peft-copy failed: %s" % (i, r.stderr))
        continue
    a, b = open(src, "rb").read(), open(ours, "rb").read()
    if a != b:
        fail("config %d: bytes differ\n--- peft\n%s\n--- ours\n%s" % (i, a.decode(), b.decode()))
    loaded = LoraConfig.from_pretrained(ours_dir)
    for key in ("r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save", "layers_to_transform",
                "layers_pattern", "use_rslora", "init_lora_weights", "rank_pattern", "alpha_pattern", "task_type",
                "bias"):
        if getattr(loaded, key) != getattr(model.peft_config["default"], key):
            fail("config %d: %s %r != %r" % (i, key, getattr(loaded, key), getattr(model.peft_config["default"], key)))
    # the adapter loads with our config next to PEFT's weights
    shutil.copy(os.path.join(peft_dir, "adapter_model.safetensors"), ours_dir)
    try:
        PeftModel.from_pretrained(BertForSequenceClassification(bert), ours_dir)
    except Exception as e:  # noqa: BLE001 - any failure to load is the finding
        fail("config %d: PeftModel.from_pretrained failed: %s" % (i, e))
    # target matching against the modules PEFT actually wrapped
    wrapped = {n[len("base_model.model."):] for n, m in model.named_modules() if hasattr(m, "lora_A")}
    r = run("peft-targets", src, stdin="".join(n + "\n" for n in names))
    rows = [line.split() for line in r.stdout.split("\n")[:-1]]
    ours_t = {n for n, row in zip(names, rows) if row[0] == "1"}
    # rank and alpha per LoRA module (rank_pattern / alpha_pattern) as PEFT set them
    modules = dict(model.named_modules())
    for n, row in zip(names, rows):
        if n in wrapped:
            m = modules["base_model.model." + n]
            if int(row[1]) != m.r["default"] or float(row[2]) != m.lora_alpha["default"]:
                fail("config %d: %s r/alpha %s/%s != PEFT %s/%s" % (i, n, row[1], row[2], m.r["default"],
                                                                    m.lora_alpha["default"]))
    if r.returncode != 0 or ours_t != wrapped:
        fail("config %d: targets differ\n  only ours: %s\n  only PEFT: %s" %
             (i, sorted(ours_t - wrapped), sorted(wrapped - ours_t)))
    print("config %d: %d LoRA modules, bytes %s" % (i, len(wrapped), "equal" if a == b else "DIFFER"),
          file=sys.stderr)

# a config with the key set of PEFT 0.17 (formats.md §6.5) reads and is written back with the 0.13 key set (24 keys); unsupported features are refused
newer = {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "zhihan1996/DNA_bert_6",
         "bias": "none", "corda_config": None, "eva_config": None, "exclude_modules": None, "fan_in_fan_out": False,
         "inference_mode": True, "init_lora_weights": True, "layer_replication": None, "layers_pattern": None,
         "layers_to_transform": None, "loftq_config": {}, "lora_alpha": 16, "lora_bias": False, "lora_dropout": 0.1,
         "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": ["classifier", "score"],
         "peft_type": "LORA", "qalora_group_size": 16, "r": 8, "rank_pattern": {}, "revision": None,
         "target_modules": ["query", "value"], "target_parameters": None, "task_type": "SEQ_CLS",
         "trainable_token_indices": None, "use_dora": False, "use_qalora": False, "use_rslora": False,
         "peft_version": "0.18.0", "some_future_key": [1, 2]}
path = os.path.join(tmp, "newer.json")
out = os.path.join(tmp, "newer_out", "adapter_config.json")
os.makedirs(os.path.dirname(out), exist_ok=True)
json.dump(newer, open(path, "w"))
r = run("peft-copy", path, out)
if r.returncode != 0:
    fail("PEFT 0.17 key set refused: %s" % r.stderr)
else:
    written = json.load(open(out))
    if "some_future_key" in written or "lora_bias" in written or len(written) != 24:
        fail("the written config is not the 0.13 key set: %s" % sorted(written))
    LoraConfig.from_pretrained(os.path.dirname(out))
for key, value, want in [("use_dora", True, "use_dora"), ("layer_replication", [[0, 2]], "layer_replication"),
                         ("lora_bias", True, "lora_bias"), ("exclude_modules", ["key"], "exclude_modules"),
                         ("peft_type", "IA3", "IA3"), ("r", 0, "\"r\""), ("r", "8", "\"r\""),
                         ("lora_dropout", 1.5, "lora_dropout"), ("target_modules", [1], "target_modules"),
                         ("bias", "some", "bias")]:
    bad = dict(newer, **{key: value})
    json.dump(bad, open(path, "w"))
    r = run("peft-copy", path, out + ".bad")
    if r.returncode != 3 or want not in r.stderr or os.path.exists(out + ".bad"):
        fail("%s=%r: expected a data error naming %s, got %d %r" % (key, value, want, r.returncode, r.stderr))

print("peft config peer failures: %d" % failures, file=sys.stderr)
sys.exit(1 if failures else 0)
