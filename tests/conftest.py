"""Shared fixtures: an isolated leafctl home and config per test, and two ways to run leafctl.

``cli(...)`` runs the command tree in-process through click's CliRunner; ``exe(...)`` runs the
installed ``leafctl`` executable in a real subprocess. Both return (code, stdout, stderr) and both
see the same isolated environment.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from leaftest import Result, leafctl_executable

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_plots(request, monkeypatch):
    """No end-of-run plots (1-4 s of matplotlib per run) except in tests marked ``plots``."""
    if request.node.get_closest_marker("plots") is None:
        monkeypatch.setenv("LEAFCTL_NO_PLOTS", "1")
    else:
        monkeypatch.delenv("LEAFCTL_NO_PLOTS", raising=False)


@pytest.fixture
def leaf_env(tmp_path, monkeypatch, request):
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
    if request.node.get_closest_marker("plots") is None:
        monkeypatch.setenv("LEAFCTL_NO_PLOTS", "1")
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


@pytest.fixture
def exe(leaf_env):
    def run(*args: str, input: str | None = None, env: dict | None = None, timeout: float = 120, cwd=None) -> Result:
        full_env = dict(os.environ)
        full_env.update(env or {})
        p = subprocess.run([leafctl_executable(), *args], input=input, capture_output=True, text=True,
                           env=full_env, timeout=timeout, cwd=cwd)
        return Result(p.returncode, p.stdout, p.stderr)

    return run
