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
    text that may be shortened with "…" before anything is dropped. A table that cannot fit even so
    (the columns that must stay whole are too wide) is shown as one block of lines per record."""

    key: str
    drop: int = 0
    cut: bool = False
    tail: bool = False  # cut at the start, keeping the end ("…/runs/RUN_ID/outputs"): for paths


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


def number(v: float, digits: int = 4) -> str:
    """An objective's value as every terminal line shows it (progress, the front table, the summary):
    ``digits`` significant digits with trailing zeros kept, so 430.0 stands beside 430.9 (never "430"),
    whole numbers from 10**digits up. JSON and CSV keep the full value."""
    import math

    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return str(v)
    if not math.isfinite(v):
        return str(float(v))
    return f"{v:.{_decimals(v, digits)}f}"


def _decimals(v: float, digits: int) -> int:
    """How many decimals give finite ``v`` ``digits`` significant digits."""
    import math

    magnitude = math.floor(math.log10(abs(v))) if v else 0
    decimals = max(0, digits - 1 - magnitude)
    if v and abs(round(v, decimals)) >= 10 ** (magnitude + 1):  # rounding carried (99.996 -> 100.0, not 100.00)
        decimals = max(0, decimals - 1)
    return decimals


def aligned_numbers(values: Sequence[Any], digits: int = 4) -> list[str]:
    """A column of values, each exactly as ``number`` shows it, padded so that the decimal points line
    up when the column is right-justified: "416.0 " over " 88.31" (a whole number or a non-number is
    right-aligned with the integer parts)."""
    texts = [number(v, digits) for v in values]
    whole = [t.partition(".")[0] if "." in t else t for t in texts]
    frac = [("." + t.partition(".")[2]) if "." in t else "" for t in texts]
    wide_whole, wide_frac = max(map(len, whole), default=0), max(map(len, frac), default=0)
    return [w.rjust(wide_whole) + f.ljust(wide_frac) for w, f in zip(whole, frac)]


def held_out_parts(held: dict[str, Any]) -> list[str]:
    """The predictor's held-out errors, one "revenue 0.9490/66.30" (R²/RMSE) per outcome, as both the
    job's log line and `run evolve`'s summary line show them."""
    return [f"{k} {number(v['r2'])}/{number(v['rmse'])}" for k, v in held.items()
            if isinstance(v, dict) and all(isinstance(v.get(m), (int, float)) for m in ("r2", "rmse"))]


def fitted_lines(head: str, parts: Sequence[str], width: int = 100, sep: str = "  ") -> list[str]:
    """``head`` and ``parts`` on one line when it fits ``width``, else ``head`` then one indented line
    per part: a log line with an entry per outcome stays readable however many outcomes there are."""
    line = f"{head} {sep.join(parts)}"
    return [line] if len(line) <= width or not parts else [head, *(f"  {p}" for p in parts)]


def _cell(v: Any) -> str:
    import json

    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _tsv_cell(v: Any) -> str:
    """A tsv field: a table cell, except that a float is written in full (tsv is read by programs:
    0.12345678901 stays that, not 0.123457); a whole one without ".0", as the CSV writes it."""
    if isinstance(v, float) and not isinstance(v, bool):
        return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    return _cell(v)


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
        return "\t".join(_tsv_cell(v) for v in data) + "\n"
    rows = data if isinstance(data, list) else [data]
    lines = []
    for row in rows:
        if isinstance(row, dict):
            lines.append("\t".join(_tsv_cell(v) for v in row.values()))
        elif isinstance(row, list):  # a multiselect, e.g. -q "[].[name, state]": one column per item
            lines.append("\t".join(_tsv_cell(v) for v in row))
        else:
            lines.append(_tsv_cell(row))
    return "\n".join(lines) + ("\n" if lines else "")


def _broken_pipe() -> None:
    raise BrokenPipeError(32, "Broken pipe")


# Blanks at a line's end, before any closing colour codes: rich pads every cell to its column's width.
_TRAILING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$")


def _print_fitted(console, renderable, width: int | None, out) -> None:
    """Print ``renderable`` at ``width``, or at its natural width when there is none to fit (a file or a
    pipe without COLUMNS: rich would otherwise cut cells at 80 columns), with no blanks at line ends."""
    if width is None:
        width = console.measure(renderable, options=console.options.update_width(1 << 20)).maximum
    console.width = max(1, width)
    with console.capture() as captured:
        console.print(renderable)
    out.write("".join(_TRAILING.sub(r"\1", line) + "\n" for line in captured.get().splitlines()))


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


def _layout(specs: list[Column], headers: list[str], cells: list[list[str]],
            width: int | None) -> tuple[list[int | None], int] | None:
    """Each column's width (None: dropped) and the gap between columns, so that the table fits ``width``;
    None when nothing makes it fit (the columns that must stay whole are wider than the terminal).

    Cut columns shrink first, down to a readable minimum, then columns are dropped: ones empty in every
    row first, then by priority. A table that still does not fit tries again with one blank between
    columns. What room is left afterwards goes back, first to dropped columns that fit again (most
    valuable first), then to cut ones."""
    from rich.cells import cell_len

    natural = [max([cell_len(h)] + [cell_len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    if width is None:
        return list(natural), _GAP
    floor = [min(n, max(cell_len(h), _MIN_CUT)) if c.cut else n for c, n, h in zip(specs, natural, headers)]
    empty = [not any(row[i] for row in cells) for i in range(len(specs))]
    first_out = lambda i: (empty[i], specs[i].drop)  # noqa: E731  the column to leave out first: the max

    for gap in (_GAP, 1):
        widths: list[int | None] = list(natural)

        def total() -> int:
            shown = [w for w in widths if w is not None]
            return sum(shown) + gap * max(0, len(shown) - 1)

        def shrink(excess: int) -> int:
            for i in sorted(range(len(specs)), key=lambda i: -(widths[i] or 0)):  # the widest text gives first
                if excess <= 0:
                    break
                w = widths[i]
                if w is not None and specs[i].cut and w > floor[i]:
                    cut = min(excess, w - floor[i])
                    widths[i] = w - cut
                    excess -= cut
            return excess

        while total() > width:
            if shrink(total() - width) <= 0:
                break
            droppable = [i for i, c in enumerate(specs) if c.drop and widths[i] is not None]
            if not droppable:
                break
            widths[max(droppable, key=first_out)] = None
        if total() > width:
            continue
        for i in sorted((i for i, w in enumerate(widths) if w is None), key=first_out):
            if total() + gap + floor[i] <= width:
                widths[i] = floor[i]
        for i, c in enumerate(specs):  # spare room back to cut text, up to its natural width
            w = widths[i]
            if c.cut and w is not None and total() < width:
                widths[i] = min(natural[i], w + width - total())
        return widths, gap
    return None


def _clip(text: str, width: int, tail: bool = False) -> str:
    """``text`` in ``width`` cells, cut with "…": at the end, or with ``tail`` at the start (a path's
    end names it: "…/runs/RUN_ID/outputs")."""
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) <= width:
        return text
    if not tail:
        return set_cell_size(text, width - 1) + "…"
    keep = text
    while keep and cell_len(keep) > width - 1:
        keep = keep[1:]
    return "…" + keep


def _pairs_table(plain: bool):
    """A two-column key/value table: keys whole, values wrapped to the width (never padded past it)."""
    from rich.table import Table

    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="" if plain else "bold", no_wrap=True)
    t.add_column(overflow="fold")
    return t


def _list_view(rows: list[dict], columns: Sequence[ColumnSpec] | None, width: int | None, plain: bool):
    """A list of records fitted to ``width`` (see ``_layout``): a table, or, when even the columns that
    must stay whole are wider than that, each record as a block of COLUMN value lines (a blank line
    between records), so that nothing is cut and no line is wider than the terminal."""
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
    layout = _layout(specs, headers, cells, width)
    if layout is None:
        folded = _pairs_table(plain)
        for n, line in enumerate(cells):
            if n:
                folded.add_row("", "")
            for h, text in zip(headers, line):
                folded.add_row(h, text)
        return folded
    widths, gap = layout
    keep = [i for i, w in enumerate(widths) if w is not None]
    # padding (top, right, bottom, left): a gap of 2 is rich's usual 1 + 1, a gap of 1 the right one only
    t = Table(box=None, pad_edge=False, header_style="" if plain else "bold", padding=(0, 1, 0, gap - 1))
    for i in keep:
        t.add_column(headers[i], no_wrap=True)
    for line in cells:
        t.add_row(*(_clip(line[i], widths[i] or 0, specs[i].tail) if specs[i].cut else line[i] for i in keep))
    return t


def _table(data: Any, columns: Sequence[ColumnSpec] | None, out) -> None:
    from rich.console import Console

    # NO_COLOR or not a terminal: no escape codes at all, bold included (rich's no_color keeps styles).
    plain = bool(os.environ.get("NO_COLOR")) or not out.isatty()
    console = Console(file=out, no_color=plain, color_system=None if plain else "auto", highlight=False,
                      soft_wrap=False, force_terminal=None if out.isatty() else False)
    # rich answers a closed pipe with SystemExit(1); re-raise it as the BrokenPipeError it is, so the
    # CLI treats `leafctl ... -o table | head -1` like every other format (exit 0, no message).
    console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
    rows = data if isinstance(data, list) else [data]
    if rows and all(isinstance(r, dict) for r in rows):
        if isinstance(data, list):
            view = _list_view(rows, columns, _fit_width(out, console), plain)
        else:  # one object: a two-column key/value table reads better than a one-row wide table
            view = _pairs_table(plain)
            for k, v in data.items():
                view.add_row(k, _cell(v))
        _print_fitted(console, view, _fit_width(out, console), out)
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
