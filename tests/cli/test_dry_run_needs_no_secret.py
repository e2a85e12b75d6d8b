"""A dry run signs in nowhere: on an azure profile whose client_secret names an unset variable,
`run submit -f --dry-run` and `run evolve --dry-run` both print what they would submit (exit 0), while
the real submissions are refused (exit 2) before anything imports azure-ai-ml."""

from __future__ import annotations

import pytest
from leaftest import assert_error

UNSET = "LEAFCTL_TEST_G2_UNSET_SECRET"


@pytest.fixture
def azure_profile(cli, monkeypatch):
    monkeypatch.delenv(UNSET, raising=False)
    sets = ["subscription_id=1", "resource_group=rg", "workspace=w", "auth=service-principal", "tenant_id=t",
            "client_id=c", f"client_secret=env:{UNSET}"]
    r = cli("config", "init", "-p", "az", "--backend", "azure", *[a for s in sets for a in ("--set", s)])
    assert r.code == 0, r


# One spec the offline check decides itself, one it hands to azure-ai-ml's loader (identity).
SPECS = ["command: echo hi\nenvironment: azureml:e@latest\ncompute: gpu\n",
         "command: echo hi\nenvironment: azureml:e@latest\ncompute: gpu\nidentity:\n  type: managed\n"]


@pytest.mark.parametrize("body", SPECS, ids=["offline", "sdk"])
def test_submit_dry_run_needs_no_secret(cli, azure_profile, tmp_path, body):
    spec = tmp_path / "job.yml"
    spec.write_text(body)
    r = cli("-p", "az", "run", "submit", "-f", str(spec), "--dry-run", "-o", "json")
    assert r.code == 0, r
    assert r.json()["command"] == "echo hi"
    assert_error(cli("-p", "az", "run", "submit", "-f", str(spec)), 2, "client_secret", UNSET)


def test_evolve_dry_run_needs_no_secret(cli, azure_profile):
    r = cli("-p", "az", "run", "evolve", "--sample", "campaign", "--compute", "gpu", "--generations", "2", "--dry-run", "-o", "json")
    assert r.code == 0, r
    assert r.json()["backend"] == "azure" and r.json()["job"]["compute"] == "azureml:gpu"
    # a real run signs in, and so does a dry run that must read an earlier run (--resume RUN_ID)
    assert_error(cli("-p", "az", "run", "evolve", "--sample", "campaign", "--compute", "gpu", "--generations", "2"),
                 2, "client_secret", UNSET)
    assert_error(cli("-p", "az", "run", "evolve", "--resume", "abc", "--compute", "gpu", "--dry-run"), 2, "client_secret", UNSET)
