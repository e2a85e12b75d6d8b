"""Evaluate a whole population against the surrogate.

Each prescriptor acts on the same N contexts; the (context, action) pairs go through the predictor and
each predicted outcome is averaged over contexts. Objectives are outcome columns or the reserved
``action_cost``. Natural units and signs are returned; ``nsga2.to_minimised`` makes them rankable
(NaN/inf -> worst). The population is processed in chunks so memory stays bounded for any P.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from leafctl.esp.config import ACTION_COST  # re-exported: the reserved objective
from leafctl.esp import prescriptor as presc
from leafctl.esp.predictor import Predictor
from leafctl.esp.xp import is_gpu

# Elements of the largest (chunk, N, width) intermediate. On CPU ~4 MB of float32 keeps each
# memory-bound pass (tanh, ReLU, mean) in cache: measured 3x faster than 64 MB chunks at P=N=1000.
# On GPU, large chunks amortise kernel launches.
CHUNK_ELEMS = 1_000_000
CHUNK_ELEMS_GPU = 64_000_000


_executor = None


def _pool(n_chunks: int) -> Any:
    """A shared thread pool for CPU evaluation (NumPy releases the GIL in ufuncs and BLAS), sized by
    LEAFCTL_ESP_THREADS or the CPU count; None when one thread would do."""
    global _executor
    workers = int(os.environ.get("LEAFCTL_ESP_THREADS", "0")) or (os.cpu_count() or 1)
    if workers <= 1 or n_chunks <= 1:
        return None
    if _executor is None or _executor._max_workers != workers:
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

        _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="leafctl-esp")
    return _executor


@dataclass
class Problem:
    layout: presc.Layout
    predictor: Predictor
    X: Any  # (N, C) encoded contexts on the device
    outcome_names: list[str]
    objectives: list[tuple[str, str]]  # (name, "max"|"min")
    costs: Any  # (A,) cost per output unit
    xp: Any = np
    fused: bool = True  # on GPU use the fused CUDA kernel when the shapes allow it

    def __post_init__(self) -> None:
        xp = self.xp
        C = self.layout.n_in
        f32 = xp.float32
        self.X = xp.asarray(self.X, dtype=f32)
        self.costs = xp.asarray(self.costs, dtype=f32)
        W1 = xp.asarray(self.predictor.W1, dtype=f32)
        # The context half of the predictor's first layer is the same for every prescriptor: once.
        self.Zc = self.X @ W1[:C] + xp.asarray(self.predictor.b1, dtype=f32)
        self.Wa = W1[C:]
        if self.predictor.kind == "mlp":
            self.W2 = xp.asarray(self.predictor.W2, dtype=f32)
            self.b2 = xp.asarray(self.predictor.b2, dtype=f32)
        self._cols = [self.outcome_names.index(n) if n != ACTION_COST else -1 for n, _ in self.objectives]

    @property
    def senses(self) -> list[str]:
        return [s for _, s in self.objectives]

    def outcome_means(self, theta: Any) -> Any:
        """(P, O+1): mean predicted outcomes over contexts, then mean action cost."""
        xp = self.xp
        theta = xp.asarray(theta, dtype=xp.float32)
        if is_gpu(xp) and self.fused and self.predictor.kind == "mlp":
            from leafctl.esp import gpu  # noqa: PLC0415

            res = gpu.fused_means(self, theta)
            if res is not None:
                return res
        P, N = theta.shape[0], self.X.shape[0]
        width = max(self.layout.hidden, self.Zc.shape[1], self.layout.n_out, 1)
        step = max(1, (CHUNK_ELEMS_GPU if is_gpu(xp) else CHUNK_ELEMS) // (N * width))
        chunks = [theta[s:s + step] for s in range(0, P, step)]
        pool = None if is_gpu(xp) else _pool(len(chunks))
        # Chunks are independent and joined in order, so threads change speed, never results.
        out = list(pool.map(self._means_chunk, chunks)) if pool else [self._means_chunk(c) for c in chunks]
        return xp.concatenate(out, axis=0)

    def _means_chunk(self, theta: Any) -> Any:
        xp = self.xp
        raw = presc.forward(theta, self.X, self.layout, xp)
        _, enc, cost = presc.decode(raw, self.layout, self.costs, xp)
        Z = xp.matmul(enc, self.Wa)
        Z += self.Zc
        if self.predictor.kind == "ridge":
            Y = Z.mean(axis=1)
        else:
            # The last layer is linear, so averaging ReLU(Z) over contexts first is exact (up to
            # rounding) and skips a (P, N, O) intermediate.
            xp.maximum(Z, 0, out=Z)
            Y = Z.mean(axis=1) @ self.W2 + self.b2
        return xp.concatenate([Y, cost.mean(axis=1)[:, None]], axis=1)

    def evaluate(self, theta: Any) -> Any:
        """Objective values (P, k) in natural units and signs, float64."""
        M = self.outcome_means(theta)
        xp = self.xp
        cols = [M[:, c] if c >= 0 else M[:, -1] for c in self._cols]
        return xp.stack(cols, axis=1).astype(xp.float64)


def objective_names(objectives: Sequence[tuple[str, str]]) -> list[str]:
    return [n for n, _ in objectives]
