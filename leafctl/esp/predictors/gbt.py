"""``gbt``: gradient-boosted trees (scikit-learn's GradientBoostingRegressor, one boosted sequence per
outcome), stored as node arrays and walked by leafctl (trees.py) on NumPy or CuPy. A tree of outcome j
holds its leaf values, times the learning rate, in column j and zeros elsewhere, so the prediction is
``base + sum over trees``. Boosting stages are not an ensemble of equals: no spread, no ``--risk``."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from leafctl.esp.predictors.base import Predictor
from leafctl.esp.predictors.trees import Trees, from_sklearn, need_sklearn


class GBT(Predictor):
    kind = "gbt"

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self.trees = Trees(arrays)
        self.base = np.asarray(arrays["base"], dtype=np.float64)

    @classmethod
    def fit(cls, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, stages: int = 100,
            learning_rate: float = 0.1, max_depth: int = 3, subsample: float = 1.0) -> "GBT":
        need_sklearn(cls.kind)
        from sklearn.ensemble import GradientBoostingRegressor  # noqa: PLC0415

        O, est, values, base = Y.shape[1], [], [], []
        for j in range(O):
            gb = GradientBoostingRegressor(n_estimators=stages, learning_rate=learning_rate, max_depth=max_depth or None,
                                           subsample=subsample, random_state=int(rng.integers(0, 2**31 - 1)))
            gb.fit(X, Y[:, j])
            base.append(float(np.ravel(gb.init_.predict(X[:1]))[0]))
            for stage in gb.estimators_[:, 0]:
                t = stage.tree_
                v = np.zeros((t.node_count, O))
                v[:, j] = t.value[:, 0, 0] * learning_rate
                est.append(t)
                values.append(v)
        return cls({**from_sklearn(est, values), "base": np.asarray(base)})

    def predict(self, X: Any, xp: Any = np) -> Any:
        lead = X.shape[:-1]
        V = self.trees.leaf_values(X.reshape(-1, X.shape[-1]), xp)
        Y = V.sum(axis=1, dtype=xp.float64) + xp.asarray(self.base)
        return Y.astype(X.dtype).reshape(lead + (self.trees.n_out,))

    def row_width(self) -> int:
        return self.trees.row_width()

    def to_arrays(self) -> dict[str, np.ndarray]:
        return dict(self.trees.arrays)

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> "GBT":
        return cls(a)
