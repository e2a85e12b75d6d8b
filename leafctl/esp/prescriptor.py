"""Prescriptor: an MLP context -> H (tanh) -> action outputs, for a whole population at once.

The population is one genome tensor ``theta[P, D]``; ``Layout`` says where W1, b1, W2, b2 live in a
row. Output units: one per continuous or binary action, one per category of a categorical action.
Decoding: continuous = sigmoid squashed into the [min, max] seen in the data (or the config's
action_range), rounded for an integer action; a simplex group's members = softmax of their outputs x
the group's total; binary = output > 0; categorical = argmax (see actions.py). Action cost = sum over action columns of weight * value in natural units
(categorical: the chosen category's cost, default 0), averaged over contexts by the evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from leafctl.errors import UsageError
from leafctl.esp.data import ColumnSpec


@dataclass
class Layout:
    n_in: int
    hidden: int
    actions: list[ColumnSpec]

    @property
    def n_out(self) -> int:
        return sum(a.width for a in self.actions)

    @property
    def D(self) -> int:
        return self.n_in * self.hidden + self.hidden + self.hidden * self.n_out + self.n_out

    def unpack(self, theta: Any) -> tuple[Any, Any, Any, Any]:
        """Views (P, C, H), (P, H), (P, H, A), (P, A) into theta (P, D); no copies."""
        P = theta.shape[0]
        C, H, A = self.n_in, self.hidden, self.n_out
        i = 0
        W1 = theta[:, i:i + C * H].reshape(P, C, H); i += C * H
        b1 = theta[:, i:i + H]; i += H
        W2 = theta[:, i:i + H * A].reshape(P, H, A); i += H * A
        b2 = theta[:, i:i + A]
        return W1, b1, W2, b2

    def init_scale(self) -> np.ndarray:
        """(D,) standard deviation of each gene at initialisation (Glorot-scaled; reset mutation
        draws from the same)."""
        return np.concatenate([
            np.full(self.n_in * self.hidden, 1.0 / np.sqrt(self.n_in)),
            np.full(self.hidden, 0.5),
            np.full(self.hidden * self.n_out, 1.0 / np.sqrt(self.hidden)),
            np.full(self.n_out, 0.5)])

    def init(self, rng: np.random.Generator, P: int) -> np.ndarray:
        """Glorot-scaled normal weights. Never exact zeros: percentage mutation could not move them."""
        return (rng.standard_normal((P, self.D)) * self.init_scale()).astype(np.float32)

    @property
    def enc_width(self) -> int:
        return sum(a.width for a in self.actions)


def cost_table(actions: Sequence[ColumnSpec], weights: Mapping[str, Any] | None) -> np.ndarray:
    """Cost per output unit: numeric/binary column -> its weight (default 1) on its one unit;
    categorical -> a per-category cost (default 0), given as {category: cost} in the config."""
    weights = dict(weights or {})
    names = {a.name for a in actions}
    for k in weights:
        if k not in names:
            raise UsageError(f"action_cost weight names {k!r}, which is not an action column",
                             f"actions are: {', '.join(sorted(names))}")
    out = []
    for a in actions:
        w = weights.get(a.name)
        if a.kind == "categorical":
            w = w or {}
            if not isinstance(w, Mapping):
                raise UsageError(f"action_cost weight for categorical action {a.name!r} must be a table "
                                 "of category = cost", f"categories: {', '.join(a.categories)}")
            out.extend(float(w.get(c, 0.0)) for c in a.categories)
        else:
            try:
                out.append(1.0 if w is None else float(w))
            except (TypeError, ValueError):
                raise UsageError(f"action_cost weight for {a.name!r} must be a number", "e.g. 1.0") from None
    return np.asarray(out, dtype=np.float32)


def forward(theta: Any, X: Any, layout: Layout, xp: Any = np) -> Any:
    """Raw outputs (P, N, A) for contexts X (N, C)."""
    W1, b1, W2, b2 = layout.unpack(theta)
    P, C, H = W1.shape
    # Every prescriptor's first layer side by side makes one (N, C) x (C, P*H) GEMM: several times
    # faster than a batched einsum, since BLAS sees one large product instead of P thin ones.
    Wcat = xp.ascontiguousarray(W1.transpose(1, 0, 2)).reshape(C, P * H)
    Hd = X @ Wcat
    Hd += b1.reshape(1, P * H)
    xp.tanh(Hd, out=Hd)
    out = xp.matmul(Hd.reshape(-1, P, H).transpose(1, 0, 2), W2)
    out += b2[:, None, :]
    return out


def decode(raw: Any, layout: Layout, costs: Any, xp: Any = np) -> tuple[Any, Any, Any]:
    """Raw outputs (..., A) -> (actions in natural units (..., n_actions; categorical = category
    index), predictor action encoding (..., A), action cost (...))."""
    natural, enc = [], []
    cost = xp.zeros(raw.shape[:-1], dtype=raw.dtype)
    shares = _simplex_shares(raw, layout, xp)
    o = 0
    for j, a in enumerate(layout.actions):
        if a.kind == "categorical":
            block = raw[..., o:o + a.width]
            idx = xp.argmax(block, axis=-1)
            onehot = (xp.arange(a.width) == idx[..., None]).astype(raw.dtype)
            natural.append(idx.astype(raw.dtype))
            enc.append(onehot)
            cost = cost + onehot @ costs[o:o + a.width]
        else:
            r = raw[..., o]
            if a.kind == "binary":
                v = (r > 0).astype(raw.dtype)
                e = v
            else:
                if j in shares:
                    v = shares[j]
                else:
                    # exp(-r) overflows to inf for r < -88 in float32, and 1 / inf = 0 is the sigmoid's
                    # right limit: no warning for what is the intended saturation.
                    with np.errstate(over="ignore"):
                        v = a.lo + (a.hi - a.lo) / (1.0 + xp.exp(-r))
                if a.integer:  # lo and hi are whole numbers, so the rounded value stays in range
                    v = xp.rint(v)
                e = (v - a.mean) / a.std
            natural.append(v)
            enc.append(e[..., None])
            cost = cost + costs[o] * v
        o += a.width
    return xp.stack(natural, axis=-1), xp.concatenate(enc, axis=-1), cost


def _simplex_shares(raw: Any, layout: Layout, xp: Any) -> dict[int, Any]:
    """{action index: decoded value} for the members of each simplex group: the softmax of the
    group's outputs (max subtracted first, so large outputs cannot overflow) times its total."""
    from leafctl.esp.actions import simplex_groups  # noqa: PLC0415

    offsets, o = [], 0
    for a in layout.actions:
        offsets.append(o)
        o += a.width
    out: dict[int, Any] = {}
    for total, members in simplex_groups(layout.actions):
        block = raw[..., [offsets[j] for j in members]]
        e = xp.exp(block - block.max(axis=-1, keepdims=True))
        v = e * (total / e.sum(axis=-1, keepdims=True))
        out.update({j: v[..., i] for i, j in enumerate(members)})
    return out
