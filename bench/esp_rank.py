"""Rank + crowding of 20,000 random points (2 and 3 objectives): leafctl vs pymoo, in one run.

pymoo: ``NonDominatedSorting().do(F)`` (its compiled default when pymoo's extensions are built) plus
``calc_crowding_distance`` on every front. leafctl: ``rank_and_crowding(F)``. Both results are checked
equal (pymoo's crowding divides by the number of objectives; leafctl's, like LEAF's, does not; pymoo
gives a one-point front crowding 0 where LEAF gives inf).

    .venv/bin/python bench/esp_rank.py [--n 20000] [--repeat 3]

Times are process CPU seconds, best of ``--repeat`` (the first pymoo call also pays one-off set-up).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from leafctl.esp.nsga2 import rank_and_crowding


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
    return best, out


def pymoo_rank_crowding(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    fronts = NonDominatedSorting().do(F)
    rank = np.empty(len(F), dtype=int)
    cd = np.empty(len(F))
    for i, f in enumerate(fronts):
        rank[f] = i + 1
        cd[f] = calc_crowding_distance(F[f])
    return rank, cd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    from pymoo.functions import is_compiled

    print(f"pymoo compiled extensions: {is_compiled()}")
    for k in (2, 3):
        F = np.random.default_rng(k).random((a.n, k))
        ours, (r1, c1) = best_of(lambda: rank_and_crowding(F), a.repeat)
        theirs, (r2, c2) = best_of(lambda: pymoo_rank_crowding(F), a.repeat)
        assert np.array_equal(r1, r2), "ranks differ"
        # pymoo gives a one-point front crowding 0; LEAF (and leafctl) give it inf: compare the rest.
        multi = np.bincount(r1)[r1] > 1
        fin = np.isfinite(c2) & multi
        assert np.allclose(c1[fin], c2[fin] * k), "crowding differs"
        assert np.array_equal(np.isinf(c1[multi]), ~np.isfinite(c2[multi])), "crowding differs"
        print(f"n={a.n} k={k}: leafctl {ours:.3f} s, pymoo {theirs:.3f} s "
              f"(leafctl/pymoo = {ours / theirs:.2f}), fronts {r1.max()}")


if __name__ == "__main__":
    main()
