"""Run evolve as a job: ``python -m leafctl.esp.job CONFIG_TOML OUT_DIR [--data PATH] [--resume |
--resume-from DIR] [--set key=value ...]``.

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
    ap.add_argument("--resume-from", metavar="DIR",
                    help="first copy DIR's checkpoint files into OUT_DIR (implies --resume)")
    # The data path on its own, verbatim: `--set data=...` would read it as a TOML value and strip it.
    ap.add_argument("--data", metavar="PATH", help="the data file (overrides the config's data)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key (repeatable)")
    args = ap.parse_args(argv)
    if args.resume_from:
        # Done here rather than by a `cp` in the job's command line: leafctl's jobs run without a shell.
        _seed(args.resume_from, args.out_dir)
        args.resume = True
    start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - start:8.2f}s] {msg}", flush=True)

    try:
        from leafctl.esp.engine import evolve, load_config  # noqa: PLC0415

        cfg = load_config(args.config, args.overrides)
        if args.data is not None:
            from leafctl.esp.engine import config_from_dict  # noqa: PLC0415

            cfg = config_from_dict({"data": args.data}, cfg).validate()
        evolve(cfg, args.out_dir, resume=args.resume, log=log)
    except LeafctlError as e:
        print(e.line(), file=sys.stderr, flush=True)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted — rerun with --resume to continue", file=sys.stderr, flush=True)
        return 130
    return 0


def _seed(src: str, out_dir: str) -> None:
    """Copy the interrupted run's files (``src``) into the new output folder, once: a rerun of this job
    that already has its own checkpoint keeps it."""
    import shutil  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "checkpoint.npz").exists():
        return
    shutil.copytree(src, out, dirs_exist_ok=True)


if __name__ == "__main__":
    sys.exit(main())
