"""Training a predictor on a run's data: the held-out split, the error report, the warnings.

``train`` fits the configured kind on 80% of the rows and reports RMSE and R^2 per outcome on the other
20% (``predictor_metrics.json``). It warns when the report says the surrogate should not be trusted:
fewer than ``MIN_ROWS`` rows, or a held-out R^2 below ``MIN_R2`` for any outcome (a front optimised
against such a model is a front of the model's errors).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from leafctl.esp import predictors
from leafctl.esp.predictors.mlp import split

MIN_ROWS = 50
MIN_R2 = 0.5


def metrics(Y: np.ndarray, Yhat: np.ndarray, names: Sequence[str]) -> dict[str, dict[str, float]]:
    out = {}
    for j, name in enumerate(names):
        err = Yhat[:, j] - Y[:, j]
        ss = float(np.sum((Y[:, j] - Y[:, j].mean()) ** 2))
        out[name] = {"rmse": float(np.sqrt(np.mean(err ** 2))),
                     "r2": float(1.0 - np.sum(err ** 2) / ss) if ss > 0 else 0.0}
    return out


def warnings_for(report: Mapping[str, Any]) -> list[str]:
    """One line per reason not to trust the surrogate (empty when there is none)."""
    out = []
    rows = report.get("rows", report["rows_train"] + report["rows_held_out"])
    if rows < MIN_ROWS:
        out.append(f"the data has {rows} rows (< {MIN_ROWS}): the predictor trained on "
                   f"{report['rows_train']} of them and its errors are barely measured; add rows before trusting the front")
    low = {k: v["r2"] for k, v in report["held_out"].items() if v["r2"] < MIN_R2}
    if low:
        out.append(f"predictor {report['predictor']} explains little of " +
                   ", ".join(f"{k} (held-out R² {v:.2f})" for k, v in low.items()) +
                   f", below {MIN_R2}: the front is optimised against a poor model; try --predictor auto or more data")
    return out


def train(X: np.ndarray, Y: np.ndarray, names: Sequence[str], kind: str, settings: Mapping[str, Any],
          seed_seq: np.random.SeedSequence, need_std: bool = False,
          log: Callable[[str], None] | None = None) -> tuple[Any, dict[str, Any]]:
    """Fit on a training split, report held-out error; returns (predictor, metrics dict).
    ``need_std``: ``auto`` chooses among kinds that give a spread (``--risk``)."""
    rng = np.random.default_rng(seed_seq)
    train_idx, test_idx = split(X.shape[0], rng)
    s = predictors.resolve_settings(kind, settings)
    if need_std and "candidates" in s:
        s["candidates"] = [k for k in s["candidates"] if predictors.has_std(k)]
    model = predictors.get(kind).fit(X[train_idx], Y[train_idx], rng, **s)
    report: dict[str, Any] = {"predictor": model.kind, "rows": int(X.shape[0]), "rows_train": int(train_idx.size),
                              "rows_held_out": int(test_idx.size),
                              "held_out": metrics(Y[test_idx], model.predict(X[test_idx]), names)}
    if getattr(model, "selection", None):
        report["auto"] = model.selection
        if log is not None:
            log(f"predictor auto: {model.selection['why']}")
    report["warnings"] = warnings_for(report)
    return model, report
