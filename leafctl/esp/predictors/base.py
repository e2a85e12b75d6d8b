"""The predictor (surrogate) protocol every kind implements, and what the evaluation paths may rely on.

A predictor maps encoded (context, action) features X (..., F) to outcomes (..., O) in natural units.
Its whole state is a dict of plain NumPy arrays (``to_arrays``/``from_arrays``): that is what
``predictor.npz`` holds (no pickle: read back with ``allow_pickle=False``) and what an island run
broadcasts from rank 0. ``predict`` takes an array module ``xp`` (numpy or cupy) and uses only
operations both provide, so the same code runs on the GPU.

Optional capabilities, found by the evaluator (``evaluate.Problem``) through these methods, never by kind:
- ``linear_first_layer()``: the model is ``head(X @ W1 + b1)``. The evaluator then precomputes the
  context half of ``X @ W1`` once per run and may use the fused CUDA kernel (and the CPU fused path).
- ``predict_members(X, xp)`` with ``has_std``: an ensemble's per-member predictions (M, ..., O); the
  spread of the members gives the uncertainty ``--risk`` and ``pareto.csv``'s ``std_*`` columns use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Mapping, NamedTuple

import numpy as np


class ReluHeads(NamedTuple):
    """After a linear first layer of M members x H units: member m's output is ReLU(Z_m) @ W2[m] + b2[m];
    the prediction is the mean over members (M = 1 for a single MLP)."""
    W2: np.ndarray  # (M, H, O)
    b2: np.ndarray  # (M, O)


class LinearFirstLayer(NamedTuple):
    """``predict(X) == X @ W1 + b1`` when ``rest`` is None, else the mean over ``rest``'s members."""
    W1: np.ndarray  # (F, M*H) or (F, O)
    b1: np.ndarray
    rest: ReluHeads | None


class Predictor:
    """Base class. A kind sets ``kind`` and implements ``fit`` (taking every setting of its registry
    line as a keyword), ``predict``, ``to_arrays`` and ``from_arrays``. A plugin also sets ``settings``
    (defaults; anything else in ``[predictor]`` is refused by name), ``has_std``, and optionally
    ``requires`` and a ``check_settings(settings)`` staticmethod."""

    kind: ClassVar[str] = ""
    settings: ClassVar[Mapping[str, Any]] = {}
    has_std: ClassVar[bool] = False
    # Needs an optional dependency to train: (import name, pip extra) for the error that says so.
    requires: ClassVar[tuple[str, str] | None] = None

    def __init_subclass__(cls, **kw: Any) -> None:
        """A built-in kind takes settings, has_std and requires from its registry line (one place);
        a plugin declares them on its class."""
        super().__init_subclass__(**kw)
        from leafctl.esp.predictors import REGISTRY  # noqa: PLC0415

        line = REGISTRY.get(cls.__dict__.get("kind", ""))
        if line is not None and line.ref == f"{cls.__module__}:{cls.__qualname__}":
            cls.settings, cls.has_std, cls.requires = dict(line.settings), line.has_std, line.requires

    @classmethod
    def fit(cls, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, **settings: Any) -> "Predictor":
        raise NotImplementedError

    def predict(self, X: Any, xp: Any = np) -> Any:
        """X (..., F) -> mean outcomes (..., O), natural units, X's float dtype."""
        raise NotImplementedError

    def predict_members(self, X: Any, xp: Any = np) -> Any:
        """(M, ..., O): each member's prediction. Only kinds with ``has_std``."""
        raise TypeError(f"predictor {self.kind!r} has no members to give a spread")

    def predict_dist(self, X: Any, xp: Any = np) -> tuple[Any, Any]:
        """(mean, std) per row over the members (population std)."""
        Ym = self.predict_members(X, xp)
        return Ym.mean(axis=0), Ym.std(axis=0)

    def linear_first_layer(self) -> LinearFirstLayer | None:
        return None

    def row_width(self) -> int:
        """Elements of the largest intermediate per input row: the evaluator sizes its chunks by it."""
        return 1

    def to_arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "Predictor":
        raise NotImplementedError

    # Kept for code written against the old single-class Predictor.
    def forward(self, X: Any, xp: Any = np) -> Any:
        return self.predict(X, xp)

    def save(self, path: str | Path) -> None:
        """Atomically write ``kind`` and the arrays as an npz (no object arrays, so no pickle)."""
        from leafctl.esp.files import atomic_savez  # noqa: PLC0415

        atomic_savez(Path(path), kind=np.array(self.kind), **self.to_arrays())


def cast(a: Any, like: Any, xp: Any) -> Any:
    """A host weight array on ``like``'s device and float dtype."""
    return xp.asarray(a, dtype=like.dtype)
