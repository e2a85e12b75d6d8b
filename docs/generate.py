"""Generate docs/commands.md, the command reference, from the real click tree; and docs/specs.md, what
`-f spec.yml` carries and refuses per kind, from leafctl/specs/fields.py and the kind modules' FIELDS.

    .venv/bin/python docs/generate.py           # rewrite docs/commands.md, docs/specs.md and the Tab table
                                                # (leafctl/cli/_complete_table.py, see leafctl/cli/_complete_gen.py)
    .venv/bin/python docs/generate.py --check   # exit 1 if either is stale

The reference is built from click objects (usage pieces, parameters, help strings), never from the
rich-rendered `--help`, so it is plain Markdown and the same at any terminal width. It covers the
built-in groups in `leafctl.cli.main.GROUPS` only: plugin groups depend on what is installed.
Building the tree imports the `leafctl.cli` modules and nothing heavy (no azure, numpy or cupy).
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "commands.md"
SPECS_TARGET = ROOT / "docs" / "specs.md"
COMMAND = ".venv/bin/python docs/generate.py"

from leafctl.cli.main import GROUPS, cli

GLOBAL_PREFIX = "_global_"  # how main.inject_globals names the global options it adds to each leaf command


# -- text helpers --------------------------------------------------------------------------------------

def _escape(text: str) -> str:
    """Markdown-safe text for a table cell: code spans kept, `|`, `<`, `>`, `*` escaped outside them."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # even parts are outside code spans
        for ch in ("|", "<", ">", "*"):
            parts[i] = parts[i].replace(ch, "\\" + ch)
    return "`".join(parts).replace("\n", " ")


def _help_text(cmd: click.Command) -> str:
    text = cmd.help or ""
    text = text.split("\f", 1)[0]  # click's "cut here" marker
    return inspect.cleandoc(text).replace("\b\n", "")


def _short_help(cmd: click.Command) -> str:
    # A huge limit: the first sentence, never cut to the terminal's width.
    return cmd.get_short_help_str(limit=10_000)


def _code(text: str) -> str:
    return f"`{text}`"


# -- parameters ----------------------------------------------------------------------------------------

def _names(param: click.Parameter) -> str:
    if isinstance(param, click.Argument):
        return _code(param.human_readable_name)
    opts = sorted(param.opts, key=lambda o: (o.startswith("--"), o))  # short forms first, as --help does
    names = ", ".join(_code(o) for o in opts)
    if param.secondary_opts:
        names += " / " + ", ".join(_code(o) for o in param.secondary_opts)
    return names


def _type(param: click.Parameter) -> str:
    if isinstance(param, click.Option) and param.count:
        return "count"
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    t = param.type
    if isinstance(t, click.Choice):
        out = " \\| ".join(_code(str(c)) for c in t.choices)
    elif isinstance(t, click.types._NumberRangeBase):
        out = t.name.upper()
        lo, hi = t.min, t.max
        if lo is not None or hi is not None:
            out += " " + " ".join(s for s in (f"≥ {lo}" if lo is not None else "", f"≤ {hi}" if hi is not None else "") if s)
    else:
        out = {"text": "TEXT", "path": "PATH", "integer": "INTEGER", "float": "FLOAT"}.get(t.name, t.name.upper())
    if getattr(param, "multiple", False) or (isinstance(param, click.Argument) and param.nargs == -1):
        out += ", repeatable"
    return out


def _default(param: click.Parameter) -> str:
    if param.required:
        return "required"
    value = param.default
    if callable(value) or value is None or value == "" or type(value).__name__ == "Sentinel":
        return ""
    if isinstance(param, click.Option) and param.is_flag:
        if param.secondary_opts:  # --wait/--no-wait: name the side that is on by default
            return _code(param.opts[0] if value else param.secondary_opts[0])
        return ""
    if isinstance(param, click.Option) and param.count:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_code(str(v)) for v in value) if value else ""
    return _code(str(value))


def _help(param: click.Parameter) -> str:
    return _escape(" ".join((getattr(param, "help", None) or "").split()))


def _table(params: list[click.Parameter], head: str) -> list[str]:
    rows = [f"| {head} | Type | Default | Description |", "|---|---|---|---|"]
    for p in params:
        rows.append(f"| {_names(p)} | {_type(p)} | {_default(p)} | {_help(p)} |")
    return rows


def _is_help(param: click.Parameter, ctx: click.Context) -> bool:
    return isinstance(param, click.Option) and set(param.opts) <= set(ctx.help_option_names)


# -- the tree ------------------------------------------------------------------------------------------

def _walk(cmd: click.Command, name: str, parent: click.Context | None):
    ctx = click.Context(cmd, info_name=name, parent=parent, **({} if parent else cmd.context_settings))
    yield cmd, ctx
    if isinstance(cmd, click.Group):
        names = list(GROUPS) if parent is None else cmd.list_commands(ctx)
        for sub_name in names:
            sub = cmd.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, sub_name, ctx)


def _anchor(path: str) -> str:
    return path.lower().replace(" ", "-")


def _global_note(cmd: click.Command, ctx: click.Context, root_globals: dict[str, list[str]]) -> str:
    """Where a command's own options take a global option's names, say how to give the global one."""
    present = {p.name[len(GLOBAL_PREFIX):]: p.opts for p in cmd.params if p.name and p.name.startswith(GLOBAL_PREFIX)}
    notes = []
    for name, opts in root_globals.items():
        left = present.get(name, [])
        taken = [o for o in opts if o not in left]
        if not taken:
            continue
        value = {"profile": " NAME", "output": " FORMAT", "query": " QUERY"}.get(name, "")
        before = f"`leafctl {opts[-1]}{value} {ctx.command_path.split(' ', 1)[1]} ...`"
        own = f"{'/'.join(_code(o) for o in taken)} is this command's own option here"
        if left:
            notes.append(f"{own}; the global one is {'/'.join(_code(o) for o in left)}, or {_code(opts[-1])} before the group: {before}")
        else:
            notes.append(f"{own}; the global one goes before the group: {before}")
    return "; ".join(notes)


def render() -> str:
    return _render()


def _render() -> str:
    out: list[str] = []
    root_ctx = None
    root_globals: dict[str, list[str]] = {}
    for cmd, ctx in _walk(cli, "leafctl", None):
        path = ctx.command_path
        usage = " ".join([path, *cmd.collect_usage_pieces(ctx)])
        params = [p for p in cmd.get_params(ctx) if not p.hidden and not _is_help(p, ctx)]
        if root_ctx is None:
            root_ctx = ctx
            out += [
                "# Command reference",
                "",
                f"<!-- Generated by `{COMMAND}` from the click command tree; do not edit by hand. -->",
                "",
                _help_text(cmd),
                "",
                "```",
                f"Usage: {usage}",
                "```",
                "",
                "Plugin groups (such as `migrate`) are not listed here; see `leafctl plugins list` and "
                "`leafctl <group> --help`.",
                "",
                "## Global options",
                "",
                "Accepted before the group and after the command alike (`leafctl -p prod compute list` is "
                "`leafctl compute list -p prod`); they are not repeated under each command below. "
                f"{', '.join(_code(o) for o in ctx.help_option_names)} shows a command's help.",
                "",
            ]
            # As every leaf command gets them (main.inject_globals), in the root's order.
            globals_ = _sample_leaf_params()
            injected = {p.name[len(GLOBAL_PREFIX):] for p in globals_}
            root_only = [p for p in params if p.name not in injected]
            root_globals = {p.name[len(GLOBAL_PREFIX):]: list(p.opts) for p in globals_}
            out += _table(globals_, "Option")
            out += ["", "Only before the group (`leafctl --version`):", ""]
            out += _table(root_only, "Option")
            out += ["", "## Groups", ""]
            out += ["| Group | Description |", "|---|---|"]
            for name, (_, help_) in GROUPS.items():
                out.append(f"| [`{name}`](#{_anchor('leafctl ' + name)}) | {_escape(help_)} |")
            out.append("")
            out += _examples_block(cmd)
            continue
        level = "#" * min(ctx.command_path.count(" ") + 1, 4)
        out += [f"{level} {path}", ""]
        text = _help_text(cmd)
        if text:
            out += [_escape_block(text), ""]
        out += ["```", f"Usage: {usage}", "```", ""]
        if isinstance(cmd, click.Group):
            out += ["| Command | Description |", "|---|---|"]
            for sub_name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, sub_name)
                if sub is None or sub.hidden:
                    continue
                out.append(f"| [`{sub_name}`](#{_anchor(path + ' ' + sub_name)}) | {_escape(_short_help(sub))} |")
            out.append("")
            out += _examples_block(cmd)
            continue
        args = [p for p in params if isinstance(p, click.Argument)]
        opts = [p for p in params if isinstance(p, click.Option) and not (p.name or "").startswith(GLOBAL_PREFIX)]
        if args:
            out += ["**Arguments**", ""] + _table(args, "Argument") + [""]
        if opts:
            out += ["**Options**", ""] + _table(opts, "Option") + [""]
        note = _global_note(cmd, ctx, root_globals)
        if note:
            out += [f"Global options: {note}.", ""]
        out += _examples_block(cmd)
    return "\n".join(out).rstrip("\n") + "\n"


def _examples_block(cmd: click.Command) -> list[str]:
    """The examples that end a command's or a group's --help (leafctl/cli/_examples.py), as Markdown."""
    if not cmd.epilog:
        return []
    lines = [" ".join(p.split()) for p in cmd.epilog.split("\n\n") if p.strip() and p.strip() != "Examples:"]
    return ["**Examples**", "", "```sh", *lines, "```", ""]


def _escape_block(text: str) -> str:
    """A command's docstring as Markdown paragraphs (its own line breaks within a paragraph joined)."""
    paras = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    return "\n\n".join(_escape(p) for p in paras)


def _sample_leaf_params() -> list[click.Parameter]:
    """The options main.inject_globals adds to a leaf command that takes none of their names."""
    from leafctl.cli.main import _global_params

    return _global_params(set())


# -- docs/specs.md: every field of every -f kind, carried or refused -------------------------------------

# kind -> (title, the command that reads it with -f, what selects the kind in the YAML)
SPEC_KINDS: dict[str, tuple[str, str, str]] = {
    "workspace": ("Workspace", "leafctl workspace create -f workspace.yml", ""),
    "compute": ("Compute (cluster, instance)", "leafctl compute create -f compute.yml",
                "`type: amlcompute` (a cluster) or `type: computeinstance`"),
    "datastore": ("Datastore", "leafctl data store create -f datastore.yml",
                  "`type: azure_blob` or `type: azure_data_lake_gen2`"),
    "data": ("Data asset", "leafctl data create -f data.yml", "`type: uri_file`, `uri_folder` or `mltable`"),
    "model": ("Model", "leafctl model register -f model.yml",
              "`type: custom_model`, `mlflow_model` or `triton_model`"),
    "environment": ("Environment", "leafctl env create -f environment.yml", ""),
    "job": ("Command job", "leafctl run submit -f job.yml", "`type: command` (the default)"),
    "batch_endpoint": ("Batch endpoint", "leafctl endpoint create -f endpoint.yml", ""),
    "batch_deployment": ("Batch deployment", "leafctl endpoint deployment create -f deployment.yml",
                         "`type: model` (or none)"),
}


def _spec_kinds() -> list[str]:
    from leafctl.specs import fields

    known = [k for k in SPEC_KINDS if k in fields.SCHEMAS]
    return known + sorted(k for k in fields.SCHEMAS if k not in SPEC_KINDS)


def _module_entry(kind: str, attr: str, default):
    """``module.ATTR[kind]`` of the kind's module (leafctl.specs.fields.MODULES), or ``default``."""
    import importlib

    from leafctl.specs import fields

    table = getattr(importlib.import_module(fields.MODULES[kind]), attr, None) or {}
    return table.get(kind, default) if isinstance(table, dict) else default


def _azure_only(kind: str) -> set[str]:
    """Carried fields a kind module marks as having no meaning on the local backend: an optional
    ``AZURE_ONLY = {kind: {field, ...}}`` next to its ``FIELDS``."""
    return set(_module_entry(kind, "AZURE_ONLY", ()))


LOCAL_DEFAULT = ("Local backend: the fields it has a meaning for are applied; every other carried field is "
                 "recorded as written, shown by `show`, and named once on stderr as having no effect locally.")


def _local_note(kind: str) -> str:
    """What the local backend does with the kind: an optional ``LOCAL_NOTE = {kind: "..."}`` in the kind
    module, else the general rule."""
    note = _module_entry(kind, "LOCAL_NOTE", "")
    return f"Local backend: {note}" if note else LOCAL_DEFAULT


def render_specs() -> str:
    """docs/specs.md: for each kind leafctl takes with -f, every top-level field azure-ai-ml's schema
    accepts, carried or refused with the reason (leafctl.specs.fields: SCHEMAS, MODULES, table(kind)).
    Reads the kind modules' tables only: no azure import."""
    from leafctl.specs import fields
    from leafctl.specs.load import DOCS

    kinds = _spec_kinds()
    out = [
        "# `-f spec.yml`: what each kind carries and refuses",
        "",
        f"<!-- Generated by `{COMMAND}` from leafctl/specs/fields.py and the FIELDS tables of the kind modules; "
        "do not edit by hand. -->",
        "",
        "`-f` takes the YAML of `az ml` v2, `$schema:` line included, read by azure-ai-ml's own loaders, offline. "
        "Every top-level field azure-ai-ml's schema accepts for a kind is either **carried** or **refused**; none "
        "is dropped in silence:",
        "",
        "- **carried**: kept in the record, printed by `--dry-run`, sent to Azure on the azure backend, and "
        "honoured by the local backend where it has a meaning there;",
        "- **refused**: a spec that sets it exits 2 with one `error:` line naming the field and the reason.",
        "",
        "A field the schema does not know at all is azure-ai-ml's validation error (exit 2, the field named, "
        "with a did-you-mean). Command-line flags override the file, and `--set key=value` (dotted keys reach "
        "nested fields) overrides both.",
        "",
        "**On the local backend**, a carried field that has no meaning there (the Azure-only ones: VM sizes, "
        "networking, identities, queue settings and the like) is still recorded as written, shown by `show`, "
        "and named once on stderr: `note: SPEC: FIELD has no effect on the local backend (...)`. Nothing is "
        "sent anywhere; switch the profile to an azure backend and the same spec is applied as written.",
        "",
        "`tests/specs/test_schema_walk.py` walks azure-ai-ml's schema classes and fails on a field that is "
        "missing here, so a new SDK field cannot slip through unclassified.",
        "",
        "| Kind | Command | Carried | Refused |",
        "|---|---|---|---|",
    ]
    for kind in kinds:
        title, command, _ = SPEC_KINDS.get(kind, (kind.replace("_", " ").capitalize(), "", ""))
        table = fields.table(kind)
        carried = sum(1 for v in table.values() if v == fields.CARRY)
        out.append(f"| [{_escape(title)}](#{_anchor(kind.replace('_', '-'))}) | {_code(command) if command else ''} "
                   f"| {carried} | {len(table) - carried} |")
    out.append("")
    for kind in kinds:
        title, command, selects = SPEC_KINDS.get(kind, (kind.replace("_", " ").capitalize(), "", ""))
        table = fields.table(kind)
        azure_only = _azure_only(kind)
        out += [f'<a id="{_anchor(kind.replace("_", "-"))}"></a>', "", f"## {title}", ""]
        facts = []
        if command:
            facts.append(f"Command: {_code(command)}")
        if selects:
            facts.append(f"selected by {selects}")
        if kind in DOCS:
            facts.append(f"schema reference: <{DOCS[kind]}>")
        classes = ", ".join(_code(ref.split(":", 1)[1]) for ref in fields.SCHEMAS[kind])
        facts.append(f"azure-ai-ml schema{'s' if len(fields.SCHEMAS[kind]) > 1 else ''}: {classes}")
        out += ["; ".join(facts) + ".", "", _escape_block(_local_note(kind)), ""]
        if not table:
            out += ["_Not classified yet: every field of this kind is left to azure-ai-ml's validation._", ""]
            continue
        out += ["| Field | Carried or refused |", "|---|---|"]
        for name in sorted(table, key=lambda n: (n != "$schema", n)):
            why = table[name]
            if why == fields.CARRY:
                cell = "carried" + (" (Azure only: recorded locally, no effect there)" if name in azure_only else "")
            else:
                cell = f"refused: {_escape(why)}"
            out.append(f"| {_code(name)} | {cell} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    from leafctl.cli._complete_gen import TABLE_FILE, builtin_table, render_table

    outputs = [(TARGET, render(), "the CLI"), (SPECS_TARGET, render_specs(), "leafctl/specs (the FIELDS tables)"),
               (TABLE_FILE, render_table(builtin_table()), "the click tree (the fast Tab path's table)")]
    if "--check" in argv:
        stale = False
        for target, text, source in outputs:
            current = target.read_text(encoding="utf-8") if target.exists() else ""
            if current != text:
                print(f"{target.relative_to(ROOT)} is out of date with {source}; run `{COMMAND}` and commit it",
                      file=sys.stderr)
                stale = True
        return 1 if stale else 0
    for target, text, _ in outputs:
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
