"""How near each search mode gets to the exact Pareto front, on domains where it is known.

Domains (tests/esp/domains.py): ``continuous`` (2 objectives), ``continuous3`` (3 objectives), both
solved exactly per context by a Lagrangian sweep; ``rhea`` (Cognizant's rhea-demo illustrative
domain, 10 binary actions, 11 exact front points). Measures:

- continuous: true hypervolume of the reported first front's prescriptions (their actions evaluated by
  the domain's own function) over the exact front's, per mode x budget, mean and min over seeds; with
  the learned surrogate (a real ``evolve`` run: MLP predictor, default seeding) and with the true
  function as the evaluator (optimiser loss alone); each with the front archive (the default,
  ``archive = 4``: what a run reports) and with the final population alone (``archive = 0``);
- rhea: exact front points reached (true function as evaluator), unseeded and seeded with RHEA's
  three partial experts, in the final population alone and with the front archive;
- ZDT1 / DTLZ2 (30 / 12 variables, P = 100, 100 generations = 10,000 evaluations): hypervolume of the
  esp step (permutation tournaments, NSGA-II survival without duplicates and with the last front
  pruned one member at a time: leafctl/esp/survival.py; SBX + polynomial mutation as pymoo's defaults)
  and of pymoo 0.6.2's NSGA-II, at equal evaluations.

    .venv/bin/python bench/esp_quality.py [--seeds 3] [--rhea-seeds 8] [--quick]

Prints a markdown table per measure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "esp"))

from domains import (Continuous, Rhea, TrueProblem, evolve_surrogate, evolve_true,  # noqa: E402
                     rhea_expert_genomes)

MODES = ("leaf", "nsga2", "esp")


def _stats(v: list[float], fmt: str = ".3f") -> str:
    return f"{np.mean(v):{fmt}} (min {np.min(v):{fmt}})"


def continuous_table(tmp: Path, seeds: int, budgets: list[tuple[int, int]], evaluators: list[str]) -> str:
    rows = ["| domain | evaluator | mode | " + " | ".join(f"P×G {p}×{g}" for p, g in budgets) + " |",
            "|---|---|---|" + "---|" * len(budgets)]
    for dom in (Continuous(), Continuous(three=True)):
        csv = dom.write_csv(tmp / f"{dom.name}.csv")
        for ev in evaluators:
            for archive in (4, 0):
                label = f"{ev}, " + ("population + archive" if archive else "population alone")
                for mode in MODES:
                    cells = []
                    for P, G in budgets:
                        vals = []
                        for s in range(seeds):
                            cfg = dom.config(csv, population=P, generations=G, seed=s, mode=mode, archive=archive)
                            if ev == "true":
                                theta, F, _ = evolve_true(dom, csv, cfg, archive=True)
                            else:
                                theta, F, _ = evolve_surrogate(dom, csv, cfg, tmp / f"{dom.name}-{mode}-{P}-{G}-{s}-{archive}")
                            vals.append(dom.hv_ratio(F))
                        cells.append(_stats(vals))
                        print(f"  {dom.name} {label} {mode} {P}x{G}: {cells[-1]}", file=sys.stderr, flush=True)
                    rows.append(f"| {dom.name} | {label} | `{mode}` | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def rhea_table(tmp: Path, seeds: int, G: int) -> str:
    dom = Rhea()
    csv = dom.write_csv(tmp / "rhea.csv")
    rows = ["| mode | unseeded: points per seed (mean) | unseeded, population + archive | "
            "seeded with RHEA's experts: points per seed (mean) |", "|---|---|---|---|"]
    for mode in MODES:
        plain, kept, seeded = [], [], []
        for s in range(seeds):
            cfg = dom.config(csv, population=100, generations=G, seed=s, mode=mode)
            plain.append(dom.points_found(evolve_true(dom, csv, cfg)[1]))
            kept.append(dom.points_found(evolve_true(dom, csv, cfg, archive=True)[1]))
            pb = TrueProblem(dom, csv, cfg.hidden)
            host = np.random.default_rng(1000 + s)
            theta0 = pb.layout.init(host, cfg.population)
            experts = rhea_expert_genomes(pb, host)
            theta0[:len(experts)] = experts
            seeded.append(dom.points_found(evolve_true(dom, csv, cfg, theta0)[1]))
        print(f"  rhea {mode}: {plain} {kept} {seeded}", file=sys.stderr, flush=True)
        rows.append(f"| `{mode}` | {plain} ({np.mean(plain):.1f}) of 11 | {kept} ({np.mean(kept):.1f}) of 11 | "
                    f"{seeded} ({np.mean(seeded):.1f}) of 11 |")
    return "\n".join(rows)


def _zdt1(X: np.ndarray) -> np.ndarray:
    f1 = X[:, 0]
    g = 1 + 9 * X[:, 1:].mean(1)
    return np.stack([f1, g * (1 - np.sqrt(f1 / g))], 1)


def _dtlz2(X: np.ndarray) -> np.ndarray:
    g = ((X[:, 2:] - 0.5) ** 2).sum(1)
    a, b = X[:, 0] * np.pi / 2, X[:, 1] * np.pi / 2
    return np.stack([(1 + g) * np.cos(a) * np.cos(b), (1 + g) * np.cos(a) * np.sin(b), (1 + g) * np.sin(a)], 1)


def benchmark_table(seeds: int) -> str:
    from leafctl.esp.nsga2 import hypervolume, rank_and_crowding
    from leafctl.esp.operators import esp_step, nsga2_step, real_vary
    from leafctl.esp.xp import DeviceRandom

    steps = {"esp": lambda r, X, G, rank, crowd, fn, vary: esp_step(r, X, G, rank, crowd, fn, vary, behaviour=lambda T: T),
             "nsga2": nsga2_step}
    rows = ["| problem | leafctl `esp` step | leafctl `nsga2` step | pymoo NSGA-II |", "|---|---|---|---|"]
    for name, fn, D, ref in (("ZDT1", _zdt1, 30, [1.1, 1.1]), ("DTLZ2", _dtlz2, 12, [1.1, 1.1, 1.1])):
        ours: dict[str, list[float]] = {k: [] for k in steps}
        theirs = []
        for s in range(seeds):
            for mode, step in steps.items():
                r = DeviceRandom(np, np.random.default_rng(s))
                X = r.host.random((100, D))
                G = fn(X)
                vary = real_vary(np.zeros(D), np.ones(D))
                for _ in range(99):  # the initial population is generation 1, as pymoo counts
                    rank, crowd = rank_and_crowding(G)
                    X, G = step(r.for_step(), X, G, rank, crowd, fn, vary)
                ours[mode].append(hypervolume(G, ref))
            theirs.append(_pymoo_hv(name, fn, D, ref, s))
        rows.append(f"| {name} | {_stats(ours['esp'], '.4f')} | {_stats(ours['nsga2'], '.4f')} | {_stats(theirs, '.4f')} |")
    return "\n".join(rows)


def _pymoo_hv(name: str, fn, D: int, ref: list[float], seed: int) -> float:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.optimize import minimize

    from leafctl.esp.nsga2 import hypervolume

    class P(Problem):
        def __init__(self):
            super().__init__(n_var=D, n_obj=len(ref), xl=0.0, xu=1.0)

        def _evaluate(self, x, out, *a, **k):
            out["F"] = fn(x)

    res = minimize(P(), NSGA2(pop_size=100), ("n_gen", 100), seed=seed, verbose=False)
    return hypervolume(res.F, ref)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rhea-seeds", type=int, default=8, help="seeds for the (fast, noisy) rhea domain")
    ap.add_argument("--quick", action="store_true", help="one budget (100x100), true evaluator only")
    args = ap.parse_args()
    t0 = time.time()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        budgets = [(100, 100)] if args.quick else [(100, 100), (200, 200)]
        evaluators = ["true"] if args.quick else ["true", "surrogate"]
        print("### Continuous domains: true hypervolume / exact front's (mean over seeds, min)\n")
        print(continuous_table(tmp, args.seeds, budgets, evaluators), "\n", flush=True)
        print("### rhea-demo illustrative domain (binary actions): exact points reached, P = 100, 100 "
              "generations, true function as evaluator\n")
        print(rhea_table(tmp, args.rhea_seeds, 100), "\n", flush=True)
        print("### ZDT1 / DTLZ2 at equal evaluations (P = 100, 100 generations): hypervolume\n")
        print(benchmark_table(args.seeds), "\n")
    print(f"({time.time() - t0:.0f} s, seeds {args.seeds}, rhea seeds {args.rhea_seeds})")


if __name__ == "__main__":
    main()
