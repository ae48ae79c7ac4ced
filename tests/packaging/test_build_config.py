"""The Dockerfile, the Apptainer definition and the conda recipe build what the README builds.

Checks, by parsing the files (no container engine or conda is available to build them here):
  - the README's source build (its `cmake -S . -B build ...` line, and docs/install.md's, which must agree) is
    the configuration every route uses: same flags, extras only from an allow-list (prefix, backend, tests off);
  - the images install packages only through scripts/install-deps.sh (build stage: `build`, runtime: `runtime`),
    whose package lists are not empty, and never with apt-get/pip of their own;
  - the Dockerfile: multi-stage, CPU and CUDA via ARG BACKEND (nvidia/cuda devel → runtime), no ENTRYPOINT,
    bash as the default command, no USER pinning, OCI labels; .dockerignore keeps build trees out;
  - the Apptainer definition: Bootstrap first, build and final stages, %runscript forwards "$@", %test runs
    `seqlora --version`, %labels and %help present.
"""
import os
import re
import subprocess

from common import ALLOWED_EXTRA, SRC, check, configure_lines, commands_in, finish, markdown_code, read


def readme_configure():
    """The configure line of the README's source build: in its code blocks, or in the script(s) its code
    blocks run (the README's quick start is `scripts/demo.sh`); docs/install.md must agree."""
    sources = []
    for doc in ("README.md", "docs/install.md"):
        if os.path.exists(os.path.join(SRC, doc)):
            code = markdown_code(read(doc))
            lines = configure_lines(code)
            where = doc
            if not lines:
                for script in re.findall(r"(?:^|\s)(scripts/[\w.-]+\.sh)\b", code):
                    if os.path.exists(os.path.join(SRC, script)):
                        lines = configure_lines(read(script))
                        if lines:
                            where = f"{doc} -> {script}"
                            break
            check(len(lines) >= 1, f"{where} shows a `cmake -S ...` configure command")
            if lines:
                sources.append((where, lines[0]))
        else:
            print(f"note {doc} does not exist (yet); not compared")
    check(len(sources) >= 1, "a README.md or docs/install.md gives the source build")
    if len(sources) == 2:
        check(sources[0][1] == sources[1][1],
              f"README.md and docs/install.md configure alike: {sources[0][1]} vs {sources[1][1]}")
    return sources[0][1] if sources else None


def check_configure(name, text, ref, n_expected):
    lines = configure_lines(text)
    check(len(lines) == n_expected, f"{name}: {n_expected} cmake configure command(s), found {len(lines)}")
    for words in lines:
        check(words[:len(ref)] == ref, f"{name}: configure starts with the README's flags {' '.join(ref)}: {' '.join(words)}")
        extra = words[len(ref):]
        bad = [w for w in extra if not ALLOWED_EXTRA.match(w)]
        check(not bad, f"{name}: no configure flags beyond the allowed extras (found {bad})")
    build = [c for c in commands_in(text) if re.match(r"^cmake\s+--build\s", c)]
    check(len(build) >= 1 and all(" build" in c for c in build), f"{name}: builds the `build` tree: {build}")


def check_installs(name, text, modes):
    cmds = commands_in(text)
    own = [c for c in cmds if re.search(r"\b(apt-get|apt|yum|dnf|apk|conda|mamba|pip3?)\s+install\b", c)]
    check(not own, f"{name}: installs nothing on its own (found {own})")
    used = [m for c in cmds for m in re.findall(r"install-deps\.sh\s+(\w+)", c)]
    check(used == modes, f"{name}: installs through install-deps.sh {modes} (found {used})")


def main():
    ref = readme_configure()
    for mode in ("build", "runtime"):
        out = subprocess.run(["bash", os.path.join(SRC, "scripts/install-deps.sh"), "--print", mode],
                             capture_output=True, text=True, check=True).stdout.split()
        check(len(out) > 3, f"install-deps.sh --print {mode} lists packages ({len(out)})")
        if mode == "runtime":
            check("procps" in out, "runtime packages include procps (`ps`, needed by Nextflow)")

    # ---- Dockerfile --------------------------------------------------------------------------------
    df = read("containers/Dockerfile")
    froms = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", df, flags=re.M | re.I)
    stages = [s for _, s in froms]
    check(len(froms) >= 2, f"Dockerfile is multi-stage ({len(froms)} FROM lines)")
    check(re.search(r"^ARG BACKEND=cpu$", df, flags=re.M) is not None, "Dockerfile: ARG BACKEND=cpu")
    check(("build-base-${BACKEND}", "build") in froms and ("runtime-base-${BACKEND}", "runtime") in froms,
          "Dockerfile: build and runtime stages selected by BACKEND")
    check({"build-base-cpu", "build-base-cuda", "runtime-base-cpu", "runtime-base-cuda"} <= set(stages),
          "Dockerfile: a cpu and a cuda base for each stage")
    check(re.search(r"CUDA_BUILD_IMAGE=nvidia/cuda:\$\{CUDA_VERSION\}-devel-", df) is not None
          and re.search(r"CUDA_RUNTIME_IMAGE=nvidia/cuda:\$\{CUDA_VERSION\}-runtime-", df) is not None,
          "Dockerfile: CUDA builds on nvidia/cuda devel, runs on nvidia/cuda runtime")
    check(re.search(r"^ARG CUDA_VERSION=\d+\.\d+\.\d+$", df, flags=re.M) is not None
          and re.search(r"^ARG DEBIAN_IMAGE=debian:\d+\.\d+-slim$", df, flags=re.M) is not None,
          "Dockerfile: base images pinned to a release")
    check(re.search(r"-DSEQLORA_CUDA=OFF", df) and re.search(r"-DSEQLORA_CUDA=ON", df),
          "Dockerfile: CPU image builds with CUDA off, CUDA image with it on")
    check(re.search(r"^\s*ENTRYPOINT", df, flags=re.M) is None, "Dockerfile: no ENTRYPOINT")
    check(re.search(r'^CMD \["/bin/bash"\]$', df, flags=re.M) is not None, "Dockerfile: bash is the default command")
    check(re.search(r"^\s*USER\s", df, flags=re.M) is None, "Dockerfile: no fixed USER (runs as any UID)")
    check("SEQLORA_STORE=" in df, "Dockerfile: SEQLORA_STORE set for a mounted store")
    for label in ("title", "version", "revision", "source", "licenses"):
        check(f"org.opencontainers.image.{label}=" in df, f"Dockerfile: OCI label {label}")
    # Split into the build and runtime stages to check which install mode each uses.
    parts = re.split(r"^FROM\s+", df, flags=re.M)
    build_stage = next(p for p in parts if p.startswith("build-base-${BACKEND} AS build"))
    run_stage = next(p for p in parts if p.startswith("runtime-base-${BACKEND} AS runtime"))
    check_installs("Dockerfile build stage", build_stage, ["build"])
    check_installs("Dockerfile runtime stage", run_stage, ["runtime"])
    check("COPY --from=build /opt/seqlora /opt/seqlora" in run_stage and "PATH=/opt/seqlora/bin:" in run_stage,
          "Dockerfile: runtime copies the installed tree (binary + CUDA module) and puts it on PATH")
    if ref:
        # The backend flags live in SEQLORA_CMAKE_BACKEND per base stage.
        check_configure("Dockerfile", df, ref, 1)
    ign = read("containers/Dockerfile.dockerignore").split()
    check({"build*/", ".venv/", "store/"} <= set(ign), "Dockerfile.dockerignore keeps build trees, .venv, store out")

    # ---- Apptainer ---------------------------------------------------------------------------------
    de = read("containers/seqlora.def")
    check(de.splitlines()[0] == "Bootstrap: docker", "seqlora.def: `Bootstrap: docker` is the first line")
    check(re.findall(r"^Stage: (\w+)", de, flags=re.M) == ["build", "final"], "seqlora.def: build and final stages")
    sections = {}
    for m in re.finditer(r"^%(\w+)([^\n]*)\n(.*?)(?=^%|^Bootstrap:|\Z)", de, flags=re.M | re.S):
        sections.setdefault(m.group(1), []).append((m.group(2).strip(), m.group(3)))
    for sec in ("files", "post", "environment", "runscript", "test", "labels", "help"):
        check(sec in sections, f"seqlora.def: %{sec} section")
    posts = sections.get("post", [])
    check(len(posts) == 2, "seqlora.def: a %post per stage")
    if len(posts) == 2:
        check_installs("seqlora.def build %post", posts[0][1], ["build"])
        check_installs("seqlora.def final %post", posts[1][1], ["runtime"])
        if ref:
            check_configure("seqlora.def", posts[0][1], ref, 1)
    check(any(a == "from build" and "/opt/seqlora /opt/seqlora" in b for a, b in sections.get("files", [])),
          "seqlora.def: final stage copies the installed tree %files from build")
    run = "".join(b for _, b in sections.get("runscript", []))
    check('"$@"' in run and "seqlora" in run, "seqlora.def: %runscript forwards \"$@\" to seqlora")
    test = "".join(b for _, b in sections.get("test", []))
    check("seqlora --version" in test, "seqlora.def: %test runs seqlora --version")
    # Run the %test section in a shell against this build (as `apptainer build` would inside the image).
    seqlora_bin = os.environ.get("SEQLORA_BIN")
    if check(bool(seqlora_bin), "SEQLORA_BIN is set, to run seqlora.def's %test"):
        tmp = os.environ.get("SEQLORA_TEST_TMP") or "/tmp"
        bindir = os.path.join(tmp, "def-test-bin")
        os.makedirs(bindir, exist_ok=True)
        link = os.path.join(bindir, "seqlora")
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.abspath(seqlora_bin), link)
        env = dict(os.environ, PATH=bindir + os.pathsep + "/usr/bin:/bin", SEQLORA_DEMO_DATA=os.path.join(SRC, "data"))
        env.pop("SEQLORA_STORE", None)
        r = subprocess.run(["sh", "-c", test], env=env, cwd=tmp, capture_output=True, text=True)
        check(r.returncode == 0, f"seqlora.def: %test passes in sh against this build (rc {r.returncode}) {r.stderr[-500:]}")
    labels = "".join(b for _, b in sections.get("labels", []))
    check("org.opencontainers.image.version" in labels, "seqlora.def: %labels carry the version")

    # ---- one version everywhere ----------------------------------------------------------------------
    version = re.search(r"project\(seqlora VERSION (\S+)", read("CMakeLists.txt")).group(1)
    found = {
        "conda-recipe/meta.yaml": re.findall(r'set version = "([^"]+)"', read("conda-recipe/meta.yaml")),
        "containers/Dockerfile": re.findall(r"^ARG SEQLORA_VERSION=(\S+)$", df, flags=re.M),
        "containers/seqlora.def": re.findall(r"org\.opencontainers\.image\.version (\S+)", de),
        "workflows/nextflow/nextflow.config": re.findall(r"^\s*version\s*=\s*'([^']+)'", read("workflows/nextflow/nextflow.config"), flags=re.M),
        "workflows/snakemake images": re.findall(r"ghcr\.io/seqlora/seqlora:(\d[\w.]*?)(?:-cuda[\d.]+)?\"", read("workflows/snakemake/workflow/rules/common.smk")),
        "workflows/snakemake envs": re.findall(r"seqlora(?:-cuda)? =(\S+)", read("workflows/snakemake/workflow/envs/seqlora.yaml") + read("workflows/snakemake/workflow/envs/seqlora-cuda.yaml")),
    }
    for where, vs in found.items():
        ok = bool(vs) and all(version == v or version.startswith(v + ".") for v in vs)
        check(ok, f"{where} names seqlora {version} ({vs})")

    # ---- conda build.sh ----------------------------------------------------------------------------
    if ref:
        check_configure("conda-recipe/build.sh", read("conda-recipe/build.sh"), ref, 1)
    finish()


main()
