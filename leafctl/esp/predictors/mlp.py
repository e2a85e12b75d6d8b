"""``mlp`` (the default): one ReLU hidden layer trained with Adam on minibatches, early stopping on a
validation split, all in NumPy and seeded. The outcome scaling is folded into the last layer, so
``predict`` returns natural units and the fused GPU kernel needs no extra step."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from leafctl.esp.predictors.base import LinearFirstLayer, Predictor, ReluHeads, cast


def split(n: int, rng: np.random.Generator, held_out: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices; tiny data (< 5 rows) reports training error rather than nothing."""
    perm = rng.permutation(n)
    k = max(1, int(round(n * held_out))) if n >= 5 else 0
    test, train = perm[:k], perm[k:]
    return train, (test if k else train)


def adam_mlp(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, tr: np.ndarray, va: np.ndarray,
             hidden: int, epochs: int, batch: int, lr: float, patience: int,
             weight_decay: float, scale_rows: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Adam on standardised targets over rows ``tr``; keeps the weights with the best loss on rows
    ``va``. Targets are standardised by the mean and std of ``scale_rows`` (default: every row).
    Returns (W1, b1, W2, b2) with the target scaling folded into W2, b2."""
    S = Y if scale_rows is None else Y[scale_rows]
    ym, ys = S.mean(0), S.std(0)
    ys = np.where(ys > 0, ys, 1.0)
    T = (Y - ym) / ys
    n_in, n_out = X.shape[1], Y.shape[1]
    params = [rng.normal(0, np.sqrt(2.0 / n_in), (n_in, hidden)), np.zeros(hidden),
              rng.normal(0, np.sqrt(1.0 / hidden), (hidden, n_out)), np.zeros(n_out)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8

    def loss(idx: np.ndarray, p: list[np.ndarray]) -> float:
        H = np.maximum(X[idx] @ p[0] + p[1], 0)
        return float(np.mean((H @ p[2] + p[3] - T[idx]) ** 2))

    best, best_params, stale, step = np.inf, [p.copy() for p in params], 0, 0
    for _ in range(epochs):
        perm = rng.permutation(tr)
        for s in range(0, perm.size, batch):
            idx = perm[s:s + batch]
            Z = X[idx] @ params[0] + params[1]
            H = np.maximum(Z, 0)
            E = (H @ params[2] + params[3] - T[idx]) * (2.0 / (idx.size * n_out))
            dH = (E @ params[2].T) * (Z > 0)
            grads = [X[idx].T @ dH, dH.sum(0), H.T @ E, E.sum(0)]
            grads[0] += weight_decay * params[0]
            grads[2] += weight_decay * params[2]
            step += 1
            for i, g in enumerate(grads):
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                params[i] -= lr * (m[i] / (1 - b1 ** step)) / (np.sqrt(v[i] / (1 - b2 ** step)) + eps)
        val = loss(va, params)
        if val < best - 1e-6:
            best, best_params, stale = val, [p.copy() for p in params], 0
        else:
            stale += 1
            if stale >= patience:
                break
    W1, c1, W2, c2 = best_params
    return W1, c1, W2 * ys, c2 * ys + ym


class MLP(Predictor):
    kind = "mlp"

    def __init__(self, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray):
        self.W1, self.b1, self.W2, self.b2 = W1, b1, W2, b2  # (F, H), (H,), (H, O), (O,)

    @property
    def hidden(self) -> int:
        return self.W1.shape[1]

    @classmethod
    def fit(cls, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, **s: Any) -> "MLP":
        """Early stopping on 15% of the rows given (separate from the reported held-out split)."""
        s = {**cls.settings, **s}
        tr, va = split(X.shape[0], rng, 0.15)
        return cls(*adam_mlp(X, Y, rng, tr, va, **s))

    def predict(self, X: Any, xp: Any = np) -> Any:
        Z = X @ cast(self.W1, X, xp) + cast(self.b1, X, xp)
        return xp.maximum(Z, 0) @ cast(self.W2, X, xp) + cast(self.b2, X, xp)

    def linear_first_layer(self) -> LinearFirstLayer:
        return LinearFirstLayer(self.W1, self.b1, ReluHeads(self.W2[None], self.b2[None]))

    def row_width(self) -> int:
        return self.W1.shape[1]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> "MLP":
        return cls(a["W1"], a["b1"], a["W2"], a["b2"])
