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
    given = {**spec.inputs, **spec.literals}
    for name in (*given, *spec.outputs):
        if not _NAME.match(name):
            raise UsageError(f"invalid input/output name {name!r}", "use letters, digits and '_', not starting with a digit")
    for ref in placeholders(spec.command):
        m = _BINDING.match(ref)
        declared = given if m and m.group(1) == "inputs" else spec.outputs
        if not m or m.group(2) not in declared:
            known = [f"inputs.{n}" for n in given] + [f"outputs.{n}" for n in spec.outputs]
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
    bodies: list[tuple[int, str, bool, list[str]]] = []  # open here-documents: (start in out, delimiter, <<-, keys)
    for kind, text in _scan(command):
        if kind == "text":
            out.append(text)
        elif kind == "heredoc":
            bodies.append((len(out), *text, []))
        elif kind == "heredoc-end":
            _check_heredoc(out, *bodies.pop())
        else:
            key, state, backticks = text
            if key not in values:
                raise UsageError(f"the command refers to ${{{{{key}}}}}, which the job does not declare", "declare it with --input/--output")
            for body in bodies:
                body[3].append(key)
            out.append(_quote_for(values[key], state, backticks))
    return "".join(out)


def _check_heredoc(out: list[str], start: int, delimiter: str, strip_tabs: bool, keys: list[str]) -> None:
    """bash ends a here-document at the first line equal to its delimiter, whatever it holds: a value
    that brings such a line would turn the rest of the body into commands, so it is refused."""
    if not keys:
        return
    body = "".join(out[start:])
    lines = body.split("\n")
    if body.endswith("\n"):
        lines.pop()
    for line in lines:
        if (line.lstrip("\t") if strip_tabs else line) == delimiter:
            names = ", ".join(f"${{{{{k}}}}}" for k in dict.fromkeys(keys))
            raise UsageError(f"a value substituted for {names} holds the line {delimiter!r}, which would end the "
                             "command's here-document early",
                             "rename the file or folder, or pick a here-document delimiter it does not contain")


def substitute_argv(argv: list[str], values: dict[str, str]) -> list[str]:
    """The same for a command run without a shell: each placeholder becomes the bare value."""
    def one(m: re.Match) -> str:
        if m.group(1) not in values:
            raise UsageError(f"the command refers to ${{{{{m.group(1)}}}}}, which the job does not declare", "declare it with --input/--output")
        return values[m.group(1)]

    return [PLACEHOLDER.sub(one, arg) for arg in argv]


# Quote states of the little bash scanner below.
_PLAIN, _SINGLE, _DOUBLE, _ANSI = "plain", "single", "double", "ansi"
_COMMENT = "comment"  # from a '#' that starts a word to the end of the line: nothing in it is read
_HEREDOC, _HEREDOC_RAW = "heredoc", "heredoc-raw"  # body of <<EOF (expands) and of <<'EOF' (literal)
# bash's metacharacters: a word ends at them, and a '#' right after one starts a comment.
_BREAK = frozenset(" \t\n;&|<>()")


def _quote_for(value: str, state: str, backticks: int) -> str:
    if state == _DOUBLE:  # inside "...": only \ " $ ` are special there
        quoted = re.sub(r'([\\"$`])', r"\\\1", value)
    elif state == _HEREDOC:  # an unquoted here-document body: \ $ ` are special, quotes are literal text
        quoted = re.sub(r"([\\$`])", r"\\\1", value)
    elif state == _HEREDOC_RAW:  # <<'EOF': nothing expands and nothing can be escaped, so the value goes in as is
        quoted = value
    elif state == _COMMENT:  # inert up to the end of the line: only a newline in the value would end it
        quoted = value.replace("\n", " ")
    elif state == _SINGLE:  # inside '...': nothing can be escaped, so close the quote, insert, reopen
        quoted = "'" + shlex.quote(value) + "'"
    elif state == _ANSI:  # inside $'...': the same, reopening with $'
        quoted = "'" + shlex.quote(value) + "$'"
    else:
        quoted = shlex.quote(value)
    for _ in range(backticks):  # old-style `...` substitution reads \ and ` once more before running it
        quoted = quoted.replace("\\", "\\\\").replace("`", "\\`")
    return quoted


def _heredoc_word(command: str, j: int) -> tuple[str, bool, int]:
    """The delimiter word after ``<<`` / ``<<-`` at j: (delimiter without quotes, any part quoted, end)."""
    n = len(command)
    while j < n and command[j] in " \t":
        j += 1
    begin, word, quoted = j, [], False
    while j < n and command[j] not in _BREAK:
        c = command[j]
        if c == "\\":
            quoted = True
            word.append(command[j + 1:j + 2])
            j += 2
        elif c in "'\"":
            quoted = True
            close = command.find(c, j + 1)
            close = n if close < 0 else close
            word.append(command[j + 1:close])
            j = close + 1
        elif c == "$" and command[j + 1:j + 2] in ("'", '"'):  # $'EOF' and $"EOF" are quoted too
            j += 1
        else:
            word.append(c)
            j += 1
    j = min(j, n)
    if PLACEHOLDER.search(command[begin:j]):
        raise UsageError("the command puts a ${{...}} placeholder in a here-document delimiter",
                         "write the delimiter literally, e.g. <<EOF")
    return "".join(word), quoted, j


def _heredoc_extent(command: str, begin: int, delimiter: str, strip_tabs: bool) -> tuple[int, int]:
    """Where the body that starts at begin ends, and where the line after its delimiter starts: bash
    reads a body line by line up to the first line equal to the delimiter (or to the end)."""
    pos, n = begin, len(command)
    while pos < n:
        eol = command.find("\n", pos)
        end = n if eol < 0 else eol
        line = command[pos:end]
        if (line.lstrip("\t") if strip_tabs else line) == delimiter:
            return pos, min(end + 1, n)
        pos = end + 1
    return n, n


def _scan(command: str, base: str = _PLAIN, ticks: int = 0):
    """Split a command into ("text", str) and ("ref", (key, quote state, backtick depth)) pieces, with
    ("heredoc", (delimiter, <<-)) and ("heredoc-end", None) around each here-document body.

    A small model of bash's quoting: '...', "...", $'...', backslash escapes, the nested contexts
    that ``$(...)``, ``$((...))`` and backticks open (inside them quoting starts afresh), ``#`` comments
    (an apostrophe in ``# don't`` quotes nothing) and here-documents (their bodies come after the line
    that opens them). Enough to place a value correctly in the commands people write; it is not a full
    shell parser. ``base`` and ``ticks`` start it inside a here-document body.
    """
    # A stack of contexts; each is [state, kind, paren depth] with kind "top", "subst", "arith" or "tick".
    stack: list[list] = [[base, "top", 0]]
    pending: list[tuple[str, bool, bool]] = []  # here-documents opened on this line: (delimiter, <<-, quoted)
    i, start, n = 0, 0, len(command)
    opened, glued = 0, -1  # a word starts where a context just opened; it goes on after a ')' closing $( or an escape

    def backticks() -> int:
        return ticks + sum(1 for c in stack if c[1] == "tick")

    def word_start(j: int) -> bool:
        return j == opened or (command[j - 1] in _BREAK and j != glued)

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
        if state == _HEREDOC_RAW:
            i += 1
            continue
        if state == _COMMENT:
            if c == "`" and top[1] == "tick":  # bash finds the closing backtick before it reads comments
                top[0] = state = _PLAIN
            elif c != "\n":
                i += 1
                continue
            else:
                top[0] = state = _PLAIN  # the newline ends the comment and the line (here-documents start)
        if c == "\\":
            i += 2  # the next character is literal (in $'...' an escape, in "..." possibly one)
            glued = i
            continue
        if state == _ANSI:
            if c == "'":
                top[0] = _PLAIN
            i += 1
            continue
        if c == "`":
            if top[1] == "tick" and state == _PLAIN:
                stack.pop()
                glued = i + 1
            else:
                stack.append([_PLAIN, "tick", 0])
                opened = i + 1
            i += 1
            continue
        if c == "$" and nxt == "(":
            arith = command[i + 2:i + 3] == "("
            stack.append([_PLAIN, "arith" if arith else "subst", 0])
            i += 3 if arith else 2
            opened = i
            continue
        if state in (_DOUBLE, _HEREDOC):
            if c == '"' and state == _DOUBLE:
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
        elif top[1] == "arith":  # $(( ... )): '<<' is a shift, '#' a base; only parentheses matter
            if c == "(":
                top[2] += 1
            elif c == ")" and top[2] == 0 and nxt == ")":
                stack.pop()
                i += 1
                glued = i + 1
            elif c == ")" and top[2] > 0:
                top[2] -= 1
        elif c == "#" and word_start(i):
            top[0] = _COMMENT
        elif c == "(" and nxt == "(" and word_start(i):  # (( ... )) arithmetic command
            stack.append([_PLAIN, "arith", 0])
            i += 1
            opened = i + 1
        elif c == "<" and nxt == "<":
            if command[i + 2:i + 3] == "<":  # <<< here-string: an ordinary word follows
                i += 2
            else:
                strip_tabs = command[i + 2:i + 3] == "-"
                delimiter, quoted, end = _heredoc_word(command, i + 2 + strip_tabs)
                if end > i + 2 + strip_tabs:
                    pending.append((delimiter, strip_tabs, quoted))
                i = end
                continue
        elif c == "\n" and pending:
            i = start_of_body = i + 1
            yield "text", command[start:i]
            for delimiter, strip_tabs, quoted in pending:
                end, after = _heredoc_extent(command, start_of_body, delimiter, strip_tabs)
                yield "heredoc", (delimiter, strip_tabs)
                yield from _scan(command[start_of_body:end], _HEREDOC_RAW if quoted else _HEREDOC, backticks())
                yield "heredoc-end", None
                if end < after:
                    yield "text", command[end:after]
                start_of_body = after
            pending.clear()
            i = start = opened = start_of_body
            continue
        elif c == "(" and top[1] == "subst":
            top[2] += 1
        elif c == ")" and top[1] == "subst":
            if top[2] == 0:
                stack.pop()
                glued = i + 1
            else:
                top[2] -= 1
        i += 1
    if start < n:
        yield "text", command[start:]


JOB_SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json"
# The order --dry-run prints a job's fields in (az ml's reference order); fields not listed follow.
_JOB_ORDER = ("$schema", "type", "name", "display_name", "experiment_name", "description", "code", "command", "inputs",
              "outputs", "environment", "compute", "resources", "distribution", "limits", "environment_variables",
              "services", "identity", "queue_settings", "tags", "properties")


def literal_text(value: Any) -> str:
    """A literal input as the command sees it: str(value), as azure-ai-ml sends it (True -> "True")."""
    return str(value)


def job_to_doc(spec: JobSpec) -> dict[str, Any]:
    """The resolved spec in az ml's shape, for --dry-run: ``spec.doc`` (every field the YAML or the flags
    gave) with the typed fields laid over it. Literal secret-looking env values are hidden."""
    import copy

    extra: dict[str, Any] = copy.deepcopy(spec.doc or {})
    doc: dict[str, Any] = {"$schema": extra.pop("$schema", None) or JOB_SCHEMA, "type": "command"}
    extra.pop("type", None)
    if spec.code:
        doc["code"] = spec.code
    doc["command"] = spec.command
    given_in = extra.pop("inputs", None) or {}
    inputs: dict[str, Any] = {}
    for k in [*given_in, *spec.literals, *spec.inputs]:
        if k in spec.literals:
            inputs[k] = spec.literals[k]
        elif k in spec.inputs and isinstance(given_in.get(k), str):
            inputs[k] = spec.inputs[k]  # a bare reference (`data: azureml:NAME:1`) as written
        elif k in spec.inputs:
            entry = dict(given_in[k]) if isinstance(given_in.get(k), dict) else {}
            from pathlib import Path

            local = Path(str(spec.inputs[k]))
            if "type" not in entry and "://" not in str(local) and not str(local).startswith("azureml:") and local.exists():
                # A flag's local path (`--input data=./data`) gets the type it is sent to Azure ML with. (A
                # datastore path or an asset keeps the type only the service can tell: it is left out.)
                entry["type"] = "uri_file" if local.is_file() else "uri_folder"
            entry["path"] = spec.inputs[k]
            inputs[k] = entry
    if inputs:
        doc["inputs"] = inputs
    given_out = extra.pop("outputs", None) or {}
    outputs: dict[str, Any] = {}
    for k in [*given_out, *spec.outputs]:
        if k not in spec.outputs:
            continue
        if k in given_out and given_out[k] is None and not spec.outputs[k]:
            outputs[k] = None  # `name:` with nothing: az ml's default output, as written
            continue
        entry = dict(given_out[k]) if isinstance(given_out.get(k), dict) else {}
        entry.setdefault("type", "uri_folder")
        entry.pop("path", None)
        if spec.outputs[k]:
            entry["path"] = spec.outputs[k]
        outputs[k] = entry
    if outputs:
        doc["outputs"] = outputs
    if spec.environment:
        doc["environment"] = spec.environment
        extra.pop("environment", None)
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
    for k, v in extra.items():
        if k not in doc and v is not None:
            doc[k] = v
    order = {k: i for i, k in enumerate(_JOB_ORDER)}
    return dict(sorted(doc.items(), key=lambda kv: order.get(kv[0], len(order))))


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
