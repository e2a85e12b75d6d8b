"""Read the ESP table (CSV, stdlib + numpy, no pandas) and encode it.

Context columns C, action columns A, outcome columns O. Numeric columns are standardised, string
columns one-hot (categories sorted). Action columns: 0/1 -> binary, other numeric -> continuous
(range [min, max] seen in the data), strings -> categorical. Outcomes must be numeric and complete.
Every bad input is a ``UsageError`` whose message is one line naming the column or row.
"""

from __future__ import annotations

import csv
import difflib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from leafctl.errors import UsageError

# A column where at least this share of values are numbers is treated as numeric, so a stray word
# in it is reported as an error rather than silently turning the whole column into categories.
NUMERIC_SHARE = 0.5
MISSING = {"", "na", "nan", "null", "none"}


@dataclass
class ColumnSpec:
    """How one column is encoded. Plain fields only: saved as JSON inside model files."""

    name: str
    kind: str  # numeric | categorical | binary
    mean: float = 0.0
    std: float = 1.0
    lo: float = 0.0
    hi: float = 1.0
    categories: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(self.categories) if self.kind == "categorical" else 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ColumnSpec":
        return cls(**d)


@dataclass
class Table:
    path: str
    header: list[str]
    rows: list[list[str]]

    def column(self, name: str) -> list[str]:
        i = self.header.index(name)
        return [r[i] for r in self.rows]


def read_table(path: str | Path) -> Table:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"data file {str(p)!r} not found", "check the path given as data")
    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise UsageError(f"data file {p.name} is empty", "give a CSV with a header row and data rows")
        header = [h.strip() for h in header]
        seen: set[str] = set()
        for h in header:
            if h in seen:
                raise UsageError(f"data file {p.name}: column {h!r} appears twice in the header",
                                 "rename one of them")
            seen.add(h)
        rows = []
        for i, row in enumerate(reader, start=1):
            if not row or all(not c.strip() for c in row):
                continue  # blank lines carry nothing
            if len(row) != len(header):
                raise UsageError(f"data file {p.name}: row {i} (line {reader.line_num}) has {len(row)} "
                                 f"fields, the header has {len(header)}", "fix that row")
            rows.append([c.strip() for c in row])
    if not rows:
        raise UsageError(f"data file {p.name} has a header but no data rows", "add rows of data")
    return Table(str(p), header, rows)


def resolve_columns(table: Table, names: Sequence[str], role: str) -> list[str]:
    """Check every named column exists; suggest a close match for a misspelling."""
    for n in names:
        if n not in table.header:
            close = difflib.get_close_matches(n, table.header, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"columns are: {', '.join(table.header)}"
            raise UsageError(f"{role} column {n!r} is not in {Path(table.path).name}", hint)
    return list(names)


def _parse_number(s: str) -> float | None:
    if s.lower() in MISSING:
        return math.nan
    try:
        return float(s)
    except ValueError:
        return None


def _numeric_or_none(table: Table, name: str, must: bool) -> np.ndarray | None:
    """Values as floats if the column is numeric, else None (categorical). ``must``: outcomes."""
    raw = table.column(name)
    vals = [_parse_number(s) for s in raw]
    bad = [i for i, v in enumerate(vals) if v is None]
    present = sum(1 for s in raw if s.lower() not in MISSING)
    if bad and (must or (present - len(bad)) >= NUMERIC_SHARE * max(present, 1)):
        i = bad[0]
        raise UsageError(f"column {name!r}, row {i + 1} (line {i + 2}): {raw[i]!r} is not a number",
                         "fix the value or remove the row")
    if bad:
        return None
    arr = np.asarray(vals, dtype=np.float64)
    nonfinite = np.nonzero(~np.isfinite(arr))[0]
    if nonfinite.size:
        i = int(nonfinite[0])
        what = "is empty" if raw[i] == "" else f"is {raw[i]!r}"
        raise UsageError(f"column {name!r}, row {i + 1} (line {i + 2}) {what}",
                         "fill in the value or remove the row")
    return arr


def _spec(table: Table, name: str, role: str) -> tuple[ColumnSpec, np.ndarray]:
    """Infer one column's encoding and return it with the column's encoded block (n, width)."""
    arr = _numeric_or_none(table, name, must=(role == "outcome"))
    if arr is None:
        raw = table.column(name)
        empty = [i for i, s in enumerate(raw) if s == ""]
        if empty:
            i = empty[0]
            raise UsageError(f"column {name!r}, row {i + 1} (line {i + 2}) is empty",
                             "fill in the value or remove the row")
        cats = sorted(set(raw))
        if len(cats) < 2:
            raise UsageError(f"column {name!r} is constant (every row is {cats[0]!r})",
                             f"drop it from the {role} columns")
        spec = ColumnSpec(name, "categorical", categories=cats)
        return spec, one_hot(raw, cats)
    lo, hi = float(arr.min()), float(arr.max())
    if lo == hi:
        raise UsageError(f"column {name!r} is constant (every row is {lo:g})",
                         f"drop it from the {role} columns")
    if role == "action" and set(np.unique(arr).tolist()) <= {0.0, 1.0}:
        return ColumnSpec(name, "binary", lo=0.0, hi=1.0), arr[:, None]
    mean, std = float(arr.mean()), float(arr.std())
    spec = ColumnSpec(name, "numeric", mean=mean, std=std, lo=lo, hi=hi)
    block = arr[:, None] if role == "outcome" else ((arr - mean) / std)[:, None]
    return spec, block


def one_hot(values: Sequence[str], categories: Sequence[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(categories)}
    out = np.zeros((len(values), len(categories)), dtype=np.float64)
    for r, v in enumerate(values):  # per-row loop over strings: data loading, not the hot path
        j = index.get(v)
        if j is not None:
            out[r, j] = 1.0
    return out


@dataclass
class Dataset:
    context: list[ColumnSpec]
    actions: list[ColumnSpec]
    outcomes: list[ColumnSpec]
    Xc: np.ndarray  # (n, Cf) encoded contexts
    Xa: np.ndarray  # (n, Af) encoded actions (predictor input form)
    Y: np.ndarray  # (n, O) outcomes in natural units

    @property
    def n(self) -> int:
        return self.Xc.shape[0]


def load_dataset(path: str | Path, context: Sequence[str] | None, actions: Sequence[str],
                 outcomes: Sequence[str]) -> Dataset:
    """Read and encode. ``context`` None or empty means every column not named as action or outcome."""
    table = read_table(path)
    if not actions:
        raise UsageError("no action columns given", "name at least one column the prescriptor decides")
    if not outcomes:
        raise UsageError("no outcome columns given", "name at least one outcome column")
    actions = resolve_columns(table, actions, "action")
    outcomes = resolve_columns(table, outcomes, "outcome")
    if context:
        context = resolve_columns(table, context, "context")
    else:
        context = [h for h in table.header if h not in actions and h not in outcomes]
    roles: dict[str, str] = {}
    for role, names in (("context", context), ("action", actions), ("outcome", outcomes)):
        for n in names:
            if n in roles:
                raise UsageError(f"column {n!r} is named as both {roles[n]} and {role}",
                                 "give each column one role")
            roles[n] = role
    if not context:
        raise UsageError("no context columns left", "name context columns or add some to the data")
    if len(table.rows) < 2:
        raise UsageError(f"data file {Path(path).name} has only one row", "ESP needs many rows to learn from")

    def encode(names: Sequence[str], role: str) -> tuple[list[ColumnSpec], np.ndarray]:
        specs, blocks = [], []
        for n in names:
            s, b = _spec(table, n, role)
            specs.append(s)
            blocks.append(b)
        return specs, np.concatenate(blocks, axis=1)

    cs, Xc = encode(context, "context")
    as_, Xa = encode(actions, "action")
    os_, Y = encode(outcomes, "outcome")
    return Dataset(cs, as_, os_, Xc, Xa, Y)


def encode_contexts(specs: Sequence[ColumnSpec], table: Table) -> np.ndarray:
    """Encode a contexts table with the training encoding (for prescribing new rows)."""
    resolve_columns(table, [s.name for s in specs], "context")
    blocks = []
    for s in specs:
        raw = table.column(s.name)
        if s.kind == "categorical":
            unknown = [i for i, v in enumerate(raw) if v not in s.categories]
            if unknown:
                i = unknown[0]
                raise UsageError(f"column {s.name!r}, row {i + 1} (line {i + 2}): {raw[i]!r} was not seen "
                                 "in training", f"use one of: {', '.join(s.categories)}")
            blocks.append(one_hot(raw, s.categories))
        else:
            arr = _numeric_or_none(Table(table.path, [s.name], [[v] for v in raw]), s.name, must=True)
            blocks.append(((arr - s.mean) / s.std)[:, None])
    return np.concatenate(blocks, axis=1)
