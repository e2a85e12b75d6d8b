"""Issue 7 item 1 on the Azure backend: Azure ML substitutes ``${{...}}`` itself at run time (raw, in a
shell), so leafctl sends the user's command untouched and pastes no path into the commands it writes;
the data of `run evolve --remote` goes up under a name with no shell characters in it, because the
mounted path Azure ML pastes into the command ends with that name.

The control plane is tests/azure/fake_arm.py, the bytes live in Azurite; the fixtures are tests/azure's own,
loaded from its conftest (this folder is not below it).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_AZ = Path(__file__).resolve().parents[1] / "azure"
_spec = importlib.util.spec_from_file_location("_leafctl_security_shell_azure_fixtures", _AZ / "conftest.py")
_conf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conf)  # puts tests/azure on sys.path: fake_arm and azurite are the suite's modules

fake, azure_profile, azure, azure_blob = _conf.fake, _conf.azure_profile, _conf.azure, _conf.azure_blob
azurite = _conf.azurite
az_backend, azurite_up, fj, az = _conf.az_backend, _conf.azurite_up, _conf.fj, _conf.az

pytestmark = pytest.mark.azurite


def test_remote_evolve_uploads_a_hostile_data_name_under_a_plain_one(az_backend, fake, azurite_up, leaf_env, tmp_path):
    import fake_jobs

    from leafctl.backends.azure import remote_evolve
    from leafctl.esp.samples import sample_config

    fake_jobs.install(fake, azurite_up)
    cfg = sample_config("campaign", generations=3, population=16, elites=2)
    hostile = tmp_path / "x$(touch P)`touch P`.csv"
    hostile.write_bytes(Path(cfg.data).read_bytes())
    run = remote_evolve.submit_remote_evolve(cfg, compute="gpu-cluster", settings=az_backend.settings,
                                             backend=az_backend, wait=False, data_path=str(hostile))
    body = fake.get(f"{fake.ws_id('leaf-ws')}/jobs/{run.id}")["properties"]
    assert body["command"] == remote_evolve.COMMAND  # nothing of the user's pasted into it
    uri = body["inputs"]["data"]["uri"]
    assert uri.endswith("/data.csv") and "$" not in uri and "`" not in uri, uri
    got = az_backend.download(uri.split("/paths/", 1)[1], tmp_path / "dl")
    assert got.files == 1 and (tmp_path / "dl" / "data.csv").read_bytes() == hostile.read_bytes()
    assert not list(tmp_path.rglob("P")) and not list(leaf_env.rglob("P"))

