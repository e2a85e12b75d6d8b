"""CPU seconds per generation of the ESP workload: leafctl's engine vs the same evaluation driven by
pymoo's NSGA-II, in one run.

Workload: C=16 context features, H=32 prescriptor hidden units, A=4 continuous actions, predictor MLP
with 64 hidden units, 2 outcomes as 2 objectives, P=1000 prescriptors x N=1000 contexts.
pymoo calls the very same ``Problem.evaluate`` on its whole population through ``_evaluate``.
Times are process CPU seconds (``time.process_time``, all threads), medians over generations, so
other processes on a shared machine disturb them less than wall-clock time would.

    .venv/bin/python bench/esp_generation.py [--generations 5] [--population 1000] [--contexts 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

# As leafctl.esp.job does: single-threaded BLAS under the engine's own evaluation threads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

from leafctl.esp.data import ColumnSpec
from leafctl.esp.evaluate import Problem
from leafctl.esp.nsga2 import rank_and_crowding, to_minimised
from leafctl.esp.operators import leaf_step, leaf_vary, nsga2_step
from leafctl.esp.predictor import Predictor
from leafctl.esp.prescriptor import Layout, cost_table
from leafctl.esp.xp import DeviceRandom


def make_problem(N: int, seed: int = 0, xp=np) -> Problem:
    rng = np.random.default_rng(seed)
    C, H, PH = 16, 32, 64
    acts = [ColumnSpec(f"a{i}", "numeric", mean=0.5, std=0.3, lo=0.0, hi=1.0) for i in range(4)]
    layout = Layout(C, H, acts)
    pred = Predictor("mlp", rng.normal(0, 0.3, (C + 4, PH)), rng.normal(0, 0.1, PH),
                     rng.normal(0, 0.3, (PH, 2)), np.zeros(2))
    return Problem(layout, pred, rng.normal(size=(N, C)), ["y0", "y1"], [("y0", "max"), ("y1", "min")],
                   cost_table(acts, {}), xp=xp)


def time_leafctl(prob: Problem, P: int, gens: int, mode: str, clock=time.process_time) -> float:
    """Median seconds of one generation (``clock``: CPU time by default, the machine may be shared)."""
    host = np.random.default_rng(1)
    rng = DeviceRandom(np, host)
    theta = prob.layout.init(host, P)
    F = prob.evaluate(theta)
    vary = leaf_vary(0.1, 0.1)
    minimise = lambda F_: to_minimised(F_, prob.senses)  # noqa: E731
    times = []
    for _ in range(gens):
        t0 = clock()
        rank, crowd = rank_and_crowding(minimise(F))
        if mode == "leaf":
            theta, F = leaf_step(rng.for_step(), theta, F, rank, crowd, prob.evaluate, vary, 10, 0.8)
        else:
            theta, F = nsga2_step(rng.for_step(), theta, F, rank, crowd, prob.evaluate, vary, minimise)
        times.append(clock() - t0)
    return float(np.median(times))  # medians: the machine may be shared


def time_pymoo(prob: Problem, P: int, gens: int) -> tuple[float, float]:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem as PymooProblem
    from pymoo.optimize import minimize

    D = prob.layout.D
    evals = []

    class ESP(PymooProblem):
        def __init__(self):
            super().__init__(n_var=D, n_obj=2, xl=-3.0, xu=3.0)

        def _evaluate(self, X, out, *args, **kwargs):
            t = time.process_time()
            out["F"] = to_minimised(prob.evaluate(X.astype(np.float32)), prob.senses)
            evals.append(time.process_time() - t)

    times = []

    def callback(algorithm):
        times.append(time.process_time())

    minimize(ESP(), NSGA2(pop_size=P), ("n_gen", gens + 1), seed=1, callback=callback, verbose=False)
    per_gen = float(np.median(np.diff(times)))
    return per_gen, float(np.median(evals[1:]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generations", type=int, default=7)
    ap.add_argument("--population", type=int, default=1000)
    ap.add_argument("--contexts", type=int, default=1000)
    a = ap.parse_args()
    prob = make_problem(a.contexts)
    P = a.population
    theta = prob.layout.init(np.random.default_rng(0), P)
    prob.evaluate(theta)  # warm-up (BLAS threads, page faults)
    ev = []
    for _ in range(5):
        t = time.process_time()
        prob.evaluate(theta)
        ev.append(time.process_time() - t)
    eval_s = float(np.median(ev))
    leaf = time_leafctl(prob, P, a.generations, "leaf")
    nsga = time_leafctl(prob, P, a.generations, "nsga2")
    pym, pym_eval = time_pymoo(prob, P, a.generations)
    print(f"machine: {os.cpu_count()} CPUs, python {platform.python_version()}, numpy {np.__version__}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"P={P} N={a.contexts} D={prob.layout.D}; evaluation of P candidates: {eval_s:.3f} s")
    print(f"leafctl leaf mode : {leaf:.3f} s/generation ({leaf / pym:.2f}x pymoo)")
    print(f"leafctl nsga2 mode: {nsga:.3f} s/generation ({nsga / pym:.2f}x pymoo)")
    print(f"pymoo NSGA2       : {pym:.3f} s/generation (of which evaluation {pym_eval:.3f} s)")


if __name__ == "__main__":
    main()
