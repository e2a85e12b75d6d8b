"""Command jobs against the fake control plane (fake_jobs.py) with code, logs and outputs in Azurite."""

from __future__ import annotations

from pathlib import Path

import pytest

import fake_jobs
from leafctl.backends.base import JobSpec
from leafctl.errors import Conflict, NotFound

pytestmark = pytest.mark.azurite


@pytest.fixture
def jobs(az_backend, fake, azurite_up):
    fj = fake_jobs.install(fake, azurite_up)
    az_backend.poll_interval = 0
    return fj


@pytest.fixture
def code(tmp_path) -> Path:
    d = tmp_path / "code"
    d.mkdir()
    (d / "train.py").write_text("print('hi')\n")
    (d / "__pycache__").mkdir()
    (d / "__pycache__" / "x.pyc").write_bytes(b"junk")
    return d


def test_submit_show_wait_logs_download(az_backend, jobs, fake, code, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    spec = JobSpec(command="python train.py --data ${{inputs.data}} --out ${{outputs.model}}", code=str(code),
                   inputs={"data": str(data)}, outputs={"model": None}, compute="gpu-cluster",
                   experiment="exp1", display_name="first", env_vars={"SEED": "1"}, tags={"team": "leaf"})
    run = az_backend.submit_run(spec)
    assert run.status == "Queued" and run.compute == "gpu-cluster" and run.experiment == "exp1"
    assert run.display_name == "first" and run.tags["team"] == "leaf"
    assert run.inputs["data"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/leafctl/inputs/")
    assert run.outputs["model"] == f"azureml://datastores/workspaceblobstore/paths/azureml/{run.id}/model"

    body = fake.get(f"{fake.ws_id('leaf-ws')}/jobs/{run.id}")["properties"]
    assert body["jobType"] == "Command" and body["computeId"].endswith("/computes/gpu-cluster")
    assert body["environmentVariables"] == {"SEED": "1"}
    assert body["codeId"] and body["environmentId"]
    code_asset = fake.get(body["codeId"])
    assert "/LocalUpload/leafctl/" in code_asset["properties"]["codeUri"]
    # the snapshot is in Azurite, without caches
    names = [e.path for e in az_backend.ls(code_asset["properties"]["codeUri"].split("azureml-blobstore/", 1)[1])]
    assert [n.rsplit("/", 1)[1] for n in names] == ["train.py"]

    lines: list[str] = []
    done = az_backend.wait_run(run.id, on_log=lines.append)
    assert done.status == "Completed"
    assert lines[0] == f"starting {run.id}" and lines[-1] == f"{run.id} completed"
    assert list(az_backend.run_logs(run.id)) == lines

    out = az_backend.download_run(run.id, tmp_path / "dl")
    assert (out / "model" / "model.txt").read_text() == f"output model of {run.id}\n"
    with pytest.raises(NotFound):
        az_backend.download_run(run.id, tmp_path / "dl2", output="nope")


def test_list_filters_and_status_mapping(az_backend, jobs, code):
    jobs.default_script = ["Queued", "Running", "Failed"]
    a = az_backend.submit_run(JobSpec(command="echo a", code=str(code), experiment="e-a"))
    b = az_backend.submit_run(JobSpec(command="echo b", experiment="e-b"))
    assert {r.id for r in az_backend.list_runs()} >= {a.id, b.id}
    assert [r.id for r in az_backend.list_runs(experiment="e-a")] == [a.id]
    assert az_backend.wait_run(b.id).status == "Failed"
    assert [r.id for r in az_backend.list_runs(status="Failed")] == [b.id]
    assert [r.id for r in az_backend.list_runs(status="queued")] == [a.id]


def test_cancel(az_backend, jobs, code):
    run = az_backend.submit_run(JobSpec(command="sleep 100", code=str(code)))
    jobs.script[run.id] = ["Queued", "Running", "Running"]
    assert az_backend.cancel_run(run.id).status == "Canceled"
    assert az_backend.get_run(run.id).status == "Canceled"
    with pytest.raises(Conflict):
        az_backend.cancel_run(run.id)


def test_unknown_run_is_not_found(az_backend, jobs):
    for call in (lambda: az_backend.get_run("nope-123"), lambda: list(az_backend.run_logs("nope-123"))):
        with pytest.raises(NotFound):
            call()


def test_logs_from_artifact_store_when_run_history_lists_none(az_backend, jobs, code):
    jobs.details_logs = False
    run = az_backend.submit_run(JobSpec(command="echo hi", code=str(code)))
    jobs.log_lines[run.id] = ["epoch 1", "epoch 2"]
    lines: list[str] = []
    assert az_backend.wait_run(run.id, on_log=lines.append).status == "Completed"
    assert lines == [f"starting {run.id}", "epoch 1", "epoch 2", f"{run.id} completed"]


def test_list_is_newest_first(az_backend, jobs):
    ids = [az_backend.submit_run(JobSpec(command=f"echo {i}")).id for i in range(3)]
    listed = [r.id for r in az_backend.list_runs() if r.id in ids]
    assert sorted(listed) == sorted(ids)
    created = [r.created_at for r in az_backend.list_runs() if r.id in ids]
    assert created == sorted(created, reverse=True)


def test_storage_messages_never_carry_a_sas():
    from leafctl.backends.azure.transfer import redact_url

    text = ("HTTPConnectionPool: Max retries exceeded with url: http://127.0.0.1:1/acct/c/b.txt?sv=2025-11-05&sig=SECRET%3D "
            "and DefaultEndpointsProtocol=http;AccountKey=KEY==;")
    out = redact_url(text)
    assert "SECRET" not in out and "KEY==" not in out and "http://127.0.0.1:1/acct/c/b.txt" in out


def test_output_to_a_datastore_path(az_backend, jobs, fake, tmp_path):
    run = az_backend.submit_run(JobSpec(command="echo", outputs={"model": "models/run-out"}))
    assert run.outputs["model"] == "azureml://datastores/workspaceblobstore/paths/models/run-out"
    az_backend.wait_run(run.id)
    az_backend.download_run(run.id, tmp_path / "o", output="model")
    assert (tmp_path / "o" / "model" / "model.txt").is_file()
