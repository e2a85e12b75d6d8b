"""bench/gpu_check.sh (the one-call GPU check) and its CPU-side parts, on a machine without a GPU:
the scripts parse and compile, ``--no-gpu`` exits cleanly saying so, the layer-by-layer comparison
computes the NumPy path's numbers, the summary table reads stage results, and LEAFCTL_REQUIRE_GPU=1
turns the GPU tests' skips into failures."""

from __future__ import annotations

import importlib.util
import json
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "gpu_check.sh"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "bench" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scripts_parse_and_compile(tmp_path):
    p = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    for name in ("gpu_check.py", "esp_gpu.py", "esp_cpu.py"):
        py_compile.compile(str(REPO / "bench" / name), cfile=str(tmp_path / f"{name}c"), doraise=True)


def test_no_gpu_flag_exits_cleanly_saying_so(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "out"), "WORK": str(tmp_path / "work"), "PYTHON": sys.executable}
    p = subprocess.run(["bash", str(SCRIPT), "--no-gpu"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("no GPU:")
    assert "== GPU check summary ==" in p.stdout and "stage did not run" in p.stdout
    got = sorted(f.name for f in (tmp_path / "out").iterdir())
    assert got == ["logs.tar.gz", "results.json", "table.md"]  # within the device tool's 8 files


def test_layered_comparison_computes_the_numpy_path():
    """The EvoX-style layer-by-layer evaluation, run with NumPy as its array module, gives the
    engine's own NumPy-path numbers: the GPU comparison measures the same function."""
    sys.path.insert(0, str(REPO / "bench"))
    from esp_generation import make_problem

    gc = _module()
    prob = make_problem(257)
    theta = prob.layout.init(np.random.default_rng(int(np.random.SeedSequence().entropy % 2**31)), 23)
    want = prob._chunked(theta, want_std=False)[0]
    got = gc.layered_means(np, prob, theta, chunk=10)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_table_reads_stage_results(tmp_path, capsys):
    gc = _module()
    (tmp_path / "env.json").write_text(json.dumps({"device": "NVIDIA H200", "sms": 132, "cc": "9.0",
                                                   "cupy": "14.2.0", "cuda_runtime": 13000, "cuda_driver": 13000}))
    (tmp_path / "ceilings.json").write_text(json.dumps({"fp32_sgemm_tflops": 51.5, "tf32_sgemm_tflops": 380.0,
                                                        "copy_tb_s": 4.3}))
    (tmp_path / "esp.json").write_text(json.dumps({"runs": [
        {"P": 10000, "N": 10000, "fused_eval_s": 0.0123, "fused_tflops": 16.6, "fused_pct_of_fp32": 32.3,
         "generation_s": 0.02, "layered_eval_s": 0.5, "generation_vs_layered_eval": 25.0,
         "gpu_vs_cpu_max_rel": 2e-6},
        {"P": 100000, "N": 1000, "error": "OutOfMemoryError: out of memory"}]}))
    (tmp_path / "tests.rc").write_text("0\n")
    gc.stage_table(tmp_path)
    out = capsys.readouterr().out
    assert "NVIDIA H200 (132 SMs, cc 9.0)" in out and "FP32 sgemm 51.5 TFLOP/s" in out
    assert "| 10,000 | 10,000 | 0.0123 | 16.60 | 32.3 | 0.0200 | 0.5000 | 25.0x | 2.0e-06 |" in out
    assert "OutOfMemoryError" in out and "exit 0" in out
    assert "stage layered_tf32: no result" in out


def _has_cupy_gpu() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def test_require_gpu_turns_skips_into_failures():
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/esp/test_gpu.py",
            "-k", "evaluation_matches_numpy"]
    env = {k: v for k, v in os.environ.items() if k != "LEAFCTL_REQUIRE_GPU"}
    plain = subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    required = subprocess.run(args, capture_output=True, text=True, env={**env, "LEAFCTL_REQUIRE_GPU": "1"},
                              cwd=REPO, timeout=300)
    if _has_cupy_gpu():  # on a GPU machine both run, and pass
        assert plain.returncode == 0 and required.returncode == 0, plain.stdout + required.stdout
        return
    assert plain.returncode == 0 and "2 skipped" in plain.stdout, plain.stdout
    assert required.returncode == 1 and "2 failed" in required.stdout, required.stdout
    assert "LEAFCTL_REQUIRE_GPU=1 but CuPy with a CUDA device is not available" in required.stdout
