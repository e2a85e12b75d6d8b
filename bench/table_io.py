"""Large inputs: reading + validating a 50 MB table, evolve on it, prescribe 1.9 M rows, a 20 MB spec.

Generates (once, into --work) a ~50 MB CSV in the bundled campaign sample's columns, a ~1.9 M-row
contexts CSV, and a ~20 MB command-job YAML spec (a long environment_variables map), then times:

  read+validate   leafctl.esp.data.load_dataset on the 50 MB table (MB/s)
  evolve          leafctl.esp.engine.evolve on it with a small budget (ridge surrogate, 10 x 2)
  prescribe       the knee candidate for the 1.9 M contexts, CSV written to a file
  YAML spec       `leafctl run submit -f spec.yml --dry-run`, less the same command on a 3-line spec

Each timing is the best of --repeats runs (the machine may be shared). To time the code as it was,
export an old tree and point --src at it; it goes first on sys.path and on the CLI's PYTHONPATH:

    git archive HEAD~1 leafctl | tar -x -C /tmp/old
    .venv/bin/python bench/table_io.py --src /tmp/old
    .venv/bin/python bench/table_io.py
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONTEXT = ["age", "income", "past_spend", "visits", "region", "channel"]
ACTIONS = ["discount", "emails"]
OUTCOMES = ["revenue", "margin"]


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def make_inputs(work: Path, table_rows: int, context_rows: int, spec_vars: int) -> tuple[Path, Path, Path, Path]:
    from leafctl.esp.samples.make_campaign import generate

    work.mkdir(parents=True, exist_ok=True)
    table, contexts = work / "campaign-50mb.csv", work / "contexts-1.9m.csv"
    spec, small = work / "spec-20mb.yml", work / "spec-small.yml"
    if not table.exists():
        header, rows = generate(table_rows, seed=11)
        with open(table, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
    if not contexts.exists():
        header, rows = generate(context_rows, seed=12)
        with open(contexts, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header[:6])
            w.writerows(r[:6] for r in rows)
    for path, n in ((spec, spec_vars), (small, 3)):
        if not path.exists():
            with open(path, "w", encoding="utf-8") as f:
                f.write("command: echo hi\nenvironment: azureml:env:1\ncompute: local\nenvironment_variables:\n")
                for i in range(n):
                    f.write(f"  VAR_{i:07d}: value-{i:07d}-abcdefghijklmnopqrstuvwxyz\n")
    return table, contexts, spec, small


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", help="a leafctl source tree to time instead of the installed one")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "leafctl-bench-table-io"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--table-rows", type=int, default=1_050_000)  # ~51 MB
    ap.add_argument("--context-rows", type=int, default=1_900_000)
    ap.add_argument("--spec-vars", type=int, default=380_000)  # ~21 MB
    ap.add_argument("--only", nargs="*", default=["read", "evolve", "prescribe", "yaml"])
    args = ap.parse_args(argv)
    if args.src:
        sys.path.insert(0, os.path.abspath(args.src))
    import leafctl

    table, contexts, spec, small = make_inputs(Path(args.work), args.table_rows, args.context_rows, args.spec_vars)
    mb = table.stat().st_size / 1e6
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    print(f"leafctl from {Path(leafctl.__file__).parent}; {os.cpu_count()} CPUs ({cpu}), Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    print(f"table {mb:.1f} MB, contexts {contexts.stat().st_size / 1e6:.1f} MB ({args.context_rows} rows), "
          f"spec {spec.stat().st_size / 1e6:.1f} MB")
    out = Path(args.work) / "evolve-out"

    if "read" in args.only:
        from leafctl.esp.data import load_dataset

        s = best(lambda: load_dataset(table, CONTEXT, ACTIONS, OUTCOMES), args.repeats)
        print(f"read+validate: {s:.2f} s, {mb / s:.1f} MB/s")

    if "evolve" in args.only or ("prescribe" in args.only and not (out / "model").exists()):
        from leafctl.esp.engine import EvolveConfig, evolve

        def run_evolve() -> None:
            cfg = EvolveConfig(data=str(table), context=CONTEXT, actions=ACTIONS, outcomes=OUTCOMES,
                               objectives=["revenue:max", "margin:max"], population=10, generations=2, elites=2,
                               predictor="ridge", contexts_sample=2000, device="cpu", seed=1)
            evolve(cfg, out)

        s = best(run_evolve, max(1, min(args.repeats, 2)))
        print(f"evolve (ridge, population 10, 2 generations): {s:.2f} s")

    if "prescribe" in args.only:
        import leafctl.esp.prescribe as presc

        dest = Path(args.work) / "prescribed.csv"

        def run_prescribe() -> None:
            if hasattr(presc, "prescribe_csv"):
                text, _ = presc.prescribe_csv(out, contexts)
                dest.write_bytes(text)
            else:  # the code before: rows of Python values, then the csv module (as `model prescribe` did)
                header, rows = presc.prescribe(out, contexts)
                with open(dest, "w", newline="", encoding="utf-8") as fh:
                    w = csv.writer(fh, lineterminator="\n")
                    w.writerow(header)
                    w.writerows(rows)

        s = best(run_prescribe, max(1, min(args.repeats, 2)))
        print(f"prescribe {args.context_rows} rows (knee, CSV to a file): {s:.2f} s")

    if "yaml" in args.only:
        exe = str(Path(sys.executable).parent / "leafctl")
        env = dict(os.environ, CI="1", NO_COLOR="1", LEAFCTL_HOME=str(Path(args.work) / "home"),
                   LEAFCTL_CONFIG=str(Path(args.work) / "home" / "config.toml"))
        if args.src:
            env["PYTHONPATH"] = os.path.abspath(args.src)

        def submit(path: Path) -> None:
            subprocess.run([exe, "run", "submit", "-f", str(path), "--dry-run", "-o", "json"], env=env, check=True,
                           stdout=subprocess.DEVNULL)

        base = best(lambda: submit(small), args.repeats)
        s = best(lambda: submit(spec), max(1, min(args.repeats, 2)))
        print(f"YAML spec: run submit --dry-run {s:.2f} s, 3-line spec {base:.2f} s, difference {s - base:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
