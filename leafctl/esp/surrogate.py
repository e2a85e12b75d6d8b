"""The run's surrogate: trained once at the start of a run, reloaded when a run resumes.

``fit_or_load`` is the one place that trains, saves (``predictor.npz`` + ``predictor_metrics.json``,
each replaced atomically) and reloads the predictor; the single-population loop and the island model
(on rank 0, then broadcast) both call it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from leafctl.esp.files import atomic_write_text

FILE = "predictor.npz"
METRICS = "predictor_metrics.json"


def load(out: Path) -> tuple[Any, dict[str, Any]]:
    from leafctl.esp.predictor import Predictor  # noqa: PLC0415

    mpath = out / METRICS
    return Predictor.load(out / FILE), (json.loads(mpath.read_text()) if mpath.exists() else {})


def fit_or_load(config: Any, ds: Any, out: Path, seed: np.random.SeedSequence, reuse: bool,
                say: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
    """(predictor, metrics): the saved one when ``reuse`` (a resumed run), else trained on ``ds``'s
    (context, action) -> outcome rows with ``seed`` and saved into ``out``."""
    if reuse:
        return load(out)
    from leafctl.esp.predictor import train  # noqa: PLC0415

    t0 = time.perf_counter()
    X = np.concatenate([ds.Xc, ds.Xa], axis=1)
    predictor, metrics = train(X, ds.Y, config.resolved_outcomes(), config.predictor, seed, config.predictor_hidden)
    predictor.save(out / f".{FILE}.tmp.npz")
    os.replace(out / f".{FILE}.tmp.npz", out / FILE)
    atomic_write_text(out / METRICS, json.dumps(metrics, indent=2) + "\n")
    say(f"predictor {config.predictor} trained in {time.perf_counter() - t0:.2f}s: " +
        ", ".join(f"{k} rmse={v['rmse']:.4g} r2={v['r2']:.3f}" for k, v in metrics["held_out"].items()))
    return predictor, metrics


def contexts(ds: Any, config: Any, seed: np.random.SeedSequence) -> np.ndarray:
    """The encoded contexts prescriptors are evaluated on: every row's, or a seeded sample of
    ``contexts_sample`` rows (in row order)."""
    Xc = ds.Xc
    if 0 < config.contexts_sample < ds.n:
        idx = np.sort(np.random.default_rng(seed).choice(ds.n, config.contexts_sample, replace=False))
        Xc = Xc[idx]
    return Xc
