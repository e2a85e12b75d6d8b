"""Batch deployments on Azure (issue 8, item 3): azureml-examples' deployment YAMLs (tests/specs/corpus) sent whole
through azure-ai-ml's batch_deployments operations; asserted on what the fake control plane receives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from azure_helpers import assert_error, calls

pytestmark = pytest.mark.azurite

CORPUS = Path(__file__).resolve().parents[1] / "specs" / "corpus"
MODEL_URI = "azureml://datastores/workspaceblobstore/paths/datasets/0/artifacts/model"


@pytest.fixture
def corpus(tmp_path):
    for kind in ("batch_deployment", "batch_endpoint"):
        shutil.copytree(CORPUS / kind, tmp_path / kind)
    return tmp_path


def _dep(fake, endpoint: str, name: str) -> dict:
    res = fake.get(fake.ws_id("leaf-ws") + f"/batchEndpoints/{endpoint}/deployments/{name}")
    assert res is not None, f"no deployment {endpoint}/{name} in the fake"
    return res


def test_endpoint_alone_then_custom_scoring_deployment(az, fake, corpus):
    ws = fake.ws_id("leaf-ws")
    r = az("endpoint", "create", "-f", str(corpus / "batch_endpoint" / "mnist-batch.yml"), "-o", "json")
    assert r.code == 0, r
    assert r.json()["deployment"] is None and r.json()["extra"]["tags"] == {"type": "deep-learning"}
    ep = fake.get(ws + "/batchEndpoints/mnist-batch")
    assert ep["properties"]["description"].startswith("A batch endpoint for scoring images") and ep["tags"] == {"type": "deep-learning"}
    assert fake.children(ws + "/batchEndpoints/mnist-batch/deployments") == []
    assert az("compute", "create", "batch-cluster", "--max-nodes", "2").code == 0

    # mnist deployment-torch: inline local model {name, path}, code_configuration, inline environment, settings
    r = az("endpoint", "deployment", "create", "-f", str(corpus / "batch_deployment" / "mnist-torch.yml"), "-o", "json")
    assert r.code == 0, r
    assert (r.json()["name"], r.json()["scoring_script"], r.json()["is_default"]) == ("mnist-torch-dpl", "batch_driver.py", True)
    p = _dep(fake, "mnist-batch", "mnist-torch-dpl")["properties"]
    assert p["codeConfiguration"]["scoringScript"] == "batch_driver.py" and "/codes/" in p["codeConfiguration"]["codeId"]
    assert "/environments/" in p["environmentId"]
    assert "/models/mnist-classifier-torch/versions/" in p["model"]["assetId"]
    assert p["compute"].endswith("/computes/batch-cluster") and p["resources"]["instanceCount"] == 1
    assert (p["maxConcurrencyPerInstance"], p["miniBatchSize"], p["outputAction"], p["outputFileName"]) == \
        (2, 10, "AppendRow", "predictions.csv")
    assert p["retrySettings"]["maxRetries"] == 3 and p["retrySettings"]["timeout"] in ("PT30S", "PT0H0M30S", "0:00:30")
    assert (p["errorThreshold"], p["loggingLevel"].lower()) == (-1, "info")
    env = fake.get(p["environmentId"])
    assert env["properties"]["image"].startswith("mcr.microsoft.com/azureml/openmpi") and "torch" in str(env["properties"]["condaFile"])
    assert fake.get(ws + "/batchEndpoints/mnist-batch")["properties"]["defaults"]["deploymentName"] == "mnist-torch-dpl"

    shown = az("endpoint", "deployment", "show", "mnist-torch-dpl", "-e", "mnist-batch", "-o", "json").json()
    assert shown["settings"]["mini_batch_size"] == 10 and shown["instance_count"] == 1
    assert [d["name"] for d in az("endpoint", "deployment", "list", "-e", "mnist-batch", "-o", "json").json()] == ["mnist-torch-dpl"]


def test_mlflow_settings_flat_form_set_default_invoke_and_delete(az, fake, corpus):
    ws = fake.ws_id("leaf-ws")
    assert az("model", "register", "heart-classifier-mlflow", "--path", MODEL_URI, "--type", "mlflow").code == 0
    assert az("model", "register", "imagenet-classifier", "--path", MODEL_URI).code == 0
    for c in ("batch-cluster", "cpu-cluster"):
        assert az("compute", "create", c, "--max-nodes", "1").code == 0
    assert az("endpoint", "create", "-f", str(corpus / "batch_endpoint" / "heart-classifier-batch.yml")).code == 0

    # heart-classifier-mlflow deployment-simple: `type: model`, `@latest`, settings, resources.instance_count 2
    r = az("endpoint", "deployment", "create", "-f", str(corpus / "batch_deployment" / "heart-classifier-mlflow.yml"), "-o", "json")
    assert r.code == 0, r
    p = _dep(fake, "heart-classifier-batch", "classifier-xgboost-mlflow")["properties"]
    assert p["model"]["assetId"].endswith("/models/heart-classifier-mlflow/versions/1")
    assert not p.get("codeConfiguration") and p["resources"]["instanceCount"] == 2
    assert (p["miniBatchSize"], p["maxConcurrencyPerInstance"], p["retrySettings"]["maxRetries"]) == (2, 2, 3)

    # imagenet: the flat top-level settings of BatchDeploymentSchema, a custom model with its scoring script;
    # the endpoint is given on the command line, and it becomes the default with --set-default.
    spec = corpus / "batch_deployment" / "imagenet-flat.yml"
    r = az("endpoint", "deployment", "create", "-f", str(spec), "-e", "heart-classifier-batch", "--set-default", "-o", "json")
    assert r.code == 0, r
    p = _dep(fake, "heart-classifier-batch", "imagenet-classifier-resnetv2")["properties"]
    assert p["description"].startswith("A ResNetV2 model") and p["codeConfiguration"]["scoringScript"] == "imagenet_scorer.py"
    assert (p["miniBatchSize"], p["maxConcurrencyPerInstance"], p["outputFileName"]) == (5, 1, "predictions.csv")
    assert p["model"]["assetId"].endswith("/models/imagenet-classifier/versions/1")
    ep = fake.get(ws + "/batchEndpoints/heart-classifier-batch")["properties"]
    assert ep["defaults"]["deploymentName"] == "imagenet-classifier-resnetv2" and ep["description"].startswith("A heart condition")
    assert az("endpoint", "show", "heart-classifier-batch", "-o", "json").json()["deployment"] == "imagenet-classifier-resnetv2"

    data = "azureml://datastores/workspaceblobstore/paths/heart/"
    inv = az("endpoint", "invoke", "heart-classifier-batch", "--input", data, "-o", "json")
    assert inv.code == 0, inv
    assert fake.get(ws + f"/jobs/{inv.json()['id']}")["properties"]["deployment"] == "imagenet-classifier-resnetv2"
    inv = az("endpoint", "invoke", "heart-classifier-batch", "--deployment", "classifier-xgboost-mlflow", "--input", data, "-o", "json")
    assert inv.code == 0, inv
    assert fake.get(ws + f"/jobs/{inv.json()['id']}")["properties"]["deployment"] == "classifier-xgboost-mlflow"
    assert_error(az("endpoint", "invoke", "heart-classifier-batch", "--deployment", "ghost", "--input", data), 3, "ghost")

    assert az("endpoint", "deployment", "delete", "classifier-xgboost-mlflow", "-e", "heart-classifier-batch", "--yes").code == 0
    assert fake.get(ws + "/batchEndpoints/heart-classifier-batch/deployments/classifier-xgboost-mlflow") is None
    assert_error(az("endpoint", "deployment", "show", "classifier-xgboost-mlflow", "-e", "heart-classifier-batch"), 3)


def test_mlflow_only_without_a_scoring_script_and_missing_endpoint(az, fake, corpus):
    assert az("model", "register", "heart-classifier-mlflow", "--path", MODEL_URI).code == 0  # a custom model
    assert az("compute", "create", "batch-cluster", "--max-nodes", "1").code == 0
    spec = corpus / "batch_deployment" / "heart-classifier-mlflow.yml"
    assert_error(az("endpoint", "deployment", "create", "-f", str(spec)), 3, "heart-classifier-batch")
    assert az("endpoint", "create", "heart-classifier-batch").code == 0
    assert_error(az("endpoint", "deployment", "create", "-f", str(spec)), 2, "mlflow")
    assert calls(fake, "PUT", "/deployments/") == 0
