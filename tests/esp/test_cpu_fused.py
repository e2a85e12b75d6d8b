"""The fused CPU evaluation (leafctl/esp/cpu_fused.py: the jit kernel and the numba one) against the NumPy path.

Fresh random problems each run (the seed is in every failure message). Errors are measured as in
test_gpu_host.py: relative to each column's scale (the largest mean |per-context value|), since a
mean that cancels to near zero would make |got - want| / |want| meaningless. Hard decisions (binary,
categorical, integer rounding) are compared only on prescriptors whose every decision has a margin of
at least margins.MARGIN in a float64 forward pass: two correct float32 implementations may decide a logit within
rounding of a threshold differently.

numba is the ``fast`` extra (CI installs it); without it these tests fail rather than skip unless
LEAFCTL_ALLOW_NO_NUMBA=1 says a machine without it is expected.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from leafctl.esp import cpu_fused
from leafctl.esp import prescriptor as presc
from leafctl.esp.data import ColumnSpec
from leafctl.esp.evaluate import Problem
from leafctl.esp.predictors.mlp import MLP
from leafctl.esp.prescriptor import Layout, cost_table

from .margins import clear_of_ties

try:
    import numba  # noqa: F401

    HAVE_NUMBA = True
except ImportError:
    HAVE_NUMBA = False

pytestmark = pytest.mark.skipif(not HAVE_NUMBA and os.environ.get("LEAFCTL_ALLOW_NO_NUMBA") == "1",
                                reason="numba not installed and LEAFCTL_ALLOW_NO_NUMBA=1")

RTOL = 1e-5
REPO = Path(__file__).resolve().parents[2]


def _seed() -> int:
    return int(np.random.SeedSequence().entropy % 2**31)


def _actions(kinds: str, cat_width: int = 3) -> list[ColumnSpec]:
    out = []
    for i, k in enumerate(kinds):
        if k == "n":
            out.append(ColumnSpec(f"n{i}", "numeric", mean=0.3 + i, std=0.2 + 0.5 * i, lo=-1.0 + i, hi=2.0 + 3 * i))
        elif k == "i":  # integer: whole-number range, as actions.apply leaves it
            out.append(ColumnSpec(f"i{i}", "numeric", mean=4.0, std=3.0, lo=0.0, hi=10.0, integer=True))
        elif k == "s":  # a member of simplex group 0 (total 2)
            out.append(ColumnSpec(f"s{i}", "numeric", mean=0.5, std=0.3, lo=0.0, hi=2.0, simplex=0, total=2.0))
        elif k == "b":
            out.append(ColumnSpec(f"b{i}", "binary"))
        else:
            out.append(ColumnSpec(f"c{i}", "categorical", categories=[f"k{j}" for j in range(cat_width)]))
    return out


def _problem(seed: int, kinds: str, C: int, H: int, PH: int, O: int, N: int, cat_width: int = 3) -> Problem:
    rng = np.random.default_rng(seed)
    acts = _actions(kinds, cat_width)
    layout = Layout(C, H, acts)
    A = layout.n_out
    weights = {a.name: float(rng.uniform(0.5, 2.0)) for a in acts if a.kind != "categorical"}
    weights.update({a.name: {c: float(rng.uniform(0, 3)) for c in a.categories}
                    for a in acts if a.kind == "categorical"})
    pred = MLP(rng.normal(0, 0.3, (C + A, PH)), rng.normal(0, 0.1, PH), rng.normal(0, 0.3, (PH, O)),
               rng.normal(0, 1, O))
    names = [f"y{i}" for i in range(O)]
    return Problem(layout, pred, rng.normal(size=(N, C)), names, [(n, "max") for n in names] + [("action_cost", "min")],
                   cost_table(acts, weights), xp=np)


def _forward64(prob: Problem, theta: np.ndarray) -> np.ndarray:
    return presc.forward(theta.astype(np.float64), np.asarray(prob.X, np.float64), prob.layout, np)


def _theta(prob: Problem, seed: int, P: int) -> np.ndarray:
    return clear_of_ties(prob, seed, P, draws=4)


def _numpy_means(prob: Problem, theta: np.ndarray) -> np.ndarray:
    return prob._chunked(np.asarray(theta, np.float32), want_std=False)[0]


def _rel_err(prob: Problem, theta: np.ndarray, got: np.ndarray, want: np.ndarray) -> float:
    f64 = np.float64
    _, enc, cost = presc.decode(_forward64(prob, theta), prob.layout, np.asarray(prob.costs, f64), np)
    Z = np.maximum(enc @ np.asarray(prob.Wa, f64) + np.asarray(prob.Zc, f64), 0)
    pairs = np.concatenate([Z @ np.asarray(prob.W2, f64) + np.asarray(prob.b2, f64), cost[..., None]], axis=-1)
    scale = np.maximum(np.abs(pairs).mean(axis=1).max(axis=0), 1e-30)
    return float((np.abs(got - want) / scale).max())


CASES = [  # kinds, C, H, PH, O, N, P, block, categorical width
    ("nnnn", 16, 32, 64, 2, 1000, 9, 256, 3),   # the bench's shapes, N not a multiple of the block
    ("nn", 5, 7, 13, 3, 333, 1, 64, 3),          # P = 1
    ("n", 1, 1, 1, 1, 1, 3, 256, 3),             # every size 1
    ("nnn", 9, 5, 20, 4, 256, 4, 256, 3),        # N exactly one block
    ("nbc", 10, 12, 16, 2, 250, 6, 7, 4),        # mixed, a block size of 7
    ("bcb", 4, 9, 17, 3, 200, 5, 32, 5),
    ("c", 6, 8, 10, 1, 130, 4, 256, 2),
    ("ini", 8, 16, 24, 2, 300, 5, 100, 3),       # integer actions
    ("nssb", 7, 11, 19, 2, 211, 5, 50, 3),       # a simplex group
]


@pytest.mark.parametrize("kernel", ["jit", "numba"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_fused_cpu_matches_numpy_path(case, kernel):
    kinds, C, H, PH, O, N, P, block, width = case
    seed = _seed()
    prob = _problem(seed, kinds, C, H, PH, O, N, cat_width=width)
    theta = _theta(prob, seed, P)
    want = _numpy_means(prob, theta)
    got = cpu_fused.fused_means(prob, theta, kernel=kernel, block=block if kernel == "numba" else None)
    assert got is not None, "numba is not importable: install the fast extra (pip install -e '.[fast]')"
    assert got.shape == want.shape == (P, O + 1) and got.dtype == np.float32
    assert np.isfinite(got).all()
    err = _rel_err(prob, theta, got, want)
    assert err <= RTOL, f"seed {seed}: max relative error {err:.2e} against the NumPy path"


def test_tanh32_accuracy_and_specials():
    from leafctl.esp._cpu_fused_kernel import tanh_array

    x = np.linspace(-12, 12, 400_001).astype(np.float32)
    got = tanh_array(x).astype(np.float64)
    assert np.abs(got - np.tanh(x.astype(np.float64))).max() < 5e-7
    special = tanh_array(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30], np.float32))
    assert np.isnan(special[0]) and abs(special[1] - 1.0) < 5e-7 and abs(special[2] + 1.0) < 5e-7
    assert special[3] == 0.0 and abs(special[5] - 1e-30) < 1e-36


def test_nan_genomes_give_nan_outcomes():
    """A NaN weight must surface as a NaN outcome (ranked worst), as on the NumPy path."""
    seed = _seed()
    prob = _problem(seed, "nn", 6, 8, 12, 2, 300)
    theta = prob.layout.init(np.random.default_rng(seed), 4)
    theta[1, 3] = np.nan
    got = cpu_fused.fused_means(prob, theta)
    want = _numpy_means(prob, theta)
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got[1, :2]).all()
    assert np.isfinite(got[[0, 2, 3]]).all()


_THREADS_SCRIPT = r"""
import sys, hashlib, numpy as np
sys.path.insert(0, sys.argv[1])
from tests.esp.test_cpu_fused import _problem
from leafctl.esp import cpu_fused
import numba
prob = _problem(int(sys.argv[2]), "nbcn", 12, 16, 24, 2, 700)
theta = prob.layout.init(np.random.default_rng(5), 61)
out = cpu_fused.fused_means(prob, theta)
print(numba.get_num_threads(), hashlib.sha256(out.tobytes()).hexdigest())
"""


def test_thread_count_does_not_change_results():
    seed = str(_seed())
    seen = {}
    for threads in ("1", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads, "LEAFCTL_ESP_THREADS": threads}
        p = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT, str(REPO), seed], capture_output=True,
                           text=True, env=env, timeout=600, cwd=REPO)
        assert p.returncode == 0, p.stderr
        n, digest = p.stdout.split()
        assert n == threads
        seen[threads] = digest
    assert seen["1"] == seen["2"], f"seed {seed}: results differ between 1 and 2 threads"


def test_switch_and_fallback(monkeypatch):
    """LEAFCTL_ESP_FUSED=0 and Problem.fused=False keep the NumPy path (bit for bit); =1 takes the fused
    path; unset ("auto") takes it from MIN_CONTEXTS contexts, whatever the number of prescriptors."""
    seed = _seed()
    N = cpu_fused.MIN_CONTEXTS - 1
    prob = _problem(seed, "nn", 6, 8, 12, 2, N)
    theta = prob.layout.init(np.random.default_rng(seed), 5)
    numpy_path = _numpy_means(prob, theta)

    def evaluate(env: str | None, fused: bool = True) -> tuple[np.ndarray, bool]:
        if env is None:
            monkeypatch.delenv("LEAFCTL_ESP_FUSED", raising=False)
        else:
            monkeypatch.setenv("LEAFCTL_ESP_FUSED", env)
        p = _problem(seed, "nn", 6, 8, 12, 2, N)
        p.fused = fused
        out = p.outcome_means(theta)
        return out, hasattr(p, "_cpu_fused_tables")  # set only when the fused path ran

    for env, fused in (("0", True), ("off", True), ("1", False), (None, True)):  # None: N < MIN_CONTEXTS
        out, ran = evaluate(env, fused)
        assert not ran and np.array_equal(out, numpy_path), (env, fused)
    out, ran = evaluate("1")
    assert ran and _rel_err(prob, theta, out, numpy_path) <= RTOL
    monkeypatch.delenv("LEAFCTL_ESP_FUSED", raising=False)
    for P in (1, 7):  # auto at MIN_CONTEXTS: fused for one prescriptor as for many
        p = _problem(seed, "nn", 6, 8, 12, 2, cpu_fused.MIN_CONTEXTS)
        p.outcome_means(theta[:P])
        assert hasattr(p, "_cpu_fused_tables")


def test_results_do_not_depend_on_how_the_population_is_batched():
    """A prescriptor's outcomes are the same bits whether it is evaluated alone or among others (a
    resumed run re-evaluates a different number of prescriptors than the original did)."""
    seed = _seed()
    prob = _problem(seed, "nbc", 9, 10, 14, 2, 400)
    theta = prob.layout.init(np.random.default_rng(seed), 13)
    whole = cpu_fused.fused_means(prob, theta)
    parts = np.concatenate([cpu_fused.fused_means(prob, theta[i:i + 4]) for i in range(0, 13, 4)])
    assert np.array_equal(whole, parts), f"seed {seed}"


def test_predictor_without_relu_head_is_not_fused(monkeypatch):
    """ridge (a linear first layer but no ReLU head) is not what the kernel computes: NumPy path."""
    from leafctl.esp.predictors.ridge import Ridge

    monkeypatch.setenv("LEAFCTL_ESP_FUSED", "1")
    rng = np.random.default_rng(_seed())
    acts = _actions("nn")
    layout = Layout(4, 5, acts)
    prob = Problem(layout, Ridge(rng.normal(size=(6, 2)), rng.normal(size=2)), rng.normal(size=(50, 4)),
                   ["y0", "y1"], [("y0", "max"), ("y1", "min")], cost_table(acts, {}), xp=np)
    out = prob.outcome_means(layout.init(rng, 3))
    assert out.shape == (3, 3) and not hasattr(prob, "_cpu_fused_tables")


def _run_evolve(tmp_path: Path, name: str, fused: str) -> Path:
    out = tmp_path / name
    env = {**os.environ, "LEAFCTL_ESP_FUSED": fused}
    cfg = {"population": 24, "generations": 0}
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]);"
        "from tests.esp.conftest import *;"
        "from leafctl.esp.engine import EvolveConfig, evolve;"
        "from leafctl.esp.samples import sample_data_path;"
        "cfg = EvolveConfig(data=str(sample_data_path('campaign')), context=['age','income','past_spend','visits',"
        "'region','channel'], actions=['discount','emails'], outcomes=['revenue','margin'],"
        "objectives=['revenue:max','margin:max','action_cost:min'], hidden=8, predictor_hidden=16, seed=3,"
        "device='cpu', contexts_sample=300, elites=2, **json.loads(sys.argv[3]));"
        "evolve(cfg, sys.argv[2])")
    p = subprocess.run([sys.executable, "-c", code, str(REPO), str(out), json.dumps(cfg)], capture_output=True,
                       text=True, env=env, timeout=900, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    return out


def _numbers(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    cols = [i for i, h in enumerate(rows[0]) if h in ("revenue", "margin", "action_cost", "discount", "emails")]
    return [rows[0][i] for i in cols], np.array([[float(r[i]) for i in cols] for r in rows[1:]])


def test_evolve_runs_agree_on_both_paths(tmp_path):
    """A whole seeded run's generation 0 (P=24 x N=300 contexts, seeds and all, forced onto the fused path)
    is evaluated as the NumPy path evaluates it, to float32 rounding. Later generations are not compared:
    selection amplifies a last-bit difference into another population, on either path."""
    a = _run_evolve(tmp_path, "fused", "1")
    b = _run_evolve(tmp_path, "numpy", "0")
    with np.load(a / "population.npz") as za, np.load(b / "population.npz") as zb:
        np.testing.assert_array_equal(za["theta"], zb["theta"])
        Fa, Fb = za["F"], zb["F"]
    assert Fa.shape == Fb.shape and Fa.shape[0] == 24
    np.testing.assert_allclose(Fa, Fb, rtol=1e-5, atol=1e-5 * np.abs(Fb).max())


def test_jit_kernel_specialises_per_shape_and_is_reused():
    """One compiled kernel per shape (sizes and decode layout), shared by every Problem of that shape and
    carrying none of the problem it was first compiled for; another decode layout gets its own."""
    from leafctl.esp import cpu_fused_jit as jit

    seed = _seed()
    a = _problem(seed, "nbc", 6, 8, 12, 2, 300)
    b = _problem(seed + 1, "nbc", 6, 8, 12, 2, 517)  # same shape: other weights, costs and contexts
    c = _problem(seed, "nic", 6, 8, 12, 2, 300)      # same sizes, the binary action now an integer one
    sa, sb, sc = jit.shape_of(a), jit.shape_of(b), jit.shape_of(c)
    assert sa == sb and sa != sc and sa.A == sc.A
    ka = jit.kernel(sa)
    assert jit.kernel(sb) is ka and jit.kernel(sc) is not ka and sa in jit.compile_seconds
    for prob in (a, b, c, a):
        theta = _theta(prob, seed, 5)
        err = _rel_err(prob, theta, cpu_fused.fused_means(prob, theta), _numpy_means(prob, theta))
        assert err <= RTOL, f"seed {seed}: {err:.2e}"


def test_jit_split_over_threads_is_bit_identical():
    """However the population is cut into per-thread ranges (more threads than prescriptors included),
    every prescriptor's outcomes are the same bits."""
    from leafctl.esp import cpu_fused_jit as jit

    seed = _seed()
    prob = _problem(seed, "nbcs", 7, 12, 20, 2, 450)
    t = cpu_fused._tables(prob, "jit")
    theta = prob.layout.init(np.random.default_rng(seed), 37)
    one = jit.outcome_means(t, theta, 1)
    for threads in (2, 3, 64):
        assert np.array_equal(jit.outcome_means(t, theta, threads), one), f"seed {seed}, {threads} threads"


def test_fused_means_refuses_bad_arguments():
    prob = _problem(_seed(), "nn", 4, 5, 6, 2, 40)
    theta = prob.layout.init(np.random.default_rng(0), 3)
    with pytest.raises(ValueError, match="numba kernel only"):
        cpu_fused.fused_means(prob, theta, block=64)
    with pytest.raises(ValueError, match="unknown kernel"):
        cpu_fused.fused_means(prob, theta, kernel="blas")
    with pytest.raises(ValueError, match="genes per prescriptor"):
        cpu_fused.fused_means(prob, theta[:, :-1])
