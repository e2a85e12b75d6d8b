"""Local runs through the backend API, with real supervisor processes (no mocks)."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from leafctl.backends.base import Compute, JobSpec
from leafctl.errors import Conflict, NotFound, UsageError


@pytest.fixture
def b(leaf_env):
    from leafctl.backends import get_backend
    from leafctl.profiles import resolve

    return get_backend(resolve())


def until(pred, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def gate_cmd(gate: Path, marker: str = "") -> str:
    """A command that announces itself, then blocks until the test creates ``gate``."""
    return f"echo started {marker}; while [ ! -e {gate} ]; do sleep 0.05; done; echo done {marker}"


def db_row(b, run_id):
    conn = sqlite3.connect(b.ws / "registry.sqlite")
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
    finally:
        conn.close()


def cluster(b, name, max_nodes):
    return b.create_compute(Compute(name=name, type="cluster", size="Standard_DS3_v2", max_nodes=max_nodes))


def test_input_to_output_and_status_progression(b, tmp_path):
    code = tmp_path / "code"
    (code / ".git").mkdir(parents=True)
    (code / "__pycache__").mkdir()
    (code / "train.py").write_text(
        "import sys, pathlib, os\n"
        "src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])\n"
        "(dst / 'out.txt').write_text((src / 'x.csv').read_text().upper())\n"
        "print('rows', os.environ['AZUREML_RUN_ID'], os.environ['LEAFCTL_OUTPUTS'], os.environ['GREETING'])\n"
    )
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.csv").write_text("a,b\n")
    gate = tmp_path / "gate"
    spec = JobSpec(command=f"{gate_cmd(gate)} && python train.py ${{{{inputs.data}}}} ${{{{outputs.model}}}}",
                   code=str(code), inputs={"data": str(data)}, outputs={"model": None},
                   env_vars={"GREETING": "hi"}, tags={"k": "v"}, experiment="exp-1", display_name="first")
    run = b.submit_run(spec)
    assert run.status == "Queued"
    assert run.id.startswith("exp-1_") and len(run.id.split("_")[-1]) == 6
    assert run.experiment == "exp-1" and run.display_name == "first" and run.tags == {"k": "v"}
    snap = b.ws / "runs" / run.id / "snapshot"
    assert (snap / "train.py").exists() and not (snap / ".git").exists() and not (snap / "__pycache__").exists()
    assert str(data) in run.command and "${{" not in run.command

    running = until(lambda: (r := b.get_run(run.id)).status == "Running" and r, what="Running")
    assert running.started_at and db_row(b, run.id)["pid"]
    gate.touch()
    done = b.wait_run(run.id, timeout=20)
    assert done.status == "Completed" and done.exit_code == 0 and done.ended_at
    assert (Path(done.outputs_path) / "model" / "out.txt").read_text() == "A,B\n"
    logs = list(b.run_logs(run.id))
    assert logs[0] == "started" and any(line.startswith(f"rows {run.id} {done.outputs_path} hi") for line in logs)
    assert "GREETING" not in str(done.to_dict())  # env values are not part of the record

    dest = b.download_run(run.id, tmp_path / "dl", output="model")
    assert (dest / "model" / "out.txt").exists()
    with pytest.raises(NotFound):
        b.download_run(run.id, tmp_path / "dl2", output="nope")
    with pytest.raises(Conflict):
        b.cancel_run(run.id)


def test_failure_records_exit_code_and_unknowns(b, tmp_path):
    run = b.submit_run(JobSpec(command="echo oops >&2; exit 7"))
    done = b.wait_run(run.id, timeout=20)
    assert (done.status, done.exit_code) == ("Failed", 7)
    assert "7" in done.error and list(b.run_logs(run.id)) == ["oops"]
    with pytest.raises(UsageError, match="inputs.x"):
        b.submit_run(JobSpec(command="cat ${{inputs.x}}"))
    with pytest.raises(NotFound, match="compute"):
        b.submit_run(JobSpec(command="true", compute="no-such"))
    with pytest.raises(NotFound):
        b.get_run("nope_1_abcdef")
    with pytest.raises(NotFound):
        b.submit_run(JobSpec(command="true", inputs={"d": str(tmp_path / "missing")}))


def test_inputs_from_datastore_uri_and_data_asset(b, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_text("hello")
    b.upload(src, "train")
    asset = b.create_data_asset("train-set", "azureml://datastores/workspaceblobstore/paths/train")
    spec = JobSpec(command="cat ${{inputs.a}}/f.txt ${{inputs.b}}/f.txt ${{inputs.c}}/f.txt ${{inputs.d}}/f.txt",
                   inputs={"a": "azureml://datastores/workspaceblobstore/paths/train",
                           "b": f"azureml:train-set:{asset.version}", "c": "azureml:train-set@latest", "d": "train"})
    done = b.wait_run(b.submit_run(spec).id, timeout=20)
    assert done.status == "Completed", done
    assert list(b.run_logs(done.id)) == ["hellohellohellohello"]


def test_slots_queue_second_run_until_first_ends(b, tmp_path):
    cluster(b, "one", 1)
    g1, g2 = tmp_path / "g1", tmp_path / "g2"
    r1 = b.submit_run(JobSpec(command=gate_cmd(g1), compute="one"))
    r2 = b.submit_run(JobSpec(command=gate_cmd(g2), compute="one"))
    until(lambda: b.get_run(r1.id).status == "Running", what="first run Running")
    g2.touch()  # the second could finish at once if it were (wrongly) started
    time.sleep(0.6)
    assert b.get_run(r2.id).status == "Queued"
    g1.touch()
    a, c = b.wait_run(r1.id, timeout=20), b.wait_run(r2.id, timeout=20)
    assert a.status == c.status == "Completed"
    assert c.started_at >= a.ended_at


def test_concurrent_runs_never_exceed_max_nodes(b, tmp_path):
    cluster(b, "two", 2)
    ids = [b.submit_run(JobSpec(command="sleep 0.3", compute="two")).id for _ in range(5)]
    runs = [b.wait_run(i, timeout=30) for i in ids]
    assert all(r.status == "Completed" for r in runs)
    spans = [(r.started_at, r.ended_at) for r in runs]
    for s, _ in spans:  # at each start, at most max_nodes runs are inside their interval
        assert sum(1 for s2, e2 in spans if s2 <= s < e2) <= 2


def test_stopped_compute_queues_until_started(b, tmp_path):
    cluster(b, "pausable", 1)
    b.stop_compute("pausable")
    run = b.submit_run(JobSpec(command="echo ran", compute="pausable"))
    time.sleep(0.6)
    assert b.get_run(run.id).status == "Queued"
    b.start_compute("pausable")
    assert b.wait_run(run.id, timeout=20).status == "Completed"
    b.stop_compute("pausable")
    orphan = b.submit_run(JobSpec(command="echo ran", compute="pausable"))
    b.delete_compute("pausable")  # a queued run whose compute disappears fails, and says why
    done = b.wait_run(orphan.id, timeout=20)
    assert done.status == "Failed" and "no longer exists" in done.error


def test_cancel_running_and_queued(b, tmp_path):
    cluster(b, "solo", 1)
    r1 = b.submit_run(JobSpec(command="sleep 30", compute="solo"))
    r2 = b.submit_run(JobSpec(command="echo never", compute="solo"))
    until(lambda: b.get_run(r1.id).status == "Running", what="Running")
    child = until(lambda: db_row(b, r1.id)["child_pid"], what="child pid")
    queued = b.cancel_run(r2.id)  # a queued run is cancelled at once and never runs
    assert queued.status == "Canceled" and queued.started_at is None
    t0 = time.monotonic()
    assert b.cancel_run(r1.id).status == "Canceled"
    assert time.monotonic() - t0 < 5
    assert not _alive(child)
    time.sleep(0.3)
    assert b.get_run(r2.id).status == "Canceled" and list(b.run_logs(r2.id)) == []


def test_killed_supervisor_reads_as_failed(b, tmp_path):
    run = b.submit_run(JobSpec(command="sleep 30"))
    until(lambda: b.get_run(run.id).status == "Running" and db_row(b, run.id)["child_pid"], what="Running")
    row = db_row(b, run.id)
    os.kill(row["pid"], signal.SIGKILL)
    until(lambda: not _alive(row["pid"]), what="supervisor gone")
    got = b.get_run(run.id)
    assert (got.status, got.error) == ("Failed", "supervisor died")
    assert b.list_runs(status="Failed")[0].id == run.id
    until(lambda: not _alive(row["child_pid"]), what="orphaned command stopped")


def test_logs_follow_and_list_filters(b, tmp_path):
    run = b.submit_run(JobSpec(command="for i in 1 2 3; do echo line $i; sleep 0.1; done; printf tail",
                               experiment="follow"))
    assert list(b.run_logs(run.id, follow=True)) == ["line 1", "line 2", "line 3", "tail"]
    assert b.get_run(run.id).status == "Completed"
    seen = []
    b.wait_run(run.id, on_log=seen.append)
    assert seen[-1] == "tail"
    other = b.submit_run(JobSpec(command="true", experiment="other"))
    b.wait_run(other.id, timeout=20)
    assert [r.id for r in b.list_runs()][:2] == [other.id, run.id]
    assert [r.id for r in b.list_runs(experiment="follow")] == [run.id]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_wait_timeout_with_silent_logs(b):
    from leafctl.errors import OperationFailed

    run = b.submit_run(JobSpec(command="sleep 30"))
    t0 = time.monotonic()
    with pytest.raises(OperationFailed, match="still"):
        b.wait_run(run.id, timeout=0.5, on_log=lambda line: None)
    assert time.monotonic() - t0 < 5
    assert b.cancel_run(run.id).status == "Canceled"


def test_env_reference_must_be_set(b, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(UsageError, match="NOT_SET_ANYWHERE"):
        b.submit_run(JobSpec(command="true", env_vars={"T": "env:NOT_SET_ANYWHERE"}))
