"""Build the completion table that ``_fastcomplete`` answers Tab presses from, out of the real click tree.

The table records, for every command, exactly what click's completion machinery would look at: the
parser click builds for it (option strings, actions, nargs, prefixes), its parameters in ``get_params``
order (help option included), their help, and how each one completes a value: a callback by dotted
name (``module:qualname``, with typer's calling convention), a fixed list of choices, or a path. A
callback is marked ``fast`` when its module imports none of typer/click/rich/azure/numpy; the fast path
calls only those and hands every other request to click. New callbacks are picked up by re-running

    .venv/bin/python docs/generate.py          (writes leafctl/cli/_complete_table.py too)

and ``tests/cli/test_fast_complete.py`` fails while the committed table differs from the tree.
This module imports click and typer; the fast path never imports it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

TABLE_FILE = Path(__file__).with_name("_complete_table.py")
HEAVY = ("typer", "click", "rich", "azure", "numpy", "cupy", "pandas", "pyarrow")
_fast_cache: dict[str, bool] = {}


def _module_is_fast(module: str) -> bool:
    """Does importing ``module`` (in a fresh interpreter) leave every heavy package unimported?"""
    if module not in _fast_cache:
        probe = (f"import sys, importlib; importlib.import_module({module!r}); "
                 f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
        p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
        _fast_cache[module] = p.returncode == 0 and p.stdout.strip() == "[]"
    return _fast_cache[module]


def _dotted(fn: Any) -> str | None:
    qual = getattr(fn, "__qualname__", "")
    if not qual or "<" in qual:  # a lambda or a closure cannot be found again by name
        return None
    return f"{fn.__module__}:{qual}"


def _typer_names(fn: Any) -> dict[str, str | None]:
    """Which of ctx / args / incomplete a typer autocompletion function takes, as typer decides it
    (typer.main.get_param_completion: by annotation first, then by name)."""
    from typing import get_origin

    from typer.utils import get_params_from_function

    names: dict[str, str | None] = {"ctx": None, "args": None, "incomplete": None}
    rest = list(get_params_from_function(fn).values())
    for p in rest[:]:
        ann = p.annotation
        if isinstance(ann, type) and issubclass(ann, click.Context):
            names["ctx"] = p.name
        elif isinstance(get_origin(ann), type) and issubclass(get_origin(ann), list):
            names["args"] = p.name
        elif isinstance(ann, type) and issubclass(ann, str):
            names["incomplete"] = p.name
        else:
            continue
        rest.remove(p)
    for p in rest:
        for key in ("ctx", "args", "incomplete"):
            if names[key] is None and p.name == key:
                names[key] = p.name
    return names


def _typer_path_complete() -> Any:
    from typer.models import TyperPath

    return TyperPath.shell_complete


def _completion_of(param: click.Parameter, ctx: click.Context) -> dict[str, Any] | None:
    custom = getattr(param, "_custom_shell_complete", None)
    if custom is not None:
        # typer wraps an autocompletion function twice: compat_autocompletion(ctx, param, incomplete)
        # -> wrapper(ctx, args, incomplete) -> the function (functools.update_wrapper: __wrapped__).
        inner = None
        if custom.__name__ == "compat_autocompletion" and custom.__closure__:
            for cell in custom.__closure__:
                if callable(cell.cell_contents):
                    inner = cell.cell_contents
        if inner is not None:
            fn = getattr(inner, "__wrapped__", inner)
            ref = _dotted(fn)
            entry: dict[str, Any] = {"call": ref, "style": "typer", **_typer_names(fn)}
        else:
            ref = _dotted(custom)
            entry = {"call": ref, "style": "click"}
        entry["fast"] = bool(ref) and _module_is_fast(ref.split(":")[0])
        return entry
    t = param.type
    if isinstance(t, click.Choice):
        return {"choices": [t.normalize_choice(c, ctx) for c in t.choices], "case_sensitive": t.case_sensitive}
    impl = type(t).shell_complete
    if impl is _typer_path_complete():
        # typer's Path answers nothing (typer.models.TyperPath.shell_complete), so that the shell
        # falls back to its own file completion: bash gets an empty line, zsh `_files`.
        return None
    if isinstance(t, click.Path) and impl is click.Path.shell_complete:
        return {"path": "dir" if t.dir_okay and not t.file_okay else "file"}  # click echoes the word
    if isinstance(t, click.File) and impl is click.File.shell_complete:
        return {"path": "file"}
    if impl is click.ParamType.shell_complete:
        return None
    return {"unknown": type(t).__name__}  # a type with its own completion: the fast path defers to click


def _value_type(param: click.Parameter) -> str:
    t = param.type
    if isinstance(t, click.types.IntParamType):
        return "int"
    if isinstance(t, click.types.FloatParamType):
        return "float"
    if isinstance(t, click.types.BoolParamType):
        return "bool"
    return "str"


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return None


def _help_param(param: click.Parameter, ctx: click.Context) -> dict[str, Any]:
    """click names the help option from a set (Command.get_help_option_names), so its order changes
    with the interpreter's hash seed: store the names sorted, and how the fast path rebuilds the set."""
    entry = _param(param, ctx)
    entry["opts"] = sorted(entry["opts"])
    entry["help_names"] = list(ctx.help_option_names)
    return entry


def _callback_kind(param: click.Parameter) -> Any:
    """What a parameter's callback does under resilient parsing (the only parsing completion does)."""
    cb = param.callback
    if cb is None:
        return None
    qual = getattr(cb, "__qualname__", "")
    if qual.startswith("_store.<locals>"):  # leafctl.cli.main: a global option after the command
        return {"store": param.name.removeprefix("_global_")}
    if qual in ("_version", "show_help", "install_callback", "show_callback") or qual.endswith(".show_help"):
        return "noop"  # each returns at once when ctx.resilient_parsing
    return "unknown"


def _param(param: click.Parameter, ctx: click.Context) -> dict[str, Any]:
    is_opt = isinstance(param, click.Option)
    return {
        "kind": "option" if is_opt else "argument",
        "name": param.name,
        "opts": list(param.opts),
        "secondary_opts": list(param.secondary_opts),
        "nargs": param.nargs,
        "multiple": bool(getattr(param, "multiple", False)),
        "is_flag": bool(getattr(param, "is_flag", False)),
        "count": bool(getattr(param, "count", False)),
        "hidden": bool(getattr(param, "hidden", False)),
        "help": getattr(param, "help", None) if is_opt else None,
        "envvar": param.envvar if isinstance(param.envvar, (str, list, tuple, type(None))) else "?",
        "flag_needs_value": bool(getattr(param, "_flag_needs_value", False)),
        "eager": bool(param.is_eager),
        "default": _jsonable(param.default) if not callable(param.default) else None,
        "type": _value_type(param),
        "complete": _completion_of(param, ctx),
        "callback": _callback_kind(param),
    }


class _Tree:
    """Commands keyed by their path ("" is the root, "data store create" a leaf), each one line of the
    table, with every distinct parameter stored once (the global options recur on every command)."""

    def __init__(self) -> None:
        self.pool: list[dict[str, Any]] = []
        self._index: dict[str, int] = {}
        self.nodes: dict[str, dict[str, Any]] = {}

    def param(self, entry: dict[str, Any]) -> int:
        key = json.dumps(entry, sort_keys=True)
        if key not in self._index:
            self._index[key] = len(self.pool)
            self.pool.append(entry)
        return self._index[key]

    def add(self, path: str, cmd: click.Command, ctx: click.Context, names: list[str] | None = None) -> None:
        params = cmd.get_params(ctx)
        parser = cmd.make_parser(ctx)
        local = {id(p): i for i, p in enumerate(params)}
        opts: dict[str, list[Any]] = {}
        exact = True
        for table, tag in ((parser._short_opt, "S"), (parser._long_opt, "L")):
            for opt, o in table.items():
                exact &= o.dest == o.obj.name
                opts[tag + opt] = [local[id(o.obj)], o.action, o.nargs, _jsonable(o.const)]
        args = []
        for a in parser._args:
            exact &= a.dest == a.obj.name
            args.append([local[id(a.obj)], a.nargs])
        entry: dict[str, Any] = {
            "group": isinstance(cmd, click.Group), "hidden": bool(cmd.hidden), "short_help": cmd.get_short_help_str(),
            "chain": bool(getattr(cmd, "chain", False)) or not exact,  # either way the fast path defers
            "params": [self.param(_help_param(p, ctx) if p is cmd.get_help_option(ctx) else _param(p, ctx)) for p in params],
            "opts": opts, "args": args, "prefixes": sorted(parser._opt_prefixes),
            "interspersed": parser.allow_interspersed_args, "ignore_unknown": parser.ignore_unknown_options,
        }
        self.nodes[path] = entry
        if isinstance(cmd, click.Group):
            entry["commands"] = []
            for name in cmd.list_commands(ctx) if names is None else names:
                sub = cmd.get_command(ctx, name)
                if sub is None:
                    continue  # get_command gives None: the fast path answers None too
                entry["commands"].append(name)
                with sub.make_context(name, [], parent=ctx, resilient_parsing=True) as sub_ctx:
                    self.add(f"{path} {name}".strip(), sub, sub_ctx)

    def as_dict(self) -> dict[str, Any]:
        return {"params": self.pool, "nodes": self.nodes}


def builtin_table() -> dict[str, Any]:
    """The root and every built-in group (plugins are installed per machine: see ``plugin_tree``)."""
    from leafctl.cli import main

    root = main.cli
    tree = _Tree()
    with root.make_context("leafctl", [], resilient_parsing=True) as ctx:
        tree.add("", root, ctx, names=list(main.GROUPS))
    return {"format": 2, "prog_name": "leafctl", "complete_var": "_LEAFCTL_COMPLETE", **tree.as_dict()}


def plugin_tree(name: str) -> dict[str, Any] | None:
    """Plugin group ``name`` as the root loads it, in the table's form (None: it does not load)."""
    from leafctl.cli import main

    root = main.cli
    tree = _Tree()
    with root.make_context("leafctl", [], resilient_parsing=True) as ctx:
        sub = root.get_command(ctx, name)
        if sub is None:
            return None
        with sub.make_context(name, [], parent=ctx, resilient_parsing=True) as sub_ctx:
            tree.add(name, sub, sub_ctx)
    return tree.as_dict()


def render_table(table: dict[str, Any]) -> str:
    """Python source holding the table as one JSON string (json's C scanner reads it in about a
    millisecond; a dict literal of this size costs ~100 ms of bytecode), one line per parameter and
    per command, so that a change reads as a small diff."""
    head = {k: table[k] for k in ("format", "prog_name", "complete_var")}
    lines = ["{" + json.dumps(head)[1:-1] + ',"params":[']
    lines += [json.dumps(p, ensure_ascii=True) + "," for p in table["params"]]
    lines[-1] = lines[-1].rstrip(",")
    lines.append('],"nodes":{')
    lines += [f"{json.dumps(path)}:{json.dumps(n, ensure_ascii=True)}," for path, n in table["nodes"].items()]
    lines[-1] = lines[-1].rstrip(",")
    lines.append("}}")
    body = "\n".join(lines)
    if "'''" in body:
        raise ValueError("the table holds three single quotes in a row; it cannot be a raw string")
    json.loads(body)  # what the fast path will read
    return (
        '"""Generated by leafctl/cli/_complete_gen.py from the click tree: do not edit by hand.\n\n'
        "Regenerate with `.venv/bin/python docs/generate.py`; tests/cli/test_fast_complete.py checks it is in sync.\n"
        '"""\n\n'
        f"TABLE_JSON = r'''{body}'''\n"
    )


def write_table(path: Path = TABLE_FILE) -> bool:
    """Write the table if it changed (atomically); True when it did."""
    import os
    import tempfile

    text = render_table(builtin_table())
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".complete_table.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


if __name__ == "__main__":
    print(f"{'wrote' if write_table() else 'unchanged'} {TABLE_FILE}")
