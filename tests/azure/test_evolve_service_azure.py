"""Issue 9 on Azure: `run evolve` on an azure profile is the same service as locally (no --remote needed),
and `--islands N --instances K` is one command job with ``distribution: mpi`` over K nodes.

The control plane is fake_arm.py with fake_jobs.py; the bytes live in Azurite. The "cluster" here runs
what Azure ML would: it takes the job's own code snapshot and data input out of Azurite, runs the job's
own command (under the mpi extra's mpiexec for an MPI job, as Azure ML's mpirun would start it), and the
fake uploads what it wrote as the ``result`` output, with its stdout as the job's log.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from azure_helpers import assert_error

pytestmark = pytest.mark.azurite

SMALL = ["--sample", "campaign", "--generations", "3", "--population", "16", "--predictor", "ridge"]


def ok(r):
    assert r.code == 0, r
    return r.json()


def body_of(fake, run_id: str) -> dict:
    return fake.get(f"{fake.ws_id('leaf-ws')}/jobs/{run_id}")["properties"]


def cluster(fake, fj, work: Path) -> dict[str, list[str]]:
    """Make the fake's jobs run for real when they complete (see the module docstring); returns the
    command lines the "cluster" ran, by job."""
    ran: dict[str, list[str]] = {}
    write_outputs = fj._write_outputs
    ws = fake.ws_id("leaf-ws")

    def run_job(job: str, res: dict) -> None:
        props = res["properties"]
        if (props.get("tags") or {}).get("leafctl.kind") != "evolve":
            return write_outputs(job, res)
        node = work / job
        code_url = fake.get(props["codeId"])["properties"]["codeUri"]
        prefix = code_url.split("/azureml-blobstore/", 1)[1]  # the default datastore's container
        cc = fj._container("azureml-blobstore")
        for blob in cc.list_blobs(name_starts_with=prefix.rstrip("/") + "/"):
            target = node / "code" / blob.name[len(prefix.rstrip("/")) + 1:]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(cc.download_blob(blob.name).readall())
        fj._fetch(ws, props["inputs"]["data"]["uri"], node / "data", folder=False)  # a uri_file: one file
        (data_file,) = (node / "data").iterdir()
        out = node / "outputs" / "result"
        command = (props["command"].replace("${{outputs.result}}", str(out)).replace("${{inputs.data}}", str(data_file))
                   .replace("python ", f"{sys.executable} ", 1)) + " --set device=cpu"
        dist = props.get("distribution") or {}
        if str(dist.get("distributionType", "")).lower() == "mpi":  # Azure ML starts N/K ranks on each of K nodes
            n = int(dist["processCountPerInstance"]) * int((props.get("resources") or {}).get("instanceCount") or 1)
            command = f"{Path(sys.executable).parent / 'mpiexec'} -n {n} {command}"
        ran.setdefault(job, []).append(command)
        p = subprocess.run(command, shell=True, cwd=node / "code", capture_output=True, text=True, timeout=300,
                           env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(node / "code"), "HOME": str(node)})
        fj._write_log(job, p.stdout + p.stderr)
        assert p.returncode == 0, p.stderr
        fj.output_files[job] = {"result": {f.relative_to(out).as_posix(): f.read_bytes()
                                           for f in sorted(out.rglob("*")) if f.is_file()}}
        write_outputs(job, res)

    fj._write_outputs = run_job
    return ran


def test_islands_dry_run_is_an_mpi_job_for_two_nodes(az, monkeypatch, tmp_path):
    def no_network(*a, **k):
        raise AssertionError("a dry run must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    r = az("-p", "az", "run", "evolve", "--sample", "campaign", "--islands", "4", "--instances", "2",
           "--compute", "gpu-cluster", "--dry-run")
    assert r.code == 0, r
    doc = yaml.safe_load(r.stdout)
    assert doc["distribution"] == {"type": "mpi", "process_count_per_instance": 2}
    assert doc["resources"] == {"instance_count": 2}
    assert doc["compute"] == "azureml:gpu-cluster"
    assert "--islands 4" in doc["command"] and doc["command"].startswith("python -m leafctl.esp.job config.toml")
    from leafctl import evolve

    assert doc["environment"]["image"] == evolve.IMAGE
    pip = doc["environment"]["conda_file"]["dependencies"][-1]["pip"]
    assert "cupy-cuda12x" in pip and any(d.startswith("mpi4py") for d in pip)
    snap = Path(doc["code"])
    assert (snap / "leafctl" / "esp" / "islands.py").is_file() and "islands = 4" in (snap / "config.toml").read_text()
    from azure.ai.ml import load_job

    f = tmp_path / "job.yml"
    f.write_text(r.stdout)
    job = load_job(f)
    assert job.distribution.process_count_per_instance == 2 and job.resources.instance_count == 2
    # islands that do not divide over the nodes: exit 2, before anything
    assert_error(az("run", "evolve", "--sample", "campaign", "--islands", "3", "--instances", "2",
                    "--compute", "gpu-cluster", "--dry-run"), 2, "--instances 2")


def test_azure_profile_evolve_without_remote_end_to_end(az, fake, fj, az_backend, tmp_path):
    assert ok(az("compute", "create", "gpu-cluster", "--type", "cluster", "--size", "Standard_NC6s_v3",
                 "--max-nodes", "2", "-o", "json"))["name"] == "gpu-cluster"
    ran = cluster(fake, fj, tmp_path / "cluster")
    r = az("-p", "az", "run", "evolve", *SMALL, "--compute", "gpu-cluster", "-o", "json")
    out = ok(r)
    rid = out["id"]
    assert out["run_id"] == rid and out["status"] == "Completed" and out["kind"] == "evolve"
    assert out["front"] and isinstance(out["hypervolume"], float) and out["device"] == "cpu"  # the node ran on CPU
    assert "generation 3/3" in r.stderr and f"submitted evolve run {rid}" in r.stderr
    body = body_of(fake, rid)
    from leafctl import evolve

    assert body["command"] == evolve.COMMAND and len(ran[rid]) == 1
    assert "/paths/leafctl/evolve/" in body["inputs"]["data"]["uri"]
    env = fake.get(body["environmentId"])["properties"]
    assert env["image"] == evolve.IMAGE and "cupy-cuda12x" in env["condaFile"]
    # the result, read back through the backend, is what the node wrote
    dl = tmp_path / "dl"
    az_backend.download_run(rid, dl, output="result")
    assert (dl / "result" / "pareto.csv").is_file() and (dl / "result" / "model" / "MLmodel").is_file()
    # --no-wait: the same shape without the summary; --remote stays a synonym
    nw = ok(az("run", "evolve", *SMALL, "--compute", "gpu-cluster", "--remote", "--no-wait", "-o", "json"))
    assert nw["id"] == nw["run_id"] and not {"hypervolume", "front", "knee", "predictor", "baseline"} & set(nw) and set(out) == set(nw) | {"hypervolume", "front", "knee", "predictor", "baseline"}


def test_islands_on_the_cluster_what_azure_receives_and_runs(az, fake, fj, tmp_path):
    ok(az("compute", "create", "gpu-cluster", "--type", "cluster", "--size", "Standard_NC6s_v3", "--max-nodes", "2", "-o", "json"))
    ran = cluster(fake, fj, tmp_path / "cluster")
    nw = ok(az("run", "evolve", *SMALL, "--islands", "4", "--instances", "2", "--compute", "gpu-cluster",
               "--no-wait", "-o", "json"))
    body = body_of(fake, nw["id"])
    assert body["distribution"] == {"distributionType": "Mpi", "processCountPerInstance": 2}
    assert body["resources"]["instanceCount"] == 2
    assert body["command"].endswith("--islands 4 --migrate-every 10 --migrants 2")
    assert body["tags"]["leafctl.islands"] == "4"
    env = fake.get(body["environmentId"])["properties"]
    assert "mpi4py" in env["condaFile"] and "cupy-cuda12x" in env["condaFile"]
    # the cluster runs it: 4 ranks, rank 0 writes the merged outputs
    done = ok(az("run", "wait", nw["id"], "-o", "json"))
    assert done["status"] == "Completed" and " -n 4 " in ran[nw["id"]][0]
    files = fj.output_files[nw["id"]]["result"]
    assert "hypervolume_island_3" in files["history.csv"].decode().splitlines()[0]
