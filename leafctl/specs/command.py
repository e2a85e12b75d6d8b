"""What leafctl adds to az ml v2 job and endpoint specs, on both backends: ``${{inputs.x}}`` checks and
substitution, model references, and the --dry-run view of a job with secret-looking values hidden.

YAML specs (``-f spec.yml``) are read by azure-ai-ml's own loaders in ``leafctl.specs.load``,
which builds its records with these helpers; this module imports nothing heavy.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from leafctl.backends.base import JobSpec
from leafctl.errors import UsageError

PLACEHOLDER = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
_BINDING = re.compile(r"^(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Env var names whose literal values are hidden in printed specs (references env:NAME are shown).
_SECRETISH = re.compile(r"(?i)(secret|password|passwd|token|key|credential|sas|connection)")


def strip_azureml(value: str | None) -> str | None:
    """``azureml:cpu-cluster`` -> ``cpu-cluster`` (compute references); other values unchanged."""
    if value and value.startswith("azureml:") and not value.startswith("azureml://"):
        return value[len("azureml:"):]
    return value


def placeholders(command: str) -> list[str]:
    return PLACEHOLDER.findall(command)


def check_command(spec: JobSpec) -> None:
    """Every ``${{...}}`` must name a declared input or output: unknown -> UsageError (exit 2)."""
    if not spec.command or not spec.command.strip():
        raise UsageError("the job has no command", "give --command \"...\" or `command:` in the job YAML")
    for name in (*spec.inputs, *spec.outputs):
        if not _NAME.match(name):
            raise UsageError(f"invalid input/output name {name!r}", "use letters, digits and '_', not starting with a digit")
    for ref in placeholders(spec.command):
        m = _BINDING.match(ref)
        declared = spec.inputs if m and m.group(1) == "inputs" else spec.outputs
        if not m or m.group(2) not in declared:
            known = [f"inputs.{n}" for n in spec.inputs] + [f"outputs.{n}" for n in spec.outputs]
            raise UsageError(f"the command refers to ${{{{{ref}}}}}, which the job does not declare",
                             f"declare it with --input/--output (declared: {', '.join(known) or 'none'})")


def substitute(command: str, values: dict[str, str]) -> str:
    """Replace ``${{inputs.x}}``/``${{outputs.y}}`` with ``values['inputs.x']``, quoted for the shell.

    The command runs under ``bash -c``, and the values are paths that come from users and data (a file
    named ``x$(touch P).csv``), so each one is quoted for the spot it lands in: the shell then sees
    exactly the path, whatever the characters, and never runs any of it. A user who quoted the
    placeholder already (``--data "${{inputs.data}}"``, as Azure ML's docs do) still gets the path.
    """
    out: list[str] = []
    for kind, text in _scan(command):
        if kind == "text":
            out.append(text)
            continue
        key, state, backticks = text
        if key not in values:
            raise UsageError(f"the command refers to ${{{{{key}}}}}, which the job does not declare", "declare it with --input/--output")
        out.append(_quote_for(values[key], state, backticks))
    return "".join(out)


def substitute_argv(argv: list[str], values: dict[str, str]) -> list[str]:
    """The same for a command run without a shell: each placeholder becomes the bare value."""
    def one(m: re.Match) -> str:
        if m.group(1) not in values:
            raise UsageError(f"the command refers to ${{{{{m.group(1)}}}}}, which the job does not declare", "declare it with --input/--output")
        return values[m.group(1)]

    return [PLACEHOLDER.sub(one, arg) for arg in argv]


# Quote states of the little bash scanner below.
_PLAIN, _SINGLE, _DOUBLE, _ANSI = "plain", "single", "double", "ansi"


def _quote_for(value: str, state: str, backticks: int) -> str:
    if state == _DOUBLE:  # inside "...": only \ " $ ` are special there
        quoted = re.sub(r'([\\"$`])', r"\\\1", value)
    elif state == _SINGLE:  # inside '...': nothing can be escaped, so close the quote, insert, reopen
        quoted = "'" + shlex.quote(value) + "'"
    elif state == _ANSI:  # inside $'...': the same, reopening with $'
        quoted = "'" + shlex.quote(value) + "$'"
    else:
        quoted = shlex.quote(value)
    for _ in range(backticks):  # old-style `...` substitution reads \ and ` once more before running it
        quoted = quoted.replace("\\", "\\\\").replace("`", "\\`")
    return quoted


def _scan(command: str):
    """Split a command into ("text", str) and ("ref", (key, quote state, backtick depth)) pieces.

    A small model of bash's quoting: '...', "...", $'...', backslash escapes, and the nested contexts
    that ``$(...)`` and backticks open (inside them quoting starts afresh). Enough to place a value
    correctly in the commands people write; it is not a full shell parser.
    """
    # A stack of contexts; each is [state, kind, paren depth] with kind "top", "subst" or "tick".
    stack: list[list] = [[_PLAIN, "top", 0]]
    i, start, n = 0, 0, len(command)

    def backticks() -> int:
        return sum(1 for c in stack if c[1] == "tick")

    while i < n:
        top = stack[-1]
        state = top[0]
        m = PLACEHOLDER.match(command, i)  # in every state: Azure ML substitutes even inside '...'
        if m:
            if start < i:
                yield "text", command[start:i]
            yield "ref", (m.group(1), state, backticks())
            i = start = m.end()
            continue
        c = command[i]
        nxt = command[i + 1] if i + 1 < n else ""
        if state == _SINGLE:
            if c == "'":
                top[0] = _PLAIN
            i += 1
            continue
        if c == "\\":
            i += 2  # the next character is literal (in $'...' an escape, in "..." possibly one)
            continue
        if state == _ANSI:
            if c == "'":
                top[0] = _PLAIN
            i += 1
            continue
        if c == "`":
            if top[1] == "tick" and state == _PLAIN:
                stack.pop()
            else:
                stack.append([_PLAIN, "tick", 0])
            i += 1
            continue
        if c == "$" and nxt == "(":
            stack.append([_PLAIN, "subst", 0])
            i += 2
            continue
        if state == _DOUBLE:
            if c == '"':
                top[0] = _PLAIN
            i += 1
            continue
        # plain
        if c == "'":
            top[0] = _SINGLE
        elif c == "$" and nxt == "'":
            top[0] = _ANSI
            i += 1
        elif c == '"':
            top[0] = _DOUBLE
        elif c == "(" and top[1] == "subst":
            top[2] += 1
        elif c == ")" and top[1] == "subst":
            if top[2] == 0:
                stack.pop()
            else:
                top[2] -= 1
        i += 1
    if start < n:
        yield "text", command[start:]


def job_to_doc(spec: JobSpec) -> dict[str, Any]:
    """The resolved spec in az ml's shape, for --dry-run. Literal secret-looking env values are hidden."""
    doc: dict[str, Any] = {"$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json", "type": "command"}
    if spec.code:
        doc["code"] = spec.code
    doc["command"] = spec.command
    if spec.inputs:
        doc["inputs"] = {k: {"path": v} for k, v in spec.inputs.items()}
    if spec.outputs:
        doc["outputs"] = {k: ({"type": "uri_folder", "path": v} if v else {"type": "uri_folder"}) for k, v in spec.outputs.items()}
    if spec.environment:
        doc["environment"] = spec.environment
    if spec.compute:
        doc["compute"] = f"azureml:{spec.compute}" if spec.compute != "local" else "local"
    if spec.experiment:
        doc["experiment_name"] = spec.experiment
    if spec.display_name:
        doc["display_name"] = spec.display_name
    if spec.env_vars:
        doc["environment_variables"] = {k: redact_env(k, v) for k, v in spec.env_vars.items()}
    if spec.tags:
        doc["tags"] = dict(spec.tags)
    return doc


def redact_env(key: str, value: str) -> str:
    if value.startswith("env:") or not _SECRETISH.search(key):
        return value
    return "<redacted>"


def parse_model_ref(ref: str) -> tuple[str, str | None]:
    """``NAME:VERSION``, ``azureml:NAME:VERSION``, ``NAME@latest`` or ``NAME`` -> (name, version|None)."""
    r = ref[len("azureml:"):] if ref.startswith("azureml:") else ref
    if "@" in r:
        name, _, label = r.partition("@")
        if label != "latest":
            raise UsageError(f"model reference {ref!r}: only the label @latest is supported", "use NAME:VERSION or NAME@latest")
        version = None
    else:
        name, _, version = r.partition(":")
        version = version or None
    if not name or "/" in name:
        raise UsageError(f"invalid model reference {ref!r}", "use NAME:VERSION, e.g. --model leaf-esp:1")
    return name, version
