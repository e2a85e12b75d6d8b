"""``forest``: a random forest (scikit-learn's RandomForestRegressor, LEAF's documented default
surrogate), stored as node arrays and walked by leafctl (trees.py) on NumPy or CuPy. The trees are the
members: their spread is the uncertainty ``--risk`` uses."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from leafctl.esp.predictors.base import Predictor
from leafctl.esp.predictors.trees import Trees, from_sklearn, need_sklearn


class Forest(Predictor):
    kind = "forest"

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self.trees = Trees(arrays)

    @classmethod
    def fit(cls, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, trees: int = 50,
            max_depth: int = 12, min_samples_leaf: int = 2, max_features: float = 1.0) -> "Forest":
        need_sklearn(cls.kind)
        from sklearn.ensemble import RandomForestRegressor  # noqa: PLC0415

        rf = RandomForestRegressor(n_estimators=trees, max_depth=max_depth or None,
                                   min_samples_leaf=min_samples_leaf, max_features=max_features,
                                   random_state=int(rng.integers(0, 2**31 - 1)), n_jobs=1)
        rf.fit(X, Y[:, 0] if Y.shape[1] == 1 else Y)
        est = [e.tree_ for e in rf.estimators_]
        return cls(from_sklearn(est, [t.value[:, :, 0] for t in est]))

    def predict_members(self, X: Any, xp: Any = np) -> Any:
        lead = X.shape[:-1]
        V = self.trees.leaf_values(X.reshape(-1, X.shape[-1]), xp).astype(X.dtype)  # (R, T, O)
        return xp.moveaxis(V, 1, 0).reshape((self.trees.n_trees,) + lead + (self.trees.n_out,))

    def predict(self, X: Any, xp: Any = np) -> Any:
        lead = X.shape[:-1]
        V = self.trees.leaf_values(X.reshape(-1, X.shape[-1]), xp)
        return V.mean(axis=1).astype(X.dtype).reshape(lead + (self.trees.n_out,))

    def row_width(self) -> int:
        return self.trees.row_width()

    def to_arrays(self) -> dict[str, np.ndarray]:
        return dict(self.trees.arrays)

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> "Forest":
        return cls(a)
