"""The fused CUDA kernel's arithmetic and its Python driver, run on the CPU.

``esp_eval.cu`` built by g++ with ``-DESP_HOST_BUILD`` exports ``esp_eval_host``: the kernel's own
per-(prescriptor, context) function ``esp_pair`` and its per-block tree reduction, looped over the
launch grid. A small NumPy-backed stand-in for the few ``cupy`` names ``leafctl.esp.gpu`` uses is put in
``sys.modules["cupy"]`` (inside each test only), so ``gpu.fused_means`` runs unmodified: it reads the
kernel source, "compiles" it (the stand-in builds the source it is handed with g++) and launches it
with the arguments a GPU would get. The stand-in checks those arguments against the kernel's signature
(types, exact array sizes, launch shape, dynamic shared memory) before calling through ctypes.

Results are compared with the NumPy path (``Problem`` with xp=numpy) on fresh random problems.
Binary and categorical actions are hard decisions: a logit within float32 rounding of 0 (binary) or of
the runner-up (categorical) may be decided differently by two correct float32 implementations. So for
those problems only prescriptors whose every decision has a margin of at least ``MARGIN`` in a float64
forward pass are evaluated (float32 logits differ from float64 ones by ~1e-6, checked below); the
others are dropped before evaluation. Continuous actions need no filtering.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from leafctl.esp import evaluate as evaluate_mod
from leafctl.esp import gpu
from leafctl.esp import prescriptor as presc
from leafctl.esp.data import ColumnSpec
from leafctl.esp.evaluate import Problem
from leafctl.esp.predictor import Predictor
from leafctl.esp.prescriptor import Layout, cost_table

from .gpu_required import skip_unless
from .margins import MARGIN, clear_of_ties

pytestmark = skip_unless(shutil.which("g++") is None, reason="g++ not installed")

RTOL = 1e-4

# esp_eval_fused's parameters in order: f* float32 array, i* int32 array, i int32 scalar.
SIGNATURE = [("theta", "f*"), ("D", "i"), ("X", "f*"), ("N", "i"), ("C", "i"), ("H", "i"), ("AOUT", "i"),
             ("act_info", "i*"), ("act_f", "f*"), ("n_act", "i"), ("cost_w", "f*"), ("Zc", "f*"),
             ("PH", "i"), ("Wa", "f*"), ("AE", "i"), ("Wp2", "f*"), ("bp2", "f*"), ("O", "i"),
             ("n_cblocks", "i"), ("partial", "f*")]


# ---- host build of the kernel source ----------------------------------------------------------------

_libs: dict[str, ctypes.CDLL] = {}
_build_dir: list[Path] = []


def _host_lib(code: str) -> ctypes.CDLL:
    """Build ``code`` (the kernel source) as a host shared library, once per distinct source."""
    key = hashlib.sha256(code.encode()).hexdigest()[:16]
    if key not in _libs:
        d = _build_dir[0]
        src, so = d / f"esp_{key}.cu", d / f"esp_{key}.so"
        src.write_text(code, encoding="utf-8")
        p = subprocess.run(["g++", "-x", "c++", "-O2", "-shared", "-fPIC", "-DESP_HOST_BUILD", "-Wall",
                            "-Wextra", "-Werror", str(src), "-o", str(so)],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        lib = ctypes.CDLL(str(so))
        fp, ip, i = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int), ctypes.c_int
        lib.esp_eval_host.restype = None
        lib.esp_eval_host.argtypes = [{"f*": fp, "i*": ip, "i": i}[k] for _, k in SIGNATURE] + [i, i]
        _libs[key] = lib
    return _libs[key]


@pytest.fixture(scope="module", autouse=True)
def _build_tmp(tmp_path_factory):
    _build_dir.append(tmp_path_factory.mktemp("esp_host"))
    yield
    _build_dir.clear()
    _libs.clear()


def _ptr(a: np.ndarray, ctype) -> ctypes.Array:
    return a.ctypes.data_as(ctypes.POINTER(ctype))


# ---- NumPy-backed stand-in for the cupy names gpu.py uses --------------------------------------------

class _HostKernel:
    def __init__(self, lib: ctypes.CDLL, calls: list):
        self.lib, self.calls = lib, calls

    def __call__(self, grid, block, args, shared_mem=0):
        assert len(grid) == 1 and len(block) == 1, (grid, block)
        grid, block = int(grid[0]), int(block[0])
        assert block > 0 and block & (block - 1) == 0, "the tree reduction needs a power-of-two block"
        assert len(args) == len(SIGNATURE), f"{len(args)} kernel arguments, kernel takes {len(SIGNATURE)}"
        v = {}
        for (name, kind), a in zip(SIGNATURE, args):
            if kind == "i":
                assert type(a) is np.int32, f"{name}: {type(a).__name__}, kernel takes int (np.int32)"
            else:
                want = np.float32 if kind == "f*" else np.int32
                assert isinstance(a, np.ndarray) and a.dtype == want, f"{name}: {getattr(a, 'dtype', a)}"
                assert a.flags.c_contiguous, f"{name} is not contiguous"
            v[name] = a
        D, N, C, H, A, PH, AE, O, ncb, n_act = (int(v[k]) for k in
                                                ("D", "N", "C", "H", "AOUT", "PH", "AE", "O", "n_cblocks",
                                                 "n_act"))
        # Exact extents the kernel reads and writes (it does no bounds checks of its own).
        assert 0 < A <= gpu.MAX_AOUT and 0 < O <= gpu.MAX_O and AE == A
        assert D == C * H + H + H * A + A
        assert grid % ncb == 0 and ncb == (N + block - 1) // block
        assert v["theta"].size == grid // ncb * D
        assert v["X"].size == N * C and v["Zc"].size == N * PH and v["Wa"].size == AE * PH
        assert v["Wp2"].size == PH * O and v["bp2"].size == O and v["cost_w"].size == A
        assert v["act_info"].size == 4 * n_act and v["act_f"].size == 4 * n_act
        info = v["act_info"].reshape(n_act, 4)
        assert set(info[:, 0].tolist()) <= {0, 1, 2}
        assert (np.cumsum(np.r_[0, info[:-1, 2]]) == info[:, 1]).all() and info[:, 2].sum() == A
        assert v["partial"].size == grid * (O + 1) and v["partial"].flags.writeable
        assert shared_mem == 4 * (D + AE * PH + PH * O + block), "dynamic shared memory != what the kernel uses"
        assert shared_mem <= gpu.SHARED_LIMIT
        c_args = [_ptr(a, ctypes.c_float if k == "f*" else ctypes.c_int) if k != "i" else int(a)
                  for (_, k), a in zip(SIGNATURE, args)]
        self.lib.esp_eval_host(*c_args, grid, block)
        self.calls.append((grid, block))


class _RawModule:
    def __init__(self, code: str, options=(), calls: list | None = None):
        assert "esp_eval_fused" in code
        self.lib, self.calls = _host_lib(code), calls

    def get_function(self, name: str) -> _HostKernel:
        assert name == "esp_eval_fused", name
        return _HostKernel(self.lib, self.calls)


def _fake_cupy(calls: list) -> types.ModuleType:
    m = types.ModuleType("cupy")
    m.float32, m.int32 = np.float32, np.int32
    m.asarray, m.ascontiguousarray = np.asarray, np.ascontiguousarray

    def empty(shape, dtype=np.float32):
        # NaN-filled, not garbage: any element the kernel fails to write shows up in the result.
        return np.full(shape, np.nan, dtype=dtype)

    m.empty = empty
    m.RawModule = lambda code, options=(): _RawModule(code, options, calls)
    return m


@pytest.fixture
def fake_cupy(monkeypatch):
    """Install the stand-in as ``cupy`` for this test; returns the list of kernel launches."""
    calls: list = []
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(calls))
    monkeypatch.setattr(gpu, "_module", None)  # never reuse a module compiled by another cupy
    return calls


# ---- problems -------------------------------------------------------------------------------------

def _actions(kinds: str, cat_width: int = 3) -> list[ColumnSpec]:
    out = []
    for i, k in enumerate(kinds):
        if k == "n":
            out.append(ColumnSpec(f"n{i}", "numeric", mean=0.3 + i, std=0.2 + 0.5 * i, lo=-1.0 + i, hi=2.0 + 3 * i))
        elif k == "b":
            out.append(ColumnSpec(f"b{i}", "binary"))
        else:
            out.append(ColumnSpec(f"c{i}", "categorical", categories=[f"k{j}" for j in range(cat_width)]))
    return out


def _problem(seed: int, kinds: str, C: int, H: int, PH: int, O: int, N: int, cat_width: int = 3):
    rng = np.random.default_rng(seed)
    acts = _actions(kinds, cat_width)
    layout = Layout(C, H, acts)
    A = layout.n_out
    weights = {a.name: float(rng.uniform(0.5, 2.0)) for a in acts if a.kind != "categorical"}
    weights.update({a.name: {c: float(rng.uniform(0, 3)) for c in a.categories}
                    for a in acts if a.kind == "categorical"})
    pred = Predictor("mlp", rng.normal(0, 0.3, (C + A, PH)), rng.normal(0, 0.1, PH),
                     rng.normal(0, 0.3, (PH, O)), rng.normal(0, 1, O))
    X = rng.normal(size=(N, C))
    names = [f"y{i}" for i in range(O)]
    return Problem(layout, pred, X, names, [(n, "max") for n in names] + [("action_cost", "min")],
                   cost_table(acts, weights), xp=np)


def _theta(prob: Problem, seed: int, P: int) -> np.ndarray:
    """P prescriptors whose hard decisions all clear MARGIN (drawn from 3P candidates)."""
    theta = clear_of_ties(prob, seed, P, draws=3)
    # The margin is meaningful: float32 logits (the NumPy path's) sit far closer than it to float64 ones.
    raw32 = presc.forward(theta, prob.X, prob.layout, np)
    raw64 = presc.forward(theta.astype(np.float64), np.asarray(prob.X, np.float64), prob.layout, np)
    assert np.abs(raw32 - raw64).max() < MARGIN / 10
    return theta


def _pairs64(prob: Problem, theta: np.ndarray) -> np.ndarray:
    """(P, N, O+1) per-(prescriptor, context) outcomes and action cost, float64 from float32 inputs."""
    f64 = np.float64
    raw = presc.forward(theta.astype(f64), np.asarray(prob.X, f64), prob.layout, np)
    _, enc, cost = presc.decode(raw, prob.layout, np.asarray(prob.costs, f64), np)
    Z = np.maximum(enc @ np.asarray(prob.Wa, f64) + np.asarray(prob.Zc, f64), 0)
    Y = Z @ np.asarray(prob.W2, f64) + np.asarray(prob.b2, f64)
    return np.concatenate([Y, cost[..., None]], axis=-1)


def _rel_err(got: np.ndarray, want: np.ndarray, pairs: np.ndarray) -> float:
    """Max |got - want| relative to its column's scale: the largest mean |per-context value| over the
    prescriptors. (Relative to |want| itself would divide by ~0 where a mean cancels to near zero.)"""
    scale = np.maximum(np.abs(pairs).mean(axis=1).max(axis=0), 1e-30)
    return float((np.abs(got - want) / scale).max())


def _check(got: np.ndarray, prob: Problem, theta: np.ndarray, seed: int) -> float:
    """Kernel means against the NumPy path and against a float64 forward; returns the former error."""
    want = prob.outcome_means(theta)
    assert got is not None and got.shape == want.shape and np.isfinite(got).all()
    pairs = _pairs64(prob, theta)
    err = _rel_err(got, want, pairs)
    err64 = _rel_err(got, pairs.mean(axis=1), pairs)
    assert err <= RTOL and err64 <= RTOL, f"seed {seed}: max relative error {err:.2e} (vs float64 {err64:.2e})"
    return err


def _seed() -> int:
    return int(np.random.SeedSequence().entropy % 2**31)  # fresh each run; printed on failure


CASES = [  # kinds, C, H, PH, O, N, P
    ("nn", 16, 32, 64, 2, 333, 7),
    ("nnnn", 5, 7, 13, 3, 129, 5),
    ("n", 1, 1, 1, 1, 1, 3),
    ("nn", 3, 64, 32, 16, 127, 4),        # O = MAX_O
    ("nnn", 9, 5, 20, 4, 256, 2),         # N a multiple of the block
]
MIXED = [
    ("nnbc", 16, 32, 64, 2, 333, 6, 3),
    ("bcb", 4, 9, 17, 3, 200, 5, 5),
    ("c", 6, 8, 10, 1, 130, 4, 2),
    ("nnc", 8, 16, 24, 2, 300, 3, 62),    # AOUT = MAX_AOUT
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_fused_kernel_matches_numpy_continuous(fake_cupy, case):
    kinds, C, H, PH, O, N, P = case
    seed = _seed()
    prob = _problem(seed, kinds, C, H, PH, O, N)
    theta = prob.layout.init(np.random.default_rng(seed + 1), P)
    got = gpu.fused_means(prob, theta)
    assert len(fake_cupy) == 1 and fake_cupy[0] == (P * ((N + gpu.BLOCK - 1) // gpu.BLOCK), gpu.BLOCK)
    assert got.shape == (P, O + 1)
    _check(got, prob, theta, seed)


@pytest.mark.parametrize("case", MIXED, ids=lambda c: "-".join(map(str, c)))
def test_fused_kernel_matches_numpy_binary_categorical(fake_cupy, case):
    kinds, C, H, PH, O, N, P, width = case
    seed = _seed()
    prob = _problem(seed, kinds, C, H, PH, O, N, cat_width=width)
    theta = _theta(prob, seed, P)
    got = gpu.fused_means(prob, theta)
    assert len(fake_cupy) == 1
    _check(got, prob, theta, seed)


def test_problem_evaluate_dispatches_to_the_kernel(fake_cupy, monkeypatch):
    """Problem.evaluate with a "GPU" xp takes the fused path and returns the NumPy path's objectives."""
    seed = _seed()
    prob = _problem(seed, "nbc", 10, 12, 16, 2, 250, cat_width=4)
    theta = _theta(prob, seed, 9)
    want = prob.evaluate(theta)
    monkeypatch.setattr(evaluate_mod, "is_gpu", lambda xp: True)
    got = prob.evaluate(theta)
    assert len(fake_cupy) == 1 and got.dtype == np.float64 and got.shape == want.shape
    pairs = _pairs64(prob, theta)
    pairs = pairs[..., [0, 1, pairs.shape[-1] - 1]]  # objectives: y0, y1, action_cost
    assert _rel_err(got, want, pairs) <= RTOL, f"seed {seed}"


def test_reduction_order_is_the_kernels_tree(tmp_path):
    """block=1 gives one partial per context (= that pair's outputs); the block=BLOCK partials must be
    exactly the float32 tree over blockDim of those, padded with zeros: the kernel's reduction order."""
    seed = _seed()
    prob = _problem(seed, "nn", 6, 8, 12, 3, 300)
    P, N, O, B = 2, 300, 3, gpu.BLOCK
    theta = prob.layout.init(np.random.default_rng(seed + 1), P)
    lib = _host_lib((gpu.KERNEL_DIR / "esp_eval.cu").read_text(encoding="utf-8"))
    t = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in
         dict(X=prob.X, Zc=prob.Zc, Wa=prob.Wa, W2=prob.W2, b2=prob.b2, c=prob.costs).items()}
    info, f, off = [], [], 0
    for a in prob.layout.actions:
        info += [0, off, 1, off]
        f += [a.lo, a.hi, a.mean, a.std]
        off += 1
    info, f = np.asarray(info, np.int32), np.asarray(f, np.float32)
    A, PH, D = prob.layout.n_out, prob.Zc.shape[1], prob.layout.D

    def run(block):
        ncb = (N + block - 1) // block
        part = np.full((P, ncb, O + 1), np.nan, np.float32)
        fp, ip = ctypes.c_float, ctypes.c_int
        lib.esp_eval_host(_ptr(theta, fp), D, _ptr(t["X"], fp), N, prob.layout.n_in, prob.layout.hidden, A,
                          _ptr(info, ip), _ptr(f, fp), len(prob.layout.actions), _ptr(t["c"], fp),
                          _ptr(t["Zc"], fp), PH, _ptr(t["Wa"], fp), A, _ptr(t["W2"], fp), _ptr(t["b2"], fp),
                          O, ncb, _ptr(part, fp), P * ncb, block)
        return part

    pairs = run(1)  # (P, N, O+1)
    ncb = (N + B - 1) // B
    buf = np.zeros((P, ncb * B, O + 1), np.float32)
    buf[:, :N] = pairs
    buf = buf.reshape(P, ncb, B, O + 1)
    s = B // 2
    while s:
        buf[:, :, :s] = buf[:, :, :s] + buf[:, :, s:2 * s]
        s //= 2
    assert np.array_equal(run(B), buf[:, :, 0])

    # Per pair (no averaging to hide errors) against a float64 forward of the same math.
    want = _pairs64(prob, theta)
    err = float((np.abs(pairs - want) / np.maximum(np.abs(want).max(axis=(0, 1)), 1e-30)).max())
    assert err <= RTOL, f"seed {seed}: per-pair max relative error {err:.2e}"


@pytest.mark.parametrize("what", ["aout", "o", "shared"])
def test_kernel_declines_shapes_beyond_its_limits(fake_cupy, monkeypatch, what):
    """fused_means returns None (no launch) past MAX_AOUT, MAX_O or the shared-memory limit, and
    Problem.evaluate then falls back to the array path with the same results."""
    seed = _seed()
    if what == "aout":
        prob = _problem(seed, "c", 4, 6, 8, 2, 140, cat_width=gpu.MAX_AOUT + 1)
    elif what == "o":
        prob = _problem(seed, "nn", 4, 6, 8, gpu.MAX_O + 1, 140)
    else:  # AE * PH alone over 48 KiB of floats
        prob = _problem(seed, "nnnn", 4, 6, gpu.SHARED_LIMIT // 16 + 1, 2, 140)
    theta = prob.layout.init(np.random.default_rng(seed + 1), 3)
    assert gpu.fused_means(prob, theta) is None
    want = prob.outcome_means(theta)
    monkeypatch.setattr(evaluate_mod, "is_gpu", lambda xp: True)
    got = prob.outcome_means(theta)
    assert fake_cupy == []
    # ``want`` may come from the fused CPU kernel (N >= 256 with llvmlite), within 1e-5 of the array path
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_python_limits_match_the_kernel_source():
    src = (gpu.KERNEL_DIR / "esp_eval.cu").read_text(encoding="utf-8")
    assert int(re.search(r"#define ESP_MAX_AOUT (\d+)", src).group(1)) == gpu.MAX_AOUT
    assert int(re.search(r"#define ESP_MAX_O (\d+)", src).group(1)) == gpu.MAX_O
    assert gpu.BLOCK & (gpu.BLOCK - 1) == 0  # the kernel's tree reduction assumes a power of two
