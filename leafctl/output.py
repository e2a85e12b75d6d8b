"""Rendering records: table | json | yaml | tsv | none, after an optional JMESPath --query.

Data goes to stdout only. Tables use rich (imported on demand); the other formats are stdlib or
light. Colour codes are never written when NO_COLOR is set or stdout is not a terminal.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Sequence

FORMATS = ("table", "json", "yaml", "tsv", "none")


def default_format() -> str:
    return "table" if sys.stdout.isatty() else "json"


def to_plain(data: Any) -> Any:
    """Records -> dicts, paths -> str, recursively: what JSON can hold."""
    if hasattr(data, "to_dict"):
        return to_plain(data.to_dict())
    if isinstance(data, dict):
        return {str(k): to_plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [to_plain(v) for v in data]
    if isinstance(data, (str, int, float, bool)) or data is None:
        return data
    return str(data)


def apply_query(data: Any, query: str | None) -> Any:
    if not query:
        return data
    import jmespath
    from jmespath.exceptions import JMESPathError

    from leafctl.errors import UsageError

    try:
        return jmespath.search(query, data)
    except JMESPathError as e:
        raise UsageError(f"invalid --query {query!r}: {' '.join(str(e).split())}", "see https://jmespath.org for the syntax") from None


def _cell(v: Any) -> str:
    import json

    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _tsv(data: Any) -> str:
    rows = data if isinstance(data, list) else [data]
    lines = []
    for row in rows:
        if isinstance(row, dict):
            lines.append("\t".join(_cell(v) for v in row.values()))
        elif isinstance(row, list):  # a multiselect, e.g. -q "[].[name, state]": one column per item
            lines.append("\t".join(_cell(v) for v in row))
        else:
            lines.append(_cell(row))
    return "\n".join(lines) + ("\n" if lines else "")


def _broken_pipe() -> None:
    raise BrokenPipeError(32, "Broken pipe")


def _print_whole(console, table) -> None:
    """Print a table at its natural width: rich would cut cells to fit the terminal (or 80 columns off
    one), and a cut run id or path (`default_2026…`) is useless. Long lines wrap in the terminal instead."""
    natural = console.measure(table, options=console.options.update_width(1 << 20)).maximum
    if natural > console.width:
        console.width = natural
    console.print(table)


def _table(data: Any, columns: Sequence[str] | None, out) -> None:
    from rich.console import Console
    from rich.table import Table

    no_color = bool(os.environ.get("NO_COLOR")) or not out.isatty()
    console = Console(file=out, no_color=no_color, highlight=False, soft_wrap=False,
                      force_terminal=None if out.isatty() else False)
    # rich answers a closed pipe with SystemExit(1); re-raise it as the BrokenPipeError it is, so the
    # CLI treats `leafctl ... -o table | head -1` like every other format (exit 0, no message).
    console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
    rows = data if isinstance(data, list) else [data]
    if rows and all(isinstance(r, dict) for r in rows):
        if not isinstance(data, list):
            # One object: a two-column key/value table reads better than a one-row wide table.
            t = Table(show_header=False, box=None, pad_edge=False)
            t.add_column(style="bold")
            t.add_column()
            for k, v in data.items():
                t.add_row(k, _cell(v))
            _print_whole(console, t)
            return
        cols = list(columns) if columns else list(dict.fromkeys(k for r in rows for k in r))
        t = Table(box=None, pad_edge=False, header_style="bold")
        for c in cols:
            t.add_column(c.replace("_", " ").upper() if c else c)
        for r in rows:
            t.add_row(*(_cell(r.get(c)) for c in cols))
        _print_whole(console, t)
    else:
        for r in rows:
            out.write(_cell(r) + "\n")


def render(data: Any, fmt: str | None = None, query: str | None = None, columns: Sequence[str] | None = None, out=None) -> None:
    """Print data in the chosen format. ``columns`` picks table columns for lists (others keep all)."""
    out = out or sys.stdout
    fmt = fmt or default_format()
    plain = apply_query(to_plain(data), query)
    if fmt == "none":
        return
    if fmt == "json":
        import json

        out.write(json.dumps(plain, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "yaml":
        import yaml

        out.write(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True))
    elif fmt == "tsv":
        out.write(_tsv(plain))
    else:
        _table(plain, columns if not query else None, out)
    out.flush()
