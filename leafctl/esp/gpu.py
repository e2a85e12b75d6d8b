"""GPU path: the fused evaluation kernel (kernels/esp_eval.cu) driven through ``cupy.RawModule``.

Only ``import cupy`` is used (NVRTC compiles the source for whatever CUDA the machine has, 12 or 13).
Ranking, crowding and variation run as CuPy array operations through the same ``xp`` code as on CPU.
``fused_means`` returns None when a problem's shapes exceed the kernel's limits; the caller then uses
the batched array path, which is correct for any shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

KERNEL_DIR = Path(__file__).resolve().parent / "kernels"
MAX_AOUT = 64  # keep equal to ESP_MAX_AOUT / ESP_MAX_O in esp_eval.cu
MAX_O = 16
BLOCK = 128
SHARED_LIMIT = 48 * 1024  # default dynamic shared memory without opting in to more
_KIND = {"numeric": 0, "binary": 1, "categorical": 2}
INTEGER, SIMPLEX = 3, 4  # kernel kinds of a numeric action that is integer / in a simplex group (actions.py)


def kernel_kind(a: Any) -> int:
    """The kernel's kind code of an action spec (act_info's first column, see esp_eval.cu)."""
    if a.kind == "numeric" and a.simplex >= 0:
        return SIMPLEX
    if a.kind == "numeric" and a.integer:
        return INTEGER
    return _KIND[a.kind]
_module = None


def kernel_sources() -> list[Path]:
    return sorted(KERNEL_DIR.glob("*.cu"))


def _function(name: str) -> Any:
    global _module
    import cupy  # noqa: PLC0415

    if _module is None:
        src = (KERNEL_DIR / "esp_eval.cu").read_text(encoding="utf-8")
        # No fast-math: tanh.approx would cost ~5e-4 relative error against the NumPy path.
        _module = cupy.RawModule(code=src, options=("--std=c++14",))
    return _module.get_function(name)


def _tables(problem: Any) -> dict[str, Any]:
    cache = getattr(problem, "_gpu_tables", None)
    if cache is None:
        import cupy  # noqa: PLC0415

        info, f, off = [], [], 0
        for a in problem.layout.actions:
            # The last column is the simplex group of a kind-4 action (for the others: the encoding offset).
            info += [kernel_kind(a), off, a.width, a.simplex if kernel_kind(a) == SIMPLEX else off]
            f += [a.lo, a.hi, a.mean, a.std]
            off += a.width
        cache = {"info": cupy.asarray(np.asarray(info, dtype=np.int32)),
                 "f": cupy.asarray(np.asarray(f, dtype=np.float32)),
                 "Zc": cupy.ascontiguousarray(problem.Zc), "Wa": cupy.ascontiguousarray(problem.Wa),
                 "W2": cupy.ascontiguousarray(problem.W2), "b2": cupy.ascontiguousarray(problem.b2),
                 "X": cupy.ascontiguousarray(problem.X), "costs": cupy.ascontiguousarray(problem.costs)}
        problem._gpu_tables = cache
    return cache


def fused_means(problem: Any, theta: Any) -> Any:
    """(P, O+1) mean predicted outcomes and mean action cost, or None if the kernel cannot take it."""
    import cupy  # noqa: PLC0415

    lay = problem.layout
    P, D = theta.shape
    N, C = problem.X.shape
    PH, O, A = problem.Zc.shape[1], problem.W2.shape[1], lay.n_out
    shared = 4 * (D + A * PH + PH * O + BLOCK)
    n_cb = (N + BLOCK - 1) // BLOCK
    if A > MAX_AOUT or O > MAX_O or shared > SHARED_LIMIT or P * n_cb >= 2**31:
        return None
    t = _tables(problem)
    theta = cupy.ascontiguousarray(theta, dtype=cupy.float32)
    partial = cupy.empty((P, n_cb, O + 1), dtype=cupy.float32)
    i32 = np.int32
    _function("esp_eval_fused")(
        (P * n_cb,), (BLOCK,),
        (theta, i32(D), t["X"], i32(N), i32(C), i32(lay.hidden), i32(A),
         t["info"], t["f"], i32(len(lay.actions)), t["costs"],
         t["Zc"], i32(PH), t["Wa"], i32(A), t["W2"], t["b2"], i32(O), i32(n_cb), partial),
        shared_mem=shared)
    return partial.sum(axis=1) / N


def flops_per_pair(problem: Any) -> int:
    """Multiply-adds x 2 per (prescriptor, context) in the fused kernel (for FLOP/s reports)."""
    lay = problem.layout
    C, H, A = lay.n_in, lay.hidden, lay.n_out
    PH, O = problem.Zc.shape[1], problem.W2.shape[1]
    return 2 * (C * H + H * A + A * PH + PH * O)
