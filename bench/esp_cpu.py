"""CPU evaluation near the machine's limit: the sgemm ceiling, the NumPy path, the two fused kernels
(the shape-specialised LLVM one Problem uses, and the generic numba one it replaced; each cold and warm)
and pymoo driving a plain NumPy evaluation, all in one run.

Workload (as bench/esp_generation.py): C=16 context features, H=32 prescriptor hidden units, A=4
continuous actions, a predictor MLP with 64 hidden units, 2 outcomes, P prescriptors x N contexts.

FLOPs of one evaluation (``cpu_fused.flops``): multiply-adds x 2 of the work both paths do, per
(prescriptor, context) 2 (C*H + H*A + A*PH) = 1792, plus 2 PH O per prescriptor (the last layer, once,
on the mean); tanh, decoding and ReLU are not counted. The ceiling is a float32 matmul of 4096^2
through NumPy's BLAS on every core, best of k, measured in the same run (the machine is shared: the
load average is printed with it). Times are wall clock: best and median of k runs.

    .venv/bin/python bench/esp_cpu.py [--population 1000] [--contexts 1000] [--generations 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esp_generation import make_problem, time_leafctl  # noqa: E402

from leafctl.esp import cpu_fused  # noqa: E402
from leafctl.esp.nsga2 import to_minimised  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def best_median(fn, k: int) -> tuple[float, float]:
    """(best, median) wall seconds of k calls; CPU seconds (all threads) of the best call in _LAST_CPU."""
    ts, cpu = [], []
    for _ in range(k):
        c, t = time.process_time(), time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    _LAST_CPU[0] = float(np.min(cpu))
    return min(ts), float(np.median(ts))


_LAST_CPU = [0.0]


def sgemm_ceiling(n: int, k: int) -> tuple[float, float]:
    """FLOP/s of an n x n x n float32 matmul through NumPy's BLAS, all cores, best of k: per wall
    second, and per CPU second (all threads; what other processes on a shared machine disturb less)."""
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    with threadpool_limits(limits=os.cpu_count() or 1, user_api="blas"):
        a @ b
        best, _ = best_median(lambda: a @ b, k)
    return 2.0 * n ** 3 / best, 2.0 * n ** 3 / _LAST_CPU[0]


_FIRST_CALL = r"""
import sys, time, json
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1] + "/bench"); sys.path.insert(0, sys.argv[1])
import numpy as np
from esp_generation import make_problem
from leafctl.esp import cpu_fused
prob = make_problem(int(sys.argv[3]))
theta = prob.layout.init(np.random.default_rng(0), int(sys.argv[2]))
t1 = time.perf_counter()
cpu_fused.fused_means(prob, theta, kernel=sys.argv[4])
t2 = time.perf_counter()
cpu_fused.fused_means(prob, theta, kernel=sys.argv[4])
t3 = time.perf_counter()
res = {"setup_s": t1 - t0, "first_s": t2 - t1, "second_s": t3 - t2}
if sys.argv[4] == "jit":
    from leafctl.esp import cpu_fused_jit
    res["compile_s"] = sum(cpu_fused_jit.compile_seconds.values())
print(json.dumps(res))
"""


def first_call(P: int, N: int, cache_dir: str, kernel: str) -> dict[str, float]:
    """A fresh process's first fused evaluation (import + compile, or numba's cache load, + run)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    p = subprocess.run([sys.executable, "-c", _FIRST_CALL, str(REPO), str(P), str(N), kernel], capture_output=True,
                       text=True, env=env, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def leafctl_generation(prob, P: int, gens: int, mode: str) -> float:
    """Median seconds of one generation (esp_generation's loop) on the wall clock: the fused path
    spreads a generation over threads, whose CPU times process time would add up."""
    return time_leafctl(prob, P, gens, mode, clock=time.perf_counter)


def pymoo_generation(prob, P: int, gens: int) -> tuple[float, float]:
    from pymoo.algorithms.moo.nsga2 import NSGA2  # noqa: PLC0415
    from pymoo.core.problem import Problem as PymooProblem  # noqa: PLC0415
    from pymoo.optimize import minimize  # noqa: PLC0415

    evals: list[float] = []
    stamps: list[float] = []

    class ESP(PymooProblem):
        def __init__(self):
            super().__init__(n_var=prob.layout.D, n_obj=2, xl=-3.0, xu=3.0)

        def _evaluate(self, X, out, *args, **kwargs):
            t = time.perf_counter()
            out["F"] = to_minimised(prob.evaluate(X.astype(np.float32)), prob.senses)
            evals.append(time.perf_counter() - t)

    minimize(ESP(), NSGA2(pop_size=P), ("n_gen", gens + 1), seed=1, verbose=False,
             callback=lambda algorithm: stamps.append(time.perf_counter()))
    return float(np.median(np.diff(stamps))), float(np.median(evals[1:]))


def set_fused(on: bool) -> None:
    os.environ["LEAFCTL_ESP_FUSED"] = "1" if on else "0"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--population", type=int, default=1000)
    ap.add_argument("--contexts", type=int, default=1000)
    ap.add_argument("--generations", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    # As leafctl.esp.job does: single-threaded BLAS under the engine's own threads (the NumPy path's
    # pool, numba's prange); the ceiling lifts the limit for its own matmul.
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    P, N, k = a.population, a.contexts, a.repeats
    model = next((ln.split(":", 1)[1].strip() for ln in subprocess.run(["lscpu"], capture_output=True,
                  text=True).stdout.splitlines() if ln.startswith("Model name")), platform.processor())
    res: dict = {"machine": {"nproc": os.cpu_count(), "cpu": model, "load_before": os.getloadavg(),
                             "python": platform.python_version(), "numpy": np.__version__}}
    ceiling, ceiling_cpu = sgemm_ceiling(4096, 5)
    prob = make_problem(N)
    theta = prob.layout.init(np.random.default_rng(0), P)
    flops = cpu_fused.flops(prob, P)
    with tempfile.TemporaryDirectory() as cache:
        cold = first_call(P, N, cache, "numba")      # compiles into an empty cache
        cached = first_call(P, N, cache, "numba")    # a later process: loads the compiled code from it
        jit_first = first_call(P, N, cache, "jit")   # no disk cache: every process compiles its shapes
    with threadpool_limits(limits=1, user_api="blas"):
        set_fused(False)
        want = prob.outcome_means(theta)
        np_best, np_med = best_median(lambda: prob.outcome_means(theta), k)
        np_cpu = _LAST_CPU[0]
        set_fused(True)
        got = prob.outcome_means(theta)
        fu_best, fu_med = best_median(lambda: prob.outcome_means(theta), k)
        fu_cpu = _LAST_CPU[0]
        rel = float(np.max(np.abs(got - want) / np.abs(want).max(axis=0)))
        threads_was = os.environ.get("LEAFCTL_ESP_THREADS")
        os.environ["LEAFCTL_ESP_THREADS"] = "1"  # one thread: the per-core rate, least disturbed by load
        one_best, one_med = best_median(lambda: prob.outcome_means(theta), k)
        one_cpu = _LAST_CPU[0]
        if threads_was is None:
            del os.environ["LEAFCTL_ESP_THREADS"]
        else:
            os.environ["LEAFCTL_ESP_THREADS"] = threads_was
        old = cpu_fused.fused_means(prob, theta, kernel="numba")
        nb_best, nb_med = best_median(lambda: cpu_fused.fused_means(prob, theta, kernel="numba"), k)
        nb_cpu = _LAST_CPU[0]
        rel_nb = float(np.max(np.abs(old - want) / np.abs(want).max(axis=0)))
        gens = {}
        for fused in (False, True):
            set_fused(fused)
            gens[f"leaf_{'fused' if fused else 'numpy'}"] = leafctl_generation(prob, P, a.generations, "leaf")
            gens[f"nsga2_{'fused' if fused else 'numpy'}"] = leafctl_generation(prob, P, a.generations, "nsga2")
        set_fused(False)
        gens["pymoo_numpy"], pymoo_eval = pymoo_generation(prob, P, a.generations)
    res["machine"]["load_after"] = os.getloadavg()
    res.update(P=P, N=N, gflop_per_eval=flops / 1e9, sgemm_gflops=ceiling / 1e9,
               sgemm_gflops_per_cpu_s=ceiling_cpu / 1e9, numpy_cpu_s=np_cpu, fused_cpu_s=fu_cpu,
               numpy_eval_s=[np_best, np_med], fused_eval_s=[fu_best, fu_med], fused_first_call=jit_first,
               fused_1thread_cpu_s=one_cpu, fused_1thread_eval_s=[one_best, one_med], numba_cpu_s=nb_cpu,
               numba_eval_s=[nb_best, nb_med], numba_cold=cold, numba_cached=cached,
               fused_vs_numpy_max_rel=rel, numba_vs_numpy_max_rel=rel_nb, generation_s=gens, pymoo_eval_s=pymoo_eval)
    m = res["machine"]
    print(f"machine: {m['nproc']} CPUs, {m['cpu']}; python {m['python']}, numpy {m['numpy']}; load average "
          f"{m['load_before'][0]:.2f} before, {m['load_after'][0]:.2f} after")
    print(f"P={P} N={N}: {flops / 1e9:.3f} GFLOP per evaluation; sgemm 4096^2 ceiling {ceiling / 1e9:.1f} GFLOP/s "
          f"(wall), {ceiling_cpu / 1e9:.1f} GFLOP per CPU second")
    print(f"fused (jit) first call in a fresh process: {jit_first['first_s']:.2f} s (of which compiling "
          f"{jit_first['compile_s']:.2f} s); then {jit_first['second_s']:.4f} s")
    print(f"numba kernel first call in a fresh process: {cold['first_s']:.2f} s (compile, empty cache), "
          f"{cached['first_s']:.2f} s (cached); then {cached['second_s']:.4f} s")
    print(f"max relative error vs the NumPy path: fused (jit) {rel:.1e}, numba kernel {rel_nb:.1e}")
    print("| variant | s/eval best | median | GFLOP/s | % of sgemm | CPU s (best) | % of sgemm per CPU s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, (b, md), c in (("NumPy path", (np_best, np_med), np_cpu),
                             ("fused numba kernel (generic, before)", (nb_best, nb_med), nb_cpu),
                             ("fused jit kernel (specialised)", (fu_best, fu_med), fu_cpu),
                             ("fused jit kernel, 1 thread", (one_best, one_med), one_cpu)):
        print(f"| {name} | {b:.4f} | {md:.4f} | {flops / b / 1e9:.1f} | {100 * flops / b / ceiling:.1f}% | "
              f"{c:.4f} | {100 * flops / c / ceiling_cpu:.1f}% |")
    print(f"| pymoo's evaluation call (NumPy path) | - | {pymoo_eval:.4f} | "
          f"{flops / pymoo_eval / 1e9:.1f} | {100 * flops / pymoo_eval / ceiling:.1f}% | - | - |")
    print("| generation | s/generation (median) | vs pymoo |")
    print("| --- | --- | --- |")
    for name, s in gens.items():
        print(f"| {name} | {s:.4f} | {gens['pymoo_numpy'] / s:.2f}x faster |")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
