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


# ---- docs/specs.md: what -f carries and refuses, per kind, from leafctl/specs/fields.py

SPECS_FIX = "run `.venv/bin/python docs/generate.py` and commit docs/specs.md"


def test_specs_md_matches_the_field_tables():
    expected = _generator().render_specs()
    target = REPO / "docs" / "specs.md"
    current = target.read_text(encoding="utf-8") if target.exists() else ""
    assert current == expected, f"docs/specs.md is out of date with leafctl/specs (the FIELDS tables): {SPECS_FIX}"


def test_specs_md_lists_every_field_of_every_kind():
    from leafctl.specs import fields

    gen = _generator()
    text = gen.render_specs()
    for kind in fields.SCHEMAS:
        assert f'<a id="{kind.replace("_", "-")}"></a>' in text, kind
        for name, why in fields.table(kind).items():
            if why == fields.CARRY:
                assert f"| `{name}` | carried" in text, (kind, name)
            else:  # the reason itself, not just the word
                assert f"| `{name}` | refused: {gen._escape(why)} |" in text, (kind, name, why)
    assert "no effect" in text  # what the local backend does with Azure-only fields


def test_specs_md_follows_a_changed_table(monkeypatch):
    """Generated, so it cannot drift: a field refused in a kind module shows up refused in the next render."""
    import importlib

    from leafctl.specs import fields

    module = importlib.import_module(fields.MODULES["data"])
    changed = {**module.FIELDS, "data": {**module.FIELDS["data"], "description": "is refused for this test only"}}
    monkeypatch.setattr(module, "FIELDS", changed)
    assert "| `description` | refused: is refused for this test only |" in _generator().render_specs()
