"""Start-up benchmark: `leafctl --help` and one Tab completion, against a bare two-command Typer app.

Every Tab press re-runs the program, so start-up is a feature. Both programs run with the same
interpreter, as the same kind of script, in one run of this file; we report the median wall time
of N runs each, interleaved so that machine noise hits both alike.

    .venv/bin/python bench/startup.py [--runs 40]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = '''
import typer
app = typer.Typer()

@app.command()
def hello(name: str):
    print(name)

@app.command()
def bye(name: str):
    print(name)

if __name__ == "__main__":
    app(prog_name="bare")
'''


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    bare = tmp / "bare.py"
    bare.write_text(BARE)
    leafctl = str(Path(sys.executable).parent / "leafctl")
    base_env = dict(os.environ, LEAFCTL_CONFIG=str(tmp / "config.toml"), LEAFCTL_HOME=str(tmp / "home"))
    cases = {
        "help": ([leafctl, "--help"], [sys.executable, str(bare), "--help"], {}, {}),
        "complete": (
            [leafctl],
            [sys.executable, str(bare)],
            {"_LEAFCTL_COMPLETE": "complete_bash", "COMP_WORDS": "leafctl compute li", "COMP_CWORD": "2"},
            {"_BARE_COMPLETE": "complete_bash", "COMP_WORDS": "bare he", "COMP_CWORD": "1"},
        ),
    }
    rows = []
    for name, (lcmd, bcmd, lenv, benv) in cases.items():
        lt, bt = [], []
        for _ in range(3):  # warm the page cache
            timed(lcmd, {**base_env, **lenv}), timed(bcmd, {**base_env, **benv})
        for _ in range(args.runs):
            lt.append(timed(lcmd, {**base_env, **lenv}))
            bt.append(timed(bcmd, {**base_env, **benv}))
        lm, bm = statistics.median(lt), statistics.median(bt)
        rows.append((name, lm, bm, lm / bm))
    cpu = "unknown"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; runs={args.runs}")
    print("| case | leafctl median ms | bare Typer median ms | ratio |")
    print("|---|---|---|---|")
    for name, lm, bm, r in rows:
        print(f"| {name} | {lm * 1000:.0f} | {bm * 1000:.0f} | {r:.2f}x |")


if __name__ == "__main__":
    main()
