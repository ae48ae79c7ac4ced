"""A small reader for the nf-core-style modules of workflows/nextflow: the process name, its directives, the
input/output declarations and the `script:` and `stub:` command text. Enough to check the modules against the
seqlora CLI without Nextflow (which these machines cannot run)."""
import re
import shlex


class Module:
    def __init__(self, path):
        self.path = path
        self.text = open(path, encoding="utf-8").read()
        m = re.search(r"^process\s+(\w+)\s*\{", self.text, flags=re.M)
        self.name = m.group(1) if m else None
        self.sections = self._sections()

    def _sections(self):
        """The process body split at `input:`, `output:`, `when:`, `script:`, `stub:` (the part before the
        first of them is 'directives')."""
        body = self.text[self.text.index("{", self.text.index("process")) + 1:self.text.rstrip().rindex("}")]
        parts = re.split(r"^\s*(input|output|when|script|stub):\s*$", body, flags=re.M)
        out = {"directives": parts[0]}
        for i in range(1, len(parts) - 1, 2):
            out[parts[i]] = parts[i + 1]
        return out

    def directives(self):
        """The directive names used before `input:` (comments and blank lines ignored)."""
        names = []
        for line in self.sections["directives"].splitlines():
            s = line.strip()
            if not s or s.startswith("//") or s.startswith("'") or s.startswith('"') or s.startswith(":"):
                continue
            m = re.match(r"^([a-zA-Z_]\w*)\s", s)
            if m:
                names.append(m.group(1))
        return names

    def inputs(self):
        return [l.strip() for l in self.sections.get("input", "").splitlines() if l.strip() and not l.strip().startswith("//")]

    def outputs(self):
        return [l.strip() for l in self.sections.get("output", "").splitlines() if l.strip() and not l.strip().startswith("//")]

    def input_names(self):
        """Names bound by the input declarations: path(x), val(x), and bare `val x`."""
        names = []
        for decl in self.inputs():
            names += re.findall(r"(?:path|val)\s*\(\s*(\w+)\s*\)", decl)
            m = re.match(r"^(?:val|path)\s+(\w+)\s*$", decl)
            if m:
                names.append(m.group(1))
        return names

    def script_text(self, section="script"):
        """The triple-quoted command string of `script:` or `stub:`."""
        sec = self.sections.get(section, "")
        m = re.search(r'"""(.*?)"""', sec, flags=re.S)
        return m.group(1) if m else None

    def script_preamble(self, section="script"):
        sec = self.sections.get(section, "")
        return sec[:sec.index('"""')] if '"""' in sec else sec

    def seqlora_commands(self, section="script"):
        """Each `seqlora ...` command in the script, backslash continuations joined, as one string."""
        text = self.script_text(section) or ""
        text = text.replace("\\\\\n", " ").replace("\\\n", " ")
        return [re.sub(r"\s+", " ", l.strip()) for l in text.splitlines() if re.match(r"^\s*seqlora\s", l)]


def flags_of(command):
    """The long options (--name) a command line uses; `--name=value` counts as --name."""
    return [w.split("=", 1)[0] for w in command.split() if w.startswith("--")]


def help_flags(help_text):
    return set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", help_text))


def interpolations(text):
    """Every ${...} Groovy interpolation in a command string."""
    out, i = [], 0
    while True:
        j = text.find("${", i)
        if j < 0:
            return out
        depth, k = 0, j + 1
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        out.append(text[j + 2:k])
        i = k + 1


def substitute(text, values):
    """Replace each ${expr} by values[expr]; KeyError names an expression the caller has no value for."""
    for expr in interpolations(text):
        if expr not in values:
            raise KeyError(expr)
        text = text.replace("${" + expr + "}", str(values[expr]))
    return text


def split_command(command):
    return shlex.split(command)
