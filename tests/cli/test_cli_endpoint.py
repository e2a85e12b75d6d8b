"""`leafctl endpoint ...`: a hand-written MLflow pyfunc model served by a local batch endpoint."""

from __future__ import annotations

import csv
from pathlib import Path

from leaftest import assert_error

MLMODEL = """\
flavors:
  python_function:
    loader_module: doubler
    code: code
    data: data
    env: conda.yaml
"""

DOUBLER = """\
import os


class Doubler:
    def __init__(self, factor):
        self.factor = factor

    def predict(self, table):
        # Works on a pandas DataFrame and on batch_score's dict-of-columns Table alike.
        return {"doubled": [self.factor * float(v) for v in table["x"]]}


def _load_pyfunc(path):
    with open(os.path.join(path, "factor.txt")) as f:
        return Doubler(float(f.read()))
"""


def pyfunc_model(root: Path) -> Path:
    (root / "code").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "MLmodel").write_text(MLMODEL)
    (root / "code" / "doubler.py").write_text(DOUBLER)
    (root / "data" / "factor.txt").write_text("2")
    return root


def test_endpoint_lifecycle_and_invoke(cli, tmp_path):
    model = pyfunc_model(tmp_path / "model")
    assert cli("model", "register", "doubler", "--path", str(model), "--type", "mlflow").code == 0
    r = cli("endpoint", "create", "dbl", "--model", "doubler:1", "-o", "json")
    assert r.code == 0, r
    assert r.json()["model"] == "doubler:1" and r.json()["compute"] == "local"
    assert cli("endpoint", "create", "dbl", "--model", "doubler@latest").code == 0  # same spec: get
    assert_error(cli("endpoint", "create", "dbl", "--model", "doubler:1", "--compute", "ghost"), 3, "ghost")
    assert [e["name"] for e in cli("endpoint", "list", "-o", "json").json()] == ["dbl"]

    inp = tmp_path / "in"
    (inp / "sub").mkdir(parents=True)
    (inp / "a.csv").write_text("x,y\n1,a\n2.5,b\n")
    (inp / "sub" / "b.csv").write_text("x,y\n10,c\n")
    r = cli("endpoint", "invoke", "dbl", "--input", str(inp), "--output-path", str(tmp_path / "preds"), "--wait", "-o", "json")
    assert r.code == 0, r
    run = r.json()
    assert run["status"] == "Completed" and run["experiment"] == "dbl" and run["tags"]["endpoint"] == "dbl"
    rows = list(csv.DictReader(open(Path(run["outputs_path"]) / "predictions" / "predictions.csv")))
    assert [(x["file"], x["row"], float(x["doubled"])) for x in rows] == [("a.csv", "0", 2.0), ("a.csv", "1", 5.0), ("sub/b.csv", "0", 20.0)]
    assert (tmp_path / "preds" / "predictions.csv").exists()

    # A single file works too, and a bad input fails the run with one clear line in its log.
    assert cli("endpoint", "invoke", "dbl", "--input", str(inp / "a.csv"), "--wait").code == 0
    (tmp_path / "bad.csv").write_text("y\nq\n")
    r = cli("endpoint", "invoke", "dbl", "--input", str(tmp_path / "bad.csv"), "--wait", "-o", "json")
    assert_error(r, 1, "failed")
    assert any(line.startswith("error: batch scoring failed") for line in cli("run", "logs", r.json()["id"]).stdout.splitlines())

    assert_error(cli("endpoint", "delete", "dbl"), 2, "--yes")
    assert cli("endpoint", "delete", "dbl", "--yes").code == 0
    assert_error(cli("endpoint", "show", "dbl"), 3, "dbl")
    assert_error(cli("endpoint", "invoke", "dbl", "--input", str(inp)), 3, "dbl")


def test_endpoint_spec_file_and_errors(cli, tmp_path):
    assert_error(cli("endpoint", "create", "e1", "--model", "ghost:1"), 3, "ghost")
    # An endpoint may exist without a deployment (az ml batch-endpoint create); it has nothing to invoke yet.
    r = cli("endpoint", "create", "e1", "-o", "json")
    assert r.code == 0 and (r.json()["deployment"], r.json()["model"]) == (None, None), r
    assert_error(cli("endpoint", "invoke", "e1", "--input", str(tmp_path)), 2, "no default deployment")
    assert cli("endpoint", "delete", "e1", "--yes").code == 0
    assert_error(cli("endpoint", "create", "bad/name", "--model", "m:1"), 2)
    # An az ml batch deployment YAML: `endpoint_name` names the endpoint, `name` the deployment.
    (tmp_path / "ep.yml").write_text("endpoint_name: e2\nname: blue\nmodel: azureml:doubler:1\ncompute: azureml:local\n"
                                     "mini_batch_size: 10\n")
    r = cli("endpoint", "create", "-f", str(tmp_path / "ep.yml"), "--set", "endpoint_name=e3", "--dry-run", "-o", "json")
    assert r.code == 0 and r.json() == {"endpoint": {"name": "e3"}, "deployment": {
        "endpoint_name": "e3", "name": "blue", "model": "azureml:doubler:1", "compute": "azureml:local", "mini_batch_size": 10}}
    assert cli("endpoint", "list", "-o", "json").json() == []
    pyfunc_model(tmp_path / "m")
    cli("model", "register", "doubler", "--path", str(tmp_path / "m"), "--type", "mlflow")
    r = cli("endpoint", "create", "-f", str(tmp_path / "ep.yml"), "-o", "json")
    assert r.code == 0 and r.json()["name"] == "e2" and r.json()["model"] == "doubler:1"
    cli("model", "register", "doubler", "--path", str(tmp_path / "m"), "--type", "mlflow")
    assert_error(cli("endpoint", "create", "e2", "--model", "doubler:2"), 5, "e2")


def test_esp_model_served_by_endpoint(cli, tmp_path):
    """The model `run evolve` exports scores through a batch endpoint (pandas or not)."""
    from leafctl.esp.engine import evolve
    from leafctl.esp.samples import sample_config, sample_data_path

    cfg = sample_config("campaign", population=12, generations=1, predictor="ridge")
    evolve(cfg, str(tmp_path / "out"), log=lambda msg: None)
    assert cli("model", "register", "esp", "--path", str(tmp_path / "out" / "model"), "--type", "mlflow").code == 0
    assert cli("endpoint", "create", "esp-ep", "--model", "esp:1").code == 0
    lines = sample_data_path("campaign").read_text().splitlines()[:4]
    (tmp_path / "ctx.csv").write_text("\n".join(lines) + "\n")
    r = cli("endpoint", "invoke", "esp-ep", "--input", str(tmp_path / "ctx.csv"), "--wait", "-o", "json")
    assert r.code == 0, r
    rows = list(csv.DictReader(open(Path(r.json()["outputs_path"]) / "predictions" / "predictions.csv")))
    assert len(rows) == 3 and {"discount", "emails"} <= set(rows[0])
