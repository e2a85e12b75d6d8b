"""`run evolve --remote`: the job as az ml YAML (offline), and submitted to the fake with Azurite storage."""

from __future__ import annotations

import socket

import pytest

import fake_jobs
from leafctl.backends.azure import remote_evolve

pytestmark = pytest.mark.azurite


@pytest.fixture
def cfg(leaf_env):
    from leafctl.esp.samples import sample_config

    return sample_config("campaign", generations=3, population=16, elites=2)


def test_dry_run_yaml_loads_offline(cfg, leaf_env, monkeypatch, tmp_path):
    def no_network(*a, **k):
        raise AssertionError("a dry run must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    spec, text = remote_evolve.build_evolve_job(cfg, None, "gpu-cluster", "leaf-esp")
    from azure.ai.ml import load_job

    f = tmp_path / "job.yml"
    f.write_text(text)
    job = load_job(f)
    assert job.type == "command" and job.compute == "gpu-cluster" and job.experiment_name == "leaf-esp"
    assert job.command == remote_evolve.COMMAND and "--set device=gpu" in job.command
    assert job.inputs["data"].type == "uri_file" and job.inputs["data"].path == cfg.data
    assert job.outputs["result"].type == "uri_folder"
    assert job.environment.image == remote_evolve.IMAGE
    deps = job.environment.conda_file["dependencies"][-1]["pip"]
    assert any(d.startswith("cupy-cuda12x") for d in deps)
    code = job.code if isinstance(job.code, str) else str(job.code)
    from pathlib import Path

    snap = Path(code)
    assert (snap / "leafctl" / "esp" / "job.py").is_file() and (snap / "config.toml").is_file()
    assert not list(snap.rglob("__pycache__"))
    assert 'data = "data.csv"' in (snap / "config.toml").read_text()
    assert spec.kind == "evolve" and spec.compute == "gpu-cluster"


def test_dry_run_needs_a_compute(cfg):
    from leafctl.errors import UsageError

    with pytest.raises(UsageError, match="compute"):
        remote_evolve.build_evolve_job(cfg, None, None, None)


def test_submit_to_fake_and_download(az_backend, fake, azurite_up, cfg, tmp_path):
    jobs = fake_jobs.install(fake, azurite_up)
    az_backend.poll_interval = 0
    run = remote_evolve.submit_remote_evolve(cfg, compute="gpu-cluster", experiment="leaf-esp", settings=az_backend.settings,
                                             backend=az_backend, wait=False)
    assert run.kind == "evolve" and run.status == "Queued" and run.compute == "gpu-cluster"
    body = fake.get(f"{fake.ws_id('leaf-ws')}/jobs/{run.id}")["properties"]
    assert body["command"] == remote_evolve.COMMAND
    assert body["computeId"].endswith("/computes/gpu-cluster")
    assert body["inputs"]["data"]["jobInputType"] == "uri_file"
    assert "/paths/leafctl/evolve/" in body["inputs"]["data"]["uri"]
    assert body["outputs"]["result"]["uri"].endswith(f"/paths/azureml/{run.id}/result/")
    env = fake.get(body["environmentId"])["properties"]
    assert env["image"] == remote_evolve.IMAGE and "cupy-cuda12x" in env["condaFile"]
    code_uri = fake.get(body["codeId"])["properties"]["codeUri"]
    snap = code_uri.split("azureml-blobstore/", 1)[1]
    names = {e.path[len(snap) + 1:] for e in az_backend.ls(snap)}
    assert {"config.toml", "leafctl/esp/job.py", "leafctl/__init__.py"} <= names
    assert not any("__pycache__" in n for n in names)
    # the data went up once, byte for byte
    data_path = body["inputs"]["data"]["uri"].split("/paths/", 1)[1]
    got = az_backend.download(data_path, tmp_path / "data")
    assert (tmp_path / "data" / "campaign.csv").read_bytes() == open(cfg.data, "rb").read() and got.files == 1

    jobs.output_files[run.id] = {"result": {"pareto.csv": b"id,revenue\n1,2\n", "model/MLmodel": b"flavors: {}\n"}}
    lines: list[str] = []
    done = az_backend.wait_run(run.id, on_log=lines.append)
    assert done.status == "Completed" and lines
    out = az_backend.download_run(run.id, tmp_path / "dl")
    assert (out / "result" / "pareto.csv").read_bytes() == b"id,revenue\n1,2\n"
    assert (out / "result" / "model" / "MLmodel").is_file()

    # a second submission of the same config re-uses the uploaded snapshot and data (MD5 skip)
    again = remote_evolve.submit_remote_evolve(cfg, compute="gpu-cluster", settings=az_backend.settings,
                                               backend=az_backend, wait=False)
    body2 = fake.get(f"{fake.ws_id('leaf-ws')}/jobs/{again.id}")["properties"]
    assert body2["inputs"]["data"]["uri"] == body["inputs"]["data"]["uri"]
    assert fake.get(body2["codeId"])["properties"]["codeUri"] == code_uri


def test_submit_and_wait_failed_run_raises(az_backend, fake, azurite_up, cfg):
    from leafctl.errors import OperationFailed

    jobs = fake_jobs.install(fake, azurite_up)
    jobs.default_script = ["Queued", "Running", "Failed"]
    az_backend.poll_interval = 0
    lines: list[str] = []
    with pytest.raises(OperationFailed, match="failed"):
        remote_evolve.submit_remote_evolve(cfg, compute="gpu-cluster", settings=az_backend.settings,
                                           backend=az_backend, on_log=lines.append)
    assert any("RuntimeError: boom" in ln for ln in lines)
