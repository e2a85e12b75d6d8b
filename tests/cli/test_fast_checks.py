"""Fast checks first: a profile that cannot sign in is refused before azure-ai-ml is imported (which takes
seconds), and `config init`/`config set` warn about what every command would refuse."""

from __future__ import annotations

import os
import subprocess
import sys

from leaftest import assert_error

PROBE = ("import sys, atexit\n"
         "atexit.register(lambda: sys.stderr.write('AZURE:%d\\n' % any(m == 'azure' or m.startswith('azure.') for m in sys.modules)))\n"
         "from leafctl.cli.main import run\nrun()\n")

SP_PROFILE = """current_profile = "sp"
[profiles.sp]
backend = "azure"
subscription_id = "00000000-0000-0000-0000-000000000000"
resource_group = "rg"
workspace = "ws"
auth = "service-principal"
tenant_id = "t"
client_id = "c"
client_secret = "env:LEAF_TEST_UNSET_SECRET"

[profiles.half]
backend = "azure"
workspace = "ws"
"""


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def _job(tmp_path):
    (tmp_path / "job.yml").write_text("command: echo hi\nenvironment: azureml:leaf@latest\n")
    return str(tmp_path / "job.yml")


def test_unset_env_secret_is_refused_before_azure_is_imported(leaf_env, tmp_path, monkeypatch):
    (tmp_path / "config" / "config.toml").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / "config.toml").write_text(SP_PROFILE)
    monkeypatch.delenv("LEAF_TEST_UNSET_SECRET", raising=False)
    for args in (["compute", "list"], ["run", "submit", "-f", _job(tmp_path)], ["model", "show", "churn"]):
        p = _run(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert "LEAF_TEST_UNSET_SECRET" in p.stderr and "is not set" in p.stderr, p.stderr
        assert "AZURE:0" in p.stderr, (args, p.stderr)
    # a dry run signs in nowhere and validates offline: it prints the job without the secret or the SDK
    p = _run("run", "submit", "-f", _job(tmp_path), "--dry-run", "-o", "json")
    assert p.returncode == 0 and '"command": "echo hi"' in p.stdout and "AZURE:0" in p.stderr, p.stderr
    # once it is set the same command goes on to the SDK (the probe sees azure imported)
    p = _run("run", "submit", "-f", _job(tmp_path), env={"LEAF_TEST_UNSET_SECRET": "s3cret", "LEAFCTL_AZURE_TRANSPORT": "nowhere:x"})
    assert "AZURE:1" in p.stderr and "s3cret" not in p.stderr + p.stdout, p.stderr


def test_incomplete_azure_profile_is_refused_before_azure_is_imported(leaf_env, tmp_path):
    (tmp_path / "config" / "config.toml").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / "config.toml").write_text(SP_PROFILE)
    for args in (["-p", "half", "compute", "list"], ["-p", "half", "run", "submit", "-f", _job(tmp_path)],
                 ["run", "submit", "-f", _job(tmp_path), "-p", "half"], ["-p", "half", "model", "list"]):
        p = _run(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert "has no subscription_id, resource_group" in p.stderr and "config set subscription_id" in p.stderr, p.stderr
        assert "AZURE:0" in p.stderr, (args, p.stderr)


def test_config_init_and_set_warn_about_an_unusable_azure_profile(cli):
    r = cli("config", "init", "-p", "prod", "--backend", "azure", "--no-use")
    assert r.code == 0
    assert "warning: profile 'prod' uses the azure backend but has no subscription_id, resource_group, workspace" in r.stderr
    r = cli("config", "set", "subscription_id", "00000000-0000-0000-0000-000000000000", "-p", "prod")
    assert r.code == 0 and "has no resource_group, workspace yet" in r.stderr
    cli("config", "set", "resource_group", "rg", "-p", "prod")
    r = cli("config", "set", "workspace", "ws", "-p", "prod")
    assert r.code == 0 and "warning" not in r.stderr  # complete now: nothing to say
    r = cli("config", "set", "auth", "service-principal", "-p", "prod")
    assert "service-principal auth but has no tenant_id, client_id, client_secret" in r.stderr
    # and a command refuses it, by name, with the fix
    assert_error(cli("-p", "prod", "compute", "list"), 2, "service-principal", "tenant_id", "config set tenant_id")
    r = cli("config", "unset", "resource_group", "-p", "prod")
    assert "has no resource_group yet" in r.stderr
    assert_error(cli("-p", "prod", "compute", "list"), 2, "has no resource_group", "config set resource_group")
    # local profiles are never warned about
    assert "warning" not in cli("config", "init", "-p", "dev").stderr
