"""Local batch scoring of an MLflow pyfunc model, without mlflow:
``python -m leafctl.backends.local.batch_score MODEL_DIR INPUT OUTPUT_DIR``.

It does what ``mlflow.pyfunc.load_model`` does for a ``python_function`` flavor with a ``loader_module``:
read ``MLmodel`` (YAML), put the flavor's ``code`` folder on ``sys.path``, import ``loader_module`` and
call ``_load_pyfunc(<model_dir>/<data>)``. Then each input CSV (a file, or every ``*.csv`` in a folder)
goes through ``.predict(table)`` and the results land in ``OUTPUT_DIR/predictions.csv``.

``table`` is a pandas DataFrame when pandas is installed; otherwise a ``Table``: a dict of column name
-> list of values (numbers parsed as float) with ``.columns``, ``len()``, ``to_dict("list")`` and
``to_numpy()``, which is enough for a model that reads columns by name (a leafctl ESP model is asked
through its pandas-free ``prescribe_columns`` instead). Models saved with mlflow's
cloudpickle ``python_model`` need mlflow itself and are refused with a clear message.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any


class ScoringError(Exception):
    pass


class Table(dict):
    """A minimal column table: what a pyfunc model gets when pandas is not installed."""

    @property
    def columns(self) -> list[str]:
        return list(self.keys())

    def __len__(self) -> int:  # rows, as a DataFrame's len() is
        return len(next(iter(self.values()), []))

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), len(self.keys()))

    def to_dict(self, orient: str = "list") -> dict[str, list]:
        if orient != "list":
            raise ValueError("Table.to_dict supports orient='list' only")
        return {k: list(v) for k, v in self.items()}

    def to_numpy(self):
        import numpy as np

        return np.column_stack([np.asarray(v) for v in self.values()]) if self else np.empty((0, 0))


def _number(s: str) -> Any:
    try:
        return float(s)
    except ValueError:
        return s


def read_table(path: Path) -> Any:
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        return pd.read_csv(path)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ScoringError(f"{path.name} is empty: a CSV with a header row is expected")
    header, body = rows[0], rows[1:]
    for i, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise ScoringError(f"{path.name} line {i} has {len(r)} fields, the header has {len(header)}")
    return Table({h: [_number(r[j]) for r in body] for j, h in enumerate(header)})


def find_mlmodel(model_dir: Path) -> Path:
    """The folder holding ``MLmodel``: the model folder itself, or one folder below it (a registered folder)."""
    if (model_dir / "MLmodel").is_file():
        return model_dir
    found = sorted(p.parent for p in model_dir.glob("*/MLmodel"))
    if len(found) == 1:
        return found[0]
    raise ScoringError(f"no MLmodel file in {model_dir}" if not found else f"several MLmodel files under {model_dir}")


def load_model(model_dir: Path) -> Any:
    import yaml

    root = find_mlmodel(model_dir)
    conf = yaml.safe_load((root / "MLmodel").read_text(encoding="utf-8")) or {}
    flavor = (conf.get("flavors") or {}).get("python_function")
    if not flavor:
        raise ScoringError(f"{root / 'MLmodel'} has no python_function flavor")
    loader = flavor.get("loader_module")
    if not loader:
        raise ScoringError("the python_function flavor has no loader_module")
    if loader.startswith("mlflow.") and importlib.util.find_spec("mlflow") is None:
        raise ScoringError(f"the model's loader {loader} needs mlflow, which is not installed; "
                           "save the model with a loader_module and code folder of its own")
    codes = flavor.get("code")
    for code in [codes] if isinstance(codes, str) else (codes or []):
        sys.path.insert(0, str(root / code))
    module = importlib.import_module(loader)
    data = root / flavor["data"] if flavor.get("data") else root
    return module._load_pyfunc(str(data))


def columns_of(pred: Any, n: int) -> dict[str, list]:
    """Predictions (DataFrame, dict of columns, 2-D or 1-D array/list, Series) -> columns."""
    if hasattr(pred, "to_dict") and hasattr(pred, "columns"):
        return {str(k): list(v) for k, v in pred.to_dict("list").items()}
    if isinstance(pred, dict):
        return {str(k): list(v) for k, v in pred.items()}
    if hasattr(pred, "tolist"):
        pred = pred.tolist()
    pred = list(pred)
    if len(pred) != n:
        raise ScoringError(f"the model returned {len(pred)} predictions for {n} rows")
    if pred and isinstance(pred[0], (list, tuple)):
        return {f"prediction_{j}": [row[j] for row in pred] for j in range(len(pred[0]))}
    return {"prediction": pred}


def predict(model: Any, table: Any) -> dict[str, list]:
    """``model.predict(table)`` as columns. Without pandas, a leafctl ESP model is asked through its
    pandas-free ``prescribe_columns`` (its ``predict`` needs pandas); any other model gets the Table."""
    if isinstance(table, Table) and hasattr(model, "prescribe_columns"):
        header, rows = model.prescribe_columns(table.to_dict("list"))
        return {h: [r[j] for r in rows] for j, h in enumerate(header)}
    return columns_of(model.predict(table), len(table))


def _cell(v: Any) -> str:
    if hasattr(v, "item"):
        v = v.item()
    return repr(v) if isinstance(v, float) else str(v)


def score(model_dir: Path, inp: Path, out_dir: Path) -> int:
    files = [inp] if inp.is_file() else sorted(inp.rglob("*.csv"))
    if not files:
        raise ScoringError(f"no CSV files in {inp}")
    model = load_model(model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    header: list[str] | None = None
    total = 0
    with open(out_dir / "predictions.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        for path in files:
            table = read_table(path)
            cols = predict(model, table)
            names = list(cols)
            if header is None:
                header = names
                w.writerow(["file", "row", *header])
            elif names != header:
                raise ScoringError(f"{path.name}: prediction columns {names} differ from {header}")
            rel = path.name if inp.is_file() else str(path.relative_to(inp))
            for i in range(len(table)):
                w.writerow([rel, i, *(_cell(cols[c][i]) for c in header)])
            total += len(table)
            print(f"scored {rel}: {len(table)} rows", flush=True)
    print(f"wrote {total} predictions to {out_dir / 'predictions.csv'}", flush=True)
    return total


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m leafctl.backends.local.batch_score MODEL_DIR INPUT OUTPUT_DIR", file=sys.stderr)
        return 2
    try:
        score(Path(args[0]), Path(args[1]), Path(args[2]))
    except (ScoringError, OSError, ImportError, ValueError, KeyError) as e:
        print(f"error: batch scoring failed: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
