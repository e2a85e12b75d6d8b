"""-f spec.yml through azure-ai-ml's loaders on the local backend: one az ml v2 YAML runs locally and on Azure.

Each spec kind works with -f and with --dry-run; a dry run needs no backend and no network (an azure profile
with no emulator, fake or credential still dry-runs); an invalid spec names every bad field on one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from leaftest import assert_error

from test_cli_endpoint import pyfunc_model

COMPUTE = """$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
name: leaf-cluster
type: amlcompute
size: Standard_DS3_v2
min_instances: 0
max_instances: 3
idle_time_before_scale_down: 180
tier: dedicated
"""
JOB = """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
code: ./src
command: python -c "import shutil,sys; shutil.copytree(sys.argv[1], sys.argv[2], dirs_exist_ok=True)" ${{inputs.data}} ${{outputs.out}}
inputs:
  data:
    type: uri_folder
    path: ./data
outputs:
  out:
    type: uri_folder
experiment_name: spec-exp
display_name: from-spec
environment_variables:
  DB_PASSWORD: hunter2
"""
ENVIRONMENT = """$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
name: leaf-env
image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04
conda_file: conda.yml
description: from yaml
"""
ENDPOINT = """$schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json
name: dbl-ep
description: doubles x
"""
# An MLflow model deployment with `settings:`: load_batch_deployment rejects it; `type: model` dispatches.
DEPLOYMENT = """$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
endpoint_name: dbl-ep
name: blue
type: model
model: azureml:doubler:1
compute: azureml:local
resources:
  instance_count: 1
settings:
  max_concurrency_per_instance: 2
  mini_batch_size: 10
  output_action: append_row
  output_file_name: predictions.csv
  retry_settings:
    max_retries: 3
    timeout: 300
  error_threshold: -1
  logging_level: info
"""


@pytest.fixture
def specs_dir(tmp_path) -> Path:
    d = tmp_path / "specs"
    (d / "src").mkdir(parents=True)
    (d / "data").mkdir()
    (d / "data" / "x.csv").write_text("x\n1\n")
    (d / "conda.yml").write_text("name: leaf\ndependencies:\n  - python=3.11\n")
    for name, text in {"compute": COMPUTE, "job": JOB, "environment": ENVIRONMENT, "endpoint": ENDPOINT,
                       "deployment": DEPLOYMENT}.items():
        (d / f"{name}.yml").write_text(text)
    return d


def _dry_runs(cli, d: Path) -> dict:
    out = {}
    for key, args in {"compute": ("compute", "create", "-f", str(d / "compute.yml"), "--set", "max_instances=4"),
                      "job": ("run", "submit", "-f", str(d / "job.yml"), "--set", "experiment_name=dry"),
                      "environment": ("env", "create", "-f", str(d / "environment.yml"), "--set", "version=3"),
                      "endpoint": ("endpoint", "create", "-f", str(d / "endpoint.yml"), "-f", str(d / "deployment.yml"),
                                   "--set", "settings.mini_batch_size=5")}.items():
        r = cli(*args, "--dry-run", "-o", "json")
        assert r.code == 0, (key, r)
        assert "hunter2" not in r.stdout + r.stderr
        out[key] = r.json()
    return out


def _check_dry(got: dict, d: Path) -> None:
    assert got["compute"] == {"$schema": "https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json",
                              "name": "leaf-cluster", "type": "amlcompute", "size": "Standard_DS3_v2", "min_instances": 0,
                              "max_instances": 4, "idle_time_before_scale_down": 180, "tier": "dedicated"}
    job = got["job"]
    assert job["experiment_name"] == "dry" and job["code"] == str((d / "src").resolve())
    assert job["inputs"]["data"]["path"] == str((d / "data").resolve())
    assert job["environment_variables"] == {"DB_PASSWORD": "<redacted>"}
    assert "environment" not in job  # none given: validation lent one, the job does not get it
    env = got["environment"]
    assert (env["name"], env["version"], env["description"]) == ("leaf-env", "3", "from yaml")
    assert "python=3.11" in env["conda_file"]["dependencies"]  # the az ml document: the conda file inline
    ep, dep = got["endpoint"]["endpoint"], got["endpoint"]["deployment"]
    assert (ep["name"], ep["description"]) == ("dbl-ep", "doubles x")
    assert (dep["name"], dep["endpoint_name"], dep["model"], dep["compute"]) == ("blue", "dbl-ep", "azureml:doubler:1", "azureml:local")
    assert dep["settings"]["mini_batch_size"] == 5 and dep["settings"]["retry_settings"] == {"max_retries": 3, "timeout": 300}


def test_every_spec_kind_dry_runs_and_changes_nothing(cli, specs_dir):
    _check_dry(_dry_runs(cli, specs_dir), specs_dir)
    assert cli("compute", "list", "-q", "[].name").json() == ["local"]
    assert cli("run", "list").json() == [] and cli("env", "list").json() == [] and cli("endpoint", "list").json() == []


def test_dry_run_needs_no_backend_and_no_network(cli, specs_dir, monkeypatch):
    """An azure profile with no Azurite, no fake service and no credential: dry runs still succeed."""
    for var in ("LEAFCTL_AZURE_TRANSPORT", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    assert cli("config", "init", "-p", "cloud", "--backend", "azure", "--set", "subscription_id=00000000-0000-0000-0000-000000000000",
               "--set", "resource_group=rg", "--set", "workspace=ws").code == 0
    assert cli("config", "use", "cloud").code == 0

    def no_backend(*a, **k):
        raise AssertionError("a dry run constructed a backend")

    from leafctl.cli import _state

    monkeypatch.setattr(_state.State, "backend", no_backend)
    import socket

    def no_network(*a, **k):
        raise AssertionError("a dry run opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    got = _dry_runs(cli, specs_dir)
    _check_dry(got, specs_dir)


def test_every_spec_kind_runs_locally(cli, specs_dir, tmp_path):
    d = specs_dir
    c = cli("compute", "create", "-f", str(d / "compute.yml"), "-o", "json")
    assert c.code == 0, c
    assert (c.json()["name"], c.json()["max_nodes"], c.json()["idle_seconds"]) == ("leaf-cluster", 3, 180)

    r = cli("run", "submit", "-f", str(d / "job.yml"), "--set", "compute=azureml:leaf-cluster", "--wait", "-o", "json")
    assert r.code == 0, r
    run = r.json()
    assert (run["status"], run["compute"], run["experiment"], run["display_name"]) == ("Completed", "leaf-cluster", "spec-exp", "from-spec")
    assert Path(run["outputs_path"], "out", "x.csv").read_text() == "x\n1\n"
    assert "hunter2" not in json.dumps(run)

    e = cli("env", "create", "-f", str(d / "environment.yml"), "-o", "json")
    assert e.code == 0, e
    assert e.json()["version"] == "1" and "python=3.11" in e.json()["conda_file"]
    assert cli("env", "show", "leaf-env:1", "-q", "image").json().startswith("mcr.microsoft.com/")

    assert cli("model", "register", "doubler", "--path", str(pyfunc_model(tmp_path / "m")), "--type", "mlflow").code == 0
    ep = cli("endpoint", "create", "-f", str(d / "endpoint.yml"), "-f", str(d / "deployment.yml"), "-o", "json")
    assert ep.code == 0, ep
    assert (ep.json()["name"], ep.json()["model"], ep.json()["compute"]) == ("dbl-ep", "doubler:1", "local")
    # The deployment alone names its endpoint (endpoint_name), and NAME wins over it.
    alone = cli("endpoint", "create", "other-ep", "-f", str(d / "deployment.yml"), "--dry-run", "-o", "json")
    assert alone.code == 0 and alone.json()["endpoint"]["name"] == alone.json()["deployment"]["endpoint_name"] == "other-ep"


def test_two_bad_fields_are_both_listed(cli, specs_dir):
    bad = specs_dir / "bad.yml"
    bad.write_text(COMPUTE.replace("tier: dedicated", "tier: gold").replace("max_instances: 3", "max_instances: many"))
    r = cli("compute", "create", "-f", str(bad), "--dry-run")
    assert_error(r, 2, "tier", "max_instances", "gold")
    assert len(r.stderr.strip().splitlines()) == 1
    bad.write_text(JOB.replace("command:", "comand:", 1).replace("experiment_name: spec-exp", "experiment_name: [1, 2]"))
    r = cli("run", "submit", "-f", str(bad), "--dry-run")
    assert_error(r, 2, "comand", "did you mean command", "experiment_name")
    assert len(r.stderr.strip().splitlines()) == 1
    bad.write_text(DEPLOYMENT.replace("mini_batch_size: 10", "mini_batch_size: ten").replace("type: model\n", "type: model\nmodle: x\n"))
    assert_error(cli("endpoint", "create", "-f", str(bad), "--dry-run"), 2, "settings.mini_batch_size", "modle")


def test_flags_override_the_file_and_set_overrides_the_flags(cli, specs_dir):
    r = cli("compute", "create", "-f", str(specs_dir / "compute.yml"), "--max-nodes", "5", "--size", "Standard_NC6s_v3",
            "--dry-run", "-o", "json")
    assert r.code == 0 and (r.json()["max_instances"], r.json()["size"]) == (5, "Standard_NC6s_v3")
    r = cli("compute", "create", "-f", str(specs_dir / "compute.yml"), "--max-nodes", "5", "--set", "max_instances=7",
            "--dry-run", "-o", "json")
    assert r.json()["max_instances"] == 7
    r = cli("run", "submit", "-f", str(specs_dir / "job.yml"), "--experiment", "flag-exp", "--env-var", "MODE=x",
            "--dry-run", "-o", "json")
    assert r.json()["experiment_name"] == "flag-exp" and r.json()["environment_variables"]["MODE"] == "x"
    # --set without -f validates the flags through the same loader
    assert_error(cli("compute", "create", "c", "--set", "tier=gold"), 2, "tier")


def test_datastore_service_principal_flags_and_secret_references(cli, leaf_env):
    args = ("data", "store", "create", "lake", "--type", "azure_data_lake_gen2", "--account-name", "acct",
            "--container-name", "fs", "--tenant-id", "t-id", "--client-id", "c-id")
    r = cli(*args, "--client-secret", "env:SP_SECRET", "--dry-run", "-o", "json")
    assert r.code == 0, r
    assert r.json() == {**r.json(), "filesystem": "fs",  # the az ml document
                        "credentials": {"tenant_id": "t-id", "client_id": "c-id", "client_secret": "env:SP_SECRET"}}
    made = cli(*args, "--client-secret", "env:SP_SECRET", "-o", "json")
    assert made.code == 0 and made.json()["credential"] == "service_principal"
    for flag in ("--client-secret", "--account-key", "--sas-token"):
        bad = cli(*args, flag, "plain-secret-value")
        assert_error(bad, 2, "literal secret", "env:")
        assert "plain-secret-value" not in bad.stdout + bad.stderr
    spec = leaf_env / "lake.yml"
    spec.write_text("name: lake2\ntype: azure_data_lake_gen2\naccount_name: acct\nfilesystem: fs\n")
    r = cli("data", "store", "create", "-f", str(spec), "--tenant-id", "t", "--client-id", "c", "--client-secret", "env:SP",
            "--dry-run", "-o", "json")
    assert r.code == 0, r
    assert (r.json()["credentials"]["client_secret"], r.json()["filesystem"]) == ("env:SP", "fs")
