"""``ridge``: a closed-form linear model (fast; cannot represent a concave response to an action)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from leafctl.esp.predictors.base import LinearFirstLayer, Predictor, cast


class Ridge(Predictor):
    kind = "ridge"

    def __init__(self, W: np.ndarray, b: np.ndarray):
        self.W, self.b = W, b  # (F, O), (O,)

    @classmethod
    def fit(cls, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, alpha: float = 1.0) -> "Ridge":
        xm, ym = X.mean(0), Y.mean(0)
        Xc = X - xm
        W = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (Y - ym))
        return cls(W, ym - xm @ W)

    def predict(self, X: Any, xp: Any = np) -> Any:
        return X @ cast(self.W, X, xp) + cast(self.b, X, xp)

    def linear_first_layer(self) -> LinearFirstLayer:
        return LinearFirstLayer(self.W, self.b, None)

    def row_width(self) -> int:
        return self.W.shape[1]

    # W1/b1: the names predictor.npz files of leafctl before the registry used, so they still load.
    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"W1": self.W, "b1": self.b}

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> "Ridge":
        return cls(a["W1"], a["b1"])
