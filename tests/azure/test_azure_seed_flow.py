"""The seeds' whole Azure ML flow, as a CI script would drive it: leafctl commands only, JSON and exit codes.

Each step is one leafctl command on an azure profile, answered by the in-memory control plane
(fake_arm.py), its jobs (fake_jobs.py) and Azurite (the bytes). Seeds 000-004: workspace, GPU cluster,
a blob datastore with its key as an env: reference, an upload, a training job whose logs stream, three
model versions with an ``accuracy`` tag, the best one downloaded, a batch endpoint serving the MLflow
model, invoked, deleted. Then LEAF-ESP remote: ``run evolve --remote`` submits the evolve job; the
"cluster" is this test running the job's own command (``python -m leafctl.esp.job``, from the uploaded
code snapshot and data) and the fake uploads what it wrote as the job's ``result`` output.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from azure_helpers import assert_error

pytestmark = pytest.mark.azurite

MLMODEL = """artifact_path: model
flavors:
  python_function:
    env: conda.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.9
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.1
mlflow_version: 2.16.0
"""
MLFLOW_FILES = {"MLmodel": MLMODEL.encode(), "conda.yaml": b"dependencies: [python=3.11, pip]\n",
                "model.pkl": bytes(range(256)) * 8}


def ok(r):
    assert r.code == 0, r
    return r.json()


def job_body(fake, run_id: str) -> dict:
    return fake.get(f"{fake.ws_id('leaf-ws')}/jobs/{run_id}")["properties"]


def test_seed_flow_workspace_to_batch_endpoint(az, fake, fj, azurite_up, monkeypatch, tmp_path):
    # seed 000: the workspace (get-or-create is idempotent)
    ws = ok(az("workspace", "show", "-o", "json"))
    assert ws["name"] == "leaf-ws" and ws["backend"] == "azure"
    again = ok(az("workspace", "create", "leaf-ws", "-o", "json"))
    assert again["name"] == "leaf-ws" and again["location"] == ws["location"]

    # seed 001: the GPU cluster; the same spec again is the same object, a different one a conflict
    spec = ["--type", "cluster", "--size", "Standard_NC6s_v3", "--min-nodes", "0", "--max-nodes", "2", "--idle-seconds", "120"]
    cluster = ok(az("compute", "create", "gpu-cluster", *spec, "-o", "json"))
    assert cluster["name"] == "gpu-cluster" and cluster["size"].lower() == "standard_nc6s_v3"
    assert (cluster["min_nodes"], cluster["max_nodes"], cluster["idle_seconds"]) == (0, 2, 120)
    assert ok(az("compute", "create", "gpu-cluster", *spec, "-o", "json")) == cluster
    spec[spec.index("--max-nodes") + 1] = "4"
    assert_error(az("compute", "create", "gpu-cluster", *spec), 5, "gpu-cluster")

    # seed 003: a blob datastore whose key is an env: reference (never a literal, never printed)
    container = azurite_up.new_container("seed")
    monkeypatch.setenv("SEED_STORAGE_KEY", azurite_up.key)
    store = ok(az("data", "store", "create", "seedstore", "--type", "azure_blob", "--account-name", azurite_up.account,
                  "--container-name", container, "--account-key", "env:SEED_STORAGE_KEY", "-o", "json"))
    assert store["name"] == "seedstore" and store["container_name"] == container
    assert azurite_up.key not in json.dumps(store)

    # seed 004 upload-data.py: a folder; the rerun skips every unchanged file
    data = tmp_path / "train-data"
    (data / "part").mkdir(parents=True)
    (data / "iris.csv").write_text("sepal_length,sepal_width,species\n5.1,3.5,setosa\n6.2,2.9,versicolor\n")
    (data / "part" / "extra.csv").write_text("sepal_length,sepal_width,species\n5.9,3.0,virginica\n")
    up = ok(az("data", "upload", str(data), "--datastore", "seedstore", "--path", "iris", "-o", "json"))
    assert up["files"] == 2 and up["uri"] == "azureml://datastores/seedstore/paths/iris"
    rerun = ok(az("data", "upload", str(data), "--datastore", "seedstore", "--path", "iris", "-o", "json"))
    assert (rerun["files"], rerun["skipped"]) == (0, 2)
    blobs = sorted(b.name for b in azurite_up.service_client().get_container_client(container).list_blobs())
    assert blobs == ["iris/iris.csv", "iris/part/extra.csv"]

    # seed 004 run-training.py: a command job on the cluster, logs streamed to stderr, exit 0 when it completes
    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text("import sys\nprint('training on', sys.argv[1])\n")
    fj.default_log_lines = ["epoch 1/2 loss 0.41", "epoch 2/2 loss 0.17 accuracy 0.93"]
    fj.default_output_files = {"model": MLFLOW_FILES}
    trained = az("run", "submit", "--code", str(code), "--command", "python train.py ${{inputs.data}} ${{outputs.model}}",
                 "--input", "data=azureml://datastores/seedstore/paths/iris", "--output", "model",
                 "--compute", "gpu-cluster", "--experiment", "iris", "--wait", "-o", "json")
    run = ok(trained)
    rid = run["id"]
    assert run["status"] == "Completed" and run["compute"] == "gpu-cluster" and run["experiment"] == "iris"
    err = trained.stderr.splitlines()
    assert f"starting {rid}" in err and "epoch 2/2 loss 0.17 accuracy 0.93" in err and f"{rid} completed" in err
    assert trained.stdout.lstrip().startswith("{")  # the logs went to stderr only
    body = job_body(fake, rid)
    assert body["computeId"].endswith("/computes/gpu-cluster")
    assert body["inputs"]["data"]["uri"] == "azureml://datastores/seedstore/paths/iris"

    # seed 004 register: three versions from the run's output, told apart by their accuracy tag
    versions = [ok(az("model", "register", "iris-clf", "--run", rid, "--output", "model", "--type", "mlflow",
                      "--tag", f"accuracy={acc}", "-o", "json")) for acc in ("0.81", "0.93", "0.87")]
    assert [m["version"] for m in versions] == ["1", "2", "3"]
    assert all(m["type"] == "mlflow" and m["run_id"] == rid for m in versions)

    # seed 004 fetch-model.py: the best version by accuracy, with metadata.json
    out = tmp_path / "best"
    best = ok(az("model", "download", "iris-clf", "--best", "accuracy", "--output-path", str(out), "-o", "json"))
    assert best["version"] == "2" and best["tags"]["accuracy"] == "0.93"
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["name"] == "iris-clf" and meta["version"] == "2" and meta["tags"]["accuracy"] == "0.93"
    assert (out / "MLmodel").read_bytes() == MLFLOW_FILES["MLmodel"]  # the model's files, as registered
    assert (out / "model.pkl").read_bytes() == MLFLOW_FILES["model.pkl"]

    # seed 002: a batch endpoint serving the MLflow model on the cluster; invoke; delete
    ep = ok(az("endpoint", "create", "iris-batch", "--model", "iris-clf:2", "--compute", "gpu-cluster", "-o", "json"))
    assert ep["name"] == "iris-batch" and ep["model"] == "iris-clf:2" and ep["compute"] == "gpu-cluster"
    assert ok(az("endpoint", "show", "iris-batch", "-o", "json"))["model"] == "iris-clf:2"
    scored = ok(az("endpoint", "invoke", "iris-batch", "--input", str(data / "iris.csv"), "-o", "json"))
    assert scored["kind"] == "batch" and scored["id"] and scored["status"] in ("Queued", "Running", "Completed")
    assert scored["inputs"]["input"].startswith("azureml://datastores/workspaceblobstore/paths/")
    assert ok(az("endpoint", "delete", "iris-batch", "--yes", "-o", "json")) == {"name": "iris-batch", "deleted": True}
    assert_error(az("endpoint", "show", "iris-batch"), 3)
    assert ok(az("model", "show", "iris-clf:2", "-o", "json"))["version"] == "2"  # the model stays registered


def run_the_job_here(az_backend, fake, run_id: str, work: Path) -> dict[str, bytes]:
    """What the GPU cluster would do with the stored job: fetch its code snapshot and data input from
    storage, run its command (on the CPU here), and return the files it wrote to the ``result`` output."""
    body = job_body(fake, run_id)
    code_uri = fake.get(body["codeId"])["properties"]["codeUri"]
    snap = code_uri.split("azureml-blobstore/", 1)[1]
    az_backend.download(snap, work / "code")
    data_path = body["inputs"]["data"]["uri"].split("/paths/", 1)[1]
    az_backend.download(data_path, work / "data")  # a uri_file input: Azure ML mounts the one file
    (data_file,) = (work / "data").iterdir()
    out = work / "outputs" / "result"
    command = (body["command"].replace("${{outputs.result}}", str(out)).replace("${{inputs.data}}", str(data_file))
               .replace("python ", f"{sys.executable} ", 1)) + " --set device=cpu"
    p = subprocess.run(command, shell=True, cwd=work / "code", capture_output=True, text=True, timeout=300,
                       env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(work / "code")})
    assert p.returncode == 0, p.stderr
    return {f.relative_to(out).as_posix(): f.read_bytes() for f in sorted(out.rglob("*")) if f.is_file()}


def test_remote_evolve_download_register_prescribe(az, fake, fj, az_backend, tmp_path):
    assert ok(az("compute", "create", "gpu-cluster", "--type", "cluster", "--size", "Standard_NC6s_v3",
                 "--max-nodes", "2", "-o", "json"))["name"] == "gpu-cluster"
    sub = az("run", "evolve", "--remote", "--compute", "gpu-cluster", "--sample", "campaign", "--generations", "3",
             "--no-wait", "-o", "json")
    run = ok(sub)
    rid = run["id"]
    assert run["kind"] == "evolve" and run["compute"] == "gpu-cluster" and run["status"] == "Queued"

    # what was submitted: compute, code, inputs, outputs, environment
    from leafctl.backends.azure import remote_evolve

    body = job_body(fake, rid)
    assert body["jobType"] == "Command" and body["command"] == remote_evolve.COMMAND
    assert body["computeId"].endswith("/computes/gpu-cluster")
    assert body["tags"]["leafctl.kind"] == "evolve" and body["experimentName"] == "leaf-esp"
    assert body["inputs"]["data"]["jobInputType"] == "uri_file"
    assert body["inputs"]["data"]["uri"].startswith("azureml://datastores/workspaceblobstore/paths/leafctl/evolve/")
    assert body["outputs"]["result"]["jobOutputType"] == "uri_folder"
    assert body["outputs"]["result"]["uri"] == f"azureml://datastores/workspaceblobstore/paths/azureml/{rid}/result/"
    env = fake.get(body["environmentId"])["properties"]
    assert env["image"] == remote_evolve.IMAGE and "cupy-cuda12x" in env["condaFile"]
    assert any(m == "PUT" and "/codes/" in u for m, u in fake.calls)

    # the cluster runs the job's own command on its own snapshot and data; the fake uploads what it wrote
    files = run_the_job_here(az_backend, fake, rid, tmp_path / "node")
    assert {"pareto.csv", "history.csv", "config.toml", "model/MLmodel", "model/data/esp_model.json"} <= set(files)
    fj.output_files[rid] = {"result": files}
    waited = az("run", "wait", rid, "--logs", "-o", "json")
    assert ok(waited)["status"] == "Completed" and f"starting {rid}" in waited.stderr
    shown = ok(az("run", "show", rid, "-o", "json"))
    assert shown["kind"] == "evolve" and shown["tags"]["leafctl.kind"] == "evolve"
    assert shown["outputs"] == {"result": f"azureml://datastores/workspaceblobstore/paths/azureml/{rid}/result"}

    dest = tmp_path / "dl"
    dl = ok(az("run", "download", rid, "--dest", str(dest), "-o", "json"))
    assert dl["outputs"] == ["result"]
    res = dest / "result"
    for name in ("pareto.csv", "history.csv", "model/MLmodel", "model/data/esp_model.json"):
        assert (res / name).read_bytes() == files[name], name
    with open(res / "history.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) >= 3  # one row per generation

    # the same submission, waited for: the job's logs stream to stderr, the finished run on stdout
    fj.default_output_files = {"result": files}
    waited_sub = az("run", "evolve", "--remote", "--compute", "gpu-cluster", "--sample", "campaign", "--generations", "3",
                    "-o", "json")
    second = ok(waited_sub)
    assert second["status"] == "Completed" and second["kind"] == "evolve" and second["id"] != rid
    assert f"submitted evolve run {second['id']}" in waited_sub.stderr and f"{second['id']} completed" in waited_sub.stderr

    # register the evolve run: its MLflow model under result/model, tagged as an ESP model
    m = ok(az("model", "register", "campaign-esp", "--run", rid, "-o", "json"))
    assert m["version"] == "1" and m["type"] == "mlflow" and m["run_id"] == rid and m["tags"]["leafctl.kind"] == "esp"
    stored = fake.get(f"{fake.ws_id('leaf-ws')}/models/campaign-esp/versions/1")["properties"]
    assert stored["modelType"] == "mlflow_model"
    assert stored["modelUri"] == f"azureml://jobs/{rid}/outputs/result/paths/model/"
    got = ok(az("model", "download", "campaign-esp", "--output-path", str(tmp_path / "esp"), "-o", "json"))
    assert got["version"] == "1"
    assert (tmp_path / "esp" / "MLmodel").read_bytes() == files["model/MLmodel"]
    assert not (tmp_path / "esp" / "pareto.csv").exists()  # the model, not the whole result folder

    # prescribe for new contexts with the registered model (downloaded from Azurite)
    contexts = tmp_path / "contexts.csv"
    with open(remote_evolve_data(), newline="") as f:
        rows = list(csv.DictReader(f))[:5]
    ctx_cols = ["age", "income", "past_spend", "visits", "region", "channel"]
    with open(contexts, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=ctx_cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    p = az("model", "prescribe", "campaign-esp", "--input", str(contexts))
    assert p.code == 0, p
    out = list(csv.DictReader(p.stdout.splitlines()))
    assert len(out) == 5 and {"discount", "emails"} <= set(out[0]) and out[0]["age"] == rows[0]["age"]


def remote_evolve_data() -> str:
    from leafctl.esp.samples import sample_config

    return sample_config("campaign").data
