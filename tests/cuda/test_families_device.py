"""train/predict --device cuda on ESM-2 (rotary, token dropout), NT v1 (absolute positions) and DNABERT-2
bases through the emulated CUDA module (SEQLORA_CUDA_EMU), against the same runs on the CPU: adapter tensors
and predict probabilities within tolerance; kill-free resume is covered by the BERT test. Exits 1 on failure."""
import itertools, json, os, shutil, subprocess, sys
import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import EsmConfig, EsmForSequenceClassification

sys.path.insert(0, os.path.join(os.environ["SEQLORA_SOURCE_DIR"], "tests", "families"))
from d2_reference import D2Ref  # noqa: E402

BIN, EMU = os.environ["SEQLORA_BIN"], os.environ["SEQLORA_CUDA_EMU"]
TMP = os.path.join(os.environ.get("SEQLORA_TEST_TMP", "/tmp"), "cuda_families_cli")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
FAILED = []
torch.set_num_threads(1)

def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)

ESM_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>"] + list("LAGVSERTIDPKQNFYMHWCXBUZO") + [".", "-", "<null_1>", "<mask>"]
NT_VOCAB = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"] + ["".join(p) for p in itertools.product("ATCG", repeat=6)] + list("ATCGN")

def esm_base(name, vocab, **kw):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    open(os.path.join(d, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
    json.dump({"model_max_length": 64, "tokenizer_class": "EsmTokenizer"}, open(os.path.join(d, "tokenizer_config.json"), "w"))
    torch.manual_seed(0)
    cfg = EsmConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=64, max_position_embeddings=66, num_labels=2, hidden_dropout_prob=0.0,
                    attention_probs_dropout_prob=0.0, pad_token_id=1, mask_token_id=vocab.index("<mask>"),
                    layer_norm_eps=1e-5, **kw)
    EsmForSequenceClassification(cfg).save_pretrained(d, safe_serialization=True)
    return d

def d2_base(name):
    rng = np.random.default_rng(5)
    seqs = ["".join(rng.choice(list("ACGT"), size=int(rng.integers(20, 60)))) for _ in range(200)]
    d = os.path.join(TMP, name)
    os.makedirs(d)
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(seqs, trainers.BpeTrainer(vocab_size=80, special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]))
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    tok.save(os.path.join(d, "tokenizer.json"))
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
               "pad_token": "[PAD]", "mask_token": "[MASK]"}, open(os.path.join(d, "tokenizer_config.json"), "w"))
    V, H, L, NH, I = tok.get_vocab_size(), 32, 2, 4, 48
    torch.manual_seed(0)
    model = D2Ref(V, H, L, NH, I, 2, "single_label_classification")
    save_file({k: v for k, v in model.state_dict().items() if "pooler" not in k}, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    json.dump({"alibi_starting_size": 512, "attention_probs_dropout_prob": 0.0, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
               "hidden_size": H, "intermediate_size": I, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
               "num_attention_heads": NH, "num_hidden_layers": L, "type_vocab_size": 2, "vocab_size": V,
               "auto_map": {"AutoConfig": "configuration_bert.BertConfig", "AutoModel": "bert_layers.BertModel"}},
              open(os.path.join(d, "config.json"), "w"))
    return d

rng = np.random.default_rng(1)
def dataset(path, n, alphabet, motif):
    rows = ["id\tsequence\tlabel"]
    for i in range(n):
        s = "".join(rng.choice(list(alphabet), size=int(rng.integers(10, 40))))
        rows.append(f"s{i}\t{s}\t{'case' if motif in s else 'control'}")
    open(path, "w").write("\n".join(rows) + "\n")

def seqlora(args, store, module):
    env = dict(os.environ, SEQLORA_CUDA_MODULE=module)
    return subprocess.run([BIN] + args + ["--store", store], capture_output=True, text=True, env=env)

def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))

CASES = [("esm2", lambda: esm_base("esm2_base", ESM_VOCAB, position_embedding_type="rotary", token_dropout=True), "ACDEFGHIKLMNPQRSTVWY", "K", ["--target-modules", "query,key,value"]),
         ("ntv1", lambda: esm_base("ntv1_base", NT_VOCAB, position_embedding_type="absolute", token_dropout=False, emb_layer_norm_before=True), "ACGT", "GC", []),
         ("d2", lambda: d2_base("d2_base"), "ACGT", "GC", ["--target-modules", "Wqkv,wo"])]
for name, mk, alphabet, motif, extra in CASES:
    base = mk()
    train, evl = os.path.join(TMP, name + "_train.tsv"), os.path.join(TMP, name + "_eval.tsv")
    dataset(train, 40, alphabet, motif)
    dataset(evl, 12, alphabet, motif)
    res = {}
    for dev in ("cpu", "cuda"):
        out, store = os.path.join(TMP, f"{name}_{dev}"), os.path.join(TMP, f"{name}_{dev}_store")
        r = seqlora(["train", "--base", base, "--train", train, "-o", out, "--epochs", "2", "--batch-size", "8",
                     "--lora-dropout", "0.1", "--device", dev] + extra, store, EMU if dev == "cuda" else "none")
        check(r.returncode == 0, f"{name}: train --device {dev}: exit {r.returncode} {r.stderr.strip()[-300:]}")
        if r.returncode:
            continue
        p = os.path.join(TMP, f"{name}_{dev}.tsv")
        r2 = seqlora(["predict", "--base", base, "--adapter", out, "--input", evl, "-o", p, "--device", dev], store,
                     EMU if dev == "cuda" else "none")
        check(r2.returncode == 0, f"{name}: predict --device {dev}: exit {r2.returncode} {r2.stderr.strip()[-300:]}")
        rows = [l.rstrip("\n").split("\t") for l in open(p)][1:] if r2.returncode == 0 else []
        res[dev] = (load_file(os.path.join(out, "adapter_model.safetensors")), np.array([[float(x) for x in row[2:]] for row in rows]))
    if len(res) == 2:
        a, b = res["cuda"][0], res["cpu"][0]
        worst = max(rel(a[k].numpy(), b[k].numpy()) for k in b)
        check(set(a) == set(b) and worst <= 1e-4, f"{name}: adapter tensors device vs CPU, worst relative L2 {worst:.2e} (bound 1e-4), {len(b)} tensors")
        d = float(np.max(np.abs(res["cuda"][1] - res["cpu"][1]))) if res["cpu"][1].size else 1.0
        check(res["cpu"][1].size > 0 and d <= 1e-4, f"{name}: predict probabilities device vs CPU max |diff| {d:.2e} (bound 1e-4)")
print("FAILED:" if FAILED else "all passed", *FAILED, sep="\n  ")
sys.exit(1 if FAILED else 0)
