"""Tree ensembles as plain node arrays, and leafctl's own vectorised traversal of them.

A model of T trees is five arrays padded to the largest tree's node count ``S``: ``feature`` (T, S),
``threshold`` (T, S), ``left`` and ``right`` (T, S) (child node numbers within the tree) and ``value``
(T, S, O); a leaf (and padding) has both children pointing at itself, so walking on from a leaf stays
there. ``depth`` is the deepest leaf's depth: after exactly that many steps every (row, tree) walker is
on its leaf. Each step is a handful of gathers over all (rows, trees) at once, written against ``xp``
(numpy or cupy): no Python loop per row or per tree.

A row goes left when ``x[feature] <= threshold``, as in scikit-learn, which compares the row in float32
with a float64 threshold. Thresholds are stored as the largest float32 not above the float64 one, which
gives the same decision for every float32 x, so the walk compares float32 with float32 exactly as
scikit-learn decides.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from leafctl.errors import UsageError

ARRAYS = ("feature", "threshold", "left", "right", "value", "depth", "base")


def need_sklearn(kind: str) -> None:
    try:
        import sklearn  # noqa: F401, PLC0415
    except ImportError:
        raise UsageError(f"predictor {kind!r} needs scikit-learn to train",
                         "install the trees extra: pip install 'leafctl[trees]'") from None


def float32_at_most(t: np.ndarray) -> np.ndarray:
    """The largest float32 <= t, elementwise."""
    t32 = t.astype(np.float32)
    return np.where(t32.astype(np.float64) > t, np.nextafter(t32, np.float32(-np.inf)), t32)


def from_sklearn(trees: Sequence[Any], values: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Node arrays from fitted scikit-learn ``tree_`` objects; ``values[i]`` is tree i's (nodes, O)
    leaf values (already scaled as the ensemble combines them)."""
    T, S, O = len(trees), max(t.node_count for t in trees), values[0].shape[1]
    own = np.broadcast_to(np.arange(S, dtype=np.int32), (T, S))
    out = {"feature": np.zeros((T, S), np.int32), "threshold": np.zeros((T, S), np.float32),
           "left": own.copy(), "right": own.copy(), "value": np.zeros((T, S, O), np.float32)}
    for i, (t, v) in enumerate(zip(trees, values)):
        n, leaf = t.node_count, t.children_left == -1
        out["feature"][i, :n] = np.where(leaf, 0, t.feature)
        out["threshold"][i, :n] = np.where(leaf, 0.0, float32_at_most(t.threshold))
        out["left"][i, :n] = np.where(leaf, np.arange(n), t.children_left)
        out["right"][i, :n] = np.where(leaf, np.arange(n), t.children_right)
        out["value"][i, :n] = v
    out["depth"] = np.array(max(int(t.max_depth) for t in trees), dtype=np.int64)
    return out


class Trees:
    """The node arrays of one tree ensemble, flattened per device for the walk."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self.arrays = {k: np.asarray(arrays[k]) for k in ARRAYS if k in arrays}
        self.n_trees, self.n_nodes = self.arrays["feature"].shape
        self.n_out = self.arrays["value"].shape[2]
        self.depth = int(self.arrays["depth"])
        self._on: dict[str, dict[str, Any]] = {}

    def _device(self, xp: Any) -> dict[str, Any]:
        d = self._on.get(xp.__name__)
        if d is None:
            a, T, S = self.arrays, self.n_trees, self.n_nodes
            offset = (np.arange(T, dtype=np.int64) * S)[:, None]
            # child[2g] = left, child[2g + 1] = right, as global node numbers g = tree * S + node.
            child = np.stack([a["left"] + offset, a["right"] + offset], axis=-1).reshape(-1)
            d = {"feature": xp.asarray(a["feature"].reshape(-1).astype(np.int64)),
                 "threshold": xp.asarray(a["threshold"].reshape(-1)),
                 "child": xp.asarray(child), "root": xp.asarray(offset.reshape(-1)),
                 "value": xp.asarray(a["value"].reshape(T * S, self.n_out))}
            self._on[xp.__name__] = d
        return d

    def leaf_values(self, X: Any, xp: Any = np) -> Any:
        """X (R, F) -> (R, T, O): every tree's leaf value for every row, float32."""
        d = self._device(xp)
        R, F = X.shape
        Xf = xp.ascontiguousarray(X, dtype=xp.float32).reshape(-1)
        g = xp.broadcast_to(d["root"][None, :], (R, self.n_trees))
        row = (xp.arange(R, dtype=xp.int64) * F)[:, None]
        for _ in range(self.depth):  # fixed: after `depth` steps every walker sits on its leaf
            at = xp.take(d["feature"], g)
            at += row  # the split feature's place in the flattened rows
            right = xp.take(Xf, at) > xp.take(d["threshold"], g)
            pair = 2 * g  # the node's (left, right) pair in child
            pair += right
            g = xp.take(d["child"], pair)
        return xp.take(d["value"], g, axis=0)

    def row_width(self) -> int:
        return self.n_trees * (self.n_out + 4)
