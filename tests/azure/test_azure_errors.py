"""Auth failures (exit 4, one line naming the auth mode and the fix), retries of 429/500, 403/404 mapping,
and a quiet SDK (no experimental-class warnings or progress noise on stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from azure_helpers import assert_error, calls

HERE = Path(__file__).resolve().parent


def _set_auth(profile: Path, auth: str, extra: str = "") -> None:
    text = profile.read_text().replace('auth = "default"', f'auth = "{auth}"')
    profile.write_text(text + extra)


def test_rejected_sign_in_exit_4_names_mode_and_fix(azure, fake):
    fake.auth_error = "AADSTS7000215: Invalid client secret provided."
    r = azure("compute", "list")
    assert_error(r, 4, 'auth = "default"', "az login", "AADSTS7000215")
    assert calls(fake, "GET", "/computes") == 0  # never sent without a token


def test_cli_auth_without_az_exit_4(azure, fake, azure_profile, monkeypatch, tmp_path):
    monkeypatch.setenv("LEAFCTL_AZURE_TRANSPORT", "fake_arm:factory_real_credential")
    monkeypatch.setenv("PATH", str(tmp_path))  # no `az` here: AzureCliCredential reports itself unavailable
    _set_auth(azure_profile, "cli")
    r = azure("workspace", "show")
    assert_error(r, 4, 'auth = "cli"', "az login")


def test_service_principal_secret_must_be_set(azure, fake, azure_profile, monkeypatch):
    monkeypatch.setenv("LEAFCTL_AZURE_TRANSPORT", "fake_arm:factory_real_credential")
    monkeypatch.delenv("SP_PASSWORD", raising=False)
    _set_auth(azure_profile, "service-principal", 'tenant_id = "t"\nclient_id = "c"\nclient_secret = "env:SP_PASSWORD"\n')
    assert_error(azure("workspace", "show"), 2, "SP_PASSWORD")


def test_http_401_and_403_exit_4(azure, fake):
    fake.fail(401, match="/computes")
    assert_error(azure("compute", "list"), 4, "401")
    fake.fail(403, match="/computes/")
    r = azure("compute", "show", "cpu")
    assert_error(r, 4, "permission denied", "403")


def test_429_and_500_are_retried(azure, fake):
    fake.fail(429, method="GET", match="/computes")
    fake.fail(500, method="GET", match="/computes")
    r = azure("compute", "list", "-o", "json")
    assert r.code == 0, r
    assert r.json() == []
    assert calls(fake, "GET", "/computes") == 3


def test_lasting_500_exit_1_one_line(azure, fake):
    fake.fail(500, times=50, match="/datastores")
    assert_error(azure("data", "store", "list"), 1, "500")


def test_injected_404_exit_3(azure, fake):
    fake.fail(404, match=r"/workspaces/leaf-ws\?")
    assert_error(azure("workspace", "show"), 3, "workspace 'leaf-ws'")


def test_conflict_409_exit_5(azure, fake):
    fake.fail(409, method="PUT", match="/environments/")
    assert_error(azure("env", "create", "e", "--image", "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference",
                       "--version", "1"), 5)


def test_missing_profile_keys_exit_2(cli, leaf_env, fake):
    cfg = Path(os.environ["LEAFCTL_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('current_profile = "az"\n[profiles.az]\nbackend = "azure"\nworkspace = "w"\n')
    assert_error(cli("compute", "list"), 2, "subscription_id")


def _subprocess_env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    env["LEAFCTL_FAKE_ARM_STATE"] = str(tmp_path / "arm-state.json")
    return env


def test_real_process_stderr_is_clean(exe, azure_profile, fake, tmp_path, monkeypatch):
    """A whole seed-002 flow in real leafctl processes: stdout is JSON, stderr holds nothing from the SDK."""
    env = _subprocess_env(tmp_path)
    steps = [
        ("model", "register", "iris_classification", "--path", "azureml://datastores/workspaceblobstore/paths/m",
         "--type", "mlflow", "-o", "json"),
        ("compute", "create", "batch-cluster", "--max-nodes", "2", "-o", "json"),
        ("endpoint", "create", "iris-ep", "--model", "iris_classification:1", "--compute", "batch-cluster", "-o", "json"),
        ("endpoint", "invoke", "iris-ep", "--input", "azureml://datastores/workspaceblobstore/paths/iris/", "-o", "json"),
        ("endpoint", "delete", "iris-ep", "--yes"),
    ]
    for args in steps:
        r = exe(*args, env=env)
        assert r.code == 0, (args, r)
        own = ("submitted run ", "deleted ")  # leafctl's own status lines are fine
        sdk_noise = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith(own)]
        assert sdk_noise == [], (args, r.stderr)
        if "-o" in args:
            import json

            json.loads(r.stdout)  # no progress dots in the data


_EXPERIMENTAL = """
import os, sys
sys.path.insert(0, {here!r})
os.environ["LEAFCTL_AZURE_TRANSPORT"] = "fake_arm:factory"
from leafctl.profiles import ConfigFile, Settings
{setup}
from azure.ai.ml.entities._deployment.data_collector import DataCollector
DataCollector(collections={{}})
"""


def test_experimental_class_warning_is_silenced(tmp_path):
    quiet = ("from leafctl.backends.azure.client import build_client\n"
             "build_client(Settings('az', dict(subscription_id='s', resource_group='r', workspace='w'), {}, ConfigFile(path=None)))")
    loud = "import azure.ai.ml"
    outs = {}
    for label, setup in (("quiet", quiet), ("loud", loud)):
        p = subprocess.run([sys.executable, "-c", _EXPERIMENTAL.format(here=str(HERE), setup=setup)],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        outs[label] = p.stdout + p.stderr
    assert "experimental" in outs["loud"].lower()  # the warning exists ...
    assert outs["quiet"].strip() == ""  # ... and leafctl's client keeps it away from the user
