"""Shared fixtures: an isolated leafctl home and config per test, and two ways to run leafctl.

``cli(...)`` runs the command tree in-process through click's CliRunner; ``exe(...)`` runs the
installed ``leafctl`` executable in a real subprocess. Both return (code, stdout, stderr) and both
see the same isolated environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self) -> str:  # shows up in assertion messages
        return f"Result(code={self.code}, stdout={self.stdout[-2000:]!r}, stderr={self.stderr[-2000:]!r})"


@pytest.fixture
def leaf_env(tmp_path, monkeypatch):
    """An empty leafctl world: no config file, an empty data home, non-interactive, no colour."""
    home = tmp_path / "leafhome"
    cfg = tmp_path / "config" / "config.toml"
    for var in list(os.environ):
        if var.startswith(("LEAFCTL_", "AZML_")):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LEAFCTL_HOME", str(home))
    monkeypatch.setenv("LEAFCTL_CONFIG", str(cfg))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("CI", "1")
    monkeypatch.setenv("LEAFCTL_NO_PROGRESS", "1")
    return tmp_path


@pytest.fixture
def cli(leaf_env):
    from click.testing import CliRunner

    from leafctl.cli.main import cli as root

    def invoke(*args: str, input: str | None = None, env: dict | None = None) -> Result:
        runner = CliRunner()
        r = runner.invoke(root, list(args), input=input, env=env, catch_exceptions=False)
        return Result(r.exit_code, r.stdout, r.stderr)

    return invoke


def leafctl_executable() -> str:
    exe = Path(sys.executable).parent / "leafctl"
    return str(exe) if exe.exists() else (shutil.which("leafctl") or "leafctl")


@pytest.fixture
def exe(leaf_env):
    def run(*args: str, input: str | None = None, env: dict | None = None, timeout: float = 120, cwd=None) -> Result:
        full_env = dict(os.environ)
        full_env.update(env or {})
        p = subprocess.run([leafctl_executable(), *args], input=input, capture_output=True, text=True,
                           env=full_env, timeout=timeout, cwd=cwd)
        return Result(p.returncode, p.stdout, p.stderr)

    return run


def assert_error(r: Result, code: int, *fragments: str) -> None:
    """A clean failure: the documented code, one `error:` line on stderr, no traceback."""
    assert r.code == code, r
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert lines, r
    for frag in fragments:
        assert frag.lower() in r.stderr.lower(), (frag, r)
