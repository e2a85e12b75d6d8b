"""model register/list/show/download/delete on Azure: custom and MLflow, from a local folder (bytes moved by
leafctl into Azurite behind the default datastore), a datastore URI, or a run's output."""

from __future__ import annotations

import json

import pytest
from azure_helpers import assert_error, calls


def _model_dir(root, name, accuracy, mlflow=False):
    d = root / name
    d.mkdir(parents=True)
    (d / "model.pkl").write_bytes(b"weights-" + accuracy.encode())
    if mlflow:
        (d / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.pyfunc\n")
    return d


@pytest.mark.azurite
def test_register_local_versions_and_download_best(azure_blob, fake, tmp_path):
    azure = azure_blob
    for i, acc in enumerate(["0.91", "0.95", "0.93"], 1):
        d = _model_dir(tmp_path, f"m{i}", acc)
        r = azure("model", "register", "batcomputer", "--path", str(d), "--tag", f"accuracy={acc}", "-o", "json")
        assert r.code == 0, r
        assert r.json()["version"] == str(i) and r.json()["tags"] == {"accuracy": acc}
        assert r.json()["path"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/models/batcomputer/")
    stored = fake.get(fake.ws_id("leaf-ws") + "/models/batcomputer/versions/2")["properties"]
    assert stored["modelType"] == "custom_model" and stored["tags"] == {"accuracy": "0.95"}
    assert [m["version"] for m in azure("model", "list", "batcomputer", "-o", "json").json()] == ["1", "2", "3"]
    assert azure("model", "show", "batcomputer", "-o", "json").json()["version"] == "3"

    out = tmp_path / "pickles"
    r = azure("model", "download", "batcomputer", "--best", "accuracy", "--output-path", str(out), "-o", "json")
    assert r.code == 0, r
    assert r.json()["version"] == "2"
    assert (out / "model.pkl").read_bytes() == b"weights-0.95"
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["name"] == "batcomputer" and meta["version"] == "2" and meta["tags"]["accuracy"] == "0.95"


@pytest.mark.azurite
def test_register_mlflow_from_local_folder(azure_blob, fake, tmp_path):
    d = _model_dir(tmp_path, "iris", "0.97", mlflow=True)
    r = azure_blob("model", "register", "iris_classification", "--path", str(d), "--type", "mlflow", "-o", "json")
    assert r.code == 0, r
    assert r.json()["type"] == "mlflow"
    stored = fake.get(fake.ws_id("leaf-ws") + "/models/iris_classification/versions/1")["properties"]
    assert stored["modelType"] == "mlflow_model"
    out = tmp_path / "back"
    assert azure_blob("model", "download", "iris_classification", "--output-path", str(out)).code == 0
    assert (out / "MLmodel").exists() and (out / "metadata.json").exists()


def test_mlflow_without_mlmodel_is_refused(azure, fake, tmp_path):
    d = _model_dir(tmp_path, "plain", "0.5")
    assert_error(azure("model", "register", "bad", "--path", str(d), "--type", "mlflow"), 2, "MLmodel")
    assert calls(fake, "PUT", "/models/") == 0


@pytest.mark.azurite
def test_register_from_datastore_uri_and_run_output(azure_blob, fake, azurite, monkeypatch):
    import fake_jobs

    azure = azure_blob
    uri = "azureml://datastores/workspaceblobstore/paths/0/artifacts/model"
    r = azure("model", "register", "iris", "--path", uri, "--type", "mlflow", "-o", "json")
    assert r.code == 0, r
    assert r.json()["path"] == uri and r.json()["type"] == "mlflow"

    monkeypatch.setenv("LEAFCTL_AZURE_POLL_SECONDS", "0")
    fj = fake_jobs.install(fake, azurite)
    fj.default_output_files = {"model": {"MLmodel": b"flavors: {}\n"}, "plain": {"w.bin": b"1"}}
    rid = azure("run", "submit", "--command", "train", "--output", "model", "--output", "plain", "--compute", "gpu",
                "-o", "json").json()["id"]
    assert_error(azure("model", "register", "iris", "--run", rid, "--output", "model", "--type", "mlflow"), 3, "no files")
    assert azure("run", "wait", rid).code == 0
    r = azure("model", "register", "iris", "--run", rid, "--output", "model", "--type", "mlflow",
              "--tag", "accuracy=0.9", "-o", "json")
    assert r.code == 0, r
    assert r.json() == {**r.json(), "version": "2", "run_id": rid, "path": f"azureml://jobs/{rid}/outputs/model"}
    stored = fake.get(fake.ws_id("leaf-ws") + "/models/iris/versions/2")["properties"]
    assert stored["modelUri"] == f"azureml://jobs/{rid}/outputs/model"
    # as on the local backend: an MLflow model needs MLmodel; the run and the output must exist
    assert_error(azure("model", "register", "iris", "--run", rid, "--output", "plain", "--type", "mlflow"), 2, "MLmodel")
    assert_error(azure("model", "register", "iris", "--run", rid, "--output", "nope"), 3, "no output 'nope'")
    assert_error(azure("model", "register", "iris", "--run", "leaf-no-such-run", "--output", "model"), 3, "leaf-no-such-run")
    assert [m["version"] for m in azure("model", "list", "iris", "-o", "json").json()] == ["1", "2"]


def test_show_delete_and_missing(azure, fake):
    uri = "azureml://datastores/workspaceblobstore/paths/models/x"
    for _ in range(2):
        assert azure("model", "register", "gone", "--path", uri).code == 0
    assert_error(azure("model", "show", "gone:9"), 3, "gone")
    assert_error(azure("model", "show", "never"), 3)
    assert azure("model", "delete", "gone", "--version", "1", "--yes").code == 0
    assert [m["version"] for m in azure("model", "list", "gone", "-o", "json").json()] == ["2"]
    assert azure("model", "delete", "gone", "--yes").code == 0
    assert fake.get(fake.ws_id("leaf-ws") + "/models/gone") is None
    assert azure("model", "list", "-o", "json").json() == []


@pytest.mark.parametrize("uri, want", [
    ("azureml://jobs/r1/outputs/model", ("r1", "model", None)),
    ("azureml://jobs/r1/outputs/result/paths/model/", ("r1", "result", "model/")),
    ("azureml://jobs/r1/outputs/result/model", ("r1", "result", "model")),  # written by earlier leafctl versions
    ("azureml://jobs/r1/outputs/artifacts/paths/outputs/mlflow", ("r1", "artifacts", "outputs/mlflow")),
])
def test_job_output_model_paths(uri, want):
    from leafctl.backends.azure.models import JOB_OUTPUT_PATH, job_output_uri

    hit = JOB_OUTPUT_PATH.match(uri)
    assert (hit.group("run"), hit.group("output"), hit.group("sub")) == want
    assert job_output_uri("r1", "result/model") == "azureml://jobs/r1/outputs/result/paths/model/"
    assert job_output_uri("r1", "model") == "azureml://jobs/r1/outputs/model"
    assert job_output_uri("r1", None) == "azureml://jobs/r1/outputs/artifacts"
