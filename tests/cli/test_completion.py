"""Shell completion: commands, options, profile names, and names from the local registry.

Every Tab press re-runs leafctl, so a completion must not pull in azure, numpy or cupy.
"""

from __future__ import annotations

import os
import subprocess
import sys

from leaftest import leafctl_executable


def complete(words: str, env_extra: dict | None = None) -> list[str]:
    parts = words.split(" ")
    env = dict(os.environ, _LEAFCTL_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(len(parts) - 1))
    env.update(env_extra or {})
    p = subprocess.run([leafctl_executable()], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_commands_and_options(leaf_env):
    assert complete("leafctl con") == ["config"]
    assert set(complete("leafctl ")) >= {"config", "compute", "run", "model", "migrate"}
    assert {"list", "create", "list-sizes"} <= set(complete("leafctl compute "))
    assert "--max-nodes" in complete("leafctl compute create x --max")
    # global options are offered after the command too
    assert {"--output", "--query", "--profile"} <= set(complete("leafctl compute list --"))


def test_profile_names(exe):
    exe("config", "init", "-p", "dev")
    exe("config", "init", "-p", "prod", "--no-use")
    assert complete("leafctl -p ") == ["default", "dev", "prod"]
    assert complete("leafctl config use p") == ["prod"]
    assert "dev" in complete("leafctl compute list --profile d")


def test_registry_names(exe, tmp_path):
    exe("compute", "create", "gpu-a", "--type", "cluster", "--max-nodes", "1")
    exe("compute", "create", "gpu-b", "--type", "cluster", "--max-nodes", "1")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("x")
    exe("model", "register", "churn", "--path", str(tmp_path / "m"))
    run_id = exe("run", "submit", "--command", "true", "--wait", "-o", "json").json()["id"]
    assert complete("leafctl compute show gpu") == ["gpu-a", "gpu-b"]
    assert complete("leafctl model show ch") == ["churn"]
    assert complete(f"leafctl run show {run_id[:10]}") == [run_id]
    assert complete("leafctl run evolve --sample ca") == ["campaign"]
    assert complete("leafctl run evolve --compute gpu-") == ["gpu-a", "gpu-b"]
    assert complete("leafctl run evolve --device g") == ["gpu"]


def test_completion_imports_nothing_heavy(exe):
    exe("compute", "create", "gpu-a", "--type", "cluster", "--max-nodes", "1")
    probe = (
        "import os, sys, atexit\n"
        "def check():\n"
        "    bad = sorted({m.split('.')[0] for m in sys.modules} & {'azure', 'numpy', 'cupy', 'pandas', 'pyarrow'})\n"
        "    sys.stderr.write('HEAVY:' + ','.join(bad) + '\\n')\n"
        "atexit.register(check)\n"
        "sys.argv = ['leafctl']\n"
        "from leafctl.cli.main import run\n"
        "run()\n"
    )
    for words in ("leafctl compute show gpu", "leafctl run evolve --", "leafctl run evolve --sample ", "leafctl model prescribe ", "leafctl -p "):
        env = dict(os.environ, _LEAFCTL_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(len(words.split(" ")) - 1))
        p = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
        assert "HEAVY:\n" in p.stderr, (words, p.stderr)


def test_show_completion_script(exe):
    r = exe("--show-completion", "bash")
    assert r.code == 0 and "_LEAFCTL_COMPLETE" in r.stdout
