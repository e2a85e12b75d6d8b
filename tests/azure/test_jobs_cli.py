"""The command tree on the azure backend: data and run commands through the fake control plane + Azurite."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from azure_helpers import assert_error

pytestmark = pytest.mark.azurite


def test_data_upload_ls_download(az, tmp_path):
    src = tmp_path / "d"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text("x,y\n1,2\n")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40)
    r = az("data", "upload", str(src), "--path", "cli/d", "-o", "json")
    assert r.code == 0, r
    assert r.json()["files"] == 2 and r.json()["uri"] == "azureml://datastores/workspaceblobstore/paths/cli/d"
    again = az("data", "upload", str(src), "--path", "cli/d", "-o", "json")
    assert again.json()["skipped"] == 2 and again.json()["files"] == 0
    listed = az("data", "ls", "cli/d", "-o", "json").json()
    assert sorted(e["path"] for e in listed) == ["cli/d/a.csv", "cli/d/sub/b.bin"]
    assert {e["path"]: e["md5"] for e in listed}["cli/d/sub/b.bin"] == hashlib.md5((src / "sub" / "b.bin").read_bytes()).hexdigest()
    dl = az("data", "download", "cli/d", "--dest", str(tmp_path / "out"), "-o", "json")
    assert dl.code == 0, dl
    assert (tmp_path / "out" / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    assert_error(az("data", "download", "../etc", "--dest", str(tmp_path / "x")), 2, "leaves the datastore")
    assert_error(az("data", "ls", "cli/nothing-here"), 3, "not found")


def test_run_submit_show_list_wait_logs_download_cancel(az, fj, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text("print('hi')\n")
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    r = az("run", "submit", "--code", str(code), "--command", "python train.py ${{inputs.data}} ${{outputs.model}}",
           "--input", f"data={data}", "--output", "model", "--compute", "gpu-cluster", "--experiment", "cli-exp",
           "--env-var", "SEED=3", "--tag", "k=v", "-o", "json")
    assert r.code == 0, r
    run = r.json()
    assert run["status"] == "Queued" and run["compute"] == "gpu-cluster" and run["experiment"] == "cli-exp"
    rid = run["id"]
    assert az("run", "show", rid, "-o", "json").json()["id"] == rid
    assert rid in [x["id"] for x in az("run", "list", "--experiment", "cli-exp", "-o", "json").json()]
    w = az("run", "wait", rid, "--logs", "-o", "json")
    assert w.code == 0, w
    assert w.json()["status"] == "Completed" and f"starting {rid}" in w.stderr
    logs = az("run", "logs", rid)
    assert logs.stdout.splitlines() == [f"starting {rid}", f"{rid} completed"]
    d = az("run", "download", rid, "--dest", str(tmp_path / "dl"), "-o", "json")
    assert d.code == 0, d
    assert json.loads(d.stdout)["outputs"] == ["model"]
    assert (tmp_path / "dl" / "model" / "model.txt").is_file()

    fj.default_script = ["Queued", "Running"]  # runs until cancelled
    r2 = az("run", "submit", "--command", "sleep 1000", "--compute", "gpu-cluster", "-o", "json")
    rid2 = r2.json()["id"]
    assert az("run", "cancel", rid2, "--yes", "-o", "json").json()["status"] == "Canceled"
    assert_error(az("run", "cancel", rid2, "--yes"), 5, "already ended")
    assert_error(az("run", "show", "no-such-run"), 3)


def test_run_wait_failed_exits_1(az, fake):
    import fake_arm

    r = az("run", "submit", "--command", "false", "--compute", "gpu-cluster", "-o", "json")
    rid = r.json()["id"]
    res = fake_arm.FAKE.resources[f"{fake.ws_id('leaf-ws')}/jobs/{rid}".lower()]
    res["properties"]["status"] = "Failed"
    assert az("run", "wait", rid).code == 1


def test_evolve_remote_dry_run_prints_loadable_yaml(az, tmp_path):
    r = az("run", "evolve", "--sample", "campaign", "--generations", "3", "--remote", "--dry-run", "--compute", "gpu-cluster")
    assert r.code == 0, r
    doc = yaml.safe_load(r.stdout)
    assert doc["type"] == "command" and doc["compute"] == "azureml:gpu-cluster"
    from azure.ai.ml import load_job

    f = tmp_path / "job.yml"
    f.write_text(r.stdout)
    assert load_job(f).command.startswith("python -m leafctl.esp.job config.toml")


def test_upload_with_storage_down_is_one_line_exit_1(az, azurite_up, tmp_path):
    src = tmp_path / "d"
    src.mkdir()
    for i in range(5):
        (src / f"{i}.txt").write_text(str(i))
    azurite_up.stop()
    try:
        r = az("data", "upload", str(src), "--path", "cli/down")
    finally:
        azurite_up.start()
    assert_error(r, 1, "lost the connection to storage", "re-run")
    assert azurite_up.key not in r.stderr
    ok = az("data", "upload", str(src), "--path", "cli/down", "-o", "json")
    assert ok.code == 0 and ok.json()["files"] == 5, ok


@pytest.mark.parametrize("value", ["lots", "-1", "2.5"])
def test_bad_storage_retries_is_usage_error(az, monkeypatch, tmp_path, value):
    monkeypatch.setenv("LEAFCTL_STORAGE_RETRIES", value)
    (tmp_path / "a.txt").write_text("a")
    assert_error(az("data", "upload", str(tmp_path / "a.txt"), "--path", "cli/retries"), 2, "LEAFCTL_STORAGE_RETRIES")


@pytest.mark.parametrize("value", ["soon", "-1", "inf", "nan"])
def test_bad_poll_seconds_is_usage_error(az, monkeypatch, value):
    rid = az("run", "submit", "--command", "true", "--compute", "gpu-cluster", "-o", "json").json()["id"]
    monkeypatch.setenv("LEAFCTL_AZURE_POLL_SECONDS", value)
    assert_error(az("run", "wait", rid), 2, "LEAFCTL_AZURE_POLL_SECONDS")
