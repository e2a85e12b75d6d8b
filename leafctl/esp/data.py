"""Read the ESP table (CSV, with pyarrow's reader; numpy) and encode it.

Context columns C, action columns A, outcome columns O. Numeric columns are standardised, string
columns one-hot (categories sorted). Action columns: 0/1 -> binary, other numeric -> continuous
(range [min, max] seen in the data; integer when every value is a whole number), strings -> categorical. Outcomes must be numeric and complete.
Every bad input is a ``UsageError`` whose message is one line naming the column or row.

Tables run to millions of rows, so nothing here loops over rows or cells in Python: the file is read by
pyarrow's C++ reader, and each column is checked and encoded with pyarrow/numpy kernels (50 MB in well
under a second). pyarrow is imported inside the functions that read, never at module level (model
code imports ``ColumnSpec`` from here).
"""

from __future__ import annotations

import csv
import difflib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from leafctl.esp.config import MAX_MAGNITUDE  # one limit for data columns and action_cost weights
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
    # Numeric actions only (leafctl/esp/actions.py): ``integer`` rounds the decoded value (lo and hi
    # are then whole numbers); ``simplex`` >= 0 puts the action in that simplex group, decoded with
    # the group's other members as softmax x ``total`` (lo and hi do not apply). Older model files
    # lack these keys: the defaults are the plain continuous action they describe.
    integer: bool = False
    simplex: int = -1
    total: float = 0.0

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
    """A CSV table by column: ``cells[name]`` is a pyarrow string array of that column's cells,
    whitespace-stripped, blank rows left out; row ``i`` of every column is data row ``i + 1``."""

    path: str
    header: list[str]
    cells: dict[str, Any]
    n_rows: int

    @classmethod
    def from_rows(cls, path: str, header: list[str], rows: list[list[str]]) -> "Table":
        import pyarrow as pa  # noqa: PLC0415

        cells = {h: pa.array([r[j] for r in rows], type=pa.string()) for j, h in enumerate(header)}
        return cls(path, header, cells, len(rows))

    @property
    def rows(self) -> list[list[str]]:
        """Rows as lists of strings: for small tables (the encoders work on ``cells``)."""
        return [list(r) for r in zip(*(self.column(h) for h in self.header))]

    def column(self, name: str) -> list[str]:
        return self.cells[name].to_pylist()


_BOM = b"\xef\xbb\xbf"


def read_table(path: str | Path) -> Table:
    """The table in a CSV file: UTF-8 (a BOM is fine), a header row, quoted fields may hold commas,
    quotes and newlines, CRLF or LF line ends, blank lines skipped.

    pyarrow's multithreaded reader does the work; a file it refuses (a row with the wrong number of
    fields, a quoted newline in the header) is read again by the stdlib reader, which either gives
    the same table or the one-line error naming the row and line."""
    import pyarrow as pa  # noqa: PLC0415

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"data file {str(p)!r} not found", "check the path given as data")
    data = p.read_bytes()
    _check_utf8(p, data)
    try:
        table = _read_arrow(p, data)
    except pa.ArrowInvalid:
        table = None
    return table if table is not None else _read_stdlib(p)


def _check_utf8(p: Path, data: bytes) -> None:
    if data.isascii():  # one C pass; most tables are plain ASCII
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"data file {p.name} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})",
                         "re-save it as UTF-8 (e.g. \"CSV UTF-8\" in a spreadsheet)") from None


def _check_header(p: Path, header: list[str] | None) -> list[str]:
    if header is None or not any(h.strip() for h in header):
        raise UsageError(f"data file {p.name} is empty", "give a CSV with a header row and data rows")
    header = [h.strip() for h in header]
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise UsageError(f"data file {p.name}: column {h!r} appears twice in the header",
                             "rename one of them")
        seen.add(h)
    return header


def _read_arrow(p: Path, data: bytes) -> Table | None:
    """The fast path; None where the stdlib reader must decide (see read_table)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415
    import pyarrow.csv as pacsv  # noqa: PLC0415

    start = len(_BOM) if data.startswith(_BOM) else 0
    end = data.find(b"\n", start)
    line = data[start:end if end >= 0 else len(data)].rstrip(b"\r")
    if line.count(b'"') % 2 or b"\r" in line:  # the header's record goes on past this line
        return None
    header = _check_header(p, next(csv.reader([line.decode("utf-8")]), None))
    # Our own column names: the header's may repeat or be blank, which pyarrow would not keep apart.
    names = [f"c{j}" for j in range(len(header))]
    t = pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(data).slice(start)),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
        # Quoted newlines need the slower chunking; a file without a quote character has none.
        parse_options=pacsv.ParseOptions(newlines_in_values=data.find(b'"', start) >= 0),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                             strings_can_be_null=False, quoted_strings_can_be_null=False))
    # Strip cells as the stdlib path does, unless no cell can start or end with whitespace: an ASCII
    # file without a space, tab, quote (a quoted CR LF) or other whitespace byte; CR LF ends lines.
    trim = not data.isascii() or any(data.find(c, start) >= 0 for c in (b" ", b"\t", b'"', b"\x0b", b"\x0c")) \
        or any(bytes([c]) in data for c in range(0x1c, 0x20))
    cells = {h: (pc.utf8_trim_whitespace(t.column(n)) if trim else t.column(n)).combine_chunks()
             for h, n in zip(header, names)}
    n = t.num_rows
    first = cells[header[0]]
    if n and pc.any(pc.equal(pc.binary_length(first), 0)).as_py():
        # A row of empty fields (",,,") carries nothing, like a blank line: drop it.
        blank = None
        for col in cells.values():
            empty = pc.equal(pc.binary_length(col), 0)
            blank = empty if blank is None else pc.and_(blank, empty)
        keep = pc.invert(blank)
        cells = {h: c.filter(keep) for h, c in cells.items()}
        n = len(next(iter(cells.values())))
    if not n:
        raise UsageError(f"data file {p.name} has a header but no data rows", "add rows of data")
    return Table(str(p), header, cells, n)


def _read_stdlib(p: Path) -> Table:
    """The reference reader (csv module): exact row and line numbers for a malformed file."""
    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = _check_header(p, next(reader, None))
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
    return Table.from_rows(str(p), header, rows)


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


_PROBE = 2048


def _to_float(arr: Any) -> np.ndarray | None:
    """A string array (nulls allowed) as float64, NaN for null; None if some cell is no number.

    A column of words fails on every cell and pyarrow pays for each failure (half a second a million
    cells): casting its head first finds that out for the price of a few thousand."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    try:
        if len(arr) > _PROBE:
            pc.cast(arr.slice(0, _PROBE), pa.float64())
        return pc.cast(arr, pa.float64()).fill_null(math.nan).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return None


def _as_numbers(cells: Any) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(values, bad, present) of a string column: values float64, NaN where a cell is a missing marker
    (``MISSING``); bad marks cells that are neither a number (Python ``float()`` syntax) nor missing,
    None when there are none (``present``, the count of cells not missing, is then not computed)."""
    import pyarrow.compute as pc  # noqa: PLC0415

    vals = _to_float(cells)  # the common case, every cell a number: one C pass
    if vals is not None:
        return vals, None, len(cells)
    # Some cell is no number (or is empty, "NA"...): decide per distinct value with Python's float()
    # itself. A categorical column has few distinct values; a numeric one is about to be an error.
    enc = pc.dictionary_encode(cells)
    distinct = enc.dictionary.to_pylist()
    parsed = [_parse_number(s) for s in distinct]
    idx = enc.indices.to_numpy(zero_copy_only=False)
    d_bad = np.array([v is None for v in parsed], dtype=bool)
    d_val = np.array([math.nan if v is None else v for v in parsed], dtype=np.float64)
    d_missing = np.array([s.lower() in MISSING for s in distinct], dtype=bool)
    bad = d_bad[idx]
    present = len(cells) - int(d_missing[idx].sum())
    return d_val[idx], (bad if bad.any() else None), present


def _numeric_or_none(table: Table, name: str, must: bool) -> np.ndarray | None:
    """Values as floats if the column is numeric, else None (categorical). ``must``: outcomes."""
    cells = table.cells[name]
    arr, bad, present = _as_numbers(cells)
    if bad is not None:
        nbad = int(bad.sum())
        if must or (present - nbad) >= NUMERIC_SHARE * max(present, 1):
            i = int(np.flatnonzero(bad)[0])
            raise UsageError(f"column {name!r}, row {i + 1} (line {i + 2}): {cells[i].as_py()!r} is not a number",
                             "fix the value or remove the row")
        return None
    nonfinite = np.flatnonzero(~np.isfinite(arr))
    if nonfinite.size:
        i = int(nonfinite[0])
        raw = cells[i].as_py()
        what = "is empty" if raw == "" else f"is {raw!r}"
        raise UsageError(f"column {name!r}, row {i + 1} (line {i + 2}) {what}",
                         "fill in the value or remove the row")
    return arr


def numeric_column(table: Table, name: str) -> np.ndarray:
    """A column that must be all numbers, as float64 (UsageError naming the first bad cell)."""
    return _numeric_or_none(table, name, must=True)


# The largest |value| a numeric column (or an action_cost weight) may hold. Finite is not enough:
# standardising squares values in float64 (overflow past ~1e154), and the evolution evaluates in
# float32 (max 3.4e38), summing over rows and multiplying by weights, so it needs headroom. Real
# tables sit many orders of magnitude below this; beyond it a run "completes" with NaN objectives.


def check_magnitude(name: str, arr: np.ndarray) -> None:
    """Refuse (exit 2, naming the column) a numeric column too large to standardise and evaluate."""
    top = float(np.max(np.abs(arr))) if arr.size else 0.0
    if top > MAX_MAGNITUDE:
        raise UsageError(f"column {name!r} has values too large to standardise (|x| up to {top:g}, at most "
                         f"{MAX_MAGNITUDE:g})", "rescale the column, e.g. to thousands or millions of its unit")


def _spec(table: Table, name: str, role: str) -> tuple[ColumnSpec, np.ndarray]:
    """Infer one column's encoding and return it with the column's encoded block (n, width)."""
    arr = _numeric_or_none(table, name, must=(role == "outcome"))
    if arr is None:
        import pyarrow.compute as pc  # noqa: PLC0415

        cells = table.cells[name]
        empty = np.flatnonzero(pc.equal(pc.binary_length(cells), 0).to_numpy(zero_copy_only=False))
        if empty.size:
            i = int(empty[0])
            raise UsageError(f"column {name!r}, row {i + 1} (line {i + 2}) is empty",
                             "fill in the value or remove the row")
        cats = sorted(pc.unique(cells).to_pylist())
        if len(cats) < 2:
            raise UsageError(f"column {name!r} is constant (every row is {cats[0]!r})",
                             f"drop it from the {role} columns")
        spec = ColumnSpec(name, "categorical", categories=cats)
        return spec, one_hot(cells, cats)
    check_magnitude(name, arr)
    lo, hi = float(arr.min()), float(arr.max())
    if lo == hi:
        raise UsageError(f"column {name!r} is constant (every row is {lo:g})",
                         f"drop it from the {role} columns")
    if role == "action" and bool(np.all((arr == 0.0) | (arr == 1.0))):
        return ColumnSpec(name, "binary", lo=0.0, hi=1.0), arr[:, None]
    mean, std = float(arr.mean()), float(arr.std())
    # An action whose every value is a whole number (counts: emails sent, visits) is prescribed as one.
    integer = role == "action" and bool(np.all(arr == np.round(arr)))
    spec = ColumnSpec(name, "numeric", mean=mean, std=std, lo=lo, hi=hi, integer=integer)
    block = arr[:, None] if role == "outcome" else ((arr - mean) / std)[:, None]
    return spec, block


def category_index(values: Any, categories: Sequence[str]) -> np.ndarray:
    """Position of each value (a pyarrow string array or a sequence of str) in ``categories``; -1
    where it is none of them."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(list(values), type=pa.string())
    pos = pc.index_in(arr, value_set=pa.array(list(categories), type=pa.string()))
    return pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _one_hot_index(idx: np.ndarray, k: int) -> np.ndarray:
    return (idx[:, None] == np.arange(k)).astype(np.float64)  # -1 matches no column


def one_hot(values: Any, categories: Sequence[str]) -> np.ndarray:
    """(n, len(categories)) 0/1 block; a value that is no category gets a row of zeros."""
    return _one_hot_index(category_index(values, categories), len(categories))


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
    if table.n_rows < 2:
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
        if s.kind == "categorical":
            idx = category_index(table.cells[s.name], s.categories)
            unknown = np.flatnonzero(idx < 0)
            if unknown.size:
                i = int(unknown[0])
                raise UsageError(f"column {s.name!r}, row {i + 1} (line {i + 2}): {table.cells[s.name][i].as_py()!r} "
                                 "was not seen in training", f"use one of: {', '.join(s.categories)}")
            blocks.append(_one_hot_index(idx, len(s.categories)))
        else:
            arr = _numeric_or_none(table, s.name, must=True)
            check_magnitude(s.name, arr)
            blocks.append(((arr - s.mean) / s.std)[:, None])
    return np.concatenate(blocks, axis=1)
