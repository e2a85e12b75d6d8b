"""The fused CUDA kernel decodes integer and simplex actions as the NumPy path does (host build).

The kernel source is built for the host by g++ (as tests/esp/test_gpu_host.py does, whose build
helpers are reused) and driven through ``gpu.fused_means`` unmodified, with a NumPy-backed stand-in for
the few cupy names it uses. Kinds 3 (integer) and 4 (simplex member) are what gpu.kernel_kind gives.
"""

from __future__ import annotations

import shutil
import sys
import types

import numpy as np
import pytest

from leafctl.esp import actions, gpu
from leafctl.esp.data import ColumnSpec
from leafctl.esp.evaluate import Problem
from leafctl.esp.predictor import Predictor
from leafctl.esp.prescriptor import Layout, cost_table

from .test_gpu_host import SIGNATURE, _build_tmp, _host_lib, _ptr  # noqa: F401 - _build_tmp: autouse fixture

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")


class _Kernel:
    def __init__(self, lib, calls):
        self.lib, self.calls = lib, calls

    def __call__(self, grid, block, args, shared_mem=0):
        import ctypes

        assert len(args) == len(SIGNATURE)
        info = args[7].reshape(-1, 4)
        self.calls.append(info.copy())
        c_args = [_ptr(a, ctypes.c_float if k == "f*" else ctypes.c_int) if k != "i" else int(a)
                  for (_, k), a in zip(SIGNATURE, args)]
        self.lib.esp_eval_host(*c_args, int(grid[0]), int(block[0]))


@pytest.fixture
def host_cupy(monkeypatch):
    calls: list = []
    m = types.ModuleType("cupy")
    m.float32, m.int32 = np.float32, np.int32
    m.asarray, m.ascontiguousarray = np.asarray, np.ascontiguousarray
    m.empty = lambda shape, dtype=np.float32: np.full(shape, np.nan, dtype=dtype)

    class _Module:
        def __init__(self, code, options=()):
            self.lib = _host_lib(code)

        def get_function(self, name):
            return _Kernel(self.lib, calls)

    m.RawModule = _Module
    monkeypatch.setitem(sys.modules, "cupy", m)
    monkeypatch.setattr(gpu, "_module", None)
    return calls


def _problem(seed: int, specs: list[ColumnSpec], **options) -> Problem:
    rng = np.random.default_rng(seed)
    acts = actions.apply(specs, **options)
    C, H, PH, O, N = 5, 7, 12, 2, 200
    layout = Layout(C, H, acts)
    A = layout.n_out
    pred = Predictor("mlp", rng.normal(0, 0.3, (C + A, PH)), rng.normal(0, 0.1, PH),
                     rng.normal(0, 0.3, (PH, O)), rng.normal(0, 1, O))
    weights = {a.name: float(rng.uniform(0.5, 2.0)) for a in acts if a.kind != "categorical"}
    return Problem(layout, pred, rng.normal(size=(N, C)), ["y0", "y1"],
                   [("y0", "max"), ("y1", "max"), ("action_cost", "min")], cost_table(acts, weights), xp=np)


def _specs() -> list[ColumnSpec]:
    return [ColumnSpec("a", "numeric", mean=0.3, std=0.2, lo=0.0, hi=1.0),
            ColumnSpec("n", "numeric", mean=4.0, std=2.0, lo=0.0, hi=9.0, integer=True),
            ColumnSpec("b", "numeric", mean=0.3, std=0.2, lo=0.0, hi=1.0),
            ColumnSpec("x", "numeric", mean=1.0, std=0.5, lo=-1.0, hi=3.0),
            ColumnSpec("c", "numeric", mean=0.3, std=0.2, lo=0.0, hi=1.0),
            ColumnSpec("d", "numeric", mean=2.0, std=1.0, lo=0.0, hi=5.0),
            ColumnSpec("e", "numeric", mean=2.0, std=1.0, lo=0.0, hi=5.0)]


def _integer_margin_theta(prob: Problem, seed: int, P: int) -> np.ndarray:
    """P genomes whose integer actions sit at least 1e-3 from a rounding boundary in every context
    (float32 paths may round a value within rounding error of a half either way)."""
    from leafctl.esp import prescriptor as presc

    cand = prob.layout.init(np.random.default_rng(seed + 1), 6 * P)
    raw = presc.forward(cand.astype(np.float64), np.asarray(prob.X, np.float64), prob.layout, np)
    ok = np.ones(len(cand), dtype=bool)
    o = 0
    for a in prob.layout.actions:
        if a.integer:
            v = a.lo + (a.hi - a.lo) / (1 + np.exp(-raw[..., o]))
            ok &= (np.abs(v - np.floor(v) - 0.5) > 1e-3).all(axis=1)
        o += a.width
    assert ok.sum() >= P
    return np.ascontiguousarray(cand[ok][:P])


def test_kernel_decodes_integer_and_simplex_actions_as_numpy(host_cupy):
    seed = int(np.random.SeedSequence().entropy % 2**31)
    prob = _problem(seed, _specs(), integer=["x"],
                    simplex=[{"columns": ["a", "b", "c"], "total": 1.0}, {"columns": ["d", "e"], "total": 7.0}])
    theta = _integer_margin_theta(prob, seed, 6)
    got = gpu.fused_means(prob, theta)
    info = host_cupy[0]
    assert info[:, 0].tolist() == [4, 3, 4, 3, 4, 4, 4]  # kinds: simplex, integer, ..., per gpu.kernel_kind
    assert info[[0, 2, 4, 5, 6], 3].tolist() == [0, 0, 0, 1, 1]  # each member's group
    want = prob.outcome_means(theta)
    scale = np.maximum(np.abs(want).max(axis=0), 1e-30)
    assert float((np.abs(got - want) / scale).max()) <= 1e-4, f"seed {seed}"

