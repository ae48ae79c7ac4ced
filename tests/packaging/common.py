"""Helpers shared by the packaging tests: find the README's build commands, parse CMake configure lines."""
import os
import re
import shlex
import sys

SRC = os.environ.get("SEQLORA_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Every packaging route must configure exactly the README's flags, plus only the flags below (install location,
# backends (CUDA; oneDNN, off where only an unsupported oneDNN 3.x is packaged), no test targets, conda's
# toolchain).
ALLOWED_EXTRA = re.compile(
    r"^(-DSEQLORA_CUDA=(ON|OFF|\$\{cuda\}|\"\$\{cuda\}\")|-DSEQLORA_CUDA_ARCHS=.*|-DSEQLORA_ONEDNN=(ON|OFF)"
    r"|-DCMAKE_INSTALL_PREFIX=.*"
    r"|-DCMAKE_INSTALL_LIBDIR=lib|-DSEQLORA_TESTS=OFF|\$\{CMAKE_ARGS(:-)?\}|\$\{SEQLORA_CMAKE_BACKEND\})$")

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        failures.append(msg)
    return cond


def finish():
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


def logical_lines(text):
    """Join backslash-continued lines (shell, Dockerfile) and strip Dockerfile RUN/&& glue."""
    out, cur = [], ""
    for line in text.splitlines():
        s = line.rstrip()
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        out.append(cur + s)
        cur = ""
    if cur:
        out.append(cur)
    return out


def commands_in(text):
    """Every simple command in a shell-ish text: logical lines split on && ; and leading RUN/$."""
    cmds = []
    for line in logical_lines(text):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"&&|;|\|\|", line):
            part = part.strip()
            part = re.sub(r"^(RUN|\$)\s+", "", part)
            if part:
                cmds.append(part)
    return cmds


def configure_lines(text):
    """The `cmake -S ...` configure commands in a text, each as a list of words (quotes kept for ${..})."""
    found = []
    for c in commands_in(text):
        if re.match(r"^cmake\s+-S\s", c):
            found.append(c.split())
    return found


def markdown_code(text):
    """The contents of the fenced code blocks of a Markdown text."""
    return "\n".join(re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S))
