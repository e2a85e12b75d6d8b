"""Evaluate a whole population against the surrogate.

Each prescriptor acts on the same N contexts; the (context, action) pairs go through the predictor and
each predicted outcome is averaged over contexts. Objectives are outcome columns or the reserved
``action_cost``. Natural units and signs are returned; ``nsga2.to_minimised`` makes them rankable
(NaN/inf -> worst). The population is processed in chunks so memory stays bounded for any P.

Any predictor works (predictors/base.py); the path is chosen once, by capability, never by kind:
- a linear first layer (mlp, ridge, ensemble): its context half X @ W1[:C] + b1 is computed once per
  run (``Zc``), each chunk adds the action half; with a ReLU head the mean over contexts is taken before
  the (linear) output layer. On GPU the fused CUDA kernel does all of it in one pass (``fusable``).
- anything else (forest, gbt, plugins): a chunk's (prescriptors, contexts, features) inputs are built
  and handed to ``predict`` (``predict_members`` when a spread is wanted).
A predictor with members (ensemble, forest) gives each candidate's spread: the std over members of
the member's context-averaged outcome. With ``risk`` K > 0 the objectives are mean - K*std for
maximised outcomes and mean + K*std for minimised ones (``outcome_stats`` exposes both).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from leafctl.esp.config import ACTION_COST  # re-exported: the reserved objective
from leafctl.esp import prescriptor as presc
from leafctl.esp.predictors.base import Predictor
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
    fused: bool = True  # use the fused kernel (CUDA on GPU, an LLVM-compiled one on CPU) when the shapes allow it
    constraints: Any = None  # constraints.Bound: evaluate() then appends each candidate's violation
    risk: float = 0.0  # K: objectives mean -/+ K*std (needs a predictor with members)
    # () -> (contexts, raw outputs) of the data's rows: what history mutation (operators.py) draws
    # from, built only by a step that uses it (steps.py)
    history: Any = None

    @classmethod
    def for_run(cls, config: Any, ds: Any, layout: presc.Layout, predictor: Predictor, costs: Any, xp: Any,
                contexts: Any) -> "Problem":
        """The problem a run (engine.evolve, each island of islands.py) evolves against: ``predictor``
        on ``contexts`` (surrogate.contexts), the config's objectives, constraints and risk, and the
        data's rows for history mutation."""
        from leafctl.esp import constraints, seeding  # noqa: PLC0415

        return cls(layout, predictor, contexts, config.resolved_outcomes(), list(config.objectives), costs, xp,
                   constraints=constraints.for_run(config, ds, costs), risk=config.risk,
                   history=lambda: seeding.history(layout, ds))

    def __post_init__(self) -> None:
        xp = self.xp
        C = self.layout.n_in
        f32 = xp.float32
        self.X = xp.asarray(self.X, dtype=f32)
        self.costs = xp.asarray(self.costs, dtype=f32)
        self.has_std = bool(getattr(self.predictor, "has_std", False))
        if self.risk and not self.has_std:
            from leafctl.errors import UsageError  # noqa: PLC0415

            raise UsageError(f"risk {self.risk:g} needs a predictor that gives a spread, not "
                             f"{self.predictor.kind!r}", "use --predictor ensemble or forest, or risk 0")
        lfl = self.predictor.linear_first_layer()
        self.Zc = self.Wa = self.W2 = self.b2 = self.heads = None
        if lfl is not None:
            W1 = xp.asarray(lfl.W1, dtype=f32)
            # The context half of the predictor's first layer is the same for every prescriptor: once.
            self.Zc = self.X @ W1[:C] + xp.asarray(lfl.b1, dtype=f32)
            self.Wa = W1[C:]
            if lfl.rest is not None:
                M, H, O = lfl.rest.W2.shape
                self.heads = (xp.asarray(lfl.rest.W2, dtype=f32), xp.asarray(lfl.rest.b2, dtype=f32))
                # The members' mean as one output layer over all M*H units: what the fused kernels take.
                self.W2 = xp.asarray(lfl.rest.W2.reshape(M * H, O) / M, dtype=f32)
                self.b2 = xp.asarray(lfl.rest.b2.mean(axis=0), dtype=f32)
        self._outcomes = self._linear_outcomes if lfl is not None else self._generic_outcomes
        # Elements per (prescriptor, context) pair of the largest intermediate: sizes the chunks.
        inputs = self.layout.n_in + self.layout.n_out if lfl is None else 0  # the generic path's inputs
        self._width = max(self.layout.hidden, self.layout.n_out, inputs,
                          self.Zc.shape[1] if self.Zc is not None else 0, int(self.predictor.row_width()), 1)
        self._cols = [self.outcome_names.index(n) if n != ACTION_COST else -1 for n, _ in self.objectives]

    @property
    def fusable(self) -> bool:
        """A linear first layer with a ReLU head: the fused kernels (GPU, CPU) can evaluate it."""
        return self.W2 is not None

    @property
    def senses(self) -> list[str]:
        return [s for _, s in self.objectives]

    def cpu_evaluation(self) -> str:
        """The path ``outcome_means`` takes on CPU: "fused" (cpu_fused.py) or "numpy"."""
        if self.fused and self.fusable:
            from leafctl.esp import cpu_fused  # noqa: PLC0415

            if cpu_fused.wanted(self.X.shape[0]):
                return "fused"
        return "numpy"

    def keep_cpu_evaluation(self, started: str | None, say: Any = None) -> str | None:
        """Keep the CPU path a resumed run started with (``started``: its checkpoint's, None for a fresh
        run: today's choice). The paths round differently, so only the same one continues bit-for-bit.
        Returns the path now taken, for the checkpoint; on GPU (no CPU path) ``started`` unchanged."""
        if is_gpu(self.xp):
            return started
        if started == "numpy":
            self.fused = False
        now = self.cpu_evaluation()
        if started is not None and now != started and say is not None:
            say(f"this run started on the {started} CPU evaluation path, which is not available now "
                f"(LEAFCTL_ESP_FUSED, llvmlite): it continues on {now}, not bit-for-bit as it would have")
        return now

    def outcome_means(self, theta: Any) -> Any:
        """(P, O+1): mean predicted outcomes over contexts, then mean action cost."""
        xp = self.xp
        theta = xp.asarray(theta, dtype=xp.float32)
        if is_gpu(xp) and self.fused and self.fusable:
            from leafctl.esp import gpu  # noqa: PLC0415

            res = gpu.fused_means(self, theta)
            if res is not None:
                return res
        if not is_gpu(xp) and self.fused and self.fusable:
            # The fused CPU path (cpu_fused.py); off with LEAFCTL_ESP_FUSED=0 or without llvmlite.
            from leafctl.esp import cpu_fused  # noqa: PLC0415

            if cpu_fused.wanted(self.X.shape[0]):
                return cpu_fused.fused_means(self, theta)
        return self._chunked(theta, want_std=False)[0]

    def outcome_stats(self, theta: Any) -> tuple[Any, Any]:
        """((P, O+1) as ``outcome_means``, (P, O) std over the predictor's members or None without)."""
        xp = self.xp
        theta = xp.asarray(theta, dtype=xp.float32)
        if not self.has_std:
            return self.outcome_means(theta), None
        return self._chunked(theta, want_std=True)

    def _chunked(self, theta: Any, want_std: bool) -> tuple[Any, Any]:
        xp = self.xp
        P, N = theta.shape[0], self.X.shape[0]
        step = max(1, (CHUNK_ELEMS_GPU if is_gpu(xp) else CHUNK_ELEMS) // (N * self._width))
        chunks = [theta[s:s + step] for s in range(0, P, step)]
        pool = None if is_gpu(xp) else _pool(len(chunks))
        # Chunks are independent and joined in order, so threads change speed, never results.
        work = lambda c: self._means_chunk(c, want_std)  # noqa: E731
        out = list(pool.map(work, chunks)) if pool else [work(c) for c in chunks]
        means = xp.concatenate([m for m, _ in out], axis=0)
        return means, (xp.concatenate([s for _, s in out], axis=0) if want_std else None)

    def _means_chunk(self, theta: Any, want_std: bool = False) -> tuple[Any, Any]:
        """((c, O+1) outcome means and mean action cost, (c, O) std or None) of a chunk of prescriptors."""
        xp = self.xp
        raw = presc.forward(theta, self.X, self.layout, xp)
        _, enc, cost = presc.decode(raw, self.layout, self.costs, xp)
        Y, S = self._outcomes(enc, want_std)
        return xp.concatenate([Y, cost.mean(axis=1)[:, None]], axis=1), S

    def _linear_outcomes(self, enc: Any, want_std: bool) -> tuple[Any, Any]:
        xp = self.xp
        Z = xp.matmul(enc, self.Wa)
        Z += self.Zc
        if self.heads is None:  # the model is its first layer
            return Z.mean(axis=1), None
        # The output layer is linear, so averaging ReLU(Z) over contexts first is exact (up to
        # rounding) and skips a (P, N, O) intermediate.
        xp.maximum(Z, 0, out=Z)
        Hm = Z.mean(axis=1)
        if not want_std:
            return Hm @ self.W2 + self.b2, None
        W2, b2 = self.heads  # (M, H, O), (M, O): each member's output layer
        M, H, _ = W2.shape
        Ym = xp.matmul(xp.moveaxis(Hm.reshape(-1, M, H), 1, 0), W2) + b2[:, None, :]  # (M, c, O)
        return Ym.mean(axis=0), Ym.std(axis=0)

    def _generic_outcomes(self, enc: Any, want_std: bool) -> tuple[Any, Any]:
        xp = self.xp
        c, N, _ = enc.shape
        inputs = xp.concatenate([xp.broadcast_to(self.X[None], (c, N, self.X.shape[1])), enc], axis=2)
        rows = inputs.reshape(c * N, -1)
        if not want_std:
            return self.predictor.predict(rows, xp).reshape(c, N, -1).mean(axis=1), None
        Ym = self.predictor.predict_members(rows, xp)
        Ym = Ym.reshape(Ym.shape[0], c, N, -1).mean(axis=2)  # (M, c, O): each member's context mean
        return Ym.mean(axis=0), Ym.std(axis=0)

    def evaluate(self, theta: Any) -> Any:
        """Objective values (P, k) in natural units and signs, float64; with constraints, (P, k + 1):
        the constraint violation cv (``violation``) is the last column. With ``risk`` K the outcome
        objectives are mean - K*std (max) or mean + K*std (min); constraints use the mean."""
        xp = self.xp
        if self.risk:
            M, S = self.outcome_stats(theta)
            K = {"max": -self.risk, "min": self.risk}
            cols = [M[:, c] + K[s] * S[:, c] if c >= 0 else M[:, -1] for c, s in zip(self._cols, self.senses)]
        else:
            M = self.outcome_means(theta)
            cols = [M[:, c] if c >= 0 else M[:, -1] for c in self._cols]
        if self.constraints is not None:
            cols.append(self.violation(theta, M))
        return xp.stack(cols, axis=1).astype(xp.float64)

    def mean_objectives(self, theta: Any) -> Any:
        """(P, k) objective values from the mean predictions alone (no risk term, no cv), float64: what a
        run reports as the prediction. With ``risk`` the means come from the same pass ``evaluate``
        adjusts (``outcome_stats``), so a reported risk_ value is exactly mean -/+ K*std of it."""
        xp = self.xp
        M = self.outcome_stats(theta)[0] if self.risk else self.outcome_means(theta)
        return xp.stack([M[:, c] if c >= 0 else M[:, -1] for c in self._cols], axis=1).astype(xp.float64)

    # ---- constraints (constraints.py)
    def violation(self, theta: Any, M: Any) -> Any:
        """cv (P,) >= 0 of each prescriptor from its outcome means M (``outcome_means``) and, when a
        constraint names an action, the action's mean over the contexts."""
        b = self.constraints
        acts = self.action_means(theta) if b.needs_actions else None
        V = [M[:, c] if c >= 0 else (M[:, -1] if c == -1 else acts[:, j])
             for c, j in zip(b.outcome_col, b.action_col)]
        return b.violation(self.xp.stack(V, axis=1), self.xp)

    def action_means(self, theta: Any) -> Any:
        """(P, n_actions): each decoded action's mean over the contexts, natural units (a binary
        action: the share of contexts that get it). A pass of the prescriptors alone, in chunks."""
        xp = self.xp
        theta = xp.asarray(theta, dtype=xp.float32)
        P, N = theta.shape[0], self.X.shape[0]
        step = max(1, (CHUNK_ELEMS_GPU if is_gpu(xp) else CHUNK_ELEMS) // (N * max(self.layout.hidden, 1)))
        out = []
        for s in range(0, P, step):
            natural, _, _ = presc.decode(presc.forward(theta[s:s + step], self.X, self.layout, xp),
                                         self.layout, self.costs, xp)
            out.append(natural.mean(axis=1))
        return xp.concatenate(out, axis=0)


def objective_names(objectives: Sequence[tuple[str, str]]) -> list[str]:
    return [n for n, _ in objectives]
