"""Local batch scoring of an MLflow pyfunc model, without mlflow:
``python -m leafctl.backends.local.batch_score MODEL_DIR INPUT OUTPUT_DIR``.

It does what ``mlflow.pyfunc.load_model`` does for a ``python_function`` flavor with a ``loader_module``:
read ``MLmodel`` (YAML), put the flavor's ``code`` folder on ``sys.path``, import ``loader_module`` and
call ``_load_pyfunc(<model_dir>/<data>)``. Then each input CSV (a file, or every ``*.csv`` in a folder)
goes through ``.predict(table)`` and the results land in ``OUTPUT_DIR/predictions.csv``.

``--driver SCRIPT`` scores with a deployment's own scoring script instead (``init()``, then
``run(mini_batch)`` per mini batch of file paths; see ``run_driver``); ``--settings JSON`` carries the
deployment's settings (mini_batch_size, output_action, output_file_name, retry_settings, error_threshold,
logging_level).

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


def score(model_dir: Path, inp: Path, out_dir: Path, output_file: str = "predictions.csv") -> int:
    files = [inp] if inp.is_file() else sorted(inp.rglob("*.csv"))
    if not files:
        raise ScoringError(f"no CSV files in {inp}")
    model = load_model(model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    header: list[str] | None = None
    total = 0
    with open(out_dir / output_file, "w", newline="", encoding="utf-8") as f:
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
    print(f"wrote {total} predictions to {out_dir / output_file}", flush=True)
    return total


# ----- custom scoring scripts: init() / run(mini_batch), as Azure ML's batch driver calls them -----

def _load_driver(script: str) -> Any:
    """The scoring script (a file in the current folder, the deployment's code snapshot) as a module."""
    path = Path(script)
    if not path.is_file():
        raise ScoringError(f"scoring script {script} not found in the deployment's code folder")
    sys.path.insert(0, str(path.resolve().parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ScoringError(f"scoring script {script} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise ScoringError(f"scoring script {script} has no run(mini_batch) function")
    return module


def _rows(result: Any) -> list[list[Any]]:
    """What run() returned as output rows: a DataFrame's rows, a list's items (a list/tuple item is a row)."""
    if result is None:
        return []
    if hasattr(result, "itertuples") and hasattr(result, "columns"):
        return [list(r) for r in result.itertuples(index=False, name=None)]
    if isinstance(result, dict):
        cols = list(result.values())
        return [list(r) for r in zip(*cols)]
    if isinstance(result, (str, bytes)):
        return [[result]]
    return [list(r) if isinstance(r, (list, tuple)) else [r] for r in result]


def _write_row(w: Any, row: list[Any]) -> None:
    w.writerow([_cell(v) if not isinstance(v, str) else v for v in row])


def run_driver(script: str, model_dir: Path, inp: Path, out_dir: Path, settings: dict[str, Any]) -> int:
    """Score ``inp`` (a file, or every file under a folder) with a scoring script, the way Azure ML's batch
    driver does: ``init()`` once, then ``run(mini_batch)`` on lists of ``mini_batch_size`` file paths. With
    ``output_action: append_row`` the rows run() returns are appended to ``output_file_name`` (space-separated,
    no header, as Azure writes them); ``summary_only`` writes no rows. A mini batch whose run() raises is
    tried again up to ``retry_settings.max_retries`` times; then its files count as failed, and more failed
    files than ``error_threshold`` (-1: no limit) fail the run."""
    import logging
    import os
    import traceback

    level = str(settings.get("logging_level") or "info").upper()
    logging.basicConfig(level=getattr(logging, level, logging.INFO), format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(getattr(logging, level, logging.INFO))
    files = [inp] if inp.is_file() else sorted(p for p in inp.rglob("*") if p.is_file())
    if not files:
        raise ScoringError(f"no files in {inp}")
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AZUREML_MODEL_DIR", str(model_dir))
    os.environ["AZUREML_BI_OUTPUT_PATH"] = str(out_dir)
    size = max(1, int(settings.get("mini_batch_size") or 10))
    retries = max(0, int((settings.get("retry_settings") or {}).get("max_retries", 3)))
    threshold = int(settings.get("error_threshold", -1))
    append = str(settings.get("output_action") or "append_row") == "append_row"
    out_file = out_dir / str(settings.get("output_file_name") or "predictions.csv")
    driver = _load_driver(script)
    if callable(getattr(driver, "init", None)):
        driver.init()
    batches = [files[i:i + size] for i in range(0, len(files), size)]
    failed = rows_out = 0
    out = open(out_file, "w", newline="", encoding="utf-8") if append else None
    try:
        w = csv.writer(out, delimiter=" ") if out else None
        for n, batch in enumerate(batches, start=1):
            for attempt in range(retries + 1):
                try:
                    result = driver.run([str(p) for p in batch])
                    break
                except Exception as e:
                    frames = traceback.extract_tb(e.__traceback__)
                    at = f" ({Path(frames[-1].filename).name} line {frames[-1].lineno})" if frames else ""
                    print(f"mini batch {n}/{len(batches)} attempt {attempt + 1} failed: {type(e).__name__}: {e}{at}", flush=True)
            else:
                failed += len(batch)
                if 0 <= threshold < failed:
                    raise ScoringError(f"{failed} files failed, more than error_threshold {threshold}")
                continue
            rows = _rows(result)
            if w is not None:
                for row in rows:
                    _write_row(w, row)
                out.flush()
            rows_out += len(rows)
            print(f"mini batch {n}/{len(batches)}: {len(batch)} files, {len(rows)} rows", flush=True)
    finally:
        if out is not None:
            out.close()
    if callable(getattr(driver, "shutdown", None)):
        driver.shutdown()
    where = f" to {out_file}" if append else " (summary_only: no output file)"
    print(f"scored {len(files) - failed} of {len(files)} files in {len(batches)} mini batches; wrote {rows_out} rows{where}",
          flush=True)
    return rows_out


def main(argv: list[str] | None = None) -> int:
    import json

    args = list(sys.argv[1:] if argv is None else argv)
    driver: str | None = None
    settings: dict[str, Any] = {}
    while args and args[0] in ("--driver", "--settings") and len(args) > 1:
        opt, value = args.pop(0), args.pop(0)
        if opt == "--driver":
            driver = value
        else:
            settings = json.loads(value)
    if len(args) != 3:
        print("usage: python -m leafctl.backends.local.batch_score [--driver SCRIPT] [--settings JSON] "
              "MODEL_DIR INPUT OUTPUT_DIR", file=sys.stderr)
        return 2
    try:
        if driver:
            run_driver(driver, Path(args[0]), Path(args[1]), Path(args[2]), settings)
        else:
            score(Path(args[0]), Path(args[1]), Path(args[2]), str(settings.get("output_file_name") or "predictions.csv"))
    except (ScoringError, OSError, ImportError, ValueError, KeyError) as e:
        print(f"error: batch scoring failed: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
