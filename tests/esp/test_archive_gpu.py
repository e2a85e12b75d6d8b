"""The front archive on CuPy (GPU only; bench/gpu_check.sh runs every tests/esp/test_*gpu*.py with
LEAFCTL_REQUIRE_GPU=1). The NumPy checks and the strict host stand-in are in test_archive.py."""

from __future__ import annotations

import numpy as np
import pytest

from leafctl.esp import archive

from .gpu_required import cupy_on_a_device
from .test_archive import MIN3, _generations, _minimise

cp, gpu = cupy_on_a_device()


@gpu
@pytest.mark.gpu
def test_the_archive_on_cupy_keeps_what_the_numpy_archive_keeps():
    pops = _generations(np.random.default_rng(5), n_gen=6, P=40)
    want = archive.empty(pops[0][0][:0], pops[0][1][:0])
    got = archive.empty(cp.asarray(pops[0][0][:0]), cp.asarray(pops[0][1][:0]))
    for theta, F in pops:
        want = archive.update(want, theta, F, _minimise(MIN3), cap=30)
        got = archive.update(got, cp.asarray(theta), cp.asarray(F), _minimise(MIN3), cap=30)
    assert all(isinstance(a, cp.ndarray) for a in got)
    G, W = cp.asnumpy(got[1]), want[1]
    # The same members; a distance the GPU sums in another order may break a tie the other way, so
    # allow a few to differ, but never the size, the extremes or non-domination.
    assert G.shape == W.shape
    same = sum(bool((W == g).all(axis=1).any()) for g in G)
    assert same >= 0.9 * len(W), (same, len(W))
    np.testing.assert_array_equal(G.min(axis=0), W.min(axis=0))
    seen = np.concatenate([F for _, F in pops])
    for g in G:
        assert not (np.all(seen <= g, axis=1) & np.any(seen < g, axis=1)).any()
    T, _ = archive.with_population(got, cp.asarray(pops[-1][0]), cp.asarray(pops[-1][1]))
    assert isinstance(T, cp.ndarray) and T.shape[0] > 40
