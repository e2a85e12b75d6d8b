"""On a CUDA device: the fused kernel decodes integer and simplex actions as NumPy does, and a
constrained run ranks by constrained domination there too (skipped without CuPy and a device; under
LEAFCTL_REQUIRE_GPU=1 these fail instead, see gpu_required.py). The CPU-only checks of the same kernel
source are in test_actions_gpu_host.py."""

from __future__ import annotations

import numpy as np
import pytest

from leafctl.esp import actions
from leafctl.esp.data import ColumnSpec
from leafctl.esp.evaluate import Problem
from leafctl.esp.predictor import Predictor
from leafctl.esp.prescriptor import Layout, cost_table

from .gpu_required import cupy_on_a_device


cp, gpu = cupy_on_a_device()


def _problem(xp, seed: int) -> Problem:
    rng = np.random.default_rng(seed)
    specs = [ColumnSpec("a", "numeric", mean=0.3, std=0.2, lo=0.0, hi=1.0),
             ColumnSpec("n", "numeric", mean=4.0, std=2.0, lo=0.0, hi=9.0, integer=True),
             ColumnSpec("b", "numeric", mean=0.3, std=0.2, lo=0.0, hi=1.0),
             ColumnSpec("c", "numeric", mean=0.3, std=0.2, lo=0.0, hi=1.0)]
    acts = actions.apply(specs, simplex=[{"columns": ["a", "b", "c"], "total": 1.0}])
    C, PH = 8, 32
    layout = Layout(C, 16, acts)
    A = layout.n_out
    pred = Predictor("mlp", rng.normal(0, 0.3, (C + A, PH)), rng.normal(0, 0.1, PH),
                     rng.normal(0, 0.3, (PH, 2)), rng.normal(0, 1, 2))
    return Problem(layout, pred, rng.normal(size=(300, C)), ["y0", "y1"],
                   [("y0", "max"), ("y1", "min"), ("action_cost", "min")], cost_table(acts, None), xp=xp)


@gpu
@pytest.mark.gpu
def test_gpu_fused_integer_and_simplex_match_numpy():
    cpu, dev = _problem(np, 7), _problem(cp, 7)
    theta = cpu.layout.init(np.random.default_rng(3), 64)
    want = cpu.outcome_means(theta)
    got = cp.asnumpy(dev.outcome_means(cp.asarray(theta)))
    # an integer value within float32 rounding of a half may round either way: compare per prescriptor,
    # nearly all must agree to 1e-4
    close = np.isclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max()).all(axis=1)
    assert close.mean() >= 0.95, np.abs(got - want).max()


@gpu
@pytest.mark.gpu
def test_gpu_constrained_run_front_is_feasible(tiny_config, tmp_path):
    from leafctl.esp.engine import evolve

    tiny_config.device = "gpu"
    tiny_config.objectives = [("revenue", "max"), ("margin", "max")]
    tiny_config.constraints = ["margin<=60", "emails<=6"]
    res = evolve(tiny_config, tmp_path / "run")
    assert (res.cv[res.rank == 1] == 0).all() and (res.cv == 0).any()
