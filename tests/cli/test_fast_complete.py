"""Tab in a blink: the stdlib-only completion path gives click's answers, imports nothing heavy, and its
table is the click tree's.

The slow path is the reference: ``leafctl.cli.main.cli.main`` with the same environment, in-process
(typer's own shell_complete). The fast path is ``leafctl.cli._fastcomplete.answer``; it raises Defer
where it would hand a request to click, and none of the command lines below may be deferred.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = {"typer", "click", "rich", "azure", "numpy", "cupy", "pandas", "pyarrow"}

LINES = [
    "leafctl ", "leafctl co", "leafctl compute ", "leafctl compute li", "leafctl compute create x --max",
    "leafctl compute list --", "leafctl compute list -", "leafctl compute list -vv -", "leafctl -", "leafctl --",
    "leafctl -p ", "leafctl -p d", "leafctl config use p", "leafctl config show ", "leafctl compute list --profile d",
    "leafctl compute show ", "leafctl compute show gpu", "leafctl -p prod compute show ", "leafctl compute show -p prod ",
    "leafctl compute show --profile=prod g", "leafctl model show ch", "leafctl model prescribe ",
    "leafctl model prescribe churn --candidate ", "leafctl run show ", "leafctl run evolve --sample ca",
    "leafctl run evolve --compute gpu-", "leafctl run evolve --device g", "leafctl run evolve --resume ",
    "leafctl run evolve --predictor ", "leafctl run evolve --", "leafctl run evolve --seed 3 --dry-run --",
    "leafctl -o ", "leafctl run list -o j", "leafctl run list --output=", "leafctl run list --output=j",
    "leafctl data store ", "leafctl data store show ", "leafctl data upload --datastore ", "leafctl endpoint deployment ",
    "leafctl workspace show ", "leafctl nosuch ", "leafctl compute --bogus ", "leafctl compute list extra ",
    "leafctl run submit -- ", "leafctl run submit -f ", "leafctl run submit --file=./", "leafctl compute show 'gpu",
    "leafctl compute show gpu-a ", "leafctl migrate ", "leafctl m", "leafctl example write ", "leafctl example ",
]
# Typed words on path parameters, and words after `--`: typer's Path answers nothing there (bash: an
# empty line, zsh: `_files`), so that the shell's own file completion takes over.
PATH_LINES = [
    "leafctl run evolve ev", "leafctl run evolve -- --", "leafctl run evolve -- ev", "leafctl run evolve --output-path o",
    "leafctl run evolve --seed 3 c", "leafctl model prescribe --input in", "leafctl model prescribe -i in",
    "leafctl model prescribe --out o", "leafctl model prescribe --out=o", "leafctl model register --path p",
    "leafctl data upload sr", "leafctl data upload -- sr", "leafctl data download x --output-path o",
    "leafctl run download --dest d", "leafctl model download --output-path ./o", "leafctl run show --output-path o",
    "leafctl endpoint invoke --output-path o", "leafctl example write fo", "leafctl example write -- --",
    "leafctl migrate dotenv .e", "leafctl migrate dotenv -- --", "leafctl run submit -- --",
]


@pytest.fixture
def world(exe, tmp_path):
    """Profiles (default, dev, prod on another workspace) and registry names on both workspaces."""
    assert exe("config", "init", "-p", "dev").code == 0
    assert exe("config", "init", "-p", "prod", "--no-use", "--set", "workspace=other").code == 0
    for name in ("gpu-a", "gpu-b"):
        assert exe("compute", "create", name, "--type", "cluster", "--max-nodes", "1").code == 0
    assert exe("workspace", "create", "other").code == 0
    assert exe("-p", "prod", "compute", "create", "gpu-z", "--type", "cluster", "--max-nodes", "1").code == 0
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("x")
    assert exe("model", "register", "churn", "--path", str(tmp_path / "m")).code == 0
    run_id = exe("run", "submit", "--command", "true", "--wait", "-o", "json").json()["id"]
    return run_id


def _bash_env(line: str) -> dict[str, str]:
    words = line.split(" ")
    return {"_LEAFCTL_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}


def _zsh_env(line: str) -> dict[str, str]:
    return {"_LEAFCTL_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line}


def _fish_env(line: str) -> dict[str, str]:
    return {"_LEAFCTL_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": line, "_TYPER_COMPLETE_FISH_ACTION": "get-args"}


def slow_answer(env: dict[str, str], monkeypatch, capsys) -> tuple[str, int]:
    from leafctl.cli.main import cli

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        cli.main(args=[], prog_name="leafctl")
    return capsys.readouterr().out, e.value.code or 0


def fast_answer(env: dict[str, str], monkeypatch) -> tuple[str, int]:
    from leafctl.cli._fastcomplete import answer

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return answer()


def test_fast_answers_equal_click_answers(world, monkeypatch, capsys):
    run_id = world
    lines = [*LINES, *PATH_LINES, f"leafctl run show {run_id[:8]}", f"leafctl model register --run {run_id[:4]}"]
    for shell_env in (_bash_env, _zsh_env, _fish_env):
        for line in lines:
            env = shell_env(line)
            want = slow_answer(env, monkeypatch, capsys)
            got = fast_answer(env, monkeypatch)
            assert got == want, (shell_env.__name__, line)
    # and the answers are the real ones, not two empty lists agreeing
    assert fast_answer(_bash_env("leafctl -p prod compute show "), monkeypatch)[0].split() == ["gpu-z", "local"]
    assert fast_answer(_bash_env("leafctl compute show "), monkeypatch)[0].split() == ["gpu-a", "gpu-b", "local"]
    assert {"dev", "prod"} <= set(fast_answer(_bash_env("leafctl -p "), monkeypatch)[0].split())
    assert fast_answer(_bash_env(f"leafctl run show {run_id[:8]}"), monkeypatch)[0].split() == [run_id]
    assert fast_answer(_bash_env("leafctl run evolve ev"), monkeypatch) == ("\n", 0)
    assert fast_answer(_zsh_env("leafctl run evolve ev"), monkeypatch) == ("_files\n", 0)


def test_help_text_wraps_as_rich_wraps_it(monkeypatch):
    """zsh and fish show help beside each word; typer renders it with rich at the terminal's width."""
    import json

    from typer._completion_classes import _sanitize_help_text

    from leafctl.cli._complete_table import TABLE_JSON
    from leafctl.cli._fastcomplete import _sanitize, _zsh_escape

    table = json.loads(TABLE_JSON)
    texts = {p["help"] for p in table["params"] if p["help"]} | {n["short_help"] for n in table["nodes"].values() if n["short_help"]}
    texts |= {_zsh_escape(t) for t in texts} | {"a" * 100, "  two  spaces  and a verylongwordthatmustfold" * 3, "x ",
                                                "a [predictor] table in CONFIG", "escaped \\[tag] and \\\\[bold]b[/bold]",
                                                "$[x] costs", "ok [link=https://x]y", "best:<objective>", "a :smile: b", "x:y:z", ":+1:"}
    for width in (7, 20, 45, 80, 133):
        monkeypatch.setenv("COLUMNS", str(width))
        for text in texts:
            assert _sanitize(text) == _sanitize_help_text(text), (width, text)


def _probe(module: str, env_extra: dict[str, str], home: dict[str, str]) -> subprocess.CompletedProcess:
    probe = (
        "import sys, atexit\n"
        "atexit.register(lambda: sys.stderr.write('HEAVY:' + ','.join(sorted({m.split('.')[0] for m in sys.modules}"
        f" & set({sorted(HEAVY)!r}))) + '\\n'))\n"
        "sys.argv = ['leafctl']\n"
        f"from {module} import run\n"
        "run()\n"
    )
    env = {**os.environ, **home, **env_extra}
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)


def test_fast_path_imports_nothing_heavy(world):
    home = {"LEAFCTL_HOME": os.environ["LEAFCTL_HOME"], "LEAFCTL_CONFIG": os.environ["LEAFCTL_CONFIG"]}
    for line in ("leafctl compute li", "leafctl compute show gpu", "leafctl -p ", "leafctl model prescribe ",
                 "leafctl run evolve --", "leafctl run evolve --sample ", "leafctl model prescribe churn --candidate ",
                 "leafctl run evolve --predictor ", "leafctl example write ", "leafctl run evolve --device "):
        for env in (_bash_env(line), _zsh_env(line)):
            p = _probe("leafctl.cli._fastcomplete", env, home)
            assert p.returncode == 0 and "HEAVY:\n" in p.stderr, (line, p.stderr)
    # The same probe through the old entry point does import them: the check can fail.
    p = _probe("leafctl.cli.main", _bash_env("leafctl compute li"), home)
    assert "HEAVY:\n" not in p.stderr and "click" in p.stderr


def test_plugin_groups_are_cached_once_then_fast(world):
    """A plugin's commands are not in the committed table: the first Tab press builds its entry with
    click (same answer), every later one reads it from the cache without click."""
    home = {"LEAFCTL_HOME": os.environ["LEAFCTL_HOME"], "LEAFCTL_CONFIG": os.environ["LEAFCTL_CONFIG"]}
    cache = Path(os.environ["LEAFCTL_HOME"]) / "cache" / "completion-plugins.json"
    cache.unlink(missing_ok=True)
    first = _probe("leafctl.cli._fastcomplete", _bash_env("leafctl migrate "), home)
    assert first.returncode == 0 and cache.exists()
    second = _probe("leafctl.cli._fastcomplete", _bash_env("leafctl migrate "), home)
    assert second.stdout == first.stdout and second.stdout.strip()
    assert "HEAVY:\n" in second.stderr, second.stderr
    slow = _probe("leafctl.cli.main", _bash_env("leafctl migrate "), home)
    assert slow.stdout == first.stdout


def test_requests_it_does_not_model_go_to_click(leaf_env):
    """`source_bash` (the script) and unknown instructions are click's: same bytes, same exit code."""
    home = {"LEAFCTL_HOME": os.environ["LEAFCTL_HOME"], "LEAFCTL_CONFIG": os.environ["LEAFCTL_CONFIG"]}
    for instruction in ("source_bash", "complete_tcsh", "nonsense"):
        env = {"_LEAFCTL_COMPLETE": instruction, "COMP_WORDS": "leafctl ", "COMP_CWORD": "1"}
        fast = _probe("leafctl.cli._fastcomplete", env, home)
        slow = _probe("leafctl.cli.main", env, home)
        assert (fast.returncode, fast.stdout) == (slow.returncode, slow.stdout), instruction
    assert "complete_bash" in _probe("leafctl.cli._fastcomplete", {"_LEAFCTL_COMPLETE": "source_bash"}, home).stdout


def test_console_script_enters_through_the_fast_path():
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["leafctl"] == "leafctl.cli._fastcomplete:run"


def test_committed_table_is_the_click_tree():
    """Like docs/commands.md: regenerate with `.venv/bin/python docs/generate.py` when this fails."""
    from leafctl.cli._complete_gen import TABLE_FILE, builtin_table, render_table

    assert TABLE_FILE.read_text(encoding="utf-8") == render_table(builtin_table()), \
        "leafctl/cli/_complete_table.py is stale: run `.venv/bin/python docs/generate.py`"


def test_every_completion_callback_is_callable_without_click():
    """A callback in a module that imports typer/click/rich would send its Tab presses down the slow
    path: put it in leafctl/cli/_complete.py (stdlib only) instead."""
    import json

    from leafctl.cli._complete_table import TABLE_JSON

    calls = {p["complete"]["call"]: p["complete"]["fast"] for p in json.loads(TABLE_JSON)["params"]
             if p["complete"] and "call" in p["complete"]}
    assert calls and all(calls.values()), {c for c, fast in calls.items() if not fast}
