"""Run evolve as a job: ``python -m leafctl.esp.job CONFIG_TOML OUT_DIR [--data PATH] [--resume |
--resume-from DIR] [--set key=value ...]``.

The local and Azure backends run this as a command job. Log lines go to stdout (flushed, so a tailing
reader sees them live); progress per generation is also in OUT_DIR/progress.jsonl. Exit codes follow
leafctl's: 0 done, 2 bad config or data (one ``error: ...`` line on stderr), 1 anything else,
130 interrupted.

The island model: ``--islands N [--migrate-every K] [--migrants M]`` (or ``--set islands=N``); launched
as ``mpiexec -n N python -m leafctl.esp.job ...`` each rank evolves one island (see islands.py), and one
process runs all N in turn. Only rank 0 logs, reports an error every rank shares, and writes the outputs;
an error on one rank alone is printed by that rank, which then aborts the whole MPI job.
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
    ap.add_argument("--islands", type=int, metavar="N", help="evolve N islands (one per MPI rank under mpiexec)")
    ap.add_argument("--migrate-every", type=int, metavar="K", help="generations between migrations (default 10)")
    ap.add_argument("--migrants", type=int, metavar="M", help="genomes each island sends per migration (default 2)")
    args = ap.parse_args(argv)
    for key in ("islands", "migrate_every", "migrants"):
        if getattr(args, key) is not None:
            args.overrides.append(f"{key}={getattr(args, key)}")
    start = time.perf_counter()
    from leafctl.esp.islands import World, get_world  # noqa: PLC0415

    world = World()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - start:8.2f}s] {msg}", flush=True)

    try:
        world = get_world()
        if args.resume_from:
            # Done here rather than by a `cp` in the job's command line: leafctl's jobs run without a
            # shell. One rank copies; the others wait for it.
            if world.rank == 0:
                _seed(args.resume_from, args.out_dir)
            world.barrier()
            args.resume = True
        from leafctl.esp.engine import evolve, load_config  # noqa: PLC0415

        try:
            cfg = load_config(args.config, args.overrides)
            if args.data is not None:
                from leafctl.esp.engine import config_from_dict  # noqa: PLC0415

                cfg = config_from_dict({"data": args.data}, cfg).validate()
        except LeafctlError as e:
            from leafctl.esp.islands import everyone  # noqa: PLC0415

            raise everyone(e) from None  # every rank reads the same config
        evolve(cfg, args.out_dir, resume=args.resume, log=log)
    except LeafctlError as e:
        if world.size > 1 and not getattr(e, "everyone", False):
            print(e.line(), file=sys.stderr, flush=True)
            world.abort(e.exit_code)
        if world.rank == 0:
            print(e.line(), file=sys.stderr, flush=True)
        return e.exit_code
    except KeyboardInterrupt:
        if world.rank == 0:  # mpiexec passes the interrupt to every rank
            print("error: interrupted — rerun with --resume to continue", file=sys.stderr, flush=True)
        return 130
    except BaseException:
        if world.size > 1:  # a bug on one rank: say where, and stop the ranks waiting for it
            import traceback  # noqa: PLC0415

            traceback.print_exc()
            sys.stderr.flush()
            world.abort(1)
        raise
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
