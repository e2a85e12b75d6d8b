"""`leafctl run ...` end to end: real supervisors, JSON output, exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from leaftest import assert_error

JOB_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
code: ./src
command: python copy.py ${{inputs.data}} ${{outputs.model}} $MODE
inputs:
  data:
    type: uri_folder
    path: ./data
outputs:
  model:
    type: uri_folder
compute: azureml:local
experiment_name: yaml-exp
environment: azureml:leaf-esp@latest
environment_variables:
  MODE: fast
  API_KEY: literal-secret-value
display_name: from-yaml
tags:
  team: leaf
"""

COPY_PY = """\
import pathlib, shutil, sys
src, dst, mode = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
for f in src.iterdir():
    shutil.copy(f, dst / f.name)
(dst / "mode.txt").write_text(mode)
print("copied", len(list(src.iterdir())), "files in", mode, "mode")
"""


def project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "copy.py").write_text(COPY_PY)
    for name in ("data", "data2"):
        (root / name).mkdir()
        (root / name / f"{name}.csv").write_text("x,y\n1,2\n")
    (root / "job.yml").write_text(JOB_YML)
    return root


def test_submit_wait_show_download(cli, tmp_path):
    p = project(tmp_path / "proj")
    r = cli("run", "submit", "--code", str(p / "src"), "--command", "python copy.py ${{inputs.data}} ${{outputs.model}} flags",
            "--input", f"data={p / 'data'}", "--output", "model", "--experiment", "cli-exp", "--name", "my run",
            "--tag", "a=1", "--wait", "-o", "json")
    assert r.code == 0, r
    run = r.json()
    assert run["status"] == "Completed" and run["experiment"] == "cli-exp" and run["display_name"] == "my run"
    assert "copied 1 files in flags mode" in r.stderr  # --wait streams the logs to stderr
    show = cli("run", "show", run["id"], "-o", "json").json()
    assert {k: show[k] for k in ("id", "status", "compute", "experiment")} == \
        {"id": run["id"], "status": "Completed", "compute": "local", "experiment": "cli-exp"}
    assert Path(show["outputs_path"], "model", "data.csv").exists()
    dl = cli("run", "download", run["id"], "--dest", str(tmp_path / "dl"), "-o", "json")
    assert dl.code == 0 and dl.json()["outputs"] == ["model"]
    assert (tmp_path / "dl" / "model" / "mode.txt").read_text() == "flags"
    assert_error(cli("run", "download", run["id"], "--dest", str(tmp_path / "x"), "--output", "nope"), 3, "nope")
    logs = cli("run", "logs", run["id"])
    assert logs.code == 0 and logs.stdout == "copied 1 files in flags mode\n"
    q = cli("run", "list", "--experiment", "cli-exp", "-o", "json", "--query", "[].id")
    assert q.json() == [run["id"]]


def test_job_yaml_dry_run_set_and_submit(cli, tmp_path):
    p = project(tmp_path / "proj")
    r = cli("run", "submit", "-f", str(p / "job.yml"), "--set", "experiment_name=override", "--set", "environment_variables.MODE=slow",
            "--set", "inputs.data.path=./data2", "--dry-run", "-o", "json")
    assert r.code == 0, r
    doc = r.json()
    assert doc["type"] == "command" and doc["experiment_name"] == "override" and doc["compute"] == "local"
    assert doc["inputs"]["data"]["path"] == str((p / "data2").resolve())
    assert doc["code"] == str((p / "src").resolve())
    assert doc["environment_variables"] == {"MODE": "slow", "API_KEY": "<redacted>"}
    assert "literal-secret-value" not in r.stdout + r.stderr
    assert cli("run", "list", "-o", "json").json() == []  # dry-run submits nothing

    r = cli("run", "submit", "-f", str(p / "job.yml"), "--set", "environment_variables.MODE=slow", "--wait", "-o", "json")
    assert r.code == 0, r
    run = r.json()
    assert (run["experiment"], run["display_name"], run["tags"]) == ("yaml-exp", "from-yaml", {"team": "leaf"})
    assert Path(run["outputs_path"], "model", "mode.txt").read_text() == "slow"
    assert "literal-secret-value" not in json.dumps(run)


def test_bad_specs_exit_2(cli, tmp_path):
    assert_error(cli("run", "submit", "--command", "cat ${{inputs.missing}}"), 2, "inputs.missing")
    assert_error(cli("run", "submit", "--command", "echo ${{outputs.m}}", "--output", "n"), 2, "outputs.m", "outputs.n")
    assert_error(cli("run", "submit", "--input", "x=.", "--command", ""), 2, "command")
    (tmp_path / "bad.yml").write_text("type: command\ncommand: echo\ncomand: typo\n")
    assert_error(cli("run", "submit", "-f", str(tmp_path / "bad.yml")), 2, "comand", "command")
    (tmp_path / "sweep.yml").write_text("type: sweep\ncommand: echo\n")
    assert_error(cli("run", "submit", "-f", str(tmp_path / "sweep.yml")), 2, "sweep")
    assert_error(cli("run", "submit", "-f", str(tmp_path / "none.yml")), 3, "none.yml")
    assert_error(cli("run", "submit", "--command", "true", "--compute", "ghost"), 3, "ghost")
    assert_error(cli("run", "list", "--status", "Done"), 2, "status")


def test_failed_run_wait_exit_1_and_not_found(cli):
    r = cli("run", "submit", "--command", "echo boom; exit 4", "-o", "json")
    assert r.code == 0 and r.json()["status"] in ("Queued", "Running", "Failed")
    rid = r.json()["id"]
    w = cli("run", "wait", rid, "-o", "json")
    assert_error(w, 1, "exit code 4", f"run logs {rid}")
    assert w.json()["status"] == "Failed" and w.json()["exit_code"] == 4
    assert_error(cli("run", "submit", "--command", "exit 9", "--wait"), 1, "exit code 9")
    for args in (("show", "zz_1_000000"), ("wait", "zz_1_000000"), ("logs", "zz_1_000000"), ("cancel", "zz_1_000000", "--yes")):
        assert_error(cli("run", *args), 3, "zz_1_000000")
    assert [x["id"] for x in cli("run", "list", "--status", "failed", "-o", "json").json()][-1] == rid


def test_cancel_follow_and_timeout(cli, exe):
    r = exe("run", "submit", "--command", "echo one; sleep 30", "-o", "json")
    assert r.code == 0, r
    rid = r.json()["id"]
    assert_error(cli("run", "wait", rid, "--timeout", "0.2"), 1, "still")
    assert_error(cli("run", "cancel", rid), 2, "--yes")  # CI is set: no prompt, refuse
    c = cli("run", "cancel", rid, "--yes", "-o", "json")
    assert c.code == 0 and c.json()["status"] == "Canceled", c
    assert_error(cli("run", "cancel", rid, "--yes"), 5, "already ended")
    assert_error(cli("run", "wait", rid), 1, "canceled")

    r = cli("run", "submit", "--command", "for i in 1 2 3; do echo tick $i; sleep 0.1; done", "-o", "json")
    t0 = time.monotonic()
    f = exe("run", "logs", r.json()["id"], "--follow")
    assert f.code == 0 and f.stdout == "tick 1\ntick 2\ntick 3\n" and time.monotonic() - t0 < 10


def test_output_destination_env_reference_and_completion(cli, exe, tmp_path, monkeypatch):
    monkeypatch.setenv("RUN_TOKEN", "s3cr3t-value")
    dest = tmp_path / "published"
    r = cli("run", "submit", "--command", 'echo "$TOKEN" | wc -c > ${{outputs.m}}/len.txt; echo ok',
            "--output", f"m={dest}", "--env-var", "TOKEN=env:RUN_TOKEN", "--wait", "-o", "json")
    assert r.code == 0, r
    assert (dest / "len.txt").read_text().strip() == str(len("s3cr3t-value") + 1)  # resolved in the supervisor
    home = Path(r.json()["outputs_path"]).parents[3]
    leaked = [p for p in home.rglob("*") if p.is_file() and b"s3cr3t-value" in p.read_bytes()]
    assert leaked == [] and "s3cr3t-value" not in r.stdout + r.stderr
    rid = r.json()["id"]
    env = {"_LEAFCTL_COMPLETE": "complete_bash", "COMP_WORDS": f"leafctl run show {rid[:8]}", "COMP_CWORD": "3"}
    c = exe(env=env)
    assert c.code == 0 and rid in c.stdout.split(), c


def test_missing_workspace_is_not_found_and_writes_nothing(cli, leaf_env):
    r = cli("run", "submit", "--command", "true", env={"LEAFCTL_WORKSPACE": "ghost-ws"})
    assert_error(r, 3, "ghost-ws")
    assert not (leaf_env / "leafhome" / "workspaces" / "ghost-ws").exists()
