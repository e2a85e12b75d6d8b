"""History mutation and blend crossover on CuPy (GPU only; bench/gpu_check.sh runs every
tests/esp/test_*gpu*.py with LEAFCTL_REQUIRE_GPU=1). The NumPy checks and the strict host stand-in are
in test_history_mutation.py and test_quality.py."""

from __future__ import annotations

import numpy as np
import pytest

from leafctl.esp import operators as ops
from leafctl.esp import prescriptor as presc
from leafctl.esp import seeding
from leafctl.esp.xp import DeviceRandom

from .gpu_required import cupy_on_a_device
from .test_history_mutation import _decoded, _setup, _table

cp, gpu = cupy_on_a_device()


@gpu
@pytest.mark.gpu
def test_history_and_blend_crossover_on_cupy_keep_their_promises(tmp_path):
    # CuPy draws its own random numbers (DeviceRandom.for_step), so the check is of what the operators
    # promise, not of equal values: one context takes a donor row's actions, the others keep theirs.
    ds, layout, contexts, _ = _setup(_table(tmp_path / "t.csv", 8), 16)
    Xc, T = seeding.history(layout, ds)
    donors, counts = ops.history_donors(cp.asarray(contexts), cp.asarray(Xc), cp.asarray(T))
    assert isinstance(donors, cp.ndarray) and cp.asnumpy(counts).tolist() == [12] * 8
    theta = layout.init(np.random.default_rng(1), 200)
    rng = DeviceRandom(cp, np.random.default_rng(2)).for_step()
    got = ops.history_mutation(rng, cp.asarray(theta), layout, cp.asarray(contexts), donors, counts, 1.0)
    assert isinstance(got, cp.ndarray)
    before, after = _decoded(theta, contexts, layout), _decoded(cp.asnumpy(got), contexts, layout)
    tol = 1e-3 * np.array([a.hi - a.lo if a.kind == "numeric" else 1 for a in layout.actions])
    moved = np.any(np.abs(before - after) > tol, axis=2)
    assert (moved.sum(1) <= 1).mean() >= 0.99 and moved.sum() > 150
    own = _decoded_rows(T, layout)
    for p, c in zip(*np.nonzero(moved)):
        rows = own[np.all(Xc == contexts[c], axis=1)]
        assert np.any(np.all(np.abs(rows - after[p, c]) <= tol, axis=1)), (p, c)
    A, B = cp.zeros((500, 40), cp.float32), cp.ones((500, 40), cp.float32)
    C = cp.asnumpy(ops.blend_crossover(rng, A, B))
    assert C.min() >= -0.25 and C.max() <= 1.25 and abs(C.mean() - 0.5) < 0.02


def _decoded_rows(T, layout):
    return presc.decode(T.astype(np.float32), layout, np.zeros(layout.n_out, np.float32), np)[0]
