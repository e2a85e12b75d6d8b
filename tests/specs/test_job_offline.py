"""`run submit -f --dry-run` checks a command job without azure-ai-ml (leafctl.specs.job_offline): it must
reach the SDK's verdict and print the SDK's document, on the corpus and on broken variants of it."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from leafctl.errors import UsageError

CORPUS = Path(__file__).parent / "corpus" / "job"
JOBS = sorted(CORPUS.glob("*.yml"))

BROKEN = [
    ("resources", {"instance_count": "two"}), ("resources", {"colour": "blue"}), ("distribution", {"type": "horovod"}),
    ("distribution", {"type": "mpi", "process_count_per_instance": "many"}), ("limits", {"timeout": "soon"}),
    ("limits", "1h"), ("tags", ["a", "b"]), ("environment_variables", "X=1"), ("display_name", {"a": 1}),
    ("inputs", {"data": {"type": "uri_folder", "path": "./d", "mode": "sideways"}}),
    ("inputs", {"data": {"type": "folder", "path": "./d"}}), ("outputs", {"o": {"type": "uri_folder", "mode": "ro_mount"}}),
    ("outputs", {"o": {"type": "parquet"}}), ("command", None), ("identity", {"type": "root"}),
    ("queue_settings", {"job_tier": 3}), ("code", 7),
]


def _verdict(path: Path, offline: bool):
    from leafctl.specs import job_to_doc
    from leafctl.specs.job import job_from_file

    try:
        return job_to_doc(job_from_file(path, None, None, offline=offline))
    except UsageError as e:
        return ("refused", e.exit_code)


def test_corpus_prints_the_same_document_offline_and_with_the_sdk(leaf_env):
    assert JOBS
    for path in JOBS:
        assert _verdict(path, True) == _verdict(path, False), path.name


@pytest.mark.parametrize("field,value", BROKEN, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BROKEN)])
def test_broken_specs_are_refused_offline_as_by_the_sdk(leaf_env, tmp_path, field, value):
    doc = yaml.safe_load((CORPUS / "hello-world-full.yml").read_text()) if (CORPUS / "hello-world-full.yml").exists() else {}
    doc = copy.deepcopy(doc) or {"command": "echo hi", "environment": "azureml:e@latest"}
    if value is None:
        doc.pop(field, None)
    else:
        doc[field] = value
    spec = tmp_path / "job.yml"
    spec.write_text(yaml.safe_dump(doc))
    sdk = _verdict(spec, False)
    assert sdk == ("refused", 2), (field, value, "the SDK accepts this variant: it is no test of the offline check")
    assert _verdict(spec, True) == sdk, (field, value)


def test_dry_run_submit_imports_no_azure(leaf_env, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "job.yml").write_text("command: python train.py --data ${{inputs.data}}\ncode: ./src\n"
                                      "inputs:\n  data:\n    type: uri_folder\n    path: ./data\n"
                                      "environment: azureml:leaf@latest\n")
    (tmp_path / "data").mkdir()
    probe = ("import sys, atexit\n"
             "atexit.register(lambda: sys.stderr.write('AZURE:%d\\n' % any(m == 'azure' or m.startswith('azure.') for m in sys.modules)))\n"
             "from leafctl.cli.main import run\nrun()\n")
    p = subprocess.run([sys.executable, "-c", probe, "run", "submit", "-f", str(tmp_path / "job.yml"), "--dry-run", "-o", "json"],
                       capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert p.returncode == 0, p.stderr
    assert '"type": "uri_folder"' in p.stdout and "AZURE:0" in p.stderr, p.stderr
    # without --dry-run the SDK validates (and is imported): the probe can tell
    p = subprocess.run([sys.executable, "-c", probe, "run", "submit", "-f", str(tmp_path / "job.yml"), "-o", "json"],
                       capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert "AZURE:1" in p.stderr, p.stderr


# A tester's variants of hello-world-full.yml (issue G2 item 2: 26 of them used to get another verdict
# offline than from azure-ai-ml), then more on the shapes the offline check models: both verdicts
# must be equal, and so must the printed documents when valid.
TESTER_VARIANTS = [
    ("limits", {"timeout": "3600"}), ("limits", {"timeout": 3600.0}), ("limits", {"timeout": 1.5}), ("limits", {"timeout": -1}),
    ("limits", {"timeout": True}), ("resources", {"instance_count": "2"}), ("resources", {"instance_count": 2.5}),
    ("resources", {"instance_count": True}), ("resources", {"shm_size": 5}), ("resources", {"instance_count": 0}),
    ("resources", {"instance_count": -3}), ("distribution", {"type": "MPI"}),
    ("distribution", {"type": "mpi", "process_count_per_instance": "2"}),
    ("distribution", {"type": "pytorch", "process_count_per_instance": True}),
    ("distribution", {"type": "tensorflow", "worker_count": 2.0}), ("distribution", {}),
    ("distribution", {"type": "ray", "port": "6379"}), ("queue_settings", {"job_tier": "Spot"}),
    ("queue_settings", {"priority": "urgent"}), ("queue_settings", {"priority": "High"}),
    ("identity", {"type": "managed", "client_id": 5}), ("identity", {"type": "Managed"}),
    ("identity", {"type": "user_identity", "extra": 1}), ("environment", 5), ("environment", {"image": 5}), ("environment", {}),
    ("environment", {"image": "x", "bogus": 1}), ("environment", "not-a-ref"), ("compute", 5), ("compute", "azureml:"),
    ("experiment_name", 5), ("name", "bad name!"), ("name", 5), ("display_name", 5), ("description", ["a"]),
    ("services", {"a": 1}), ("services", {"a": {"type": "nonsense"}}), ("services", {"a": {"type": "ssh", "bogus": 1}}),
    ("code", {"local_path": "src"}), ("code", ["src"]), ("code", ""), ("type", "sweep"), ("type", "pipeline"),
    ("type", "Command"), ("type", 5), ("$schema", 5), ("tags", {"a": [1]}), ("tags", {"a": {"b": 1}}),
    ("environment_variables", {"A": [1]}), ("environment_variables", {"A": 1}), ("properties", {"a": {"b": 1}}),
    ("command", ["a"]), ("command", 5), ("command", "   "), ("inputs", {"x": {"type": "uri_file"}}), ("inputs", {"x": [1, 2]}),
    ("inputs", {"x": {"type": "integer", "default": "ten"}}), ("inputs", {"x": {"type": "integer", "optional": "maybe", "default": 1}}),
    ("inputs", {"x": {"type": "uri_folder", "path": 5}}), ("inputs", {"x": {}}), ("inputs", {"x": None}),
    ("inputs", {"x": {"type": "uri_folder", "path": "azureml:foo", "mode": "upload"}}), ("inputs", {"x": {"type": "string", "default": 5}}),
    ("inputs", {"x": {"type": "boolean", "default": "yes"}}), ("inputs", {"x": {"type": "number", "default": "1.5"}}),
    ("inputs", {"x": {"type": "URI_FOLDER", "path": "./d"}}), ("inputs", {"x": {"path": "./d"}}), ("inputs", []), ("inputs", {5: "a"}),
    ("outputs", {"o": {"type": "uri_folder", "path": 5}}), ("outputs", {"o": {"type": "uri_folder", "name": "bad name", "version": 1}}),
    ("outputs", {"o": None}), ("outputs", {"o": "x"}), ("outputs", {"o": {"type": "mlflow_model", "mode": "upload"}}), ("outputs", {"o": {}}),
    ("outputs", {"o": {"type": "integer"}}), ("is_deterministic", True), ("parent_job_name", "x"), ("status", "Running"),
    ("creation_context", {}), ("id", "x"), ("resources", {"locations": "westus"}), ("resources", {"properties": []}),
    ("resources", {"max_instance_count": "4"}),
]
MORE_VARIANTS = [
    ("compute", "LOCAL"), ("compute", "Local"), ("compute", "azureml:LOCAL"), ("compute", ""), ("compute", "cpu"),
    ("code", "src"), ("code", "./src/"), ("code", "nope"), ("code", "azureml:foo:1"), ("code", "https://x/y"), ("code", 7),
    ("environment", "azureml:e"), ("environment", "azureml:e:1"), ("environment", "azureml:"), ("environment", {"image": ""}),
    ("environment", {"image": None}), ("environment", "azureml://registries/r/environments/e/versions/1"),
    ("tags", {"a": None}), ("tags", {"a": 1}), ("tags", {"a": True}), ("tags", {1: "a"}), ("tags", {}), ("tags", "a"),
    ("properties", {"a": 1}), ("properties", {"a": "b"}), ("environment_variables", {"A": None, "B": 1.5, "C": True}),
    ("environment_variables", {1: "a"}), ("environment_variables", ["A"]), ("environment_variables", "X=1"),
    ("description", None), ("display_name", None), ("name", ""), ("experiment_name", ""),
    ("limits", {"foo": 1}), ("limits", {"timeout": None}), ("limits", {}), ("limits", {"timeout": "1_000"}),
    ("limits", {"timeout": " 7 "}), ("limits", {"timeout": "2.5"}), ("limits", {"timeout": float("inf")}), ("limits", "1h"),
    ("queue_settings", {"job_tier": None}), ("queue_settings", {}), ("queue_settings", {"job_tier": "null"}),
    ("queue_settings", {"foo": "x"}), ("queue_settings", {"job_tier": 3}),
    ("resources", {"docker_args": ["a", "b"]}), ("resources", {"docker_args": "--ipc=host"}), ("resources", {"docker_args": [1]}),
    ("resources", {"locations": ["a", 1]}), ("resources", {"locations": ["westus"]}), ("resources", {"properties": {1: 2}}),
    ("resources", {"properties": {"a": [1]}}), ("resources", {}), ("resources", {"instance_count": "2.5"}),
    ("resources", {"instance_type": "Standard_NC6", "instance_count": 2}), ("resources", {"colour": "blue"}),
    ("distribution", {"type": "ray", "include_dashboard": "yes"}), ("distribution", {"type": "ray", "include_dashboard": True}),
    ("distribution", {"type": "ray", "address": 5}), ("distribution", {"type": "mpi", "bogus": 1}), ("distribution", {"type": 5}),
    ("distribution", {"type": "horovod"}), ("distribution", {"type": "PyTorch", "process_count_per_instance": " 4 "}),
    ("distribution", {"type": "tensorflow", "worker_count": "2", "parameter_server_count": 1.9}),
    ("inputs", {"x": {"type": "uri_folder", "path": "./d", "mode": "RO_MOUNT"}}), ("inputs", {"x": {"type": "uri_file", "path": "x", "mode": "direct"}}),
    ("inputs", {"x": {"type": "uri_folder", "path": "./d", "mode": "rw_mount"}}), ("inputs", {"x": {"type": "uri_folder", "path": "./d", "mode": 5}}),
    ("inputs", {"x": {"type": "uri_folder", "path": "./d", "description": "x"}}), ("inputs", {"x": {"type": "folder", "path": "./d"}}),
    ("inputs", {"x": {"type": "mltable", "path": "./d", "mode": "eval_mount"}}), ("inputs", {"x": {"path": "./d", "mode": "download"}}),
    ("inputs", {"x": "hello", "y": 5, "z": 1.5, "w": True}), ("inputs", {"x": "azureml:foo:1"}),
    ("inputs", {"x": {"type": "uri_folder", "path": "azureml://datastores/ws/paths/x"}}),
    ("outputs", {"o": {"type": "URI_FOLDER", "mode": "RW_MOUNT"}}), ("outputs", {"o": {"mode": "mount"}}), ("outputs", {"o": {"mode": "download"}}),
    ("outputs", {"o": {"path": "azureml://datastores/ws/paths/x"}}), ("outputs", {"o": {"type": "uri_folder", "description": "x"}}),
    ("outputs", {"o": {"type": "uri_folder", "mode": 5}}), ("outputs", {"o": {"type": 5}}), ("outputs", {"o": 5}), ("outputs", {"o": {"type": "parquet"}}),
    ("outputs", {"o": {"type": "uri_folder", "mode": "ro_mount"}}), ("outputs", "o"),
]
VARIANTS = TESTER_VARIANTS + MORE_VARIANTS


def _variant(tmp_path: Path, field: str, value) -> Path:
    doc = yaml.safe_load((CORPUS / "hello-world-full.yml").read_text())
    doc[field] = copy.deepcopy(value)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print('hi')\n")
    spec = tmp_path / "job.yml"
    spec.write_text(yaml.safe_dump(doc))
    return spec


@pytest.mark.parametrize("field,value", VARIANTS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(VARIANTS)])
def test_offline_verdict_and_document_are_the_sdks(leaf_env, tmp_path, field, value):
    spec = _variant(tmp_path, field, value)
    assert _verdict(spec, True) == _verdict(spec, False), (field, value)


# What the offline check decides itself (the integer fields as marshmallow's non-strict Integer reads
# them, enums in any case, string-valued tags), and what it must leave to azure-ai-ml.
DECIDED_OFFLINE = [
    ("limits", {"timeout": "3600"}, True), ("limits", {"timeout": 3600.0}, True), ("limits", {"timeout": 1.5}, True),
    ("limits", {"timeout": "2.5"}, False), ("limits", {"timeout": True}, False), ("resources", {"instance_count": "2"}, True),
    ("resources", {"instance_count": 2.5}, True), ("resources", {"max_instance_count": "4"}, True),
    ("distribution", {"type": "mpi", "process_count_per_instance": "2"}, True), ("distribution", {"type": "tensorflow", "worker_count": 2.0}, True),
    ("distribution", {"type": "ray", "port": "6379"}, True), ("inputs", {"x": {"type": "URI_FOLDER", "path": "./d"}}, True),
    ("tags", {"a": [1]}, False), ("tags", {"a": {"b": 1}}, False), ("properties", {"a": {"b": 1}}, False),
    ("outputs", {"o": {"type": "uri_folder", "path": 5}}, False), ("resources", {"docker_args": ["a", "b"]}, True),
    ("compute", "LOCAL", True), ("environment", {"image": "python:latest"}, True), ("code", "src", True),
]
LEFT_TO_THE_SDK = [
    ("identity", {"type": "managed", "client_id": 5}), ("identity", {"type": "managed"}), ("identity", {"type": "user_identity", "extra": 1}),
    ("environment", {"image": 5}), ("environment", {"image": "x", "bogus": 1}), ("environment", "not-a-ref"),
    ("services", {"a": 1}), ("services", {"a": {"type": "ssh", "bogus": 1}}), ("code", {"local_path": "src"}),
    ("code", "azureml:foo:1"), ("code", "nope"), ("outputs", {"o": {"type": "uri_folder", "name": "bad name", "version": 1}}),
    ("status", "Running"), ("creation_context", {}), ("id", "x"), ("description", None),
]


def test_offline_check_decides_what_it_models_and_defers_the_rest(tmp_path):
    from leafctl.specs import job_offline

    base = yaml.safe_load((CORPUS / "hello-world-full.yml").read_text())
    (tmp_path / "src").mkdir()
    for field, value, valid in DECIDED_OFFLINE:
        doc = {**copy.deepcopy(base), field: value}
        if valid:
            job_offline.check(doc, "job.yml", tmp_path)
        else:
            with pytest.raises(UsageError) as e:
                job_offline.check(doc, "job.yml", tmp_path)
            assert e.value.exit_code == 2 and field in str(e.value), (field, value)
    for field, value in LEFT_TO_THE_SDK:
        with pytest.raises(job_offline.Unsure):
            job_offline.check({**copy.deepcopy(base), field: value}, "job.yml", tmp_path)
