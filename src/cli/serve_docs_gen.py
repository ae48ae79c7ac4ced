#!/usr/bin/env python3
"""Generate src/cli/serve_docs.c (the OpenAPI document and the /docs page compiled into `seqlora serve`) and
docs/openapi.json (the same document, for readers of the repository). Run from the repository root after
editing this file:  python3 src/cli/serve_docs_gen.py"""
import json
import os

ERR = {"$ref": "#/components/schemas/Error"}


def resp(desc, schema=None):
    r = {"description": desc}
    if schema is not None:
        r["content"] = {"application/json": {"schema": schema}}
    return r


def errors(*codes):
    text = {
        "400": "A sequence holds a character other than A, C, G, T, N (a protein model: other than its one-letter "
               "residues; `position` is 1-based), is empty, or a variant's ref/position do not match its sequence.",
        "401": "The server has a token (--token-file) and the request lacks `Authorization: Bearer <token>`.",
        "413": "The body is larger than --max-body bytes, or a batch has more than 1000 items.",
        "422": "Malformed JSON, not an object, or a missing / wrongly typed field (`field` names it).",
    }
    return {c: resp(text[c], ERR) for c in codes}


SEQ = {"type": "string", "pattern": "^[A-Za-z]+$",
       "description": "DNA; any case; A, C, G, T, N only. For a protein model (ESM-2; GET /v1/model: "
                      "bundle.tokenizer.input is \"protein\") the one-letter residues of its vocabulary"}

spec = {
    "openapi": "3.0.3",
    "info": {
        "title": "seqlora model server",
        "version": "1",
        "description": "Scores DNA sequences with a LoRA-fine-tuned genomic language model packaged by "
                       "`seqlora package`. Research use only, not a diagnostic.",
    },
    "paths": {
        "/predict_risk": {"post": {
            "summary": "Risk probability of one sequence (the seed's API)",
            "security": [{"bearer": []}, {}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["brca1_sequence"],
                "properties": {"brca1_sequence": SEQ}},
                "example": {"brca1_sequence": "ATGGATTTATCTGCTCTTCGCGTTGAAGAAGTACAAAATGTCATTAATGCTATGCAGAAAATCTTAGAG"}}}},
            "responses": {"200": resp("The probability of the positive class, rounded to 4 decimals; interpretation "
                                      "'High risk' when it is above the model's threshold (0.7 by default), else "
                                      "'Low risk'.", {"$ref": "#/components/schemas/RiskResponse"}),
                          **errors("400", "401", "413", "422")}}},
        "/v1/predict": {"post": {
            "summary": "Batch scoring of sequences, or REF/ALT scoring of variants",
            "security": [{"bearer": []}, {}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                {"type": "object", "required": ["sequences"], "properties": {"sequences": {
                    "type": "array", "minItems": 1, "maxItems": 1000, "items": {
                        "type": "object", "required": ["sequence"],
                        "properties": {"id": {"type": "string"}, "sequence": SEQ}}}}},
                {"type": "object", "required": ["variants"], "properties": {"variants": {
                    "type": "array", "minItems": 1, "maxItems": 1000, "items": {
                        "type": "object", "required": ["sequence", "position", "ref", "alt"],
                        "properties": {"id": {"type": "string"},
                                       "sequence": {**SEQ, "description": "the reference context (REF window)"},
                                       "position": {"type": "integer", "minimum": 1,
                                                    "description": "1-based position of ref in sequence"},
                                       "ref": SEQ, "alt": SEQ}}}}}]},
                "example": {"sequences": [{"id": "s1", "sequence": "ACGTACGTACGTAGCTAGCTAGCATCGATCGA"}]}}}},
            "responses": {"200": resp("Per item: class probabilities (long sequences: the mean over overlapping "
                                      "windows, `windows` says how many); for variants p_ref, p_alt and "
                                      "delta = p_alt - p_ref of the positive class.",
                                      {"type": "object", "properties": {
                                          "status": {"type": "string"}, "model": {"type": "string"},
                                          "class": {"type": "string"},
                                          "results": {"type": "array", "items": {"type": "object"}}}}),
                          **errors("400", "401", "413", "422")}}},
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": resp("The server is up.", {
            "type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]},
                                             "model": {"type": "string"},
                                             "device": {"type": "string", "description": "where the model runs: cpu or cuda:N (serve --device)"},
                                             "precision": {"type": "string", "enum": ["fp32", "bf16", "fp16"]}}})}}},
        "/v1/model": {"get": {"summary": "The model: bundle.json, metrics with confidence intervals, model card, digest",
                              "security": [{"bearer": []}, {}],
                              "responses": {"200": resp("Model description.", {"type": "object"}),
                                            **errors("401")}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": resp("OpenAPI 3.0.3 JSON.")}}},
        "/docs": {"get": {"summary": "An HTML page with the endpoints and a form to try them (no external resources)",
                          "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}}}},
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "RiskResponse": {"type": "object", "required": ["status", "brca1_sequence", "breast_cancer_risk_probability",
                                                            "interpretation"],
                             "properties": {"status": {"type": "string", "enum": ["success"]},
                                            "brca1_sequence": {"type": "string", "description": "upper-cased input"},
                                            "breast_cancer_risk_probability": {"type": "number", "minimum": 0,
                                                                               "maximum": 1},
                                            "interpretation": {"type": "string", "enum": ["High risk", "Low risk"]}}},
            "Error": {"type": "object", "required": ["status", "error"],
                      "properties": {"status": {"type": "string", "enum": ["error"]}, "error": {"type": "string"},
                                     "field": {"type": "string"}, "position": {"type": "integer"}}},
        },
    },
}

HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>seqlora model server</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}code,pre,textarea{font-family:monospace}
textarea{width:100%;height:8em}pre{background:#f4f4f4;padding:1em;overflow:auto}td,th{padding:.2em .6em;text-align:left}</style>
</head><body>
<h1>seqlora model server</h1>
<p>Research use only, <b>not a diagnostic</b>. The model card is at <a href="v1/model">/v1/model</a>,
the OpenAPI document at <a href="openapi.json">/openapi.json</a>.</p>
<table><tr><th>method</th><th>path</th><th>what</th></tr>
<tr><td>POST</td><td>/predict_risk</td><td>{"brca1_sequence": "..."} &rarr; risk probability and interpretation</td></tr>
<tr><td>POST</td><td>/v1/predict</td><td>{"sequences": [{"id", "sequence"}]} or {"variants": [{"id", "sequence", "position", "ref", "alt"}]}</td></tr>
<tr><td>GET</td><td>/healthz</td><td>liveness</td></tr>
<tr><td>GET</td><td>/v1/model</td><td>bundle metadata, metrics, model card</td></tr>
<tr><td>GET</td><td>/openapi.json</td><td>the API description</td></tr></table>
<p>Errors: 400 bad bases (with the position), 401 token, 404 path, 413 body too large, 422 malformed JSON or missing field.</p>
<h2>Try it</h2>
<form id="f"><label>endpoint <select id="ep"><option>/predict_risk</option><option>/v1/predict</option></select></label>
<label>bearer token <input id="tok" type="password"></label><br>
<textarea id="body">{"brca1_sequence": "ATGGATTTATCTGCTCTTCGCGTTGAAGAAGTACAAAATGTCATTAATGCTATGCAGAAAATCTTAGAG"}</textarea><br>
<button type="submit">send</button></form>
<pre id="out"></pre>
<script>
document.getElementById('ep').onchange=function(){document.getElementById('body').value=this.value=='/v1/predict'?
'{"sequences": [{"id": "s1", "sequence": "ACGTACGTACGTAGCTAGCTAGCATCGATCGA"}]}':
'{"brca1_sequence": "ATGGATTTATCTGCTCTTCGCGTTGAAGAAGTACAAAATGTCATTAATGCTATGCAGAAAATCTTAGAG"}';};
document.getElementById('f').onsubmit=function(e){e.preventDefault();var h={'Content-Type':'application/json'};
var t=document.getElementById('tok').value;if(t)h['Authorization']='Bearer '+t;
fetch(document.getElementById('ep').value.substring(1),{method:'POST',headers:h,body:document.getElementById('body').value})
.then(function(r){return r.text().then(function(x){document.getElementById('out').textContent=r.status+'\\n'+x;});})
.catch(function(x){document.getElementById('out').textContent=String(x);});};
</script></body></html>
"""


def c_literal(text):
    out = []
    for line in text.splitlines(keepends=True):
        esc = line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        out.append('    "' + esc + '"')
    return "\n".join(out)


doc = json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
src = ("/* GENERATED by src/cli/serve_docs_gen.py — edit that file, then run it. The OpenAPI document and the /docs\n"
       " * page of `seqlora serve` (served from the binary: no CDN, works offline). */\n"
       "/* clang-format off */\n"
       '#include "serve.h"\n\n'
       "const char sl_serve_openapi_json[] =\n" + c_literal(doc) + ";\n\n"
       "const char sl_serve_docs_html[] =\n" + c_literal(HTML) + ";\n")
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
open(os.path.join(root, "src/cli/serve_docs.c"), "w").write(src)
open(os.path.join(root, "docs/openapi.json"), "w").write(doc)
