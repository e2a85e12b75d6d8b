"""`leafctl model` through the CLI: register, list/show, download --best/--lowest, delete, parallel versions."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from leaftest import assert_error, leafctl_executable


@pytest.fixture
def model_dir(leaf_env) -> Path:
    d = leaf_env / "model"
    d.mkdir()
    (d / "model.pkl").write_bytes(b"pickle")
    (d / "lookup.pkl").write_bytes(b"lookup")
    return d


def _register(cli, model_dir, *tags):
    args = ["model", "register", "esp", "--path", str(model_dir)]
    for t in tags:
        args += ["--tag", t]
    r = cli(*args)
    assert r.code == 0, r
    return r.json()


def test_register_show_list(cli, model_dir):
    m = _register(cli, model_dir, "accuracy=0.9", "owner=ana")
    assert (m["name"], m["version"], m["type"], m["tags"]) == ("esp", "1", "custom", {"accuracy": "0.9", "owner": "ana"})
    assert _register(cli, model_dir)["version"] == "2"
    assert cli("model", "show", "esp", "-q", "version").json() == "2"
    assert cli("model", "show", "esp:1", "-q", "tags.owner").json() == "ana"
    assert cli("model", "list", "-q", "[].[name,version]").json() == [["esp", "2"]]
    assert cli("model", "list", "esp", "-q", "[].version").json() == ["1", "2"]
    assert_error(cli("model", "show", "esp:7"), 3, "versions: 1, 2")
    assert_error(cli("model", "show", "nosuch"), 3, "not found")


def test_register_errors(cli, model_dir, leaf_env):
    assert_error(cli("model", "register", "esp"), 2, "--path", "--run")
    assert_error(cli("model", "register", "esp", "--path", str(leaf_env / "missing")), 3, "does not exist")
    assert_error(cli("model", "register", "esp", "--path", str(model_dir), "--type", "mlflow"), 2, "MLmodel")
    assert_error(cli("model", "register", "esp", "--path", str(model_dir), "--tag", "novalue"), 2, "key=value")
    assert_error(cli("model", "register", "esp", "--path", str(model_dir), "--type", "onnx"), 2, "model type")
    assert_error(cli("model", "register", "esp", "--run", "no-such-run"), 3, "no-such-run")
    assert_error(cli("model", "register", "esp", "--path", str(model_dir), "--output", "model"), 2, "--run")
    assert cli("model", "list").json() == []


def test_register_output_option_keeps_global_o(cli, model_dir):
    """`model register` owns --output (a run output); the global format stays reachable as -o."""
    r = cli("model", "register", "esp", "--path", str(model_dir), "-o", "yaml")
    assert r.code == 0, r
    assert "name: esp" in r.stdout


def test_download_best_lowest_and_metadata(cli, model_dir, leaf_env):
    for acc, loss in (("0.81", "0.5"), ("0.95", "0.3"), ("n/a", "0.1"), ("0.90", "0.9")):
        _register(cli, model_dir, f"accuracy={acc}", f"loss={loss}")
    out = leaf_env / "best"
    r = cli("model", "download", "esp", "--best", "accuracy", "--output-path", str(out))
    assert r.code == 0, r
    assert r.json()["version"] == "2"
    assert sorted(p.name for p in out.iterdir()) == ["lookup.pkl", "metadata.json", "model.pkl"]
    meta = json.loads((out / "metadata.json").read_text())
    assert (meta["name"], meta["version"]) == ("esp", "2")
    assert meta["tags"] == {"accuracy": "0.95", "loss": "0.3"}
    assert meta["metrics"] == {"accuracy": 0.95, "loss": 0.3}
    assert "created_at" in meta
    low = cli("model", "download", "esp", "--best", "accuracy", "--lowest", "--output-path", str(leaf_env / "low"))
    assert low.json()["version"] == "1"
    assert cli("model", "download", "esp", "--best", "loss", "--lowest", "--output-path", str(leaf_env / "l")).json()["version"] == "3"
    v = cli("model", "download", "esp", "--version", "4", "--output-path", str(leaf_env / "v4"))
    assert json.loads((leaf_env / "v4" / "metadata.json").read_text())["version"] == "4" and v.code == 0
    latest = cli("model", "download", "esp", "--output-path", str(leaf_env / "latest")).json()
    assert latest["version"] == "4"
    assert_error(cli("model", "download", "esp", "--best", "f1", "--output-path", str(leaf_env / "x")), 3, "f1")
    assert_error(cli("model", "download", "esp", "--best", "accuracy", "--version", "1"), 2, "not both")
    assert_error(cli("model", "download", "esp", "--lowest"), 2, "--best")
    assert_error(cli("model", "download", "nosuch", "--output-path", str(leaf_env / "x")), 3)


def test_delete(cli, model_dir):
    for _ in range(3):
        _register(cli, model_dir)
    assert_error(cli("model", "delete", "esp"), 2, "--yes")
    assert cli("model", "list", "esp", "-q", "length(@)").json() == 3
    assert cli("model", "delete", "esp", "--version", "2", "--yes").code == 0
    assert cli("model", "list", "esp", "-q", "[].version").json() == ["1", "3"]
    assert cli("model", "delete", "esp", "-y").code == 0
    assert cli("model", "list").json() == []
    assert_error(cli("model", "delete", "esp", "-y"), 3, "not found")


def test_eight_processes_register_at_once(exe, model_dir):
    """Real leafctl processes, started together on a fresh home: versions end exactly 1..8."""
    procs = [subprocess.Popen([leafctl_executable(), "model", "register", "esp", "--path", str(model_dir), "-o", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
             for _ in range(8)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    for code, out, err in results:
        assert code == 0, err
    versions = sorted((json.loads(out)["version"] for _, out, _ in results), key=int)
    assert versions == [str(i) for i in range(1, 9)]
    listed = exe("model", "list", "esp", "-q", "[].version")
    assert listed.json() == [str(i) for i in range(1, 9)]


def test_register_from_real_runs(cli):
    """End to end with the local run engine: a completed run's output registers; a failed run is refused."""
    ok = cli("run", "submit", "--command", "mkdir -p ${{outputs.model}} && echo flavors > ${{outputs.model}}/MLmodel",
             "--output", "model", "--wait", "-o", "json")
    assert ok.code == 0, ok
    run_id = ok.json()["id"]
    m = cli("model", "register", "esp", "--run", run_id, "--output", "model", "--type", "mlflow")
    assert m.code == 0, m
    assert m.json()["run_id"] == run_id and (Path(m.json()["path"]) / "MLmodel").exists()
    assert_error(cli("model", "register", "esp", "--run", run_id, "--output", "nope"), 3, "outputs: model")
    bad = cli("run", "submit", "--command", "exit 3", "--wait", "-o", "json")
    failed_id = cli("run", "list", "-q", "[?status=='Failed'].id | [0]").json()
    assert bad.code == 1 and failed_id
    assert_error(cli("model", "register", "esp", "--run", failed_id), 2, "Failed")
    complete = cli(env={"_LEAFCTL_COMPLETE": "complete_bash", "COMP_WORDS": f"leafctl model register x --run {run_id[:8]}",
                        "COMP_CWORD": "5"})
    assert run_id in complete.stdout
