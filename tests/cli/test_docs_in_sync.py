"""docs/commands.md is generated from the click tree by docs/generate.py and must match it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docs" / "generate.py"
FIX = "run `.venv/bin/python docs/generate.py` and commit docs/commands.md"


def _generator():
    spec = importlib.util.spec_from_file_location("leafctl_docs_generate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_commands_md_matches_the_cli():
    expected = _generator().render()
    target = REPO / "docs" / "commands.md"
    current = target.read_text(encoding="utf-8") if target.exists() else ""
    assert current == expected, f"docs/commands.md is out of date with the CLI: {FIX}"


def test_reference_is_plain_and_complete():
    text = _generator().render()
    assert "\x1b[" not in text and "╭" not in text  # no ANSI, no rich boxes
    for heading in ("## leafctl config", "#### leafctl data store create", "### leafctl run evolve",
                    "### leafctl model prescribe", "## Global options"):
        assert f"\n{heading}\n" in text, heading
    assert "leafctl migrate" not in text  # plugin groups are left out: the output must not depend on them
    # Global options once at the top, not under every command.
    assert text.count("| `-q`, `--query` |") == 1


def test_generating_imports_nothing_heavy_and_check_passes():
    code = ("import runpy, sys\n"
            f"sys.argv = ['generate.py', '--check']\n"
            "try:\n"
            f"    runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
            "except SystemExit as e:\n"
            "    rc = e.code\n"
            "bad = sorted({m.split('.')[0] for m in sys.modules} & {'azure', 'numpy', 'cupy', 'pandas', 'pyarrow'})\n"
            "print(rc, bad)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    rc, bad = r.stdout.split(" ", 1)
    assert bad.strip() == "[]", f"generating the reference imported {bad.strip()}"
    assert rc == "0", f"docs/generate.py --check failed: {r.stderr.strip()} ({FIX})"
