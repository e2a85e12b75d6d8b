"""Rendering records: table | json | yaml | tsv | none, after an optional JMESPath --query.

Data goes to stdout only. Tables use rich (imported on demand); the other formats are stdlib or
light. Colour codes are never written when NO_COLOR is set or stdout is not a terminal.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Sequence, Union

FORMATS = ("table", "json", "yaml", "tsv", "none")


@dataclass(frozen=True)
class Column:
    """A column of a list table that may give way when the table is wider than the terminal.

    A plain string in a COLUMNS list is a column that is always shown and never cut (ids, names,
    timestamps). ``drop``: columns with a higher number are left out first (0: never). ``cut``: free
    text that may be shortened with "…" before anything is dropped."""

    key: str
    drop: int = 0
    cut: bool = False


ColumnSpec = Union[str, Column]


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


def _one_row(query: str | None) -> bool:
    """Does the query end in a multiselect list (`[a, b, c]`, `x.[a, b]`)? Its result is one record's
    fields, so tsv prints them as one tab-separated row; a projection (`[].a`) is one value per line."""
    if not query:
        return False
    import jmespath

    node = jmespath.compile(query).parsed  # already run by apply_query: it parses
    while node.get("type") in ("subexpression", "pipe") and node.get("children"):
        node = node["children"][-1]
    return node.get("type") == "multi_select_list"


def _tsv(data: Any, one_row: bool = False) -> str:
    if one_row and isinstance(data, list):
        return "\t".join(_cell(v) for v in data) + "\n"
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


# An ISO 8601 time as the backends write it (2026-12-01T22:27:31.661+00:00): shown in list tables as
# "2026-12-01 22:27:31" UTC, 19 columns instead of 29, so that it fits beside an id at 80 columns.
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?")
_GAP = 2  # rich's padding between two columns of a box-less table with pad_edge=False
_MIN_CUT = 12  # a cut column keeps at least this many cells (or its header's width)


def _short_time(v: str) -> str | None:
    """``v`` as "YYYY-MM-DD HH:MM:SS" in UTC, or None when it is no ISO time."""
    if not _ISO_TIME.fullmatch(v):
        return None
    from datetime import datetime, timezone

    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _fit_width(out, console) -> int | None:
    """The width to fit: the terminal's, else $COLUMNS; None off a terminal without COLUMNS (a file or a
    pipe has no width: the table is printed whole)."""
    if out.isatty():
        return console.width
    cols = os.environ.get("COLUMNS", "")
    return int(cols) if cols.isdigit() and int(cols) > 0 else None


def _layout(specs: list[Column], headers: list[str], cells: list[list[str]], width: int | None) -> list[int | None]:
    """Each column's width (None: dropped) so that the table fits ``width``: cut columns shrink first,
    down to a readable minimum, then columns are dropped by priority; what room is left afterwards goes
    back, first to dropped columns that fit again (most valuable first), then to cut ones. Columns that
    are neither cut nor dropped keep their whole width even if the terminal is narrower."""
    from rich.cells import cell_len

    natural = [max([cell_len(h)] + [cell_len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    floor = [min(n, max(cell_len(h), _MIN_CUT)) if c.cut else n for c, n, h in zip(specs, natural, headers)]
    widths: list[int | None] = list(natural)
    if width is None:
        return widths

    def total() -> int:
        shown = [w for w in widths if w is not None]
        return sum(shown) + _GAP * (len(shown) - 1)

    def shrink(excess: int) -> int:
        for i in sorted(range(len(specs)), key=lambda i: -(widths[i] or 0)):  # the widest text gives first
            if excess <= 0:
                break
            if widths[i] is not None and specs[i].cut and widths[i] > floor[i]:
                cut = min(excess, widths[i] - floor[i])
                widths[i] -= cut
                excess -= cut
        return excess

    while total() > width:
        if shrink(total() - width) <= 0:
            break
        droppable = [i for i, c in enumerate(specs) if c.drop and widths[i] is not None]
        if not droppable:
            break  # only columns that must stay whole: wider than the terminal, which wraps the lines
        widths[max(droppable, key=lambda i: specs[i].drop)] = None
    for i in sorted((i for i, w in enumerate(widths) if w is None), key=lambda i: specs[i].drop):
        if total() + _GAP + floor[i] <= width:
            widths[i] = floor[i]
    for i, c in enumerate(specs):  # spare room back to cut text, up to its natural width
        if c.cut and widths[i] is not None and total() < width:
            widths[i] = min(natural[i], widths[i] + width - total())
    return widths


def _clip(text: str, width: int) -> str:
    from rich.cells import cell_len, set_cell_size

    return text if cell_len(text) <= width else set_cell_size(text, width - 1) + "…"


def _list_table(rows: list[dict], columns: Sequence[ColumnSpec] | None, console, width: int | None, plain: bool):
    from rich.table import Table

    specs = [c if isinstance(c, Column) else Column(c) for c in columns] if columns else \
        [Column(k) for k in dict.fromkeys(k for r in rows for k in r)]
    cells, timed = [], [False] * len(specs)
    for r in rows:
        line = []
        for i, c in enumerate(specs):
            text = _cell(r.get(c.key))
            short = _short_time(text)
            if short is not None:
                text, timed[i] = short, True
            line.append(text)
        cells.append(line)
    headers = [(c.key.replace("_", " ").upper() if c.key else c.key) + (" (UTC)" if t else "") for c, t in zip(specs, timed)]
    widths = _layout(specs, headers, cells, width)
    keep = [i for i, w in enumerate(widths) if w is not None]
    t = Table(box=None, pad_edge=False, header_style="" if plain else "bold")
    for i in keep:
        t.add_column(headers[i], no_wrap=True)
    for line in cells:
        t.add_row(*(_clip(line[i], widths[i]) if specs[i].cut else line[i] for i in keep))
    return t


def _table(data: Any, columns: Sequence[ColumnSpec] | None, out) -> None:
    from rich.console import Console
    from rich.table import Table

    # NO_COLOR or not a terminal: no escape codes at all, bold included (rich's no_color keeps styles).
    plain = bool(os.environ.get("NO_COLOR")) or not out.isatty()
    console = Console(file=out, no_color=plain, color_system=None if plain else "auto", highlight=False,
                      soft_wrap=False, force_terminal=None if out.isatty() else False)
    # rich answers a closed pipe with SystemExit(1); re-raise it as the BrokenPipeError it is, so the
    # CLI treats `leafctl ... -o table | head -1` like every other format (exit 0, no message).
    console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
    rows = data if isinstance(data, list) else [data]
    if rows and all(isinstance(r, dict) for r in rows):
        if not isinstance(data, list):
            # One object: a two-column key/value table reads better than a one-row wide table.
            t = Table(show_header=False, box=None, pad_edge=False)
            t.add_column(style="" if plain else "bold")
            t.add_column()
            for k, v in data.items():
                t.add_row(k, _cell(v))
            _print_whole(console, t)
            return
        _print_whole(console, _list_table(rows, columns, console, _fit_width(out, console), plain))
    else:
        for r in rows:
            out.write(_cell(r) + "\n")


def render(data: Any, fmt: str | None = None, query: str | None = None, columns: Sequence[ColumnSpec] | None = None,
           out=None) -> None:
    """Print data in the chosen format. ``columns`` picks table columns for lists (others keep all); a
    list table is fitted to the terminal's width (see ``Column``)."""
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
        out.write(_tsv(plain, _one_row(query)))
    else:
        _table(plain, columns if not query else None, out)
    out.flush()
