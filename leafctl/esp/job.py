"""Run evolve as a job: ``python -m leafctl.esp.job CONFIG_TOML OUT_DIR [--resume] [--set key=value ...]``.

The local and Azure backends run this as a command job. Log lines go to stdout (flushed, so a tailing
reader sees them live); progress per generation is also in OUT_DIR/progress.jsonl. Exit codes follow
leafctl's: 0 done, 2 bad config or data (one ``error: ...`` line on stderr), 1 anything else,
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# Evaluation runs many small GEMMs (K = context width) in parallel threads of its own; a
# multi-threaded BLAS underneath would only spin and contend (measured: 3x the CPU time on 2 cores).
# Set before NumPy is imported; an explicit setting in the environment wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def main(argv: list[str] | None = None) -> int:
    from leafctl.errors import LeafctlError  # noqa: PLC0415

    ap = argparse.ArgumentParser(prog="python -m leafctl.esp.job", description="Run LEAF-ESP evolution.")
    ap.add_argument("config", help="TOML config (EvolveConfig keys)")
    ap.add_argument("out_dir", help="output folder")
    ap.add_argument("--resume", action="store_true", help="continue from OUT_DIR/checkpoint.npz if present")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key (repeatable)")
    args = ap.parse_args(argv)
    start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - start:8.2f}s] {msg}", flush=True)

    try:
        from leafctl.esp.engine import evolve, load_config  # noqa: PLC0415

        cfg = load_config(args.config, args.overrides)
        evolve(cfg, args.out_dir, resume=args.resume, log=log)
    except LeafctlError as e:
        print(e.line(), file=sys.stderr, flush=True)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted — rerun with --resume to continue", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
