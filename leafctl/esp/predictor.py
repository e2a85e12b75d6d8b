"""The surrogate: predicts outcomes O from encoded (context, action) features.

``mlp`` (default): one ReLU hidden layer, trained with Adam on minibatches, early stopping on a held-out
split, all in NumPy and seeded. ``ridge``: closed-form linear model. Both end as plain arrays with the
outcome scaling folded into the last layer, so forward() returns natural units and the GPU kernel
needs no extra step. Held-out RMSE and R^2 per outcome are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

KINDS = ("mlp", "ridge")


@dataclass
class Predictor:
    kind: str
    W1: np.ndarray  # (In, Hp) for mlp, (In, O) for ridge
    b1: np.ndarray
    W2: np.ndarray | None = None  # (Hp, O), scaled to natural units
    b2: np.ndarray | None = None

    @property
    def hidden(self) -> int:
        return self.W1.shape[1] if self.kind == "mlp" else 0

    def forward(self, X: Any, xp: Any = np) -> Any:
        """X (..., In) -> (..., O) in natural units."""
        W1, b1 = xp.asarray(self.W1, dtype=X.dtype), xp.asarray(self.b1, dtype=X.dtype)
        Z = X @ W1 + b1
        if self.kind == "ridge":
            return Z
        return xp.maximum(Z, 0) @ xp.asarray(self.W2, dtype=X.dtype) + xp.asarray(self.b2, dtype=X.dtype)

    def save(self, path: str | Path) -> None:
        arrays = {"kind": np.array(self.kind), "W1": self.W1, "b1": self.b1}
        if self.kind == "mlp":
            arrays.update(W2=self.W2, b2=self.b2)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "Predictor":
        with np.load(path, allow_pickle=False) as z:
            kind = str(z["kind"])
            if kind == "mlp":
                return cls(kind, z["W1"], z["b1"], z["W2"], z["b2"])
            return cls(kind, z["W1"], z["b1"])


def split(n: int, rng: np.random.Generator, held_out: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    k = max(1, int(round(n * held_out))) if n >= 5 else 0
    test, train = perm[:k], perm[k:]
    return train, (test if k else train)  # tiny data: report training error rather than nothing


def metrics(Y: np.ndarray, Yhat: np.ndarray, names: Sequence[str]) -> dict[str, dict[str, float]]:
    out = {}
    for j, name in enumerate(names):
        err = Yhat[:, j] - Y[:, j]
        ss = float(np.sum((Y[:, j] - Y[:, j].mean()) ** 2))
        out[name] = {"rmse": float(np.sqrt(np.mean(err ** 2))),
                     "r2": float(1.0 - np.sum(err ** 2) / ss) if ss > 0 else 0.0}
    return out


def fit_ridge(X: np.ndarray, Y: np.ndarray, alpha: float = 1.0) -> Predictor:
    xm, ym = X.mean(0), Y.mean(0)
    Xc = X - xm
    W = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (Y - ym))
    return Predictor("ridge", W, ym - xm @ W)


def fit_mlp(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, hidden: int = 64,
            epochs: int = 300, batch: int = 64, lr: float = 3e-3, patience: int = 20,
            weight_decay: float = 1e-4) -> Predictor:
    """Adam on standardised targets; early stopping keeps the weights with the best validation loss
    (validation = 15% of the training rows, separate from the reported held-out split)."""
    ym, ys = Y.mean(0), Y.std(0)
    ys = np.where(ys > 0, ys, 1.0)
    T = (Y - ym) / ys
    tr, va = split(X.shape[0], rng, 0.15)
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
    # Fold the target scaling into the last layer: forward() then yields natural units directly.
    return Predictor("mlp", W1, c1, W2 * ys, c2 * ys + ym)


def train(X: np.ndarray, Y: np.ndarray, names: Sequence[str], kind: str, seed_seq: np.random.SeedSequence,
          hidden: int = 64) -> tuple[Predictor, dict[str, Any]]:
    """Fit on a training split, report held-out error; returns (predictor, metrics dict)."""
    rng = np.random.default_rng(seed_seq)
    train_idx, test_idx = split(X.shape[0], rng)
    if kind == "ridge":
        model = fit_ridge(X[train_idx], Y[train_idx])
    else:
        model = fit_mlp(X[train_idx], Y[train_idx], rng, hidden=hidden)
    report = {"predictor": kind, "rows_train": int(train_idx.size), "rows_held_out": int(test_idx.size),
              "held_out": metrics(Y[test_idx], model.forward(X[test_idx]), names)}
    return model, report
