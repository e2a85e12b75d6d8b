"""-f spec.yml read with azure-ai-ml's own loaders (leafctl.specs): --set overrides, offline
--dry-run output, every bad field listed (exit 2), batch deployment dispatch on `type:`."""

from __future__ import annotations

import pytest
from azure_helpers import assert_error

from leafctl.specs import assets as spec_assets
from leafctl.specs import compute as spec_compute
from leafctl.specs import endpoint as spec_endpoint
from leafctl.specs import job as spec_job
from leafctl.specs import load as spec_load
from leafctl.errors import NotFound, UsageError

SPECS = {
    "compute": """$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
name: LEAF-cluster
type: amlcompute
size: Standard_DS1_v2
min_instances: 0
max_instances: 2
idle_time_before_scale_down: 120
tier: dedicated
""",
    "job": """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: python train.py --data ${{inputs.data}} --out ${{outputs.model}}
code: ./src
inputs:
  data:
    type: uri_folder
    path: azureml://datastores/workspaceblobstore/paths/batcomputer-data/
outputs:
  model:
    type: uri_folder
environment: azureml:leaf-esp@latest
compute: azureml:LEAF-cluster
experiment_name: batcomputer
environment_variables:
  ESTIMATORS: "75"
""",
    "data": """$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
name: iris
type: uri_file
path: azureml://datastores/workspaceblobstore/paths/datasets/iris_csv.csv
description: Iris
""",
    "model": """$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
name: iris_classification
version: 1
type: mlflow_model
path: azureml://jobs/leaf-run-1/outputs/model
tags:
  accuracy: "0.97"
""",
    "environment": """$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
name: leaf-esp
version: 1
image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04
conda_file: conda.yml
""",
    "batch_endpoint": """$schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json
name: iris-ep
description: Iris batch scoring
""",
    "batch_deployment": """$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
endpoint_name: iris-ep
name: iris-mlflow
type: model
model: azureml:iris_classification:1
compute: azureml:batch-cluster
resources:
  instance_count: 2
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
""",
}


@pytest.fixture
def spec_dir(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    (tmp_path / "conda.yml").write_text("name: leaf\ndependencies:\n  - python=3.11\n")
    for kind, text in SPECS.items():
        (tmp_path / f"{kind}.yml").write_text(text)
    return tmp_path


@pytest.fixture
def offline(monkeypatch):
    """No transport hook and no credential: any network use would fail loudly."""
    monkeypatch.delenv("LEAFCTL_AZURE_TRANSPORT", raising=False)


@pytest.mark.parametrize("kind", list(SPECS))
def test_dry_run_every_kind_offline(kind, spec_dir, offline):
    doc = spec_load.resolved(kind, spec_dir / f"{kind}.yml")
    assert isinstance(doc, dict) and doc
    if kind != "job":
        assert doc["name"]


def test_set_overrides_reach_nested_fields(spec_dir, offline):
    doc = spec_load.resolved("compute", spec_dir / "compute.yml", ["max_instances=4", "tier=low_priority"])
    assert doc["max_instances"] == 4 and doc["tier"] == "low_priority"
    dep = spec_load.resolved("batch_deployment", spec_dir / "batch_deployment.yml", ["resources.instance_count=3"])
    assert dep["resources"]["instance_count"] == 3


def test_invalid_spec_lists_every_bad_field(spec_dir, offline):
    bad = spec_dir / "bad.yml"
    bad.write_text(SPECS["compute"].replace("min_instances: 0", "min_instances: zero")
                   .replace("tier: dedicated", "tier: gold").replace("idle_time_before_scale_down: 120", "idle_time_before_scale_down: soon"))
    with pytest.raises(UsageError) as info:
        spec_load.load("compute", bad)
    e = info.value
    assert e.exit_code == 2
    for field in ("min_instances", "tier", "idle_time_before_scale_down"):
        assert field in e.what
    assert "\n" not in e.line()


def test_mlflow_deployment_with_settings_dispatches_on_type(spec_dir, offline):
    """load_batch_deployment rejects `settings:`; `type: model` goes to the model batch deployment loader."""
    from azure.ai.ml import load_batch_deployment

    with pytest.raises(Exception) as info:
        load_batch_deployment(str(spec_dir / "batch_deployment.yml"))
    assert "settings" in str(info.value)
    d = spec_load.load("batch_deployment", spec_dir / "batch_deployment.yml")
    assert type(d).__name__ == "ModelBatchDeployment" and d.settings.mini_batch_size == 10
    assert spec_endpoint.endpoint_from_files([spec_dir / "batch_endpoint.yml", spec_dir / "batch_deployment.yml"]) == {
        "name": "iris-ep", "model": "iris_classification:1", "compute": "batch-cluster"}


def test_specs_become_records(spec_dir, offline):
    c, ignored = spec_compute.compute_from_file(spec_dir / "compute.yml")
    assert c == {"name": "LEAF-cluster", "type": "cluster", "size": "Standard_DS1_v2", "min_nodes": 0, "max_nodes": 2,
                 "idle_seconds": 120, "tier": "dedicated",
                 "extra": {"$schema": "https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json"}} and ignored == []
    job = spec_job.job_from_file(spec_dir / "job.yml")
    assert job.compute == "LEAF-cluster" and job.experiment == "batcomputer" and job.env_vars == {"ESTIMATORS": "75"}
    assert job.code == str((spec_dir / "src").resolve())
    assert job.inputs == {"data": "azureml://datastores/workspaceblobstore/paths/batcomputer-data/"}
    assert job.outputs == {"model": None}
    m = spec_assets.model_from_file(spec_dir / "model.yml")
    assert m["run_id"] == "leaf-run-1" and m["output"] == "model" and m["type"] == "mlflow"
    env = spec_assets.environment_from_file(spec_dir / "environment.yml")
    assert env.image.startswith("mcr.microsoft.com/") and "python=3.11" in env.conda_file
    assert spec_assets.data_from_file(spec_dir / "data.yml")["type"] == "uri_file"


def test_missing_file_and_bad_yaml(spec_dir, offline):
    with pytest.raises(NotFound):
        spec_load.load("compute", spec_dir / "nope.yml")
    (spec_dir / "broken.yml").write_text("name: [unclosed\n")
    with pytest.raises(UsageError):
        spec_load.load("compute", spec_dir / "broken.yml")
    with pytest.raises(UsageError):
        spec_load.parse_sets(["novalue"])


def test_cli_dry_run_touches_no_service(azure, fake, spec_dir):
    r = azure("compute", "create", "-f", str(spec_dir / "compute.yml"), "--dry-run", "-o", "json")
    assert r.code == 0, r
    assert r.json()["max_instances"] == 2
    r = azure("endpoint", "create", "iris-ep", "--model", "azureml:iris_classification:1", "--compute", "batch-cluster",
              "--dry-run", "-o", "json")
    assert r.code == 0, r
    assert fake.calls == []
    assert_error(azure("compute", "create", "x", "--max-nodes", "-1", "--dry-run"), 2)
