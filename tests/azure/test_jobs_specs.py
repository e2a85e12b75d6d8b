"""Command jobs, complete (issue 8, item 2), on the Azure backend: what the control plane receives for az ml
v2 command job YAML written the way azureml-examples writes it (tests/specs/corpus/job), and for the flags."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.azurite

CORPUS = Path(__file__).resolve().parent.parent / "specs" / "corpus" / "job"


@pytest.fixture
def corpus(tmp_path) -> Path:
    d = tmp_path / "job"
    shutil.copytree(CORPUS, d)
    return d


def submitted(az, fake, *args) -> dict:
    """Submit; the job's properties as the fake control plane received them."""
    import fake_arm

    r = az("run", "submit", *args, "-o", "json")
    assert r.code == 0, r
    rid = r.json()["id"]
    return fake_arm.FAKE.resources[f"{fake.ws_id('leaf-ws')}/jobs/{rid}".lower()]["properties"]


def resource(fake, arm_id: str) -> dict:
    import fake_arm

    return fake_arm.FAKE.resources[arm_id.lower()]["properties"]


def test_inline_environment_image_and_conda_file(az, fake, corpus):
    p = submitted(az, fake, "-f", str(corpus / "dask-nyctaxi.yml"))
    env = resource(fake, p["environmentId"])
    assert env["image"] == "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
    assert "dask[complete]" in env["condaFile"]
    assert p["inputs"]["nyc_taxi_dataset"] == {"uri": "wasbs://datasets@azuremlexamples.blob.core.windows.net/nyctaxi/",
                                               "mode": "ReadOnlyMount", "jobInputType": "uri_folder"}
    assert p["outputs"]["output_folder"]["jobOutputType"] == "uri_folder"
    assert p["distribution"] == {"distributionType": "PyTorch"} and p["resources"]["instanceCount"] == 4
    assert p["description"].startswith("This sample shows") and p["displayName"] == "dask-nyctaxi-example"


def test_inline_environment_build_context_is_uploaded_and_sent(az, fake, corpus, azurite):
    p = submitted(az, fake, "-f", str(corpus / "sklearn-iris-docker-context.yml"))
    env = resource(fake, p["environmentId"])
    build = env["build"]
    assert build["dockerfilePath"] == "Dockerfile" and "/LocalUpload/leafctl/environments/" in build["contextUri"]
    svc = azurite.service_client().get_container_client("azureml-blobstore")
    names = [b.name for b in svc.list_blobs(name_starts_with="LocalUpload/leafctl/environments/")]
    assert any(n.endswith("/Dockerfile") for n in names), names


def test_literal_inputs_are_sent_as_literals(az, fake, corpus):
    p = submitted(az, fake, "-f", str(corpus / "hello-world-input.yml"))
    assert p["inputs"] == {"hello_string": {"value": "hello world", "jobInputType": "literal"},
                           "hello_number": {"value": "42", "jobInputType": "literal"}}
    assert "echo ${{inputs.hello_string}}" in p["command"]
    flags = submitted(az, fake, "--command", "python train.py --epochs ${{inputs.epochs}}", "--input", "epochs=10")
    assert flags["inputs"] == {"epochs": {"value": "10", "jobInputType": "literal"}}


def test_asset_references_types_modes_and_every_other_field(az, fake, corpus):
    assert az("data", "create", "iris-data", "--path", "azureml://datastores/workspaceblobstore/paths/iris/").code == 0
    p = submitted(az, fake, "-f", str(corpus / "iris-train-full.yml"))
    ws = fake.ws_id("leaf-ws")
    assert p["inputs"]["registered"] == {"uri": f"{ws}/data/iris-data/versions/1", "mode": "ReadOnlyMount", "jobInputType": "uri_folder"}
    assert p["inputs"]["base_model"] == {"uri": f"{ws}/models/iris-model/versions/1", "mode": "Download", "jobInputType": "custom_model"}
    assert p["inputs"]["iris_csv"]["jobInputType"] == "uri_file" and p["inputs"]["iris_csv"]["mode"] == "Download"
    assert p["inputs"]["epochs"] == {"value": "10", "jobInputType": "literal"}
    assert p["inputs"]["normalize"] == {"value": "True", "jobInputType": "literal"}
    assert p["outputs"]["model_output"]["jobOutputType"] == "mlflow_model" and p["outputs"]["model_output"]["mode"] == "Upload"
    assert p["outputs"]["scores"] == {"uri": "azureml://datastores/workspaceblobstore/paths/iris-scores/",
                                      "mode": "ReadWriteMount", "jobOutputType": "uri_folder"}
    assert p["resources"]["instanceCount"] == 1 and p["resources"]["shmSize"] == "8g"
    assert p["limits"]["timeout"] == "PT1H" and p["identity"] == {"identityType": "Managed"}
    assert p["properties"]["owner"] == "data-science" and p["tags"]["stage"] == "example"
    assert p["experimentName"] == "iris-examples"
    import fake_arm

    assert f"{ws}/jobs/iris-train-full".lower() in fake_arm.FAKE.resources  # `name:` is the job's name


def test_bare_asset_reference_input(az, fake, corpus):
    assert az("data", "create", "cifar-10-example", "--path", "azureml://datastores/workspaceblobstore/paths/cifar/").code == 0
    p = submitted(az, fake, "-f", str(corpus / "pytorch-cifar-distributed.yml"))
    assert p["inputs"]["cifar"]["uri"].endswith("/data/cifar-10-example/versions/1")
    assert p["inputs"]["epochs"] == {"value": "1", "jobInputType": "literal"}
    assert p["inputs"]["learning_rate"] == {"value": "0.2", "jobInputType": "literal"}
    assert p["distribution"] == {"processCountPerInstance": 2, "distributionType": "PyTorch"}
    assert p["resources"]["instanceCount"] == 2


def test_services_identity_queue_settings(az, fake, corpus):
    p = submitted(az, fake, "-f", str(corpus / "hello-interactive.yml"))
    assert p["services"]["my_vscode"]["jobServiceType"] == "VSCode" and p["services"]["my_vscode"]["nodes"] == {"nodesValueType": "All"}
    assert p["services"]["my_jupyter_lab"]["jobServiceType"] == "JupyterLab"
    assert p["services"]["my_tensorboard"]["properties"] == {"logDir": "outputs/tblogs"}
    p = submitted(az, fake, "-f", str(corpus / "serverless.yml"))
    assert p["queueSettings"] == {"jobTier": "Standard"} and p["identity"] == {"identityType": "UserIdentity"}
    assert p["resources"]["instanceType"] == "Standard_E4s_v3"
    assert "computeId" not in p or not p["computeId"]  # serverless
    tf = submitted(az, fake, "-f", str(corpus / "tensorflow-mnist-distributed.yml"))
    assert tf["distribution"]["distributionType"] == "TensorFlow" and tf["distribution"]["workerCount"] == 2
    assert tf["inputs"]["model_dir"] == {"value": "outputs/keras-model", "jobInputType": "literal"}


def test_flags_for_scripts(az, fake, tmp_path):
    p = submitted(az, fake, "--command", "python train.py", "--instance-count", "2", "--distribution", "mpi",
                  "--process-count-per-instance", "4", "--timeout", "2h", "--compute", "gpu-cluster")
    assert p["distribution"] == {"distributionType": "Mpi", "processCountPerInstance": 4}
    assert p["resources"]["instanceCount"] == 2 and p["limits"]["timeout"] == "PT2H"


def test_inline_environment_every_field_is_sent(az, fake, tmp_path):
    # inference_config, os_type, tags, description of an inline environment reach Azure as --dry-run prints them.
    import yaml

    route = {"port": 5001, "path": "/"}
    env = {"image": "python:3.11-slim", "os_type": "linux", "tags": {"team": "leaf"}, "description": "inline env",
           "inference_config": {"liveness_route": route, "readiness_route": route, "scoring_route": {"port": 5001, "path": "/score"}}}
    spec = tmp_path / "job.yml"
    spec.write_text(yaml.safe_dump({"command": "echo hi", "environment": env}), encoding="utf-8")
    dry = az("run", "submit", "-f", str(spec), "--dry-run", "-o", "json")
    assert dry.code == 0 and dry.json()["environment"]["inference_config"] == env["inference_config"], dry
    sent = resource(fake, submitted(az, fake, "-f", str(spec))["environmentId"])
    assert sent["image"] == "python:3.11-slim" and sent["osType"].lower() == "linux"
    assert sent["inferenceConfig"]["scoringRoute"] == {"port": 5001, "path": "/score"}, sent
    assert sent["inferenceConfig"]["livenessRoute"] == route
    assert sent["description"] == "inline env" and sent["tags"] == {"team": "leaf"}


def test_environment_file_reference_is_sent_as_that_environment(az, fake, tmp_path):
    # azureml-examples cli/jobs/single-step/gpu_perf/gpu_perf_job.yml: `environment: file:./environments/azureml/env.yml`
    (tmp_path / "environments" / "azureml").mkdir(parents=True)
    (tmp_path / "environments" / "azureml" / "env.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
        "name: nccl-tests\nversion: 3\nimage: mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.1-cudnn8-ubuntu18.04\n",
        encoding="utf-8")
    spec = tmp_path / "gpu_perf_job.yml"
    spec.write_text("command: echo hi\nenvironment: file:./environments/azureml/env.yml\n", encoding="utf-8")
    p = submitted(az, fake, "-f", str(spec))
    assert "file:" not in p["environmentId"] and "nccl-tests" in p["environmentId"], p["environmentId"]
    sent = resource(fake, p["environmentId"])
    assert sent["image"] == "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.1-cudnn8-ubuntu18.04", sent
