"""Batch endpoints on Azure (seed 002): an MLflow model deployed with no scoring script, invoked on a folder."""

from __future__ import annotations

from azure_helpers import assert_error, calls

MODEL_URI = "azureml://datastores/workspaceblobstore/paths/datasets/0/artifacts/model"


def _setup(azure):
    assert azure("model", "register", "iris_classification", "--path", MODEL_URI, "--type", "mlflow").code == 0
    assert azure("compute", "create", "batch-cluster", "--size", "Standard_DS3_v2", "--max-nodes", "2").code == 0


def test_create_show_list_invoke_delete(azure, fake):
    _setup(azure)
    r = azure("endpoint", "create", "iris-ep", "--model", "iris_classification:1", "--compute", "batch-cluster", "-o", "json")
    assert r.code == 0, r
    ep = r.json()
    assert ep == {**ep, "name": "iris-ep", "model": "iris_classification:1", "compute": "batch-cluster",
                  "deployment": "default", "state": "Succeeded"}
    assert ep["scoring_uri"] == "https://iris-ep.centralus.inference.ml.azure.com/jobs"
    ws = fake.ws_id("leaf-ws")
    dep = fake.get(ws + "/batchEndpoints/iris-ep/deployments/default")["properties"]
    assert dep["compute"].endswith("/computes/batch-cluster") and dep["outputFileName"] == "predictions.csv"
    assert "codeConfiguration" not in dep or not dep["codeConfiguration"]  # MLflow: no scoring script
    assert dep["model"]["assetId"].endswith("/models/iris_classification/versions/1")
    assert fake.get(ws + "/batchEndpoints/iris-ep")["properties"]["defaults"]["deploymentName"] == "default"

    assert azure("endpoint", "show", "iris-ep", "-o", "json").json()["model"] == "iris_classification:1"
    assert azure("endpoint", "list", "-o", "json", "--query", "[].name").json() == ["iris-ep"]

    inv = azure("endpoint", "invoke", "iris-ep", "--input", "azureml://datastores/workspaceblobstore/paths/iris/", "-o", "json")
    assert inv.code == 0, inv
    run = inv.json()
    assert run["id"].startswith("batchjob-") and run["status"] == "Queued"
    assert calls(fake, "POST", "iris-ep.centralus.inference.ml.azure.com/jobs") == 1
    job = fake.get(ws + f"/jobs/{run['id']}")["properties"]
    assert job["deployment"] == "default"
    assert "iris/" in str(job.get("inputData") or job)

    assert azure("endpoint", "delete", "iris-ep", "--yes").code == 0
    assert fake.get(ws + "/batchEndpoints/iris-ep") is None
    assert_error(azure("endpoint", "show", "iris-ep"), 3, "iris-ep")


def test_latest_model_reference(azure, fake):
    _setup(azure)
    assert azure("model", "register", "iris_classification", "--path", MODEL_URI, "--type", "mlflow").code == 0
    r = azure("endpoint", "create", "iris-latest", "--model", "iris_classification@latest", "--compute", "batch-cluster", "-o", "json")
    assert r.code == 0, r
    assert r.json()["model"] == "iris_classification:2"


def test_custom_model_needs_scoring_script(azure, fake):
    assert azure("model", "register", "plain", "--path", MODEL_URI).code == 0
    assert azure("compute", "create", "batch-cluster", "--max-nodes", "1").code == 0
    assert_error(azure("endpoint", "create", "e1", "--model", "plain:1", "--compute", "batch-cluster"), 2, "mlflow")
    assert calls(fake, "PUT", "/batchEndpoints/") == 0


def test_missing_model_or_compute_exit_3(azure, fake):
    _setup(azure)
    assert_error(azure("endpoint", "create", "e2", "--model", "nope:1", "--compute", "batch-cluster"), 3, "nope")
    assert_error(azure("endpoint", "create", "e3", "--model", "iris_classification:1", "--compute", "ghost"), 3, "ghost")
    assert calls(fake, "PUT", "/batchEndpoints/") == 0
