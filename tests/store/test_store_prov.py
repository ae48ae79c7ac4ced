"""`seqlora store prov`: the RO-Crate output parses as JSON, has the RO-Crate 1.1 and Workflow Run contexts,
the metadata descriptor and root dataset the spec requires, one CreateAction per upstream action whose
object/result/instrument point at entities of the graph, and names every upstream input (by sha256);
the PROV-JSON output names the same entities and links them with used/wasGeneratedBy."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

DRIVER = os.environ["STORE_DRIVER"]
SEQLORA = os.environ["SEQLORA_BIN"]
T = os.environ["SEQLORA_TEST_TMP"]
shutil.rmtree(T, ignore_errors=True)
os.makedirs(T)
os.chdir(T)
S = "st"
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += 0 if cond else 1


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def run(*args):
    return subprocess.run([DRIVER, "run", S, *args, "--quiet"], check=True, capture_output=True, text=True).stdout.split()[0]


for name, text in [("in1.txt", "one\n"), ("in2.txt", "two\n"), ("in3.txt", "three\n"), ("other.txt", "x\n")]:
    open(name, "w").write(text)
kx = run("test.concat", '{"sep":"1"}', "a=in1.txt", "a=in2.txt", "-o", "out.txt=x.txt")
ky = run("test.concat", '{"sep":"2"}', "a=x.txt", "b=in3.txt", "-o", "out.txt=y.txt")
kw = run("test.concat", '{"sep":"3"}', "a=y.txt", "-o", "out.txt=w.txt")
kother = run("test.concat", '{"sep":"4"}', "a=other.txt")  # not upstream of w
upstream_inputs = {sha("in1.txt"), sha("in2.txt"), sha("in3.txt"), sha("x.txt"), sha("y.txt")}
w = sha("w.txt")

out = subprocess.run([SEQLORA, "store", "prov", "--store", S, w[:10]], check=True, capture_output=True, text=True).stdout
crate = json.loads(out)
ctx = crate["@context"]
check("https://w3id.org/ro/crate/1.1/context" in (ctx if isinstance(ctx, list) else [ctx]), "RO-Crate 1.1 context")
check("https://w3id.org/ro/terms/workflow-run/context" in ctx, "Workflow Run Crate context")
graph = {e["@id"]: e for e in crate["@graph"]}
check(len(graph) == len(crate["@graph"]), "every @id is unique")
meta = graph.get("ro-crate-metadata.json", {})
check(meta.get("about") == {"@id": "./"}, "metadata descriptor is about the root dataset")
check({"@id": "https://w3id.org/ro/crate/1.1"} in meta.get("conformsTo", []), "descriptor conforms to RO-Crate 1.1")
root = graph.get("./", {})
check(root.get("@type") == "Dataset", "root data entity")
actions = [e for e in crate["@graph"] if e.get("@type") == "CreateAction"]
check(sorted(a["identifier"] for a in actions) == sorted([kx, ky, kw]), "one CreateAction per upstream action, no other")
for a in actions:
    refs = [a["instrument"]] + a["object"] + a["result"]
    check(all(r["@id"] in graph for r in refs), f"action {a['identifier'][:12]}: instrument/object/result are in the graph")
    check(graph[a["instrument"]["@id"]]["@type"] == "SoftwareApplication", "instrument is a SoftwareApplication")
    check("startTime" in a and "endTime" in a, "start and end times")
files = {e["sha256"] for e in crate["@graph"] if "sha256" in e}
check(upstream_inputs <= files, "every upstream input is named by its sha256")
check(w in files, "the artifact itself is named")
check(sha("other.txt") not in files, "an unrelated input is not named")
check(all(r["@id"] in graph for r in root.get("hasPart", []) + root.get("mentions", [])), "hasPart/mentions resolve")

out = subprocess.run([SEQLORA, "store", "prov", "--store", S, "--format", "prov-json", w[:10]], check=True,
                     capture_output=True, text=True).stdout
prov = json.loads(out)
ents = set(prov["entity"])
check({f"sha256:{d}" for d in upstream_inputs | {w}} <= ents, "PROV-JSON: every upstream input is an entity")
check(len(prov["activity"]) == 3, "PROV-JSON: three activities")
used = {(u["prov:activity"], u["prov:entity"]) for u in prov["used"].values()}
check((f"seqlora:action-{ky}", f"sha256:{sha('in3.txt')}") in used, "PROV-JSON: used links an action to its input")
gen = {(g["prov:entity"], g["prov:activity"]) for g in prov["wasGeneratedBy"].values()}
check((f"sha256:{w}", f"seqlora:action-{kw}") in gen, "PROV-JSON: wasGeneratedBy links the artifact to its action")
check(all(u["prov:entity"] in ents and u["prov:activity"] in prov["activity"] for u in prov["used"].values()),
      "PROV-JSON: relations point at declared entities/activities")

r = subprocess.run([SEQLORA, "store", "prov", "--store", S, "--format", "xml", w[:10]], capture_output=True, text=True)
check(r.returncode == 2 and "ro-crate or prov-json" in r.stderr, "an unknown --format is a usage error")
sys.exit(1 if failures else 0)
