"""Batch endpoints and deployments as az ml has them (issue 8, item 3), on the local backend and in --dry-run.

The specs are azureml-examples' own (tests/specs/corpus/batch_*: mnist-classifier deployment-torch with
code_configuration + environment + an inline model, heart-classifier-mlflow with `settings:`, the endpoint
YAMLs alone). The scoring scripts are this test's: init() once, run(mini_batch) per mini batch of file paths,
each call recorded so the test can count them.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml

from leaftest import assert_error

CORPUS = Path(__file__).parent / "corpus"

DRIVER = """\
import json
import logging
import os

log = logging.getLogger("driver")


def init():
    global model_file
    model_dir = os.environ["AZUREML_MODEL_DIR"]
    model_file = sorted(os.listdir(model_dir))[0]
    with open(os.environ["CALLS"], "a") as f:
        f.write(json.dumps({"init": model_dir}) + "\\n")


def run(mini_batch):
    log.debug("debug line from run()")
    log.info("info line from run()")
    with open(os.environ["CALLS"], "a") as f:
        f.write(json.dumps({"run": [os.path.basename(p) for p in mini_batch]}) + "\\n")
    for p in mini_batch:
        if os.path.basename(p).startswith("bad"):
            raise ValueError("cannot score " + os.path.basename(p))
    return [[os.path.basename(p), model_file, os.environ.get("SCORE_MODE", "-")] for p in mini_batch]
"""


def _copy_corpus(tmp_path: Path, kind: str) -> Path:
    dest = tmp_path / kind
    shutil.copytree(CORPUS / kind, dest)
    return dest


def _inputs(folder: Path, n: int, bad: int = 0) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"img-{i:02d}.png").write_bytes(bytes([i]) * (i + 1))
    for i in range(bad):
        (folder / f"bad-{i}.png").write_bytes(b"x")
    return folder


def _calls(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def mnist(tmp_path, cli):
    """The mnist-classifier example: endpoint.yml, deployment-torch (code/, model/, environment/), this test's
    scoring script in code/batch_driver.py, and a local cluster named as the example's compute."""
    d = _copy_corpus(tmp_path, "batch_deployment")
    (d / "code" / "batch_driver.py").write_text(DRIVER)
    ep = _copy_corpus(tmp_path, "batch_endpoint")
    assert cli("compute", "create", "batch-cluster", "--max-nodes", "2").code == 0
    return {"dep": d / "mnist-torch.yml", "ep": ep / "mnist-batch.yml", "dir": d}


def test_dry_run_prints_the_examples_whole(cli, tmp_path):
    d = _copy_corpus(tmp_path, "batch_deployment")
    r = cli("endpoint", "deployment", "create", "-f", str(d / "mnist-torch.yml"), "--dry-run", "-o", "yaml")
    assert r.code == 0, r
    got = yaml.safe_load(r.stdout)
    want = yaml.safe_load((d / "mnist-torch.yml").read_text())
    want["model"]["path"] = str((d / "model").resolve())
    want["code_configuration"]["code"] = str((d / "code").resolve())
    want["environment"]["conda_file"] = str((d / "environment" / "conda.yaml").resolve())
    assert got == want
    assert got["name"] == "mnist-torch-dpl" and got["resources"] == {"instance_count": 1}
    assert got["settings"]["retry_settings"] == {"max_retries": 3, "timeout": 30} and got["settings"]["logging_level"] == "info"

    r = cli("endpoint", "deployment", "create", "-f", str(d / "heart-classifier-mlflow.yml"), "--dry-run", "-o", "json")
    assert r.code == 0 and r.json() == yaml.safe_load((d / "heart-classifier-mlflow.yml").read_text()), r
    assert r.json()["model"] == "azureml:heart-classifier-mlflow@latest"  # not stripped to a bare name
    r = cli("endpoint", "deployment", "create", "-f", str(d / "imagenet-flat.yml"), "--dry-run", "-o", "json")
    assert r.code == 0 and (r.json()["mini_batch_size"], r.json()["output_action"], r.json()["error_threshold"]) == (5, "append_row", -1)
    # --set and the flags go on top of the file
    r = cli("endpoint", "deployment", "create", "blue", "-f", str(d / "heart-classifier-mlflow.yml"), "-e", "other",
            "--set", "settings.mini_batch_size=7", "--dry-run", "-o", "json")
    assert (r.json()["name"], r.json()["endpoint_name"], r.json()["settings"]["mini_batch_size"]) == ("blue", "other", 7)

    ep = _copy_corpus(tmp_path, "batch_endpoint")
    r = cli("endpoint", "create", "-f", str(ep / "heart-classifier-batch.yml"), "--dry-run", "-o", "json")
    assert r.code == 0 and r.json() == yaml.safe_load((ep / "heart-classifier-batch.yml").read_text()), r
    assert cli("endpoint", "list", "-o", "json").json() == []


def test_pipeline_deployments_and_read_only_fields_are_refused_by_name(cli, tmp_path):
    d = _copy_corpus(tmp_path, "batch_deployment")
    doc = yaml.safe_load((d / "heart-classifier-mlflow.yml").read_text())
    for field, value in (("component", "azureml:hello:1"), ("job_definition", "x"), ("id", "/subscriptions/x")):
        (d / "bad.yml").write_text(yaml.safe_dump({**doc, field: value}))
        r = cli("endpoint", "deployment", "create", "-f", str(d / "bad.yml"), "--dry-run")
        assert_error(r, 2, field)
    (d / "bad.yml").write_text(yaml.safe_dump({**doc, "settings": {**doc["settings"], "output_action": "append_rows"}}))
    assert_error(cli("endpoint", "deployment", "create", "-f", str(d / "bad.yml"), "--dry-run"), 2, "output_action")


def test_endpoint_without_deployment_then_custom_scoring_deployments(cli, mnist, tmp_path):
    # The endpoint YAML alone: an endpoint with no deployment, its fields kept.
    r = cli("endpoint", "create", "-f", str(mnist["ep"]), "-o", "json")
    assert r.code == 0, r
    ep = r.json()
    assert (ep["name"], ep["deployment"], ep["model"]) == ("mnist-batch", None, None)
    assert ep["extra"]["description"].startswith("A batch endpoint for scoring images") and ep["extra"]["tags"] == {"type": "deep-learning"}
    assert_error(cli("endpoint", "invoke", "mnist-batch", "--input", str(tmp_path)), 2, "no default deployment", "--deployment")
    assert cli("endpoint", "deployment", "list", "-e", "mnist-batch", "-o", "json").json() == []

    # deployment-torch: an inline local model {name, path} (registered now), code_configuration, environment.
    r = cli("endpoint", "deployment", "create", "-f", str(mnist["dep"]), "-o", "json")
    assert r.code == 0, r
    dep = r.json()
    assert (dep["name"], dep["endpoint"], dep["model"], dep["compute"]) == ("mnist-torch-dpl", "mnist-batch", "mnist-classifier-torch:1", "batch-cluster")
    assert (dep["scoring_script"], dep["instance_count"], dep["is_default"]) == ("batch_driver.py", 1, True)
    assert dep["settings"] == {"mini_batch_size": 10, "max_concurrency_per_instance": 2, "output_action": "append_row",
                               "output_file_name": "predictions.csv", "retry_settings": {"max_retries": 3, "timeout": 30},
                               "error_threshold": -1, "logging_level": "info"}
    assert dep["spec"]["environment"]["image"].startswith("mcr.microsoft.com/azureml/openmpi")
    notes = [ln for ln in r.stderr.splitlines() if "no effect on the local backend" in ln]
    assert len(notes) == 1 and all(f in notes[0] for f in ("resources", "environment", "max_concurrency_per_instance")), r.stderr
    model = cli("model", "show", "mnist-classifier-torch:1", "-o", "json").json()
    assert (Path(model["path"]) / "mnist_classifier.pt").is_file()
    assert cli("endpoint", "show", "mnist-batch", "-o", "json").json()["deployment"] == "mnist-torch-dpl"

    # invoke -> the default deployment: init() once, run() on mini batches of 10 file paths, rows appended.
    calls = tmp_path / "calls.jsonl"
    inp = _inputs(tmp_path / "images", 25)
    r = cli("endpoint", "invoke", "mnist-batch", "--input", str(inp), "--wait", "-o", "json", env={"CALLS": str(calls)})
    assert r.code == 0, r
    run = r.json()
    assert run["status"] == "Completed" and run["tags"]["deployment"] == "mnist-torch-dpl"
    seen = _calls(calls)
    assert seen[0] == {"init": model["path"]} and sum("init" in c for c in seen) == 1  # AZUREML_MODEL_DIR = the model
    assert [len(c["run"]) for c in seen if "run" in c] == [10, 10, 5]
    rows = list(csv.reader(open(Path(run["outputs_path"]) / "predictions" / "predictions.csv"), delimiter=" "))
    assert len(rows) == 25 and rows[0] == ["img-00.png", "mnist_classifier.pt", "-"]

    # A second deployment (flags and --set over the same YAML) is not the default until --set-default.
    r = cli("endpoint", "deployment", "create", "small", "-f", str(mnist["dep"]), "--set", "settings.mini_batch_size=4",
            "--set", "settings.output_file_name=small.csv", "--set", "environment_variables.SCORE_MODE=small", "-o", "json")
    assert r.code == 0 and r.json()["is_default"] is False and r.json()["model"] == "mnist-classifier-torch:2", r
    assert [d["name"] for d in cli("endpoint", "deployment", "list", "-e", "mnist-batch", "-o", "json").json()] == ["mnist-torch-dpl", "small"]
    calls.unlink()
    r = cli("endpoint", "invoke", "mnist-batch", "--deployment", "small", "--input", str(inp), "--output-path", str(tmp_path / "out"),
            "--wait", "-o", "json", env={"CALLS": str(calls)})
    assert r.code == 0, r
    assert [len(c["run"]) for c in _calls(calls) if "run" in c] == [4, 4, 4, 4, 4, 4, 1]
    rows = list(csv.reader(open(tmp_path / "out" / "small.csv"), delimiter=" "))
    assert len(rows) == 25 and {row[2] for row in rows} == {"small"}  # environment_variables reach the script
    assert cli("endpoint", "show", "mnist-batch", "-o", "json").json()["deployment"] == "mnist-torch-dpl"

    r = cli("endpoint", "deployment", "create", "small", "-f", str(mnist["dep"]), "--set-default", "-o", "json")
    assert r.code == 0 and r.json()["is_default"] is True
    assert cli("endpoint", "show", "mnist-batch", "-o", "json").json()["deployment"] == "small"
    shown = cli("endpoint", "deployment", "show", "mnist-torch-dpl", "-e", "mnist-batch", "-o", "json").json()
    assert shown["is_default"] is False and shown["spec"]["settings"]["mini_batch_size"] == 10

    assert_error(cli("endpoint", "deployment", "show", "ghost", "-e", "mnist-batch"), 3, "ghost")
    assert_error(cli("endpoint", "invoke", "mnist-batch", "--deployment", "ghost", "--input", str(inp)), 3, "ghost")
    assert_error(cli("endpoint", "deployment", "delete", "small", "-e", "mnist-batch"), 2, "--yes")
    assert cli("endpoint", "deployment", "delete", "small", "-e", "mnist-batch", "--yes").code == 0
    assert [d["name"] for d in cli("endpoint", "deployment", "list", "-e", "mnist-batch", "-o", "json").json()] == ["mnist-torch-dpl"]
    assert cli("endpoint", "show", "mnist-batch", "-o", "json").json()["deployment"] is None
    assert cli("endpoint", "delete", "mnist-batch", "--yes").code == 0
    assert_error(cli("endpoint", "deployment", "list", "-e", "mnist-batch"), 3, "mnist-batch")


def test_a_deployment_needs_its_endpoint(cli, mnist):
    assert_error(cli("endpoint", "deployment", "create", "-f", str(mnist["dep"])), 3, "mnist-batch")
    assert cli("model", "list", "-o", "json").json() == []  # nothing registered for it


def _settings_yaml(d: Path, **settings) -> Path:
    doc = yaml.safe_load((d / "mnist-torch.yml").read_text())
    doc["settings"].update(settings)
    out = d / "custom.yml"
    out.write_text(yaml.safe_dump(doc))
    return out


def test_retries_error_threshold_summary_only_and_logging_level(cli, mnist, tmp_path):
    assert cli("endpoint", "create", "-f", str(mnist["ep"])).code == 0
    inp = _inputs(tmp_path / "images", 4, bad=1)  # bad-0.png sorts first: the first mini batch fails
    calls = tmp_path / "calls.jsonl"
    spec = _settings_yaml(mnist["dir"], mini_batch_size=2, retry_settings={"max_retries": 2, "timeout": 30},
                          error_threshold=0)
    assert cli("endpoint", "deployment", "create", "-f", str(spec)).code == 0
    r = cli("endpoint", "invoke", "mnist-batch", "--input", str(inp), "--wait", "-o", "json", env={"CALLS": str(calls)})
    assert_error(r, 1, "failed")
    runs = [c["run"] for c in _calls(calls) if "run" in c]
    assert runs == [["bad-0.png", "img-00.png"]] * 3  # tried, then retried max_retries times; then over the threshold
    logs = cli("run", "logs", r.json()["id"]).stdout
    assert "error_threshold 0" in logs and "info line from run()" in logs and "debug line from run()" not in logs

    # error_threshold: -1 ignores failed mini batches; summary_only writes no rows; logging_level debug reaches run()
    calls.unlink()
    spec = _settings_yaml(mnist["dir"], mini_batch_size=2, retry_settings={"max_retries": 0}, error_threshold=-1,
                          output_action="summary_only", logging_level="debug")
    assert cli("endpoint", "deployment", "create", "-f", str(spec)).code == 0
    r = cli("endpoint", "invoke", "mnist-batch", "--input", str(inp), "--wait", "-o", "json", env={"CALLS": str(calls)})
    assert r.code == 0, r
    assert [len(c["run"]) for c in _calls(calls) if "run" in c] == [2, 2, 1]
    assert not (Path(r.json()["outputs_path"]) / "predictions" / "predictions.csv").exists()
    logs = cli("run", "logs", r.json()["id"]).stdout
    assert "debug line from run()" in logs and "summary_only" in logs


def test_mlflow_deployment_from_the_heart_classifier_example(cli, tmp_path):
    """heart-classifier-mlflow/deployment-simple: a registered MLflow model by `@latest`, no scoring script."""
    from tests.cli.test_cli_endpoint import pyfunc_model

    d = _copy_corpus(tmp_path, "batch_deployment")
    ep = _copy_corpus(tmp_path, "batch_endpoint")
    assert cli("model", "register", "heart-classifier-mlflow", "--path", str(pyfunc_model(tmp_path / "m")), "--type", "mlflow").code == 0
    assert cli("compute", "create", "batch-cluster").code == 0
    assert cli("endpoint", "create", "-f", str(ep / "heart-classifier-batch.yml")).code == 0
    spec = d / "heart-classifier-mlflow.yml"
    spec.write_text(spec.read_text().replace("output_file_name: predictions.csv", "output_file_name: heart.csv"))
    r = cli("endpoint", "deployment", "create", "-f", str(spec), "-o", "json")
    assert r.code == 0, r
    assert (r.json()["model"], r.json()["scoring_script"], r.json()["instance_count"]) == ("heart-classifier-mlflow:1", None, 2)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("x\n1\n3\n")
    r = cli("endpoint", "invoke", "heart-classifier-batch", "--input", str(tmp_path / "in"), "--wait", "-o", "json")
    assert r.code == 0, r
    rows = list(csv.DictReader(open(Path(r.json()["outputs_path"]) / "predictions" / "heart.csv")))
    assert [float(x["doubled"]) for x in rows] == [2.0, 6.0]

    # A custom model without a scoring script cannot be scored: refused before anything is recorded.
    assert cli("model", "register", "plain", "--path", str(tmp_path / "in")).code == 0
    assert_error(cli("endpoint", "deployment", "create", "plain-dep", "-f", str(spec), "--model", "plain:1"), 2, "mlflow")
    assert len(cli("endpoint", "deployment", "list", "-e", "heart-classifier-batch", "-o", "json").json()) == 1


def test_inline_model_path_only_and_the_flag_form(cli, mnist, tmp_path):
    """`model: {path: ./model}` with no name is registered under the deployment's name; the flag form
    (endpoint create NAME --model M) still makes the endpoint and its default deployment."""
    assert cli("endpoint", "create", "mnist-batch").code == 0
    doc = yaml.safe_load(mnist["dep"].read_text())
    doc["model"] = {"path": "model"}
    (mnist["dir"] / "pathonly.yml").write_text(yaml.safe_dump(doc))
    r = cli("endpoint", "deployment", "create", "-f", str(mnist["dir"] / "pathonly.yml"), "-o", "json")
    assert r.code == 0, r
    assert r.json()["model"] == "mnist-batch-mnist-torch-dpl-model:1"

    from tests.cli.test_cli_endpoint import pyfunc_model

    assert cli("model", "register", "dbl", "--path", str(pyfunc_model(tmp_path / "m")), "--type", "mlflow").code == 0
    r = cli("endpoint", "create", "flagged", "--model", "dbl:1", "-o", "json")
    assert r.code == 0 and (r.json()["deployment"], r.json()["model"], r.json()["compute"]) == ("default", "dbl:1", "local"), r
    deps = cli("endpoint", "deployment", "list", "-e", "flagged", "-o", "json").json()
    assert [(d["name"], d["is_default"], d["settings"]["mini_batch_size"]) for d in deps] == [("default", True, 10)]


def test_an_endpoint_row_from_before_deployments_is_migrated(cli, tmp_path):
    """A registry an older leafctl wrote (endpoints held their model and compute) reads as a deployment `default`."""
    import sqlite3

    from tests.cli.test_cli_endpoint import pyfunc_model

    assert cli("model", "register", "dbl", "--path", str(pyfunc_model(tmp_path / "m")), "--type", "mlflow").code == 0
    db = next((tmp_path / "leafhome").rglob("registry.sqlite"))
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE endpoints (name TEXT PRIMARY KEY, model TEXT NOT NULL, compute TEXT NOT NULL, created_at TEXT)")
        conn.execute("INSERT INTO endpoints VALUES ('old', 'dbl:1', 'local', '2024-01-01T00:00:00+00:00')")
    ep = cli("endpoint", "show", "old", "-o", "json").json()
    assert (ep["deployment"], ep["model"], ep["compute"]) == ("default", "dbl:1", "local")
    (tmp_path / "a.csv").write_text("x\n2\n")
    assert cli("endpoint", "invoke", "old", "--input", str(tmp_path / "a.csv"), "--wait").code == 0
