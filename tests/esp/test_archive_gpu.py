"""The front archive on CuPy (GPU only; bench/gpu_check.sh runs every tests/esp/test_*gpu*.py with
LEAFCTL_REQUIRE_GPU=1). The NumPy checks and the strict host stand-in are in test_archive.py."""

from __future__ import annotations

import numpy as np
import pytest

from leafctl.esp import archive

from .gpu_required import cupy_on_a_device
from .test_archive import _generations, archived, assert_a_full_archive

cp, gpu = cupy_on_a_device()


@gpu
@pytest.mark.gpu
def test_the_archive_on_cupy_keeps_what_the_numpy_archive_keeps():
    pops = _generations(np.random.default_rng(5), n_gen=6, P=40)
    *_, (want, _) = archived(pops, cap=30)
    *_, (got, seen) = archived(pops, cap=30, on=cp.asarray)
    assert all(isinstance(a, cp.ndarray) for a in got)
    G, W = cp.asnumpy(got[1]), want[1]
    # The same members; a distance the GPU sums in another order may break a tie the other way, so
    # allow a few to differ, but never the size or non-domination.
    assert_a_full_archive(G, seen, 30)
    same = sum(bool((W == g).all(axis=1).any()) for g in G)
    assert G.shape == W.shape and same >= 0.9 * len(W), (same, len(W))
    T, _ = archive.with_population(got, cp.asarray(pops[-1][0]), cp.asarray(pops[-1][1]))
    assert isinstance(T, cp.ndarray) and T.shape[0] > 40
