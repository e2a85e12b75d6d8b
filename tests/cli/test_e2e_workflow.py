"""Issue 2's "done when", as a new user in a CI script would do it: the real executable, -o json, exit codes.

Create a cluster, upload a folder, submit a job that reads it and writes an output, register that
output three times with different accuracy tags, download the best with its metadata.json; every
wrong input along the way gets a one-line error and the documented code.
"""

from __future__ import annotations

import json
from pathlib import Path

from leaftest import assert_error

TRAIN = """\
import argparse, json, os, pathlib
ap = argparse.ArgumentParser()
ap.add_argument("--data"); ap.add_argument("--out"); ap.add_argument("--seed", type=int)
a = ap.parse_args()
rows = sum(1 for p in pathlib.Path(a.data).rglob("*.csv") for _ in open(p)) 
pathlib.Path(a.out).mkdir(parents=True, exist_ok=True)
(pathlib.Path(a.out) / "model.json").write_text(json.dumps({"rows": rows, "seed": a.seed}))
print("trained on", rows, "rows")
"""


def test_new_user_workflow(exe, tmp_path):
    # a cluster (twice: CI scripts re-run), and a conflicting spec
    c = exe("compute", "create", "cpu-cluster", "--type", "cluster", "--size", "Standard_DS3_v2",
            "--min-nodes", "0", "--max-nodes", "2", "--idle-seconds", "120", "-o", "json")
    assert c.code == 0, c
    assert c.json()["max_nodes"] == 2
    assert exe("compute", "create", "cpu-cluster", "--type", "cluster", "--size", "Standard_DS3_v2",
               "--min-nodes", "0", "--max-nodes", "2", "--idle-seconds", "120", "-o", "json").code == 0
    assert_error(exe("compute", "create", "cpu-cluster", "--type", "cluster", "--max-nodes", "4"), 5, "cpu-cluster")
    assert_error(exe("compute", "create", "bad", "--type", "cluster", "--min-nodes", "3", "--max-nodes", "1"), 2, "min")

    # a folder of data
    data = tmp_path / "data"
    (data / "part").mkdir(parents=True)
    (data / "a.csv").write_text("x,y\n1,2\n3,4\n")
    (data / "part" / "b.csv").write_text("x,y\n5,6\n")
    up = exe("data", "upload", str(data), "--path", "training", "-o", "json")
    assert up.code == 0, up
    assert up.json()["files"] == 2
    again = exe("data", "upload", str(data), "--path", "training", "-o", "json")
    assert again.json()["skipped"] == 2 and again.json()["files"] == 0
    assert_error(exe("data", "upload", str(tmp_path / "nope"), "--path", "x"), 3, "nope")

    # a job that reads it and writes an output
    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    runs = []
    for seed in (1, 2, 3):
        r = exe("run", "submit", "--code", str(code), "--compute", "cpu-cluster", "--experiment", "e2e",
                "--command", f"python train.py --data ${{{{inputs.data}}}} --out ${{{{outputs.model}}}} --seed {seed}",
                "--input", "data=training", "--output", "model", "--wait", "-o", "json")
        assert r.code == 0, r
        assert r.json()["status"] == "Completed" and "trained on" in r.stderr
        runs.append(r.json()["id"])
    shown = exe("run", "show", runs[0], "-o", "json").json()
    assert {"id", "status", "compute", "experiment", "outputs_path"} <= set(shown)
    assert shown["compute"] == "cpu-cluster" and shown["experiment"] == "e2e"
    assert_error(exe("run", "submit", "--code", str(code), "--command", "python train.py ${{inputs.nope}}"), 2, "nope")
    assert_error(exe("run", "submit", "--command", "true", "--compute", "no-such-cluster"), 3, "no-such-cluster")
    failing = exe("run", "submit", "--command", "exit 3", "--wait", "-o", "json")
    assert failing.code == 1

    # register the output three times with different accuracy tags
    for run_id, acc in zip(runs, ("0.81", "0.93", "0.88")):
        reg = exe("model", "register", "clf", "--run", run_id, "--output", "model", "--tag", f"accuracy={acc}", "-o", "json")
        assert reg.code == 0, reg
    assert [m["version"] for m in exe("model", "list", "clf", "-o", "json").json()] == ["1", "2", "3"]
    assert_error(exe("model", "register", "clf", "--run", runs[0], "--tag", "accuracy"), 2, "key=value")
    assert_error(exe("model", "register", "clf", "--run", "no_such_run"), 3, "no_such_run")

    # download the best, with metadata.json
    dest = tmp_path / "best"
    d = exe("model", "download", "clf", "--best", "accuracy", "--output-path", str(dest), "-o", "json")
    assert d.code == 0, d
    meta = json.loads((dest / "metadata.json").read_text())
    assert meta["name"] == "clf" and meta["version"] == "2" and meta["tags"]["accuracy"] == "0.93"
    assert json.loads(next(Path(dest).rglob("model.json")).read_text())["seed"] == 2
    assert_error(exe("model", "download", "clf", "--best", "f1", "--output-path", str(dest)), 3, "f1")
    assert_error(exe("model", "download", "nosuch", "--output-path", str(dest)), 3, "nosuch")

    # destructive commands refuse without --yes outside a terminal
    assert_error(exe("model", "delete", "clf"), 2, "--yes")
    assert exe("model", "delete", "clf", "--yes", "-o", "json").code == 0
