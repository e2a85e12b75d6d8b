"""NSGA-II rank, crowding, sort key and hypervolume against LEAF's oracles and pymoo."""

from __future__ import annotations

import numpy as np
import pytest

from leafctl.esp.nsga2 import (crowding_distance, hypervolume, nondominated_rank, rank_and_crowding,
                               sort_key, to_minimised)

from .conftest import random_front_data

INF = np.inf


def test_leaf_rank_oracle_score_max_steps_min():
    F = np.array([(4, 2), (2, 4), (6, 1), (5, 3), (8, 2)], dtype=float)
    G = to_minimised(F, ["max", "min"])
    assert nondominated_rank(G).tolist() == [2, 3, 1, 2, 1]
    assert nondominated_rank(G, method="chunked").tolist() == [2, 3, 1, 2, 1]


def test_leaf_crowding_oracle_line_both_maximised():
    F = np.array([(i, 7 - i) for i in range(1, 7)], dtype=float)
    G = to_minimised(F, ["max", "max"])
    rank = nondominated_rank(G)
    assert rank.tolist() == [1] * 6
    np.testing.assert_allclose(crowding_distance(G, rank), [INF, 0.8, 0.8, 0.8, 0.8, INF])


def test_three_identical_points():
    G = np.ones((3, 2))
    rank = nondominated_rank(G)
    assert rank.tolist() == [1, 1, 1]
    assert crowding_distance(G, rank).tolist() == [INF, 0.0, INF]


@pytest.mark.parametrize("n", [1, 2])
def test_small_fronts_are_all_infinite(n):
    G = np.array([[0.0, 1.0], [1.0, 0.0]])[:n]
    assert np.all(np.isinf(crowding_distance(G, nondominated_rank(G))))


def test_zero_span_objective_contributes_nothing():
    # One front of four points; the third objective is constant (zero span): adds 0, no division.
    H = np.array([[0, 3, 1], [1, 2, 1], [2, 1, 1], [3, 0, 1]], dtype=float)
    cd = crowding_distance(H, nondominated_rank(H))
    np.testing.assert_allclose(cd, [INF, 4 / 3, 4 / 3, INF])


def test_nan_and_inf_are_worst():
    F = np.array([[10.0, 1.0], [np.nan, 5.0], [5.0, 5.0], [np.inf, 9.0], [1.0, 1.0]])
    G = to_minimised(F, ["max", "max"])  # +inf when maximised is still non-finite: worst
    rank = nondominated_rank(G)
    assert rank[1] == rank[3] == rank.max()
    assert rank[1] > rank[[0, 2, 4]].max()
    order = sort_key(rank, crowding_distance(G, rank))
    assert set(order[-2:].tolist()) == {1, 3}


def test_sign_flip_in_one_place():
    G = to_minimised(np.array([[1.0, 2.0]]), ["max", "min"])
    assert G.tolist() == [[-1.0, 2.0]]


def test_sort_key_rank_then_crowding_desc():
    rank = np.array([2, 1, 1, 1, 2])
    crowd = np.array([INF, 0.5, INF, 0.7, 0.1])
    assert sort_key(rank, crowd).tolist() == [2, 3, 1, 0, 4]


@pytest.mark.parametrize("k", [2, 3, 4])
def test_chunked_equals_unchunked_with_ties_and_duplicates(k):
    rng = np.random.default_rng(k)
    for _ in range(5):
        F = random_front_data(rng, 300, k)
        want = _brute_rank(F)
        assert nondominated_rank(F, method="chunked", block_elems=1000).tolist() == want.tolist()
        assert nondominated_rank(F, method="chunked", block_elems=10**9).tolist() == want.tolist()
        assert nondominated_rank(F, method="ens").tolist() == want.tolist()
        from leafctl.esp.nsga2 import _lex_unique, _rank_ens
        order, U, group = _lex_unique(np, F)
        got = np.zeros(len(F), int)
        got[order] = _rank_ens(np, U, block=7)[group]  # tiny blocks: many in-block and cross-block cases
        assert got.tolist() == want.tolist()
        if k == 2:
            assert nondominated_rank(F, method="sort2d").tolist() == want.tolist()


def _brute_rank(F: np.ndarray) -> np.ndarray:
    """Definition: peel the non-dominated set with a dense comparison (reference only)."""
    n = len(F)
    le = np.all(F[:, None] <= F[None], axis=2)
    lt = np.any(F[:, None] < F[None], axis=2)
    dom = le & lt
    rank = np.zeros(n, int)
    left = np.ones(n, bool)
    r = 1
    while left.any():
        cnt = dom[np.ix_(left, left)].sum(0)
        idx = np.nonzero(left)[0][cnt == 0]
        rank[idx] = r
        left[idx] = False
        r += 1
    return rank


def test_rank_and_crowding_match_pymoo():
    pymoo = pytest.importorskip("pymoo")  # noqa: F841
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    rng = np.random.default_rng(0)
    for k in (2, 3):
        F = rng.random((500, k))
        fronts = NonDominatedSorting().do(F)
        want = np.zeros(len(F), int)
        for i, f in enumerate(fronts):
            want[f] = i + 1
        rank = nondominated_rank(F)
        assert rank.tolist() == want.tolist()
        cd = crowding_distance(F, rank)
        for f in fronts[:3]:
            np.testing.assert_allclose(np.sort(cd[f]), np.sort(calc_crowding_distance(F[f]) * k), rtol=1e-9)


def test_hypervolume_2d_and_3d_exact():
    assert hypervolume(np.array([[0, 1], [1, 0], [0.5, 0.5]]), [1.1, 1.1]) == pytest.approx(0.46)
    assert hypervolume(np.array([[0.5, 0.5], [2, 2]]), [1, 1]) == pytest.approx(0.25)
    assert hypervolume(np.array([[0, 1, 0.5], [1, 0, 0.5], [0.5, 0.5, 0.5]]), [1, 1, 1]) == pytest.approx(0.125)
    # 3-D against inclusion-exclusion of two boxes
    P = np.array([[0.2, 0.5, 0.4], [0.5, 0.2, 0.1]])
    a = np.prod(1 - P[0]); b = np.prod(1 - P[1]); ab = np.prod(1 - np.maximum(P[0], P[1]))
    assert hypervolume(P, [1, 1, 1]) == pytest.approx(a + b - ab)


def test_hypervolume_3d_matches_pymoo():
    pytest.importorskip("pymoo")
    from pymoo.indicators.hv import HV

    rng = np.random.default_rng(1)
    P = rng.random((40, 3))
    assert hypervolume(P, [1.1, 1.1, 1.1]) == pytest.approx(HV(ref_point=np.array([1.1] * 3))(P), rel=1e-9)


def test_large_population_does_not_need_dense_matrix():
    rng = np.random.default_rng(0)
    F = rng.random((100_000, 2))
    rank, cd = rank_and_crowding(F)
    assert rank.min() == 1 and cd.shape == (100_000,)


def test_prefix_min_scan_used_on_gpu_matches_accumulate():
    import types

    from leafctl.esp.nsga2 import _prefix_min

    fake = types.SimpleNamespace(minimum=np.minimum)  # not numpy: takes the Hillis-Steele branch
    v = np.random.default_rng(0).random(1000)
    np.testing.assert_array_equal(_prefix_min(fake, v), np.minimum.accumulate(v))
