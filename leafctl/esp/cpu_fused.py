"""CPU fused evaluation: outcome means for a predictor with a linear first layer, without the NumPy
path's memory passes over (chunk, N, H) intermediates.

Two kernels compute the same thing (per prescriptor and context: the prescriptor's two layers, decode,
the predictor's action half, ReLU, the sum over contexts; the predictor's linear last layer once per
prescriptor, on the mean):

- "jit" (``cpu_fused_jit``), what ``Problem`` uses: LLVM IR generated for the shape (C, H, A, PH and the
  decode layout as constants), compiled by llvmlite in about a second per shape and process. Contexts
  sit in SIMD lanes and a block's hidden and predictor units never leave registers.
- "numba" (``_cpu_fused_kernel``): runtime sizes, one prescriptor per ``prange`` thread, contexts in
  blocks of ``BLOCK``, a BLAS GEMM for the first layer and element passes for the rest; kept as the
  baseline bench/esp_cpu.py measures against.

float32 throughout. Each prescriptor is computed start to end by one thread in a fixed order, so the
thread count changes speed, never results. Multiply-adds may fuse (FMA); nothing is reassociated, and
NaN/inf propagate (NaN outcomes must rank worst).

Used by ``Problem.outcome_means`` on CPU when llvmlite (numba's LLVM binding: the fast extra) is
importable and the run has at least ``MIN_CONTEXTS`` contexts (below that the NumPy path is as fast),
unless LEAFCTL_ESP_FUSED=0 or ``Problem.fused = False``; LEAFCTL_ESP_FUSED=1 uses it for any size. The
choice depends on the contexts only, never on how many prescriptors one call evaluates: the two paths
round differently, so a run (and its resumption from a checkpoint, which re-evaluates a different
number of prescriptors) must take one path throughout to stay bit-for-bit reproducible.
LEAFCTL_ESP_THREADS (islands set it per rank) caps the threads; by default every usable CPU.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

BLOCK = 256  # contexts per block: a block's largest intermediate (BLOCK x 64 floats) is 64 KB
MIN_CONTEXTS = 256  # below this many contexts "auto" keeps the NumPy path
_KIND = {"numeric": 0, "binary": 1, "categorical": 2}
_kernel = None
_unavailable = False
_jit_missing: bool | None = None


def mode() -> str:
    """LEAFCTL_ESP_FUSED: "0" off, "1" on whenever possible, anything else (unset) auto."""
    v = os.environ.get("LEAFCTL_ESP_FUSED", "").strip().lower()
    if v in ("0", "false", "no", "off"):
        return "off"
    if v in ("1", "true", "yes", "on"):
        return "on"
    return "auto"


def wanted(N: int) -> bool:
    """Whether a run with N contexts should take the fused path (llvmlite importable, not switched off)."""
    m = mode()
    if m == "off" or (m == "auto" and N < MIN_CONTEXTS):
        return False
    return _jit_available()


def _jit_available() -> bool:
    global _jit_missing
    if _jit_missing is None:
        try:
            import llvmlite.binding  # noqa: F401, PLC0415 - comes with numba (the fast extra)

            _jit_missing = False
        except ImportError:
            _jit_missing = True
    return not _jit_missing


def _load() -> Any:
    global _kernel, _unavailable
    if _kernel is None and not _unavailable:
        try:
            from leafctl.esp import _cpu_fused_kernel  # noqa: PLC0415 - imports numba: lazy on purpose

            _kernel = _cpu_fused_kernel
        except ImportError:  # numba (or scipy, which numba's np.dot calls into) missing: NumPy path
            _unavailable = True
    return _kernel


def _tables(problem: Any, kernel: str) -> dict[str, Any]:
    """The kernel's problem-only inputs, built once per Problem and kernel."""
    cache = getattr(problem, "_cpu_fused_tables", None)
    if cache is None:
        cache = problem._cpu_fused_tables = {}
    if kernel not in cache:
        if kernel == "jit":
            from leafctl.esp import cpu_fused_jit  # noqa: PLC0415

            cache[kernel] = cpu_fused_jit.tables(problem)
        else:
            cache[kernel] = _numba_tables(problem)
    return cache[kernel]


def _numba_tables(problem: Any) -> dict[str, Any]:
    f32 = np.float32
    X = np.asarray(problem.X, dtype=f32)
    kind, off, width, integer, af, simplex, total = [], [], [], [], [], [], []
    o = 0
    for a in problem.layout.actions:
        kind.append(_KIND[a.kind])
        off.append(o)
        width.append(a.width)
        integer.append(int(bool(getattr(a, "integer", False))))
        af.append([a.lo, a.hi, a.mean, a.std])
        simplex.append(int(getattr(a, "simplex", -1)))
        total.append(float(getattr(a, "total", 0.0)))
        o += a.width
    return {
        "Xa": np.ascontiguousarray(np.concatenate([X, np.ones((X.shape[0], 1), f32)], axis=1)),
        "Zc": np.ascontiguousarray(problem.Zc, dtype=f32), "Wa": np.ascontiguousarray(problem.Wa, dtype=f32),
        "W2": np.ascontiguousarray(problem.W2, dtype=f32), "b2": np.ascontiguousarray(problem.b2, dtype=f32),
        "costs": np.ascontiguousarray(problem.costs, dtype=f32),
        "kind": np.asarray(kind, np.int64), "off": np.asarray(off, np.int64),
        "width": np.asarray(width, np.int64), "integer": np.asarray(integer, np.int64),
        "af": np.asarray(af, f32).reshape(-1, 4),
        "simplex": np.asarray(simplex, np.int64), "stot": np.asarray(total, f32)}


def _want_threads() -> int:
    """LEAFCTL_ESP_THREADS (islands set it per rank) if set, else every CPU this process may use."""
    want = int(os.environ.get("LEAFCTL_ESP_THREADS", "0") or 0)
    if want > 0:
        return want
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _threads() -> None:
    """Caps numba's threads as LEAFCTL_ESP_THREADS caps the NumPy pool (the numba kernel)."""
    import numba  # noqa: PLC0415

    want = int(os.environ.get("LEAFCTL_ESP_THREADS", "0") or 0)
    limit = numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(min(want, limit) if want > 0 else limit)


def fused_means(problem: Any, theta: Any, kernel: str = "jit", block: int | None = None) -> np.ndarray | None:
    """(P, O+1) mean predicted outcomes and mean action cost, or None when the kernel is unavailable.

    kernel "jit" (what Problem uses): the shape-specialised kernel (cpu_fused_jit, llvmlite), threads
    over prescriptors as ``_want_threads``. "numba": the generic numba kernel with runtime sizes
    (_cpu_fused_kernel; contexts in blocks of ``block``), kept as the measured baseline."""
    if kernel == "jit":
        if block is not None:
            raise ValueError("block applies to the numba kernel only")
        if not _jit_available():
            return None
        from leafctl.esp import cpu_fused_jit  # noqa: PLC0415

        return cpu_fused_jit.outcome_means(_tables(problem, "jit"), theta, _want_threads())
    if kernel != "numba":
        raise ValueError(f"unknown kernel {kernel!r}: jit or numba")
    block = BLOCK if block is None else block
    k = _load()
    if k is None:
        return None
    t = _tables(problem, "numba")
    lay = problem.layout
    theta = np.ascontiguousarray(theta, dtype=np.float32)
    if theta.shape[1] != lay.D:
        raise ValueError(f"theta has {theta.shape[1]} genes per prescriptor, the layout {lay.D}")
    _threads()
    return k.outcome_means(theta, t["Xa"], t["Zc"], t["Wa"], t["W2"], t["b2"], t["costs"],
                           t["kind"], t["off"], t["width"], t["integer"], t["af"], t["simplex"], t["stot"],
                           lay.n_in, lay.hidden, lay.n_out, int(block))


def flops(problem: Any, P: int) -> int:
    """Floating-point operations of one evaluation as the fused path does it (multiply-adds x 2):
    per (prescriptor, context) the prescriptor's two layers and the predictor's action half; per
    prescriptor the predictor's last layer (once, on the mean). tanh/decode/ReLU are not counted."""
    lay = problem.layout
    C, H, A = lay.n_in, lay.hidden, lay.n_out
    PH, O = problem.Zc.shape[1], problem.W2.shape[1]
    N = problem.X.shape[0]
    return P * (N * 2 * (C * H + H * A + A * PH) + 2 * PH * O)
