"""The run's surrogate: trained once at the start of a run, reloaded when a run resumes.

``fit_or_load`` is the one place that trains, saves (``predictor.npz`` + ``predictor_metrics.json``,
each replaced atomically) and reloads the predictor (any kind of leafctl.esp.predictors); the
single-population loop and the island model (on rank 0, then broadcast as plain arrays: ``to_wire``)
both call it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from leafctl.esp.files import atomic_write_text

FILE = "predictor.npz"
METRICS = "predictor_metrics.json"


def load(out: Path) -> tuple[Any, dict[str, Any]]:
    from leafctl.esp import predictors  # noqa: PLC0415

    mpath = out / METRICS
    return predictors.load(out / FILE), (json.loads(mpath.read_text()) if mpath.exists() else {})


def fit_or_load(config: Any, ds: Any, out: Path, seed: np.random.SeedSequence, reuse: bool,
                say: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
    """(predictor, metrics): the saved one when ``reuse`` (a resumed run), else trained on ``ds``'s
    (context, action) -> outcome rows with ``seed`` and saved into ``out``. The held-out errors are
    logged, and a warning line for each reason not to trust them (few rows, R² < 0.5)."""
    if reuse:
        return load(out)
    from leafctl.esp.predictors.training import train  # noqa: PLC0415

    t0 = time.perf_counter()
    X = np.concatenate([ds.Xc, ds.Xa], axis=1)
    predictor, metrics = train(X, ds.Y, config.resolved_outcomes(), config.predictor_kind, config.predictor_settings,
                               seed, need_std=config.risk > 0, log=say)
    predictor.save(out / FILE)
    atomic_write_text(out / METRICS, json.dumps(metrics, indent=2) + "\n")
    from leafctl.output import fitted_lines, held_out_parts  # noqa: PLC0415  one format with `run evolve`'s summary

    head = (f"predictor {metrics['predictor']} trained in {time.perf_counter() - t0:.2f}s on {metrics['rows_train']} "
            f"rows, held out {metrics['rows_held_out']}; R²/RMSE:")
    for line in fitted_lines(head, held_out_parts(metrics["held_out"]), width=88):  # 88 + the log's "[  12.34s] "
        say(line)
    for line in metrics.get("warnings", ()):
        say(f"warning: {line}")
    return predictor, metrics


def to_wire(predictor: Any, metrics: dict[str, Any]) -> tuple[str, dict[str, np.ndarray], dict[str, Any]]:
    """What an island run broadcasts from rank 0: the kind, its plain arrays and the metrics."""
    return predictor.kind, predictor.to_arrays(), metrics


def from_wire(wire: tuple[str, dict[str, np.ndarray], dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    from leafctl.esp import predictors  # noqa: PLC0415

    kind, arrays, metrics = wire
    return predictors.from_arrays(kind, arrays), metrics


def outcome_std(problem: Any, theta: Any) -> dict[str, np.ndarray] | None:
    """Each candidate's predicted std per outcome (host arrays by outcome name), or None when the
    predictor has no members to give one."""
    from leafctl.esp.xp import to_numpy  # noqa: PLC0415

    if not problem.has_std:
        return None
    S = to_numpy(problem.outcome_stats(theta)[1]).astype(np.float64)
    return {name: S[:, j] for j, name in enumerate(problem.outcome_names)}


def contexts(ds: Any, config: Any, seed: np.random.SeedSequence) -> np.ndarray:
    """The encoded contexts prescriptors are evaluated on: every row's, or a seeded sample of
    ``contexts_sample`` rows (in row order)."""
    Xc = ds.Xc
    if 0 < config.contexts_sample < ds.n:
        idx = np.sort(np.random.default_rng(seed).choice(ds.n, config.contexts_sample, replace=False))
        Xc = Xc[idx]
    return Xc
