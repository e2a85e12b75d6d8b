"""``ensemble``: M bootstrap MLPs. The prediction is their mean; their spread (std over members) is the
surrogate's uncertainty. Member m trains on a bootstrap resample of the rows and stops early on its
out-of-bag rows. The mean of M one-layer ReLU nets is itself one wide layer (M*H units) with the
output layers stacked and divided by M, so the ensemble keeps the linear-first-layer fast paths."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from leafctl.esp.predictors.base import LinearFirstLayer, Predictor, ReluHeads, cast
from leafctl.esp.predictors.mlp import MLP, adam_mlp


class Ensemble(Predictor):
    kind = "ensemble"

    def __init__(self, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray):
        self.W1, self.b1, self.W2, self.b2 = W1, b1, W2, b2  # (M, F, H), (M, H), (M, H, O), (M, O)

    @classmethod
    def fit(cls, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, members: int = 5,
            **s: Any) -> "Ensemble":
        s = {**MLP.settings, **s}
        n, parts = X.shape[0], []
        for member_rng in rng.spawn(members):
            boot = member_rng.integers(0, n, n)
            oob = np.setdiff1d(np.arange(n), boot)
            parts.append(adam_mlp(X, Y, member_rng, boot, oob if oob.size else boot, scale_rows=boot, **s))
        return cls(*(np.stack(p) for p in zip(*parts)))

    @property
    def members(self) -> int:
        return self.W1.shape[0]

    def predict_members(self, X: Any, xp: Any = np) -> Any:
        lead = X.shape[:-1]
        R = X.reshape(1, -1, X.shape[-1])
        Z = xp.maximum(xp.matmul(R, cast(self.W1, X, xp)) + cast(self.b1, X, xp)[:, None, :], 0)
        Ym = xp.matmul(Z, cast(self.W2, X, xp)) + cast(self.b2, X, xp)[:, None, :]
        return Ym.reshape((self.members,) + lead + (Ym.shape[-1],))

    def predict(self, X: Any, xp: Any = np) -> Any:
        return self.predict_members(X, xp).mean(axis=0)

    def linear_first_layer(self) -> LinearFirstLayer:
        M, F, H = self.W1.shape
        W1 = self.W1.transpose(1, 0, 2).reshape(F, M * H)  # member-major columns: m*H + h
        return LinearFirstLayer(W1, self.b1.reshape(M * H), ReluHeads(self.W2, self.b2))

    def row_width(self) -> int:
        return self.W1.shape[0] * self.W1.shape[2]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> "Ensemble":
        return cls(a["W1"], a["b1"], a["W2"], a["b2"])
