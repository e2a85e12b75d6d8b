"""Compatibility names for code written before the predictor registry (``leafctl.esp.predictors``).

``Predictor("mlp", W1, b1, W2, b2)`` / ``Predictor("ridge", W, b)`` build the registry's MLP / Ridge;
``Predictor.load`` reads any kind's ``predictor.npz``. New code uses ``leafctl.esp.predictors``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from leafctl.esp import predictors
from leafctl.esp.predictors.base import Predictor as _Base
from leafctl.esp.predictors.mlp import MLP, split
from leafctl.esp.predictors.ridge import Ridge
from leafctl.esp.predictors.training import metrics

KINDS = tuple(predictors.REGISTRY)
__all__ = ["KINDS", "Predictor", "fit_mlp", "fit_ridge", "metrics", "split", "train"]


class Predictor(_Base):
    """A factory: returns an ``MLP`` or a ``Ridge`` (both ``predictors.base.Predictor``)."""

    def __new__(cls, kind: str, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray | None = None,
                b2: np.ndarray | None = None) -> Any:
        if kind == "mlp":
            return MLP(W1, b1, W2, b2)
        if kind == "ridge":
            return Ridge(W1, b1)
        raise ValueError(f"Predictor() builds mlp or ridge, not {kind!r}: use leafctl.esp.predictors")

    load = staticmethod(predictors.load)


def fit_ridge(X: np.ndarray, Y: np.ndarray, alpha: float = 1.0) -> Ridge:
    return Ridge.fit(X, Y, np.random.default_rng(0), alpha=alpha)


def fit_mlp(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, **settings: Any) -> MLP:
    return MLP.fit(X, Y, rng, **settings)


def train(X: np.ndarray, Y: np.ndarray, names: Sequence[str], kind: str, seed_seq: np.random.SeedSequence,
          hidden: int = 64) -> tuple[Any, dict[str, Any]]:
    from leafctl.esp.predictors.training import train as _train  # noqa: PLC0415

    settings = {"hidden": hidden} if "hidden" in predictors.get(kind).settings else {}
    return _train(X, Y, names, kind, settings, seed_seq)
