"""Stages of the one-call GPU check (driven by bench/gpu_check.sh, each under its own timeout).

    python bench/gpu_check.py STAGE OUT_DIR

Stages (each writes OUT_DIR/STAGE.json; ``table`` reads them all and prints the summary):
  env        nvidia-smi, CuPy version, CUDA runtime and driver versions, device properties
  ceilings   FP32 sgemm (8192^3 through cuBLAS, CuPy events, median of 10) and device-to-device copy
             bandwidth (2 GiB, bytes read + written); TF32 sgemm too, in a process with CUPY_TF32=1
  esp        the ESP workload (C16 H32 A4, predictor 64): P = N = 10^4 and P = 10^5, N = 10^3: fused
             evaluation s and FLOP/s vs the measured FP32 ceiling, s/generation (leaf mode), GPU-vs-CPU
             agreement (fused CuPy vs the NumPy path on 256 prescriptors), and a layer-by-layer CuPy
             evaluation (EvoX/EvoTorch style: batched matmuls, every layer's output in device memory)
  layered_tf32  the layer-by-layer evaluation with CUPY_TF32=1 (tensor cores): time, relative error
  table      the short table (last thing printed)
Only ``import cupy`` (CUDA 12 or 13); no network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

SHAPES = [(10_000, 10_000), (100_000, 1_000)]  # (P, N)


def _write(out: Path, stage: str, data: dict) -> None:
    (out / f"{stage}.json").write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def _events_ms(cp, fn, reps: int, warm: int = 2) -> list[float]:
    for _ in range(warm):
        fn()
    cp.cuda.Stream.null.synchronize()
    ts = []
    for _ in range(reps):
        a, b = cp.cuda.Event(), cp.cuda.Event()
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(cp.cuda.get_elapsed_time(a, b))
    return ts


def stage_env(out: Path) -> dict:
    smi = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30)
    (out / "nvidia-smi.txt").write_text(smi.stdout + smi.stderr, encoding="utf-8")
    import cupy as cp

    props = cp.cuda.runtime.getDeviceProperties(0)
    name = props.get("name", b"?")
    return {"cupy": cp.__version__, "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(),
            "cuda_driver": cp.cuda.runtime.driverGetVersion(),
            "device": name.decode() if isinstance(name, bytes) else str(name),
            "sms": props.get("multiProcessorCount"), "cc": f"{props.get('major')}.{props.get('minor')}",
            "mem_gib": props.get("totalGlobalMem", 0) / 2**30, "l2_mib": props.get("l2CacheSize", 0) / 2**20,
            "clock_khz": props.get("clockRate"), "numpy": np.__version__, "python": sys.version.split()[0]}


def _sgemm_tflops(cp, n: int = 8192) -> float:
    rng = cp.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=cp.float32)
    b = rng.standard_normal((n, n), dtype=cp.float32)  # random data: zeros run faster than real data
    c = cp.empty((n, n), dtype=cp.float32)
    ms = float(np.median(_events_ms(cp, lambda: cp.matmul(a, b, out=c), 10)))
    return 2 * n ** 3 / (ms * 1e-3) / 1e12


def stage_ceilings(out: Path) -> dict:
    import cupy as cp

    res = {"fp32_sgemm_tflops": _sgemm_tflops(cp), "cupy_tf32_env": os.environ.get("CUPY_TF32", "")}
    nbytes = 2 << 30
    src = cp.random.default_rng(1).random(nbytes // 4, dtype=cp.float32)
    dst = cp.empty_like(src)
    ms = float(np.median(_events_ms(cp, lambda: dst.__setitem__(Ellipsis, src), 10)))
    res["copy_tb_s"] = 2 * nbytes / (ms * 1e-3) / 1e12  # bytes read + bytes written
    p = subprocess.run([sys.executable, __file__, "tf32_sgemm", str(out)], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "CUPY_TF32": "1"})
    res["tf32_sgemm_tflops"] = json.loads(p.stdout.strip().splitlines()[-1])["tflops"] if p.returncode == 0 else None
    if p.returncode != 0:
        res["tf32_error"] = p.stderr[-1500:]
    return res


def stage_tf32_sgemm(out: Path) -> None:
    import cupy as cp

    print(json.dumps({"tflops": _sgemm_tflops(cp)}))


def layered_means(cp, prob, theta, chunk: int = 1000):
    """Layer by layer, as EvoX/EvoTorch evaluate a population: each layer one batched matmul over
    (prescriptors, contexts), its output in device memory for the next. Continuous actions only (the
    bench workload). Chunks of prescriptors bound memory: (chunk, N, 64) floats at a time."""
    lay = prob.layout
    C, H, A = lay.n_in, lay.hidden, lay.n_out
    X = prob.X
    lo = cp.asarray([a.lo for a in lay.actions], dtype=cp.float32)
    hi = cp.asarray([a.hi for a in lay.actions], dtype=cp.float32)
    mean = cp.asarray([a.mean for a in lay.actions], dtype=cp.float32)
    sd = cp.asarray([a.std for a in lay.actions], dtype=cp.float32)
    Wp = prob.Wa  # (A, PH): the action rows of the predictor's first layer
    out = []
    for s in range(0, theta.shape[0], chunk):
        t = theta[s:s + chunk]
        c = t.shape[0]
        i = 0
        W1 = t[:, i:i + C * H].reshape(c, C, H); i += C * H
        b1 = t[:, i:i + H]; i += H
        W2 = t[:, i:i + H * A].reshape(c, H, A); i += H * A
        b2 = t[:, i:i + A]
        h = cp.tanh(cp.matmul(X[None], W1) + b1[:, None, :])            # (c, N, H)
        r = cp.matmul(h, W2) + b2[:, None, :]                            # (c, N, A)
        v = lo + (hi - lo) / (1 + cp.exp(-r))
        e = (v - mean) / sd
        z = cp.maximum(cp.matmul(e, Wp) + prob.Zc[None], 0)              # (c, N, PH): the predictor
        y = cp.matmul(z, prob.W2) + prob.b2                              # (c, N, O)
        cost = (v * prob.costs).sum(axis=-1)
        out.append(cp.concatenate([y.mean(axis=1), cost.mean(axis=1)[:, None]], axis=1))
    return cp.concatenate(out)


def stage_esp(out: Path, tf32: bool = False) -> dict:
    import cupy as cp
    from esp_generation import make_problem
    from esp_gpu import per_generation

    from leafctl.esp.gpu import flops_per_pair

    os.environ["LEAFCTL_ESP_FUSED"] = "0"  # the CPU reference is the NumPy path (no numba compile here)
    ceil_file = out / "ceilings.json"
    ceiling = json.loads(ceil_file.read_text())["fp32_sgemm_tflops"] if ceil_file.exists() else None
    res: dict = {"fp32_ceiling_tflops": ceiling, "runs": []}
    for P, N in SHAPES:
        run: dict = {"P": P, "N": N}
        errors: list[str] = []

        def attempt(what: str, fn) -> None:  # one measurement's failure keeps the others
            try:
                fn()
            except Exception as exc:  # e.g. out of memory at P = 10^5
                errors.append(f"{what}: {type(exc).__name__}: {exc}"[:600])

        prob = make_problem(N, xp=cp)
        theta = cp.asarray(prob.layout.init(np.random.default_rng(1), P))
        if not tf32:
            def fused() -> None:
                ms = float(np.median(_events_ms(cp, lambda: prob.outcome_means(theta), 5)))
                run.update(fused_eval_s=ms / 1e3, fused_tflops=P * N * flops_per_pair(prob) / (ms * 1e-3) / 1e12)
                if ceiling:
                    run["fused_pct_of_fp32"] = 100 * run["fused_tflops"] / ceiling

            def agreement() -> None:  # the fused kernel vs the NumPy CPU path, same 256 prescriptors
                want = make_problem(N).outcome_means(cp.asnumpy(theta[:256]))
                got = cp.asnumpy(prob.outcome_means(theta[:256]))
                run["gpu_vs_cpu_max_rel"] = float(np.max(np.abs(got - want) / np.abs(want).max(axis=0)))

            def generation() -> None:
                run["generation_s"] = per_generation(cp, prob, P, 3)[0]

            attempt("fused", fused)
            attempt("agreement", agreement)
            attempt("generation", generation)

        def layered() -> None:
            ms = float(np.median(_events_ms(cp, lambda: layered_means(cp, prob, theta), 3, warm=1)))
            run["layered_eval_s"] = ms / 1e3
            # Against the fused FP32 kernel (CUPY_TF32 switches cuBLAS's matmuls only, not the kernel).
            ref = prob.outcome_means(theta[:256])
            lay = layered_means(cp, prob, theta[:256])
            run["layered_vs_fused_max_rel"] = float(cp.max(cp.abs(lay - ref) / cp.abs(ref).max(axis=0)))

        attempt("layered", layered)
        if "generation_s" in run and "layered_eval_s" in run:
            run["generation_vs_layered_eval"] = run["layered_eval_s"] / run["generation_s"]
        if errors:
            run["error"] = "; ".join(errors)
        res["runs"].append(run)
        del prob, theta
        cp.get_default_memory_pool().free_all_blocks()
    return res


def stage_table(out: Path) -> None:
    def load(name: str) -> dict:
        p = out / f"{name}.json"
        return json.loads(p.read_text()) if p.exists() else {}

    env, ceil, esp, tf = load("env"), load("ceilings"), load("esp"), load("layered_tf32")
    tests = (out / "tests.rc").read_text().strip() if (out / "tests.rc").exists() else "not run"
    f = lambda v, spec: format(v, spec) if isinstance(v, (int, float)) else "-"  # noqa: E731
    print("== GPU check summary ==")
    print(f"device: {env.get('device', '-')} ({env.get('sms', '-')} SMs, cc {env.get('cc', '-')}); "
          f"CuPy {env.get('cupy', '-')}; CUDA runtime {env.get('cuda_runtime', '-')}, driver {env.get('cuda_driver', '-')}")
    print(f"ceilings: FP32 sgemm {f(ceil.get('fp32_sgemm_tflops'), '.1f')} TFLOP/s; TF32 sgemm "
          f"{f(ceil.get('tf32_sgemm_tflops'), '.1f')} TFLOP/s; copy {f(ceil.get('copy_tb_s'), '.2f')} TB/s")
    print(f"CuPy/GPU tests (LEAFCTL_REQUIRE_GPU=1): exit {tests}")
    print("| P | N | fused eval s | TFLOP/s | % FP32 | s/generation | layered eval s | gen vs layered | "
          "GPU vs CPU rel | layered TF32 s | TF32 rel err |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    tf_runs = {(r["P"], r["N"]): r for r in tf.get("runs", [])}
    for r in esp.get("runs", []) or [{"P": p, "N": n, "error": "stage did not run"} for p, n in SHAPES]:
        t = tf_runs.get((r["P"], r["N"]), {})
        print(f"| {r['P']:,} | {r['N']:,} | {f(r.get('fused_eval_s'), '.4f')} | {f(r.get('fused_tflops'), '.2f')} | "
              f"{f(r.get('fused_pct_of_fp32'), '.1f')} | {f(r.get('generation_s'), '.4f')} | "
              f"{f(r.get('layered_eval_s'), '.4f')} | {f(r.get('generation_vs_layered_eval'), '.1f')}x | "
              f"{f(r.get('gpu_vs_cpu_max_rel'), '.1e')} | {f(t.get('layered_eval_s'), '.4f')} | "
              f"{f(t.get('layered_vs_fused_max_rel'), '.1e')} |")
        if "error" in r:
            print(f"  P={r['P']:,} N={r['N']:,}: {r['error'][:300]}")
    for name in ("env", "ceilings", "esp", "layered_tf32"):
        if not (out / f"{name}.json").exists():
            print(f"  stage {name}: no result (see {name}.log)")


def main() -> None:
    stage, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    if stage == "table":
        stage_table(out)
    elif stage == "tf32_sgemm":
        stage_tf32_sgemm(out)
    elif stage == "env":
        _write(out, stage, stage_env(out))
    elif stage == "ceilings":
        _write(out, stage, stage_ceilings(out))
    elif stage == "esp":
        _write(out, stage, stage_esp(out))
    elif stage == "layered_tf32":
        _write(out, stage, stage_esp(out, tf32=True))
    else:
        raise SystemExit(f"unknown stage {stage!r}")
    if stage not in ("table", "tf32_sgemm"):
        print(json.dumps(json.loads((out / f"{stage}.json").read_text())))


if __name__ == "__main__":
    main()
