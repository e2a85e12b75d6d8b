"""`leafctl endpoint invoke` on Azure, end to end: the batch scoring job is waited for and its predictions fetched.

The fake control plane (fake_arm.py) stores an invocation as Azure ML does, a pipeline job with a ``score``
output; fake_jobs.py moves it Queued -> Running -> Completed and, on completion, scores for real: it fetches
the deployed MLflow model folder and the job's input from Azurite, runs leafctl's pandas-free batch scorer
on them and uploads ``predictions.csv`` to the ``score`` output. So every prediction checked below was
computed by the registered model from the rows that leafctl uploaded.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from azure_helpers import assert_error, calls

pytestmark = pytest.mark.azurite

MLMODEL = """\
flavors:
  python_function:
    loader_module: tripler
    code: code
    data: data
"""
TRIPLER = """\
import os


class Tripler:
    def __init__(self, factor):
        self.factor = factor

    def predict(self, table):
        return {"tripled": [self.factor * float(v) for v in table["x"]]}


def _load_pyfunc(path):
    with open(os.path.join(path, "factor.txt")) as f:
        return Tripler(float(f.read()))
"""


@pytest.fixture
def az(azure, az_backend, fj, monkeypatch, tmp_path):
    """The azure profile with a registered MLflow model (from a local folder) served by endpoint ``tri-ep``."""
    monkeypatch.setenv("LEAFCTL_AZURE_POLL_SECONDS", "0")
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "data").mkdir()
    (model / "MLmodel").write_text(MLMODEL)
    (model / "code" / "tripler.py").write_text(TRIPLER)
    (model / "data" / "factor.txt").write_text("3")
    assert azure("model", "register", "tripler", "--path", str(model), "--type", "mlflow").code == 0
    assert azure("compute", "create", "cpu-cluster", "--max-nodes", "1").code == 0
    assert azure("endpoint", "create", "tri-ep", "--model", "tripler:1", "--compute", "cpu-cluster").code == 0
    return azure


def ok(r):
    assert r.code == 0, r
    return r.json()


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_invoke_folder_output_path_wait(az, fj, tmp_path):
    inp = tmp_path / "in"
    (inp / "sub").mkdir(parents=True)
    (inp / "a.csv").write_text("x,y\n1,a\n2.5,b\n")
    (inp / "sub" / "b.csv").write_text("x,y\n10,c\n")
    dest = tmp_path / "preds"
    r = az("endpoint", "invoke", "tri-ep", "--input", str(inp), "--output-path", str(dest), "--wait", "-o", "json")
    run = ok(r)
    assert run["status"] == "Completed" and run["kind"] == "batch"
    assert r.stdout.lstrip().startswith("{")  # logs on stderr only
    assert "scored a.csv: 2 rows" in r.stderr and "scored sub/b.csv: 1 rows" in r.stderr
    got = rows(dest / "predictions.csv")  # in the folder itself, as the local backend writes it
    assert [(g["file"], g["row"], float(g["tripled"])) for g in got] == [("a.csv", "0", 3.0), ("a.csv", "1", 7.5),
                                                                          ("sub/b.csv", "0", 30.0)]
    assert fj.scored[run["id"]]["input_type"] == "UriFolder"
    assert fj.scored[run["id"]]["model"].endswith("/models/tripler/versions/1")


def test_invoke_file_is_a_uri_file(az, fj, fake, tmp_path):
    """A single CSV is sent as uri_file: as uri_folder (what leafctl sent before) the job found nothing to score."""
    src = tmp_path / "one.csv"
    src.write_text("x\n" + "".join(f"{i}\n" for i in range(25)))
    dest = tmp_path / "out"
    run = ok(az("endpoint", "invoke", "tri-ep", "--input", str(src), "--output-path", str(dest), "-o", "json"))
    assert run["status"] == "Completed"
    assert fj.scored[run["id"]]["input_type"] == "UriFile"
    got = rows(dest / "predictions.csv")
    assert len(got) == 25 and [float(g["tripled"]) for g in got] == [3.0 * i for i in range(25)]

    # The uploaded file again, by its datastore URI: storage says it is one blob, so uri_file again.
    again = ok(az("endpoint", "invoke", "tri-ep", "--input", run["inputs"]["input"], "-o", "json"))
    assert ok(az("run", "wait", again["id"], "-o", "json"))["status"] == "Completed"
    assert fj.scored[again["id"]]["input_type"] == "UriFile"


def test_no_wait_returns_at_once_then_run_wait_and_download(az, fj, fake, tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "p.csv").write_text("x\n4\n5\n6\n")
    r = az("endpoint", "invoke", "tri-ep", "--input", str(inp), "--no-wait", "-o", "json")
    run = ok(r)
    rid = run["id"]
    assert run["status"] == "Queued" and f"submitted run {rid}" in r.stderr
    assert calls(fake, "GET", f"/jobs/{rid}") == 0  # nothing polled: the id came back at once
    assert rid not in fj.scored

    waited = ok(az("run", "wait", rid, "-o", "json"))
    assert waited["status"] == "Completed" and waited["kind"] == "batch"  # the same kind as invoke reported
    dl = ok(az("run", "download", rid, "--dest", str(tmp_path / "dl"), "-o", "json"))
    assert dl["outputs"] == ["score"]
    got = rows(tmp_path / "dl" / "score" / "predictions.csv")
    assert [float(g["tripled"]) for g in got] == [12.0, 15.0, 18.0]


@pytest.mark.parametrize("wait", [["--wait"], []], ids=["wait", "output-path-only"])
def test_failed_scoring_exits_1(az, fj, tmp_path, wait):
    bad = tmp_path / "bad.csv"
    bad.write_text("not_x\n1\n2\n")  # the model reads column x: the scorer fails on the node
    dest = tmp_path / "none"
    r = az("endpoint", "invoke", "tri-ep", "--input", str(bad), "--output-path", str(dest), *wait, "-o", "json")
    assert_error(r, 1, "batch scoring run batchjob-", "failed", "leafctl run logs")
    assert r.stdout == ""
    assert not (dest / "predictions.csv").exists()
    (rid,) = fj.scored
    logs = az("run", "logs", rid)
    assert logs.code == 0 and "error: batch scoring failed" in logs.stdout, logs
