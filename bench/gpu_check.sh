#!/usr/bin/env bash
# The one-call GPU check of issue 12 (run on the lent GPU machine, from the repository root):
#
#   bash bench/gpu_check.sh            # everything; results under $OUT (default /tmp/gpu_check_out)
#   bash bench/gpu_check.sh --no-gpu   # the CPU-side parts only: reports "no GPU" and exits 0
#
# Stages, each under its own timeout so that one failing or hanging stage never stops the rest:
# env (nvidia-smi, CuPy, CUDA), ceilings (FP32/TF32 sgemm, copy bandwidth), tests (the CuPy/GPU test
# files, tests/esp/test_*gpu*.py, with LEAFCTL_REQUIRE_GPU=1: a skip is a failure there), esp (bench/gpu_check.py esp: the fused
# kernel at P=N=10^4 and P=10^5 N=10^3, s/generation, GPU-vs-CPU agreement, the layer-by-layer CuPy
# comparison), layered_tf32 (the same comparison on TF32 tensor cores), then the table, printed last.
# Budget: about 6 minutes in all. No network: everything it needs is in the tree and the image.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu_check_out}"
# The device tool brings back at most 8 files from $OUT: stages work in $WORK, and after each stage
# $OUT gets table.md, results.json, tests.log and logs.tar.gz (everything) refreshed.
WORK="${WORK:-$(mktemp -d /tmp/gpu_check.XXXXXX)}"
mkdir -p "$OUT" "$WORK"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 OPENBLAS_NUM_THREADS=4

stage() {  # stage NAME TIMEOUT_S COMMAND...: log to $OUT/NAME.log, never abort the script
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" >"$WORK/$name.log" 2>&1
  local rc=$?
  echo "stage $name: exit $rc in $((SECONDS - t0)) s" | tee -a "$WORK/stages.txt"
  publish
  return 0
}

publish() {  # copy the few files worth fetching into $OUT (a killed run still leaves them)
  "$PY" bench/gpu_check.py table "$WORK" >"$WORK/table.md" 2>&1
  "$PY" -c 'import json,sys,pathlib; w=pathlib.Path(sys.argv[1]); print(json.dumps({p.stem: json.loads(p.read_text()) for p in sorted(w.glob("*.json"))}, indent=1))' "$WORK" >"$OUT/results.json" 2>/dev/null
  cp "$WORK/table.md" "$OUT/table.md"
  [ -f "$WORK/tests.log" ] && cp "$WORK/tests.log" "$OUT/tests.log"
  tar -czf "$OUT/logs.tar.gz" -C "$WORK" . 2>/dev/null
}

gpu_present() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 &&
    "$PY" -c "import cupy, sys; sys.exit(0 if cupy.cuda.runtime.getDeviceCount() > 0 else 1)" >/dev/null 2>&1
}

: >"$WORK/stages.txt"
"$PY" -m py_compile bench/gpu_check.py bench/esp_gpu.py || { echo "bench scripts do not compile"; exit 1; }
if [ "${1:-}" = "--no-gpu" ] || ! gpu_present; then
  echo "no GPU: CuPy with a CUDA device is not available here (or --no-gpu); GPU stages skipped" | tee "$WORK/no_gpu.txt"
  publish
  cat "$OUT/table.md"
  exit 0
fi

stage env 60 "$PY" bench/gpu_check.py env "$WORK"
stage ceilings 90 "$PY" bench/gpu_check.py ceilings "$WORK"
# Every GPU test file (tests/esp/test_*gpu*.py: CuPy, nvcc, the kernel's host build), not this script's own.
GPU_TESTS=$(ls tests/esp/test_*gpu*.py | grep -v test_gpu_check.py)
stage tests 180 env LEAFCTL_REQUIRE_GPU=1 "$PY" -m pytest -q -p no:cacheprovider -o addopts= $GPU_TESTS
grep "^stage tests:" "$WORK/stages.txt" | grep -o "exit [0-9]*" | cut -d' ' -f2 >"$WORK/tests.rc"
tail -n 3 "$WORK/tests.log"
stage esp 150 "$PY" bench/gpu_check.py esp "$WORK"
stage layered_tf32 60 env CUPY_TF32=1 "$PY" bench/gpu_check.py layered_tf32 "$WORK"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv >"$WORK/clocks_after.csv" 2>&1
publish
cat "$WORK/stages.txt"
cat "$OUT/table.md"
