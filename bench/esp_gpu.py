"""GPU figures for the ESP engine (needs CuPy and a CUDA device; run on the GPU machine).

    python bench/esp_gpu.py [--contexts 10000] [--generations 3]

Prints, for the ESP workload of bench/esp_generation.py (C=16, H=32, A=4, predictor 64 hidden, 2
objectives):
  * P=N=10,000: seconds per generation (leaf mode: rank + crowding + variation + fused evaluation);
  * fused-kernel FLOP/s (2 x multiply-adds per (prescriptor, context) / evaluation time) against the
    device's FP32 peak (SMs x 128 FP32 lanes x 2 x boost clock, or a table for known parts);
  * P=100,000 x N=10,000: seconds per generation;
  * a check that the fused kernel agrees with the batched CuPy array path (max relative error).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esp_generation import make_problem  # noqa: E402

from leafctl.esp.gpu import flops_per_pair  # noqa: E402
from leafctl.esp.nsga2 import rank_and_crowding, to_minimised  # noqa: E402
from leafctl.esp.operators import leaf_step, leaf_vary  # noqa: E402
from leafctl.esp.xp import DeviceRandom  # noqa: E402

KNOWN_FP32_TFLOPS = {"H100 80GB HBM3": 66.9, "H100 PCIe": 51.2, "H100 NVL": 60.0, "H200": 66.9,
                     "A100": 19.5, "L40S": 91.6, "L4": 30.3}


def fp32_peak(cp) -> tuple[float, str]:
    name = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    for key, tf in KNOWN_FP32_TFLOPS.items():
        if key in name:
            return tf * 1e12, name
    try:  # attribute 13 = clock rate in kHz; attribute 16 = SM count (stable CUDA enum values)
        clock_khz = cp.cuda.runtime.deviceGetAttribute(13, 0)
        sms = cp.cuda.runtime.deviceGetAttribute(16, 0)
        return sms * 128 * 2 * clock_khz * 1e3, name
    except Exception:
        return float("nan"), name


def sync(cp) -> None:
    cp.cuda.Stream.null.synchronize()


def per_generation(cp, prob, P: int, gens: int) -> tuple[float, float]:
    host = np.random.default_rng(0)
    rng = DeviceRandom(cp, host)
    theta = cp.asarray(prob.layout.init(host, P))
    F = prob.evaluate(theta)
    sync(cp)
    t = time.perf_counter()
    reps = 3
    for _ in range(reps):
        prob.outcome_means(theta)
    sync(cp)
    eval_s = (time.perf_counter() - t) / reps
    vary = leaf_vary(0.1, 0.1)
    t = time.perf_counter()
    for _ in range(gens):
        rank, crowd = rank_and_crowding(to_minimised(F, prob.senses))
        theta, F = leaf_step(rng.for_step(), theta, F, rank, crowd, prob.evaluate, vary, 10, 0.8)
    sync(cp)
    return (time.perf_counter() - t) / gens, eval_s


def main() -> None:
    import cupy as cp

    ap = argparse.ArgumentParser()
    ap.add_argument("--contexts", type=int, default=10_000)
    ap.add_argument("--generations", type=int, default=3)
    a = ap.parse_args()
    peak, name = fp32_peak(cp)
    print(f"device: {name}; CuPy {cp.__version__}; CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}")

    prob = make_problem(a.contexts, xp=cp)
    theta = cp.asarray(prob.layout.init(np.random.default_rng(1), 2000))
    fused = cp.asnumpy(prob.outcome_means(theta))
    prob.fused = False
    plain = cp.asnumpy(prob.outcome_means(theta))
    prob.fused = True
    rel = float(np.max(np.abs(fused - plain) / (np.abs(plain) + 1e-6)))
    print(f"fused kernel vs CuPy array path: max relative error {rel:.2e}")

    for P in (10_000, 100_000):
        gen_s, eval_s = per_generation(cp, prob, P, a.generations)
        flops = P * a.contexts * flops_per_pair(prob) / eval_s
        print(f"P={P:,} N={a.contexts:,}: {gen_s:.4f} s/generation; evaluation {eval_s:.4f} s = "
              f"{flops / 1e12:.2f} TFLOP/s ({100 * flops / peak:.1f}% of FP32 peak {peak / 1e12:.1f} TFLOP/s)")


if __name__ == "__main__":
    main()
