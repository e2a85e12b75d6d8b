"""``model prescribe``: actions for a table of contexts from an exported model folder.

``model_dir`` is a run's output folder (its ``model/`` is used) or the model folder itself. The loader
is the same module MLflow imports, so leafctl and a deployed endpoint prescribe identically.
Candidates: ``knee`` (first-front candidate nearest the ideal point after scaling each objective to
[0, 1] over the first front), ``all`` (one row per candidate and context, leading ``candidate``
column), ``best:OBJECTIVE``, or an integer id from pareto.csv.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from leafctl.errors import UsageError


def _model_root(model_dir: str | Path) -> Path:
    """The folder holding MLmodel: ``model_dir`` itself, its ``model/``, or the single folder up to
    three levels down that holds one (a downloaded registry model may be nested)."""
    p = Path(model_dir)
    for cand in (p, p / "model"):
        if (cand / "MLmodel").is_file() and (cand / "data").is_dir():
            return cand
    found = [m.parent for depth in ("*/", "*/*/", "*/*/*/") for m in p.glob(depth + "MLmodel")
             if (m.parent / "data" / "esp_model.json").is_file()]
    if len(found) == 1:
        return found[0]
    raise UsageError(f"{str(p)!r} holds no ESP model (no MLmodel file)",
                     "give a run's output folder or its model/ folder")


# What a damaged model folder raises while it is read: json and numpy errors, a zip cut short, a JSON
# document of the wrong shape (`[]` instead of an object), a missing key or array.
_DAMAGED = (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError, EOFError, zipfile.BadZipFile)


def load_model(model_dir: str | Path, label: str | None = None) -> Any:
    """The model in ``model_dir``; ``label`` names it in messages (e.g. ``NAME:VERSION`` of a registered
    model, whose files sit in a temporary folder the user never saw)."""
    from leafctl.esp.pyfunc_model import LeafEspModel  # noqa: PLC0415

    root = _model_root(model_dir)
    try:
        return LeafEspModel(str(root / "data"))
    except _DAMAGED as e:
        what = f"model {label}" if label else f"the model in {root}"
        raise UsageError(f"{what} is damaged: {_culprit(root / 'data', e)}",
                         "register it again from its evolve run (leafctl model register NAME --run RUN_ID)") from None


def _culprit(data: Path, e: BaseException) -> str:
    """Which of the model's two files is bad, and how (the loader's exception alone does not say)."""
    import json

    import numpy as np

    from leafctl.esp.pyfunc_model import MODEL_JSON, WEIGHTS  # noqa: PLC0415

    try:
        meta = json.loads((data / MODEL_JSON).read_text(encoding="utf-8"))
    except Exception as err:  # noqa: BLE001  (any reason it cannot be read is the answer)
        return f"data/{MODEL_JSON} cannot be read ({type(err).__name__}: {err})"
    if not isinstance(meta, dict):
        return f"data/{MODEL_JSON} holds a JSON {type(meta).__name__}, not the model's description (an object)"
    try:
        with np.load(data / WEIGHTS, allow_pickle=False) as z:
            z["theta"]
    except Exception as err:  # noqa: BLE001
        return f"data/{WEIGHTS} cannot be read, it is truncated or not a numpy archive ({type(err).__name__}: {err})"
    return f"data/{MODEL_JSON} does not describe an ESP model ({type(e).__name__}: {e})"


def parse_candidate(text: str | int) -> str | int:
    if isinstance(text, int):
        return text
    t = text.strip()
    if t in ("knee", "all") or t.startswith("best:"):
        return t
    try:
        return int(t)
    except ValueError:
        raise UsageError(f"candidate {text!r} is not understood", "use knee, all, best:OBJECTIVE or an id") from None


def chosen_candidates(model_dir: str | Path, candidate: str | int, label: str | None = None) -> list[dict[str, Any]]:
    """The candidates ``candidate`` names, each {id, objectives}: what the surrogate predicted it
    achieves (averaged over the training contexts, as in pareto.csv)."""
    model = load_model(model_dir, label)
    try:
        rows = model.candidate_rows(parse_candidate(candidate))
    except ValueError as e:
        raise UsageError(str(e), "check the candidate") from None
    return [{"id": model.ids[r], "objectives": model.predicted(r), "senses": dict(model.objectives),
             # A constrained run's model: its constraints, this candidate's violation, whether any is feasible.
             **({"constraints": model.constraints, "cv": float(model.cv[r]), "any_feasible": model.any_feasible}
                if model.cv is not None else {})} for r in rows]


def candidate_note(candidate: str | int, chosen: list[dict[str, Any]]) -> str:
    """One line for stderr: which candidate prescribed, and what it is predicted to achieve."""
    if len(chosen) != 1:
        return f"candidate {candidate}: all {len(chosen)} candidates (the `candidate` column says which row is whose)"
    c = chosen[0]
    values = ", ".join(f"{n} {v:.5g} ({c['senses'][n]})" for n, v in c["objectives"].items())
    which = f"{candidate} = id {c['id']}" if str(candidate) != str(c["id"]) else f"id {c['id']}"
    line = f"candidate {which}; predicted over the training contexts: {values}"
    if c.get("constraints"):
        cons = ", ".join(c["constraints"])
        if not c["any_feasible"]:
            line += (f"; note: no candidate meets the constraints ({cons}): this one violates them least "
                     f"(cv {c['cv']:.4g})")
        elif c["cv"] > 0:
            line += f"; note: it does not meet the constraints ({cons}; cv {c['cv']:.4g})"
        else:
            line += f"; meets the constraints ({cons})"
    return line


def _prescribe(model_dir: str | Path, contexts_csv: str | Path, candidate: str | int,
               label: str | None) -> tuple[Any, Any, list[str], list[int], list[list[Any]]]:
    """(model, contexts table, context names, chosen candidate ids, each one's action columns)."""
    from leafctl.esp.data import numeric_column, read_table, resolve_columns  # noqa: PLC0415

    model = load_model(model_dir, label)
    table = read_table(contexts_csv)
    names = [c["name"] for c in model.context]
    resolve_columns(table, names, "context")
    # Numbers are parsed here, by the table reader's vectorised code (an error names the row and line);
    # category cells go to the model as text, which it checks against the training categories.
    columns = {c["name"]: table.cells[c["name"]].to_numpy(zero_copy_only=False) if c["kind"] == "categorical"
               else numeric_column(table, c["name"]) for c in model.context}
    try:
        ids, acts = model.prescribe_arrays(columns, parse_candidate(candidate))
    except ValueError as e:
        raise UsageError(str(e), "check the contexts file and the candidate") from None
    return model, table, names, ids, acts


def prescribe(model_dir: str | Path, contexts_csv: str | Path,
              candidate: str | int = "knee", label: str | None = None) -> tuple[list[str], list[list[Any]]]:
    """Returns (header, rows): context columns then action columns (natural units, category names)."""
    model, table, names, ids, acts = _prescribe(model_dir, contexts_csv, candidate, label)
    every = parse_candidate(candidate) == "all"
    header = (["candidate"] if every else []) + names + [a["name"] for a in model.actions]
    echo = list(zip(*(_echo_column(table, c) for c in model.context)))
    rows: list[list[Any]] = []
    for cid, cols in zip(ids, acts):
        prefix = [cid] if every else []
        rows.extend(prefix + list(c) + list(a) for c, a in zip(echo, zip(*(col.tolist() for col in cols))))
    return header, rows


def _echo_column(table: Any, spec: dict[str, Any]) -> list[Any]:
    """A context column as the rows give it back (JSON, YAML, tsv): a numeric one as the numbers the
    CSV's cells parse to (77, 0.5: a whole number as an int), a categorical one as its text."""
    if spec["kind"] == "categorical":
        return table.column(spec["name"])
    from leafctl.esp.data import numeric_column  # noqa: PLC0415

    return [int(v) if v.is_integer() and abs(v) < 2 ** 53 else v for v in numeric_column(table, spec["name"]).tolist()]


CSV_BLOCK = 1 << 18  # rows per piece of output text (pyarrow strings hold at most 2 GiB each)


def prescribe_csv(model_dir: str | Path, contexts_csv: str | Path, candidate: str | int = "knee",
                  label: str | None = None) -> tuple[bytes, int]:
    """What ``model prescribe`` writes: the CSV (UTF-8, LF line ends, fields quoted where needed) of
    :func:`prescribe`'s rows, and how many rows it has. Built column-wise with pyarrow kernels, not a
    Python loop per row, so a couple of million rows take seconds. Numbers are written in their
    shortest exact form (an action of exactly 10.0 is ``10``)."""
    import csv
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    model, table, names, ids, acts = _prescribe(model_dir, contexts_csv, candidate, label)
    every = parse_candidate(candidate) == "all"
    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow((["candidate"] if every else []) + names
                                                    + [a["name"] for a in model.actions])
    pieces = [head.getvalue().encode("utf-8")]
    echo = [_csv_text(table.cells[n]) for n in names]
    for cid, cols in zip(ids, acts):
        fields = echo + [_csv_text(pa.array(c, type=pa.string()) if c.dtype == object else pa.array(c)) for c in cols]
        for s in range(0, table.n_rows, CSV_BLOCK):
            part = [f.slice(s, CSV_BLOCK) for f in fields]
            if every:
                part.insert(0, pa.array(np.full(len(part[0]), cid)).cast(pa.string()))
            lines = pc.binary_join_element_wise(*part, pa.scalar("", pa.string()), ",")  # a trailing ","
            pieces.append(_joined(lines))
    return b"".join(pieces), table.n_rows * len(ids)


def _csv_text(arr: Any) -> Any:
    """A column as CSV field text: numbers formatted, text quoted (quotes doubled) where it holds a
    quote, comma or line break, as the csv module writes it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_string(arr.type):
        return pc.cast(arr, pa.string())
    needs = pc.match_substring_regex(arr, '[",\r\n]')
    if not pc.any(needs).as_py():
        return arr
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, arr)


def _joined(lines: Any) -> bytes:
    """The text of a string array whose every element ends with ",": elements one per line, the
    trailing comma of each turned into the line end (one pass over the bytes, in C)."""
    import numpy as np
    import pyarrow as pa

    lines = pa.array(lines) if not isinstance(lines, pa.Array) else lines
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset:lines.offset + len(lines) + 1]
    data = np.frombuffer(lines.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].copy()
    data[offsets[1:] - offsets[0] - 1] = ord("\n")
    return data.tobytes()
