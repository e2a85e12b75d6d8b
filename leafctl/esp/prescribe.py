"""``model prescribe``: actions for a table of contexts from an exported model folder.

``model_dir`` is a run's output folder (its ``model/`` is used) or the model folder itself. The loader
is the same module MLflow imports, so leafctl and a deployed endpoint prescribe identically.
Candidates: ``knee`` (first-front candidate nearest the ideal point after scaling each objective to
[0, 1] over the first front), ``all`` (one row per candidate and context, leading ``candidate``
column), ``best:OBJECTIVE``, or an integer id from pareto.csv.
"""

from __future__ import annotations

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


def load_model(model_dir: str | Path) -> Any:
    from leafctl.esp.pyfunc_model import LeafEspModel  # noqa: PLC0415

    root = _model_root(model_dir)
    try:
        return LeafEspModel(str(root / "data"))
    except (OSError, KeyError, ValueError) as e:
        raise UsageError(f"model in {root} cannot be read: {e}", "re-export it with leafctl run evolve") from None


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


def prescribe(model_dir: str | Path, contexts_csv: str | Path,
              candidate: str | int = "knee") -> tuple[list[str], list[list[Any]]]:
    """Returns (header, rows): context columns then action columns (natural units, category names)."""
    from leafctl.esp.data import read_table  # noqa: PLC0415

    model = load_model(model_dir)
    table = read_table(contexts_csv)
    names = [c["name"] for c in model.context]
    from leafctl.esp.data import resolve_columns  # noqa: PLC0415

    resolve_columns(table, names, "context")
    columns = {n: table.column(n) for n in names}
    try:
        return model.prescribe_columns(columns, parse_candidate(candidate))
    except ValueError as e:
        raise UsageError(str(e), "check the contexts file and the candidate") from None
