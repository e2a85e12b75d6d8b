"""Azure fixtures: the in-memory control plane (fake_arm.py) behind leafctl's MLClient, and an azure profile.

``fake``     a fresh ``fake_arm.FakeAzureML`` (also ``fake_arm.FAKE``) with workspace leaf-ws, and
             ``LEAFCTL_AZURE_TRANSPORT=fake_arm:factory`` set, so every MLClient leafctl builds talks to it.
``azure``    the ``cli`` fixture with a config file whose current profile ``az`` has backend = "azure".
``backend``  an AzureBackend built from that profile, for tests below the CLI.
``azurite``, ``azurite_up``, ``az_backend``  from azurite.py (imported below).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import fake_arm  # noqa: E402  (the same module object the hook imports by this name)

PROFILE = f"""current_profile = "az"

[profiles.az]
backend = "azure"
subscription_id = "{fake_arm.SUB}"
resource_group = "{fake_arm.RG}"
workspace = "{fake_arm.WS}"
location = "{fake_arm.LOCATION}"
auth = "default"
experiment = "leaf-esp"
"""


@pytest.fixture
def fake(leaf_env, monkeypatch):
    f = fake_arm.reset()
    monkeypatch.setenv("LEAFCTL_AZURE_TRANSPORT", "fake_arm:factory")
    for var in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME", "AZURE_PASSWORD",
                "MSI_ENDPOINT", "IDENTITY_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    return f


@pytest.fixture
def azure_profile(leaf_env, fake):
    cfg = Path(os.environ["LEAFCTL_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(PROFILE)
    cfg.chmod(0o600)
    return cfg


@pytest.fixture
def azure(cli, azure_profile):
    return cli


@pytest.fixture
def backend(azure_profile):
    from leafctl.backends.azure import AzureBackend
    from leafctl.profiles import resolve

    return AzureBackend(resolve())


# Azurite (tests/azure/azurite.py): the session emulator, a per-test "guaranteed running" handle, and an
# AzureBackend whose datastores' bytes live in it. Imported here once, for every module in tests/azure.
from azurite import az_backend, azurite, azurite_up  # noqa: E402,F401


@pytest.fixture
def azure_blob(azure, azurite, fake, azure_profile):
    """The azure profile with the default datastore's bytes in Azurite (``blob_endpoint`` override)."""
    from azure.core.exceptions import ResourceExistsError

    with azure_profile.open("a") as f:
        f.write(f'blob_endpoint = "{azurite.blob_endpoint}"\n')
    svc = azurite.service_client()
    for container in ("azureml-blobstore", "azureml"):
        try:
            svc.create_container(container)
        except ResourceExistsError:
            pass
    return azure


@pytest.fixture
def fj(fake, azurite_up):
    """Command and batch jobs in the fake, their logs and outputs in Azurite (fake_jobs.py)."""
    import fake_jobs

    return fake_jobs.install(fake, azurite_up)


@pytest.fixture
def az(azure, az_backend, fj, monkeypatch):
    """The in-process CLI on the azure profile: control plane and jobs in the fake, bytes in Azurite,
    no polling delay."""
    monkeypatch.setenv("LEAFCTL_AZURE_POLL_SECONDS", "0")
    return azure
