"""Start-up benchmark: `leafctl --help` and Tab completions, against a bare two-command Typer app.

Tab presses are answered by leafctl/cli/_fastcomplete.py without importing typer, click or rich; the
target is at most 0.35x the bare app's `--help`. "tab via click (before)" is the same request answered
the old way (leafctl.cli.main), for comparison.

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


def tab(words: str, shell: str = "bash") -> dict[str, str]:
    """The environment a shell gives leafctl for one Tab press (typer's completion protocol)."""
    if shell == "bash":
        return {"_LEAFCTL_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}
    return {"_LEAFCTL_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": words}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    bare = tmp / "bare.py"
    bare.write_text(BARE)
    leafctl = str(Path(sys.executable).parent / "leafctl")
    base_env = dict(os.environ, LEAFCTL_CONFIG=str(tmp / "config.toml"), LEAFCTL_HOME=str(tmp / "home"))
    # An installed leafctl has bytecode, as the site-packages it imports have: without it every run would
    # measure compiling leafctl's sources (the warm-up runs below write __pycache__).
    base_env.pop("PYTHONDONTWRITEBYTECODE", None)
    # a registry to complete names from, and the plugin cache warm (the first Tab press builds it)
    subprocess.run([leafctl, "compute", "create", "gpu-a", "--type", "cluster", "--max-nodes", "1", "-o", "none"],
                   env=base_env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([leafctl], env={**base_env, **tab("leafctl ")}, check=True, stdout=subprocess.DEVNULL)
    slow = [sys.executable, "-c", "from leafctl.cli.main import run; run()"]  # the click path, for reference
    bare_help = [sys.executable, str(bare), "--help"]
    bare_tab = [sys.executable, str(bare)], {"_BARE_COMPLETE": "complete_bash", "COMP_WORDS": "bare he", "COMP_CWORD": "1"}
    # (case, leafctl command, its environment, reference command, its environment)
    cases = [
        ("help", [leafctl, "--help"], {}, bare_help, {}),
        ("complete", [leafctl], tab("leafctl compute li"), *bare_tab),
        ("tab: compute li", [leafctl], tab("leafctl compute li"), bare_help, {}),
        ("tab: root (plugins too)", [leafctl], tab("leafctl "), bare_help, {}),
        ("tab: compute show NAME", [leafctl], tab("leafctl compute show "), bare_help, {}),
        ("tab: zsh run evolve --", [leafctl], tab("leafctl run evolve --", "zsh"), bare_help, {}),
        ("tab via click (before)", slow, tab("leafctl compute li"), bare_help, {}),
    ]
    rows = []
    for name, lcmd, lenv, bcmd, benv in cases:
        lt, bt = [], []
        for _ in range(3):  # warm the page cache
            timed(lcmd, {**base_env, **lenv}), timed(bcmd, {**base_env, **benv})
        for _ in range(args.runs):
            lt.append(timed(lcmd, {**base_env, **lenv}))
            bt.append(timed(bcmd, {**base_env, **benv}))
        lm, bm = statistics.median(lt), statistics.median(bt)
        rows.append((name, lm, "bare --help" if bcmd is bare_help else "bare Tab", bm, lm / bm))
    cpu = "unknown"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} cores, {cpu}; load {load:.1f}; Python {platform.python_version()}; runs={args.runs}")
    print("| case | leafctl median ms | against | its median ms | ratio |")
    print("|---|---|---|---|---|")
    for name, lm, ref, bm, r in rows:
        print(f"| {name} | {lm * 1000:.0f} | {ref} | {bm * 1000:.0f} | {r:.2f}x |")


if __name__ == "__main__":
    main()
