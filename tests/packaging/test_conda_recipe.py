"""The Bioconda recipe: meta.yaml follows Bioconda conventions, and build.sh + the recipe's test commands work.

conda-build is not available here, so this does what it would do for the CPU output `seqlora`:
  1. render meta.yaml (Jinja with conda-build's compiler/stdlib/pin_* functions, then the `# [selector]`
     comments) and check its structure: split outputs seqlora + seqlora-cuda, run_exports via pin_subpackage,
     {{ compiler('c') }} and {{ stdlib('c') }} in build, the host libraries, test commands, about, build number;
  2. copy the source tree (as a release tarball would unpack: no build trees, no .venv, no store) and run
     build.sh with PREFIX, SRC_DIR, CPU_COUNT and PKG_NAME set, into a temporary prefix;
  3. run every `test: commands` line of the seqlora output with the prefix's bin/ first on PATH, and check the
     installed seqlora is the one being tested.
"""
import os
import shutil
import subprocess
import sys

import jinja2
import yaml

from common import SRC, check, finish

UNDEFINED = object()


def render(text, cuda_compiler_version):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    ctx = {
        "compiler": lambda lang: f"COMPILER_{lang}",
        "stdlib": lambda lang: f"STDLIB_{lang}",
        "pin_subpackage": lambda name, max_pin=None, exact=False: f"PIN_SUBPACKAGE {name} max_pin={max_pin}",
        "pin_compatible": lambda name, min_pin=None, max_pin=None: f"PIN_COMPATIBLE {name}",
        "cuda_compiler_version": cuda_compiler_version if cuda_compiler_version is not UNDEFINED else "None",
    }
    text = env.from_string(text).render(**ctx)
    ns = {"cuda_compiler_version": cuda_compiler_version if cuda_compiler_version is not UNDEFINED else UNDEFINED,
          "undefined": UNDEFINED, "linux": True, "osx": False, "win": False, "x86_64": True, "aarch64": False}
    out = []
    for line in text.splitlines():
        if "# [" in line and line.rstrip().endswith("]"):
            code, sel = line.rsplit("# [", 1)
            if not eval(sel.rstrip()[:-1], {}, ns):  # noqa: S307 - our own recipe's selectors
                continue
            line = code.rstrip()
        out.append(line)
    return yaml.safe_load("\n".join(out))


def outputs_by_name(meta):
    return {o["name"]: o for o in meta.get("outputs", [])}


def check_structure(meta, variant):
    pkg = meta["package"]
    outs = outputs_by_name(meta)
    check(set(outs) == {"seqlora", "seqlora-cuda"}, f"[{variant}] outputs are seqlora and seqlora-cuda ({list(outs)})")
    check(pkg["name"] not in outs, f"[{variant}] top-level name {pkg['name']} differs from the outputs' names")
    check(not str(pkg["version"]).startswith("v"), f"[{variant}] version has no leading v")
    check(meta["build"]["number"] == 0, f"[{variant}] build number 0")
    check(meta["source"]["url"].endswith(".tar.gz") and len(str(meta["source"]["sha256"])) == 64,
          f"[{variant}] source is a tarball url with a sha256")
    for name, o in outs.items():
        req = o["requirements"]
        build = req["build"]
        check("COMPILER_c" in build and "STDLIB_c" in build, f"[{variant}] {name}: compiler('c') and stdlib('c') in build")
        check(not any(x.split()[0] in ("gcc", "libgcc", "toolchain") for x in build), f"[{variant}] {name}: no raw compilers")
        check(o["build"]["run_exports"] == [f"PIN_SUBPACKAGE {name} max_pin=x.x"],
              f"[{variant}] {name}: run_exports pin_subpackage('{name}', max_pin='x.x')")
        host = [h.split()[0] for h in req["host"]]
        for lib in ("htslib", "lmdb", "zstd", "libarchive", "jansson", "libcurl", "openssl", "libmicrohttpd",
                    "libblas", "libcblas"):
            check(lib in host, f"[{variant}] {name}: host requires {lib}")
        check(all(">=" not in x or " >=" in x for x in build + req["host"] + req.get("run", [])),
              f"[{variant}] {name}: version constraints separated by a space")
        check(o["script"] == "build.sh", f"[{variant}] {name}: built by build.sh")
        check(len(o["test"]["commands"]) >= 2, f"[{variant}] {name}: test commands")
    cuda = outs["seqlora-cuda"]
    skipped = cuda["build"].get("skip", False)
    if variant == "cpu":
        check(skipped is True, "[cpu] seqlora-cuda is skipped without a CUDA compiler")
    else:
        check(not skipped, "[cuda] seqlora-cuda is built in the CUDA variant")
        check("COMPILER_cuda" in cuda["requirements"]["build"], "[cuda] seqlora-cuda: compiler('cuda') in build")
        check({"libcublas-dev", "cuda-cudart-dev"} <= {h.split()[0] for h in cuda["requirements"]["host"]},
              "[cuda] seqlora-cuda: cuBLAS and cudart in host")
        check("__cuda" in cuda["requirements"]["run"], "[cuda] seqlora-cuda: runs only where a CUDA driver is")
    about = meta["about"]
    for key in ("home", "license", "license_file", "summary", "dev_url", "doc_url"):
        check(bool(about.get(key)), f"[{variant}] about.{key}")


def main():
    text = open(os.path.join(SRC, "conda-recipe/meta.yaml"), encoding="utf-8").read()
    cpu = render(text, UNDEFINED)
    check_structure(cpu, "cpu")
    check_structure(render(text, "12.6"), "cuda")

    tmp = os.environ.get("SEQLORA_TEST_TMP") or os.path.join(SRC, "build", "test-tmp", "packaging_conda_recipe")
    shutil.rmtree(tmp, ignore_errors=True)
    src, prefix = os.path.join(tmp, "src"), os.path.join(tmp, "prefix")
    top_ignore = {".git", ".venv", "store", ".snakemake", ".whl", ".gl"}

    def ignore(d, names):
        drop = {n for n in names if n in ("__pycache__",)}
        if os.path.abspath(d) == os.path.abspath(SRC):
            drop |= {n for n in names if n in top_ignore or n.startswith("build")}
        return drop

    # A release tarball is `git archive` of a tag: in a git checkout copy the tracked files (what a clean clone
    # has), otherwise the whole tree minus build trees.
    ls = subprocess.run(["git", "-C", SRC, "ls-files", "-z", "--cached"], capture_output=True)
    if ls.returncode == 0 and ls.stdout:
        for rel in ls.stdout.decode().split("\0"):
            path = os.path.join(SRC, rel)
            if rel and os.path.isfile(path):
                os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
                shutil.copy2(path, os.path.join(src, rel))
    else:
        shutil.copytree(SRC, src, ignore=ignore)
    env = dict(os.environ, PREFIX=prefix, SRC_DIR=src, CPU_COUNT="2", PKG_NAME="seqlora")
    env.pop("CMAKE_ARGS", None)
    r = subprocess.run(["bash", os.path.join(SRC, "conda-recipe/build.sh")], env=env, cwd=tmp,
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-4000:], file=sys.stderr)
    check(r.returncode == 0, f"build.sh into a temporary prefix (rc {r.returncode})")
    binary = os.path.join(prefix, "bin", "seqlora")
    check(os.access(binary, os.X_OK), "build.sh installed $PREFIX/bin/seqlora")

    test_env = dict(os.environ, PATH=os.path.join(prefix, "bin") + os.pathsep + "/usr/bin:/bin")
    for k in ("SEQLORA_BIN",):
        test_env.pop(k, None)
    which = subprocess.run(["bash", "-c", "command -v seqlora"], env=test_env, capture_output=True, text=True)
    check(which.stdout.strip() == binary, f"the tests run the installed seqlora ({which.stdout.strip()})")
    for cmd in outputs_by_name(cpu)["seqlora"]["test"]["commands"]:
        t = subprocess.run(["bash", "-ec", cmd], env=test_env, cwd=tmp, capture_output=True, text=True)
        if t.returncode != 0:
            print(t.stdout[-2000:], t.stderr[-2000:], file=sys.stderr)
        check(t.returncode == 0, f"recipe test command passes: {cmd}")
    finish()


main()
