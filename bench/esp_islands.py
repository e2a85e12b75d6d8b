"""The island model (leafctl/esp/islands.py): quality at equal evaluations, speed-up over MPI ranks,
and the cost of a migration.

1. Quality. On the campaign sample and on a synthetic ESP table (16 context features, 4 continuous
   actions, 2 outcomes: a nonlinear gain to maximise and a context-dependent spend to minimise),
   4 islands of P/4 against one population of P for the same generations: with elites scaled alike
   (5%) every generation evaluates the same number of children, so the evaluation budgets are equal.
   The final fronts of both are scored on one scale: each objective normalised by the ideal and nadir
   of both runs' final populations together, reference point 1.1. Several seeds.
2. Speed. The synthetic table at P = N = 2000 (2 islands of 1000, 2000 contexts): one process running
   both islands in turn vs ``mpiexec -n 2`` (one island per rank; same bytes out, checked). Median
   wall seconds per generation from progress.jsonl (start-up and surrogate training excluded). The one
   process is timed with the engine's default evaluation threads (one per CPU) and with one thread.
3. Migration: seconds per migration (allgather of the migrants + replacement) under mpiexec -n 2.

    .venv/bin/python bench/esp_islands.py [--seeds 3] [--generations 50] [--speed-generations 6]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

from leafctl.esp.engine import EvolveConfig, dump_config, evolve
from leafctl.esp.nsga2 import hypervolume, nondominated_rank, to_minimised
from leafctl.esp.samples import sample_config

PY = sys.executable
MPIEXEC = str(Path(PY).parent / "mpiexec")


def synthetic_table(path: Path, rows: int = 4000, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(rows, 16))
    A = rng.uniform(0, 1, size=(rows, 4))
    W, V = rng.normal(size=(16, 4)), rng.normal(size=16)
    gain = (np.sin(C @ W) * A).sum(1) - 0.5 * ((A - 0.5) ** 2).sum(1) + rng.normal(0, 0.05, rows)
    spend = A.sum(1) * (1 + 0.5 * np.tanh(C @ V / 4)) + rng.normal(0, 0.05, rows)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f"c{i}" for i in range(16)] + [f"a{i}" for i in range(4)] + ["gain", "spend"])
        w.writerows(np.concatenate([C, A, gain[:, None], spend[:, None]], axis=1).round(6).tolist())
    return path


def synthetic_config(data: Path, **kw) -> EvolveConfig:
    return EvolveConfig(data=str(data), context=[f"c{i}" for i in range(16)], actions=[f"a{i}" for i in range(4)],
                        outcomes=["gain", "spend"], objectives=["gain:max", "spend:min"], hidden=32,
                        predictor_hidden=64, device="cpu", **kw).validate()


def common_hv(runs: list[np.ndarray], senses: list[str]) -> list[float]:
    """Hypervolume of each run's first front, all normalised by the same ideal and nadir."""
    Gs = [to_minimised(F, senses) for F in runs]
    allG = np.concatenate(Gs)
    allG = allG[np.all(np.isfinite(allG), axis=1)]
    ideal, nadir = allG.min(0), allG.max(0)
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    return [hypervolume((G[nondominated_rank(G) == 1] - ideal) / span, [1.1] * G.shape[1]) for G in Gs]


def quality(name: str, make, tmp: Path, seeds: int, gens: int, total: int = 240, K: int = 10, M: int = 2) -> list[str]:
    lines = []
    one_hv, isl_hv = [], []
    for seed in range(seeds):
        one = evolve(make(population=total, elites=total // 20, generations=gens, seed=seed), tmp / f"{name}-one-{seed}")
        isl = evolve(make(population=total // 4, elites=max(1, total // 80), generations=gens, seed=seed,
                          islands=4, migrate_every=K, migrants=M), tmp / f"{name}-isl-{seed}")
        senses = [s for _, s in one.objectives]
        a, b = common_hv([one.F, isl.F], senses)
        one_hv.append(a)
        isl_hv.append(b)
        lines.append(f"| {name} | {seed} | {a:.4f} | {b:.4f} |")
    lines.append(f"| {name} | mean | {statistics.mean(one_hv):.4f} | {statistics.mean(isl_hv):.4f} |")
    return lines


def job(cfg_path: Path, out: Path, n: int = 0, threads: str | None = None) -> float:
    argv = [PY, "-m", "leafctl.esp.job", str(cfg_path), str(out)]
    if n:
        argv = [MPIEXEC, "-n", str(n), *argv]
    env = dict(os.environ)
    if threads is not None:
        env["LEAFCTL_ESP_THREADS"] = threads
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def progress(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "progress.jsonl").read_text().splitlines()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--generations", type=int, default=50)
    ap.add_argument("--speed-generations", type=int, default=6)
    ap.add_argument("--population", type=int, default=2000, help="total, split over the 2 islands")
    ap.add_argument("--contexts", type=int, default=2000)
    ap.add_argument("--part", choices=("all", "quality", "speed"), default="all")
    ap.add_argument("--migrate-every", type=int, default=10, help="K of the quality runs")
    ap.add_argument("--migrants", type=int, default=2, help="M of the quality runs")
    a = ap.parse_args()
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    print(f"machine: {os.cpu_count()} CPUs, python {platform.python_version()}, numpy {np.__version__}; "
          f"load average at start {' '.join(load)}")
    tmp = Path(tempfile.mkdtemp(prefix="esp-islands-"))
    data = synthetic_table(tmp / "synthetic.csv", rows=max(4000, a.contexts))

    if a.part in ("all", "quality"):
        print(f"\n{a.generations} generations; islands: K = {a.migrate_every}, M = {a.migrants}")
        print("| workload | seed | one population of 240: HV | 4 islands of 60: HV |\n|---|---|---|---|")
        camp = lambda **kw: sample_config("campaign", device="cpu", contexts_sample=500, **kw)  # noqa: E731
        synth = lambda **kw: synthetic_config(data, contexts_sample=500, **kw)  # noqa: E731
        for name, make in (("campaign", camp), ("synthetic", synth)):
            for line in quality(name, make, tmp, a.seeds, a.generations, K=a.migrate_every, M=a.migrants):
                print(line, flush=True)
    if a.part == "quality":
        return

    cfg = synthetic_config(data, population=a.population // 2, elites=a.population // 200,
                           generations=a.speed_generations, contexts_sample=a.contexts, seed=1,
                           islands=2, migrate_every=2, migrants=2)
    dump_config(cfg, tmp / "speed.toml")
    wall = {}
    wall["1 process, default threads"] = job(tmp / "speed.toml", tmp / "p1")
    wall["1 process, 1 thread"] = job(tmp / "speed.toml", tmp / "p1t", threads="1")
    wall["mpiexec -n 2"] = job(tmp / "speed.toml", tmp / "p2", n=2)
    same = (tmp / "p1/pareto.csv").read_bytes() == (tmp / "p2/pareto.csv").read_bytes()
    per_gen = {k: statistics.median(r["seconds"] for r in progress(tmp / d)[1:])
               for k, d in zip(wall, ("p1", "p1t", "p2"))}
    print(f"\nP = {a.population} (2 islands of {a.population // 2}), N = {a.contexts} contexts, "
          f"{a.speed_generations} generations; pareto.csv identical 1 process vs 2 ranks: {same}")
    print("| run | median s/generation | whole job wall s |\n|---|---|---|")
    for k in wall:
        print(f"| {k} | {per_gen[k]:.3f} | {wall[k]:.1f} |")
    base = per_gen["mpiexec -n 2"]
    print(f"speed-up of 2 ranks per generation: {per_gen['1 process, default threads'] / base:.2f}x over one "
          f"process with threads, {per_gen['1 process, 1 thread'] / base:.2f}x over one thread")
    recs = progress(tmp / "p2")[1:]
    mig = [r["migration_seconds"] for r in recs if r["migration_seconds"] is not None]
    with np.load(tmp / "p2/population.npz") as z:
        D = z["theta"].shape[1]
    # migration_seconds also absorbs the wait for the slower rank (the exchange is the generation's
    # first collective), so the difference between generations with and without one is shown too.
    with_m = statistics.median(r["seconds"] for r in recs if r["migration_seconds"] is not None)
    without = statistics.median(r["seconds"] for r in recs if r["migration_seconds"] is None)
    print(f"migration (2 ranks, {cfg.migrants} migrants of D={D} genes each way): migration_seconds median "
          f"{statistics.median(mig) * 1e3:.2f} ms over {len(mig)} migrations; generation with a migration "
          f"{with_m:.3f} s vs without {without:.3f} s (difference {(with_m - without) * 1e3:+.1f} ms)")
    with open("/proc/loadavg") as fh:
        print(f"load average at end {' '.join(fh.read().split()[:3])}")


if __name__ == "__main__":
    main()
