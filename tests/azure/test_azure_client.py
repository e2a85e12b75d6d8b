"""The credential for each profile auth mode, the lazy import contract, and the test hook's shape."""

from __future__ import annotations

import subprocess
import sys

import pytest

from leafctl.backends.azure.auth import credential
from leafctl.errors import UsageError
from leafctl.profiles import ConfigFile, Settings


def _settings(**values):
    base = dict(backend="azure", subscription_id="s", resource_group="r", workspace="w", auth="default")
    base.update(values)
    return Settings("az", base, {}, ConfigFile(path=None))


@pytest.mark.parametrize("auth, cls", [("default", "DefaultAzureCredential"), ("cli", "AzureCliCredential"),
                                       ("managed-identity", "ManagedIdentityCredential")])
def test_credential_per_auth_mode(auth, cls):
    assert type(credential(_settings(auth=auth, client_id="22222222-2222-2222-2222-222222222222"))).__name__ == cls


def test_service_principal_reads_the_secret_from_env_at_use(monkeypatch):
    monkeypatch.setenv("SP_PASSWORD", "s3cret")
    cred = credential(_settings(auth="service-principal", tenant_id="t", client_id="c", client_secret="env:SP_PASSWORD"))
    assert type(cred).__name__ == "ClientSecretCredential"
    with pytest.raises(UsageError) as info:
        credential(_settings(auth="service-principal", tenant_id="t", client_secret="env:SP_PASSWORD"))
    assert "client_id" in info.value.what


def test_importing_the_backend_imports_no_azure_module():
    code = ("import sys, leafctl.backends.azure, leafctl.specs.load, leafctl.specs.job;"
            "bad = [m for m in sys.modules if m == 'azure' or m.startswith('azure.')]; print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_backend_builds_its_client_lazily(backend, fake):
    assert backend._client is None
    assert backend.get_workspace().name == "leaf-ws"
    assert backend._client is not None


def test_bad_hook_value_is_usage_error(backend, monkeypatch):
    monkeypatch.setenv("LEAFCTL_AZURE_TRANSPORT", "no-colon")
    with pytest.raises(UsageError):
        backend.get_workspace()
