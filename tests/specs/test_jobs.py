"""Command jobs, complete (issue 8, item 2): az ml v2 command job YAML as azureml-examples writes it, through
`run submit -f --dry-run` (the printed spec carries every field) and the local backend (what the run does).
The same specs through the Azure backend (what the control plane receives): tests/azure/test_jobs_specs.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from leaftest import assert_error

CORPUS = Path(__file__).parent / "corpus" / "job"


@pytest.fixture
def corpus(tmp_path) -> Path:
    d = tmp_path / "job"
    shutil.copytree(CORPUS, d)
    return d


def dry(cli, *args) -> dict:
    r = cli("run", "submit", *args, "--dry-run", "-o", "json")
    assert r.code == 0, r
    return r.json()


def run_local(cli, *args) -> tuple[dict, str, str]:
    r = cli("run", "submit", *args, "--compute", "local", "--wait", "-o", "json")
    run = r.json() if r.stdout.strip() else {}
    logs = cli("run", "logs", run["id"]).stdout if run.get("id") else ""
    return run, logs, r.stderr


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- inline environments ----------------------------------------------------------------------------

def test_inline_environment_image_conda_is_printed_and_noted_locally(cli, corpus):
    doc = dry(cli, "-f", str(corpus / "dask-nyctaxi.yml"))
    assert doc["environment"] == {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04",
                                  "conda_file": str((corpus / "environment" / "conda.yml").resolve())}
    spec = write(corpus / "local-env.yml", yaml.safe_dump({
        "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
        "command": "echo ran", "environment": {"image": "python:latest"}}))
    run, logs, err = run_local(cli, "-f", str(spec))
    assert run["status"] == "Completed" and logs.strip() == "ran"
    notes = [ln for ln in err.splitlines() if "local runs use the current Python" in ln]
    assert len(notes) == 1 and "python:latest" in notes[0], err


def test_inline_environment_build_context_is_printed(cli, corpus):
    doc = dry(cli, "-f", str(corpus / "sklearn-iris-docker-context.yml"))
    assert doc["environment"] == {"build": {"path": str((corpus / "docker-context").resolve())}}


# --- literal inputs ---------------------------------------------------------------------------------

def test_literal_inputs_printed_and_substituted_locally(cli, corpus):
    doc = dry(cli, "-f", str(corpus / "hello-world-input.yml"))
    assert doc["inputs"] == {"hello_string": "hello world", "hello_number": 42}
    run, logs, _ = run_local(cli, "-f", str(corpus / "hello-world-input.yml"))
    assert run["status"] == "Completed", run
    assert logs.splitlines() == ["hello world", "42"]
    assert run["inputs"] == {"hello_string": "hello world", "hello_number": "42"}


def test_literals_of_every_type_quoted_and_typed_forms(cli, tmp_path):
    spec = write(tmp_path / "lit.yml", """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: printf '%s|' ${{inputs.n}} ${{inputs.x}} ${{inputs.b}} ${{inputs.s}} ${{inputs.epochs}} ${{inputs.rate}}
environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
inputs:
  n: 42
  x: 0.8
  b: true
  s: "two words; $(touch pwned)"
  epochs: {type: integer, default: 10}
  rate: {type: number, default: 0.5}
""")
    doc = dry(cli, "-f", str(spec))
    assert doc["inputs"] == {"n": 42, "x": 0.8, "b": True, "s": "two words; $(touch pwned)", "epochs": 10, "rate": 0.5}
    run, logs, _ = run_local(cli, "-f", str(spec))
    assert run["status"] == "Completed", run
    assert logs.rstrip("\n") == "42|0.8|True|two words; $(touch pwned)|10|0.5|"  # as Azure ML substitutes: str(value)
    assert not list(tmp_path.rglob("pwned"))
    bad = write(tmp_path / "bad.yml", spec.read_text().replace("default: 10", "default: ten"))
    assert_error(cli("run", "submit", "-f", str(bad), "--dry-run"), 2, "epochs", "integer")


def test_flag_literal_inputs_follow_the_documented_rule(cli, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    doc = dry(cli, "--command", "echo ${{inputs.epochs}} ${{inputs.lr}} ${{inputs.mode}} ${{inputs.data}} ${{inputs.ds}}",
              "--input", "epochs=10", "--input", "lr=0.01", "--input", "mode=fast", "--input", f"data={data}",
              "--input", "ds=folder/in/datastore")
    assert doc["inputs"]["epochs"] == 10 and doc["inputs"]["lr"] == 0.01 and doc["inputs"]["mode"] == "fast"
    assert doc["inputs"]["data"] == {"type": "uri_folder", "path": str(data.resolve())} or doc["inputs"]["data"]["path"] == str(data.resolve())
    assert doc["inputs"]["ds"]["path"] == "folder/in/datastore"
    run, logs, _ = run_local(cli, "--command", "echo ${{inputs.epochs}} ${{inputs.mode}}", "--input", "epochs=10",
                             "--input", "mode=fast")
    assert run["status"] == "Completed" and logs.strip() == "10 fast"
    assert "literal" in cli("run", "submit", "--help").stdout.lower()


# --- azureml: references from YAML ------------------------------------------------------------------

def test_azureml_asset_references_stay_references(cli, corpus, tmp_path):
    doc = dry(cli, "-f", str(corpus / "iris-train-full.yml"))
    assert doc["inputs"]["registered"] == {"type": "uri_folder", "path": "azureml:iris-data@latest", "mode": "ro_mount"}
    assert doc["inputs"]["base_model"] == {"type": "custom_model", "path": "azureml:iris-model:1", "mode": "download"}
    assert dry(cli, "-f", str(corpus / "pytorch-cifar-distributed.yml"))["inputs"]["cifar"] == "azureml:cifar-10-example:1"
    # locally the reference resolves to the registered asset
    folder = tmp_path / "iris"
    folder.mkdir()
    (folder / "iris.csv").write_text("a\n1\n")
    assert cli("data", "create", "iris-data", "--path", str(folder), "-o", "json").code == 0
    spec = write(tmp_path / "ref.yml", """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: ls ${{inputs.iris}}
environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
inputs:
  iris:
    type: uri_folder
    path: azureml:iris-data@latest
""")
    run, logs, _ = run_local(cli, "-f", str(spec))
    assert run["status"] == "Completed", run
    assert logs.strip() == "iris.csv" and run["inputs"]["iris"] == "azureml:iris-data@latest"


# --- input and output types and modes ---------------------------------------------------------------

def test_types_and_modes_carried_as_written(cli, corpus):
    doc = dry(cli, "-f", str(corpus / "iris-train-full.yml"))
    assert doc["inputs"]["iris_csv"] == {"type": "uri_file", "mode": "download",
                                         "path": "azureml://datastores/workspaceblobstore/paths/example-data/iris.csv"}
    assert doc["outputs"] == {"model_output": {"type": "mlflow_model", "mode": "upload"},
                              "scores": {"type": "uri_folder", "mode": "rw_mount",
                                         "path": "azureml://datastores/workspaceblobstore/paths/iris-scores/"}}
    out = dry(cli, "-f", str(corpus / "hello-model-as-output.yml"))
    assert out["inputs"]["input_model"] == {"type": "mlflow_model", "path": str((corpus / "mlflow-model").resolve())}
    assert out["outputs"] == {"output_folder": {"type": "custom_model"}}


def test_modes_are_noted_once_locally(cli, tmp_path):
    (tmp_path / "d").mkdir()
    spec = write(tmp_path / "m.yml", """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: ls ${{inputs.d}} > ${{outputs.o}}/ls.txt
environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
inputs:
  d: {type: uri_folder, path: ./d, mode: download}
outputs:
  o: {type: uri_folder, mode: upload}
""")
    run, _, err = run_local(cli, "-f", str(spec))
    assert run["status"] == "Completed", run
    notes = [ln for ln in err.splitlines() if ln.startswith("note:") and "mode" in ln]
    assert len(notes) == 1 and "inputs.d.mode" in notes[0] and "outputs.o.mode" in notes[0], err


# --- resources, distribution, limits, services, identity, queue_settings, metadata -------------------

def test_every_other_field_is_printed(cli, corpus):
    doc = dry(cli, "-f", str(corpus / "iris-train-full.yml"))
    assert doc["name"] == "iris-train-full" and doc["experiment_name"] == "iris-examples"
    assert doc["resources"] == {"instance_count": 1, "shm_size": "8g"} and doc["limits"] == {"timeout": 3600}
    assert doc["identity"] == {"type": "managed"} and doc["properties"] == {"owner": "data-science"}
    assert doc["tags"] == {"stage": "example"}
    doc = dry(cli, "-f", str(corpus / "pytorch-cifar-distributed.yml"))
    assert doc["distribution"] == {"type": "pytorch", "process_count_per_instance": 2} and doc["resources"] == {"instance_count": 2}
    assert doc["description"].startswith("Train a basic convolutional") and doc["display_name"] == "pytorch-cifar-distributed-example"
    doc = dry(cli, "-f", str(corpus / "hello-interactive.yml"))
    assert doc["services"]["my_vscode"] == {"type": "vs_code", "nodes": "all"}
    assert doc["services"]["my_tensorboard"]["log_dir"] == "outputs/tblogs"
    doc = dry(cli, "-f", str(corpus / "serverless.yml"))
    assert doc["queue_settings"] == {"job_tier": "standard"} and doc["identity"] == {"type": "user_identity"}
    assert doc["resources"] == {"instance_type": "Standard_E4s_v3", "instance_count": 1}
    doc = dry(cli, "-f", str(corpus / "hello-world-full.yml"))
    assert doc["environment_variables"] == {"hello_str": "hello world"} and doc["tags"] == {"hello": "world"}
    assert doc["description"].startswith("# Azure Machine Learning")


def test_flag_form_produces_the_same_document(cli, corpus):
    from_yaml = dry(cli, "-f", str(corpus / "tensorflow-mnist-horovod.yml"))
    from_flags = dry(cli, "--code", str(corpus / "src"), "--command", from_yaml["command"], "--input", "epochs=1",
                     "--environment", from_yaml["environment"], "--compute", "gpu-cluster", "--instance-count", "2",
                     "--distribution", "mpi", "--process-count-per-instance", "2",
                     "--experiment", from_yaml["experiment_name"], "--name", from_yaml["display_name"])
    want = {k: v for k, v in from_yaml.items() if k != "description"}
    assert from_flags == want
    assert dry(cli, "--command", "true", "--timeout", "1h30m")["limits"] == {"timeout": 5400}
    assert dry(cli, "--command", "true", "--timeout", "90")["limits"] == {"timeout": 90}
    tf = dry(cli, "--command", "true", "--distribution", "tensorflow", "--instance-count", "2", "--process-count-per-instance", "2")
    assert tf["distribution"] == {"type": "tensorflow", "worker_count": 4}
    assert_error(cli("run", "submit", "--command", "true", "--distribution", "horovod", "--dry-run"), 2, "--distribution")
    assert_error(cli("run", "submit", "--command", "true", "--timeout", "soon", "--dry-run"), 2, "--timeout")


def test_parent_job_name_is_refused_by_name(cli, corpus):
    spec = corpus / "hello-world-full.yml"
    write(spec, spec.read_text() + "parent_job_name: my-pipeline\n")
    assert_error(cli("run", "submit", "-f", str(spec), "--dry-run"), 2, "parent_job_name", "pipeline")
    assert_error(cli("run", "submit", "--command", "true", "--set", "parent_job_name=p", "--dry-run"), 2, "parent_job_name")


# --- the local backend: distribution, timeout, name -------------------------------------------------

def test_mpi_runs_n_ranks_under_mpiexec(cli, tmp_path):
    spec = write(tmp_path / "mpi.yml", """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: echo "rank=${PMI_RANK:-$OMPI_COMM_WORLD_RANK} size=${PMI_SIZE:-$OMPI_COMM_WORLD_SIZE} epochs=${{inputs.epochs}}"
inputs:
  epochs: 1
environment: azureml:AzureML-tensorflow-2.4-ubuntu18.04-py37-cuda11-gpu@latest
resources:
  instance_count: 2
distribution:
  type: mpi
  process_count_per_instance: 2
""")
    run, logs, _ = run_local(cli, "-f", str(spec))
    assert run["status"] == "Completed", run
    lines = sorted(logs.splitlines())
    assert lines == [f"rank={i} size=4 epochs=1" for i in range(4)], logs


def test_missing_mpiexec_is_one_line_error(cli, monkeypatch):
    from leafctl.backends.local import launch

    monkeypatch.setattr(launch, "find_mpiexec", lambda path=None: None)
    assert_error(cli("run", "submit", "--command", "true", "--distribution", "mpi", "--compute", "local"), 2,
                 "mpiexec", "pip install 'leafctl[mpi]'")
    assert cli("run", "list", "-o", "json").json() == []


def test_pytorch_sets_torch_distributed_env_for_each_process(cli, corpus):
    run, logs, _ = run_local(cli, "--command", "echo $RANK $LOCAL_RANK $NODE_RANK $WORLD_SIZE $MASTER_ADDR $MASTER_PORT",
                             "--instance-count", "2", "--distribution", "pytorch", "--process-count-per-instance", "2")
    assert run["status"] == "Completed", run
    rows = sorted(tuple(ln.split()) for ln in logs.splitlines())
    assert [r[:5] for r in rows] == [("0", "0", "0", "4", "127.0.0.1"), ("1", "1", "0", "4", "127.0.0.1"),
                                     ("2", "0", "1", "4", "127.0.0.1"), ("3", "1", "1", "4", "127.0.0.1")]
    assert len({r[5] for r in rows}) == 1 and rows[0][5].isdigit()


def test_tensorflow_sets_tf_config_for_each_worker(cli, corpus):
    spec = corpus / "tensorflow-mnist-distributed.yml"
    # One write per worker: with PYTHONUNBUFFERED=1 print() writes the text and its newline apart, and
    # two workers appending to the one log could interleave them onto one line.
    write(spec, spec.read_text().replace(
        "python train.py", "python -c 'import os, sys; sys.stdout.write(os.environ[\"TF_CONFIG\"] + chr(10))'"))
    run, logs, _ = run_local(cli, "-f", str(spec))
    assert run["status"] == "Completed", run
    configs = [json.loads(ln.split(" --epochs")[0]) if ln.startswith("{") else None for ln in logs.splitlines()]
    configs = [c for c in configs if c]
    assert sorted(c["task"]["index"] for c in configs) == [0, 1]
    assert all(c["task"]["type"] == "worker" and len(c["cluster"]["worker"]) == 2 for c in configs)


def test_limits_timeout_kills_the_run(cli, tmp_path):
    spec = write(tmp_path / "slow.yml", """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: echo started; sleep 60; echo never
environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
limits:
  timeout: 1
""")
    import time

    t0 = time.monotonic()
    r = cli("run", "submit", "-f", str(spec), "--wait", "-o", "json")
    assert time.monotonic() - t0 < 30
    assert_error(r, 1, "limits.timeout", "1 s")
    run = r.json()
    assert run["status"] == "Failed" and "timeout" in run["error"]
    assert cli("run", "logs", run["id"]).stdout.splitlines() == ["started"]
    r = cli("run", "submit", "--command", "sleep 60", "--timeout", "1", "--wait", "-o", "json")
    assert r.code == 1 and r.json()["status"] == "Failed"


def test_job_name_is_the_run_id(cli, corpus):
    spec = corpus / "named.yml"
    write(spec, "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
                "name: my-named-job\ncommand: echo hi\nenvironment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest\n")
    run, logs, _ = run_local(cli, "-f", str(spec))
    assert run["id"] == "my-named-job" and logs.strip() == "hi"
    assert_error(cli("run", "submit", "-f", str(spec), "--compute", "local"), 5, "my-named-job")


def test_environment_file_reference_is_carried_as_that_environment(cli, tmp_path):
    # azureml-examples cli/jobs/single-step/gpu_perf/gpu_perf_job.yml: `environment: file:./environments/azureml/env.yml`
    image = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.1-cudnn8-ubuntu18.04"
    folder = tmp_path / "environments" / "azureml"
    folder.mkdir(parents=True)
    write(folder / "conda.yml", "dependencies:\n  - python=3.10\n")
    write(folder / "env.yml", "$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
                              f"name: nccl-tests\nversion: 3\nimage: {image}\nconda_file: conda.yml\n")
    spec = write(tmp_path / "gpu_perf_job.yml", "command: echo ran\nenvironment: file:./environments/azureml/env.yml\n")
    doc = dry(cli, "-f", str(spec))
    assert doc["environment"] == {"name": "nccl-tests", "version": "3", "image": image,
                                  "conda_file": str((folder / "conda.yml").resolve())}
    run, logs, err = run_local(cli, "-f", str(spec))
    assert run["status"] == "Completed" and logs.strip() == "ran"
    notes = [ln for ln in err.splitlines() if "local runs use the current Python" in ln]
    assert len(notes) == 1 and image in notes[0] and "file:" not in notes[0], err
    missing = write(tmp_path / "missing.yml", "command: echo ran\nenvironment: file:./nowhere/env.yml\n")
    assert_error(cli("run", "submit", "-f", str(missing), "--dry-run"), 2, "environment", "nowhere")
    assert_error(cli("run", "submit", "-f", str(missing), "--compute", "local"), 2, "environment", "nowhere")
