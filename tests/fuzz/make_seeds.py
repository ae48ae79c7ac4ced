#!/usr/bin/env python3
"""(Re)generate the hand-made part of the seed corpora in tests/fuzz/corpus/<target>/.

Run with the project's venv python (safetensors, transformers and peft write the model-file seeds, so they
are what real tools produce). Real data files are copied from tests/data. Seeds are small on purpose:
libFuzzer mutates them, it does not need big ones."""
import hashlib, io, json, os, shutil, subprocess, sys, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
C = os.path.join(HERE, "corpus")


def put(target, name, content):
    d = os.path.join(C, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(content)


def head_lines(path, n):
    with open(path, "rb") as f:
        return b"".join(f.readline() for _ in range(n))


SEP = "\n%%\n"  # fuzz_util.h fz_split


def safetensors_seeds():
    import numpy as np
    from safetensors.numpy import save
    put("safetensors", "f32_f16.safetensors", save({"w": np.arange(6, dtype=np.float32).reshape(2, 3),
                                                    "b": np.ones(3, dtype=np.float16)},
                                                   metadata={"format": "pt"}))
    put("safetensors", "i64_scalar.safetensors", save({"ids": np.arange(4, dtype=np.int64),
                                                       "s": np.array(1.5, dtype=np.float32)}))
    put("safetensors", "empty_tensor.safetensors", save({"e": np.zeros((0, 4), dtype=np.float32)}))
    try:
        import torch
        from safetensors.torch import save as tsave
        put("safetensors", "bf16.safetensors", tsave({"x": torch.ones(2, 2, dtype=torch.bfloat16)}))
    except ImportError:
        pass
    hdr = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    put("safetensors", "handmade_header.safetensors", len(hdr).to_bytes(8, "little") + hdr + b"\0\0\x80?")
    put("safetensors", "huge_len", (1 << 62).to_bytes(8, "little") + b"{}")
    put("safetensors", "overlap", len(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                      b'"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}').to_bytes(8, "little")
        + b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'
        + bytes(12))


def tokenizer_seeds():
    vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n" + "".join(a + b + c + "\n" for a in "ACGT" for b in "ACGT" for c in "ACGT")
    put("tokenizer", "dnabert3", vocab + SEP + '{"do_lower_case": false, "model_max_length": 512}' + SEP + SEP
        + "ACG TTT GGG NNN acg")
    bert = "[PAD]\n[unused1]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\nvariant\nbrca\n##1\n,\n.\ncafe\n"
    put("tokenizer", "bert_lower", bert + SEP + '{"do_lower_case": true, "strip_accents": null, '
        '"tokenize_chinese_chars": true, "never_split": ["[MASK]"]}' + SEP
        + '{"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", '
        '"mask_token": {"content": "[MASK]", "lstrip": true}}' + SEP + "The BRCA1 variants, Café 中文 [MASK].")
    put("tokenizer", "esm", "<cls>\n<pad>\n<eos>\n<unk>\nL\nA\nG\n<mask>\n" + SEP
        + '{"tokenizer_class": "EsmTokenizer", "model_max_length": 1024}' + SEP + SEP + "LAGG")
    put("tokenizer", "dup_vocab", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[SEP]\n")


def model_json_seeds():
    from transformers import BertConfig
    cfg = BertConfig(vocab_size=69, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=16, max_position_embeddings=64)
    put("bert_config", "tiny.json", cfg.to_json_string())
    cfg = BertConfig(vocab_size=69, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                     id2label={0: "benign", 1: "pathogenic", 2: "vus"}, problem_type="multi_label_classification")
    put("bert_config", "labels.json", cfg.to_json_string())
    put("bert_config", "bad_act.json", '{"hidden_act": "relu", "num_labels": 1e9}')
    from peft import LoraConfig, TaskType
    import tempfile
    for i, kw in enumerate([dict(r=8, lora_alpha=16, target_modules=["query", "value"]),
                            dict(r=4, lora_alpha=8, use_rslora=True, target_modules=["query", "key", "value", "dense"],
                                 modules_to_save=["classifier", "pooler"], lora_dropout=0.1),
                            dict(r=2, target_modules="query|value")]):
        c = LoraConfig(task_type=TaskType.SEQ_CLS, **kw)
        with tempfile.TemporaryDirectory() as d:
            c.save_pretrained(d)
            put("peft_config", f"peft_{i}.json", open(os.path.join(d, "adapter_config.json"), "rb").read())
    put("peft_config", "types.json", '{"peft_type": "LORA", "r": -1, "lora_alpha": "x", "target_modules": [1]}')


def table_seeds():
    put("pred_table", "binary", b"\x01id\tlabel\tprob_benign\tprob_pathogenic\nv1\tbenign\t0.9\t0.1\nv2\tpathogenic\t0.2\t0.8\n")
    put("pred_table", "auto_multilabel", b"\x00id\tlabel\tprob_a\tprob_b\nx\ta,b\t0.5\t0.6\ny\t\t0.1\t0.2\n")
    put("pred_table", "regression", b"\x04id\tlabel\tprediction\nx\t1.5\t1.25\ny\t-2\tnan\n")
    put("pred_table", "multiclass_crlf", b"\x02id\tlabel\tprob_a\tprob_b\tprob_c\r\nx\tc\t0.2\t0.3\t0.5\r\n")
    put("history", "metrics.jsonl", '{"epoch":1,"step":10,"train_loss":0.69,"eval_loss":0.61,"eval_auc":0.74,"lr":0.0003}\n'
        '{"epoch":2,"step":20,"train_loss":0.5,"eval_loss":null,"best":true}\n\n{"step":30,"eval_f1":1e308}\n')
    put("history", "bad_line.jsonl", '{"epoch":1}\n[1,2]\n')
    put("dataset", "single", b"\x00id\tsequence\tlabel\nv1\tACG CGT GTA\tbenign\nv2\tTTT\tpathogenic\n")
    put("dataset", "multi_need", b"\x05id\tsequence\tlabel\textra\nv1\tACG\ta,b\tx\nv2\tCCC NNN\t\ty\n")
    put("dataset", "regression", b"\x06sequence\tid\tlabel\nACG ACG ACG ACG ACG ACG ACG ACG ACG ACG ACG ACG ACG ACG ACG ACG ACG\tv1\t0.5\n")
    put("dataset", "no_label", b"\x00id\tsequence\nv1\tACG\n")


def bio_seeds():
    put("gdc_manifest", "tcga_brca_head", head_lines(os.path.join(DATA, "gdc", "gdc_manifest.tcga-brca-star-counts.txt"), 4))
    put("gdc_manifest", "crlf_blank", "id\tfilename\tmd5\tsize\r\n\r\nead53b27-6ad9-4b96-b5d4-0d4f06fb2d13\ta.tsv\t"
        "0948d5b1ea684cd62a6ec7dafbeda026\t0\r\n")
    put("gdc_manifest", "traversal", "id\tfilename\tmd5\tsize\nead53b27-6ad9-4b96-b5d4-0d4f06fb2d13\t..\t"
        "0948d5b1ea684cd62a6ec7dafbeda026\t12\n")
    put("clinical", "tcga_brca_head", head_lines(os.path.join(DATA, "gdc", "clinical.tcga-brca.tsv"), 6))
    put("clinical", "quoted", 'case_submitter_id\tvital_status\tgender\n"TCGA-1"\tDead\tfemale\n"TCGA-2\tAlive\t--\n'
        "TCGA-1\t'--\tnot reported\n")
    put("clinical", "sexcheck", "sample\tF\tsites\thaploid_calls\thet_calls\tevidence\tinferred_sex\treported_sex\tstatus\n"
        "HG00096\t1.000000\t10\t10\t0\thaploid\tmale\tfemale\tPROBLEM\nHG00097\tnan\t0\t0\t0\tnone\tunknown\tunknown\tUNKNOWN\n")
    passed = os.path.join(DATA, "hts-specs-vcf", "4.2", "passed")
    for n in ["passed_body_info.vcf", "passed_body_samples.vcf", "passed_meta_contig.vcf", "passed_ploidy_001.vcf",
              "passed_body_alt.vcf"]:
        shutil.copy(os.path.join(passed, n), os.path.join(C, "vcf", n)) if os.path.isdir(os.path.join(C, "vcf")) else (
            put("vcf", n, open(os.path.join(passed, n), "rb").read()))
    failed = os.path.join(DATA, "hts-specs-vcf", "4.2", "failed")
    for n in ["failed_body_info_000.vcf", "failed_body_format_002.vcf"]:
        put("vcf", n, open(os.path.join(failed, n), "rb").read())
    put("vcf", "samtools_head.vcf", head_lines(os.path.join(DATA, "callers", "samtools.vcf"), 60))
    put("vcf", "chrx_sex.vcf", "##fileformat=VCFv4.2\n##contig=<ID=X,length=155270560>\n"
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tHG00096\tHG00097\tHG00099\n"
        "X\t2800000\t.\tA\tG\t50\tPASS\tDP=30\tGT:DP\t1:20\t0|1:20\t0/0:5\n"
        "X\t3000000\trs1\tC\tT,<NON_REF>\t60\tPASS\tDP=40\tGT:DP\t0:20\t1/1:12\t./.:.\n"
        "X\t155000000\t.\tG\tA\t99\t.\t.\tGT\t1\t0/1\t1/1\n")


def json_seeds():
    put("json", "params", '{"min_qual": 30, "b": [1, 2.5, -0.0, 1e300, "\\u00e9\\ud83d\\ude00"], "a": {"z": null, "y": true}}')
    put("json", "scalars", '[0.1, 1E-7, 123456789012345678, -9223372036854775808, "\\u0001\\t\\"", false]')
    put("json", "string", '"x"')


def hexdigest(b):
    return hashlib.sha256(b).hexdigest()


HELLO = hexdigest(b"hello\n")
EMPTY = hexdigest(b"")


def store_seeds():
    rec = {"schema": 1, "key": "0" * 64, "step": "clean", "version": 1,
           "params": {"min_qual": 30, "samples": ["HG00096"]},
           "inputs": {"vcf": {"digest": HELLO, "type": "file"}},
           "outputs": {"vcf": {"digest": EMPTY, "type": "file"}, "report": {"digest": HELLO, "type": "tree"}},
           "checksum": "0" * 64, "provenance": {"seqlora": "0.1.0", "seconds": 1.5}}
    put("store_record", "record.json", json.dumps(rec, sort_keys=True))
    rec2 = dict(rec, inputs={}, outputs={})
    put("store_record", "no_io.json", json.dumps(rec2))
    put("store_record", "bad_types.json", '{"schema":1,"step":"x","version":1,"params":{},"inputs":{"a":[]},"outputs":{"o":{"digest":1}}}')
    put("store_blob", "raw.txt", b"hello\n")
    z = subprocess.run(["zstd", "-q", "-c", "--content-size"], input=b"hello\n" * 100, capture_output=True, check=True).stdout
    put("store_blob", "hello.zst", z)
    z2 = subprocess.run(["zstd", "-q", "-c", "--no-content-size"], input=b"x" * 1000, capture_output=True, check=True).stdout
    put("store_blob", "no_content_size.zst", z2)
    put("store_blob", "truncated.zst", z[:len(z) // 2])
    put("store_blob", "empty", b"")
    tree = {"seqlora_tree": 1, "entries": [
        {"digest": HELLO, "mode": "0644", "path": "a.txt", "size": 6},
        {"digest": EMPTY, "mode": "0755", "path": "sub/dir/run.sh", "size": 0}]}
    put("store_tree", "tree.json", json.dumps(tree, sort_keys=True, separators=(",", ":")))
    for i, p in enumerate(["../escape", "/abs", "a/../../b", "a//b", ".", "x/", "a/./b"]):
        put("store_tree", f"evil_{i}.json", json.dumps({"seqlora_tree": 1, "entries": [
            {"digest": HELLO, "mode": "0644", "path": p, "size": 6}]}))
    put("store_tree", "file_then_dir.json", json.dumps({"seqlora_tree": 1, "entries": [
        {"digest": HELLO, "mode": "0644", "path": "a", "size": 6},
        {"digest": HELLO, "mode": "0644", "path": "a/b", "size": 6}]}))
    put("store_tree", "missing_blob.json", json.dumps({"seqlora_tree": 1, "entries": [
        {"digest": "1" * 64, "mode": "0644", "path": "a", "size": 6}]}))

    def tar(members):
        bio = io.BytesIO()
        with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
            for name, data in members:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mtime = 0
                t.addfile(ti, io.BytesIO(data))
        return bio.getvalue()
    put("store_import", "blobs.tar", tar([(f"blobs/sha256/{HELLO[:2]}/{HELLO[2:4]}/{HELLO}", b"hello\n"),
                                          (f"blobs/sha256/{EMPTY[:2]}/{EMPTY[2:4]}/{EMPTY}", b"")]))
    put("store_import", "bad_hash.tar", tar([(f"blobs/sha256/{EMPTY[:2]}/{EMPTY[2:4]}/{EMPTY}", b"not empty")]))
    put("store_import", "traversal.tar", tar([(f"../../blobs/sha256/00/00/{HELLO}", b"hello\n"),
                                              ("actions/00/" + "0" * 64 + ".json", b"{}")]))




def torch_pickle_seeds():
    """data.pkl of real torch.save checkpoints (views sharing a storage, f16/i64, a Parameter) and two
    refusals (an os.system REDUCE, a top-level list)."""
    import collections, pickle, zipfile
    import torch

    def pkl_of(obj):
        b = io.BytesIO()
        torch.save(obj, b)
        z = zipfile.ZipFile(io.BytesIO(b.getvalue()))
        return z.read([n for n in z.namelist() if n.endswith("data.pkl")][0])
    x = torch.arange(16, dtype=torch.float32)
    put("torch_pickle", "views.pkl", pkl_of(collections.OrderedDict(
        [("w", x[:8].view(2, 4)), ("b", x[8:12]), ("t", x.view(4, 4).t())])))
    put("torch_pickle", "f16_i64.pkl", pkl_of({"h": torch.ones(3, dtype=torch.float16), "i": torch.arange(2)}))
    put("torch_pickle", "scalar_param.pkl", pkl_of({"p": torch.nn.Parameter(torch.tensor(2.0))}))

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    put("torch_pickle", "evil_os_system.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    put("torch_pickle", "not_a_dict.pkl", pickle.dumps([1, 2.5, "x", None, True], protocol=4))


if __name__ == "__main__":
    safetensors_seeds()
    tokenizer_seeds()
    model_json_seeds()
    table_seeds()
    bio_seeds()
    json_seeds()
    store_seeds()
    torch_pickle_seeds()
    print("seeds written under", C)
