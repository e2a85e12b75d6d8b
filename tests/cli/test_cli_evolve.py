"""`run evolve` and `model prescribe` through the CLI: the ESP workflow a user runs."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from leaftest import assert_error

FAST = ["--generations", "6", "--population", "20"]


def _write(path: Path, rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.fixture
def small_csv(tmp_path):
    rows = [["age", "region", "discount", "revenue", "churn"]]
    for i in range(60):
        rows.append([20 + i % 40, ["north", "south"][i % 2], round((i % 10) / 20, 3), 100 + i * 1.5 - (i % 10) * 3, (i % 7) / 10])
    return _write(tmp_path / "small.csv", rows)


@pytest.mark.plots  # pareto.svg is one of the outputs
def test_sample_campaign_prints_front_and_writes_outputs(cli):
    r = cli("run", "evolve", "--sample", "campaign", *FAST, "-o", "json")
    assert r.code == 0, r
    out = r.json()
    assert set(out) >= {"run_id", "status", "outputs_path", "device", "hypervolume", "front"}
    assert out["status"] == "Completed" and out["device"] == "cpu"
    assert out["front"] and all(set(f["objectives"]) == {"revenue", "margin"} for f in out["front"])
    result = Path(out["outputs_path"]) / "result"
    for name in ("pareto.csv", "history.csv", "population.npz", "predictor.npz", "config.toml",
                 "predictor_metrics.json", "pareto.svg", "model/MLmodel"):
        assert (result / name).exists(), name
    header = (result / "pareto.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["id", "rank", "crowding"]
    assert "generation 6/6" in r.stderr  # progress on stderr, data on stdout
    shown = cli("run", "show", out["run_id"], "-o", "json").json()
    assert shown["kind"] == "evolve" and shown["status"] == "Completed"


def test_flags_build_the_config(cli, small_csv):
    r = cli("run", "evolve", "--data", str(small_csv), "--context", "age,region", "--actions", "discount",
            "--outcomes", "revenue,churn", "--objective", "revenue:max", "--objective", "churn:min",
            "--objective", "action_cost:min", "--action-cost", "discount=2", "--predictor", "ridge",
            "--seed", "7", *FAST, "-o", "json")
    assert r.code == 0, r
    front = r.json()["front"]
    assert set(front[0]["objectives"]) == {"revenue", "churn", "action_cost"}
    cfg = (Path(r.json()["outputs_path"]) / "result" / "config.toml").read_text()
    assert 'predictor = "ridge"' in cfg and "seed = 7" in cfg


def test_config_file_with_flag_override(cli, small_csv, tmp_path):
    conf = tmp_path / "evolve.toml"
    conf.write_text(f'data = "{small_csv.name}"\nactions = ["discount"]\noutcomes = ["revenue"]\n'
                    'objectives = ["revenue:max", "action_cost:min"]\npopulation = 12\ngenerations = 50\n')
    r = cli("run", "evolve", str(conf), "--generations", "3", "-o", "json")
    assert r.code == 0, r
    hist = (Path(r.json()["outputs_path"]) / "result" / "history.csv").read_text().splitlines()
    assert len(hist) == 1 + 4  # header + generations 0..3


@pytest.mark.parametrize("args,code,fragments", [
    (["--actions", "discnt", "--outcomes", "revenue", "--objective", "revenue:max"], 2, ["discnt", "discount"]),
    (["--actions", "discount", "--outcomes", "revenue", "--objective", "profit:max"], 2, ["profit"]),
    (["--actions", "discount", "--outcomes", "revenue", "--objective", "revenue:max", "--population", "1"], 2, ["population"]),
    (["--actions", "discount", "--outcomes", "revenue", "--objective", "revenue:up"], 2, ["sense 'up'"]),
    (["--actions", "discount", "--outcomes", "revenue", "--objective", "revenue:max", "--action-cost", "discount=x"], 2, ["discount"]),
    (["--actions", "discount", "--outcomes", "revenue", "--objective", "revenue:max", "--device", "tpu"], 2, ["tpu"]),
])
def test_bad_flags_exit_2_naming_the_problem(cli, small_csv, args, code, fragments):
    r = cli("run", "evolve", "--data", str(small_csv), *args)
    assert_error(r, code, *fragments)
    assert cli("run", "list", "-o", "json").json() == []  # nothing was submitted


def test_bad_data_files_exit_2_naming_column_or_row(cli, tmp_path):
    base = ["--actions", "discount", "--outcomes", "revenue", "--objective", "revenue:max"]
    good = [[30, 0.1, 100.0], [40, 0.2, 120.0], [50, 0.3, 90.0], [60, 0.4, 95.0]]
    cases = {
        "text": ([["age", "discount", "revenue"], *good[:2], [50, "lots", 90.0]], ["discount", "row"]),
        "nan": ([["age", "discount", "revenue"], *good[:2], [50, 0.3, "nan"]], ["revenue", "row"]),
        "empty": ([], ["empty"]),
        "constant": ([["age", "discount", "revenue"], [30, 0.1, 100.0], [30, 0.2, 120.0], [30, 0.3, 90.0]], ["age", "constant"]),
    }
    for name, (rows, frags) in cases.items():
        path = _write(tmp_path / f"{name}.csv", rows)
        assert_error(cli("run", "evolve", "--data", str(path), *base), 2, *frags)
    assert_error(cli("run", "evolve", "--data", str(tmp_path / "missing.csv"), *base), 2, "not found")
    assert_error(cli("run", "evolve"), 2, "--sample campaign")
    assert_error(cli("run", "evolve", "--sample", "nosuch"), 2, "campaign")


def test_register_and_prescribe(cli, tmp_path):
    run = cli("run", "evolve", "--sample", "campaign", *FAST, "-o", "json").json()
    reg = cli("model", "register", "camp", "--run", run["run_id"], "-o", "json")
    assert reg.code == 0, reg
    assert reg.json()["type"] == "mlflow" and reg.json()["version"] == "1"
    from leafctl.esp.samples import sample_data_path

    with open(sample_data_path("campaign"), newline="") as f:
        rows = list(csv.reader(f))[:6]
    ctx = _write(tmp_path / "ctx.csv", [r[:6] for r in rows])  # context columns only
    knee = cli("model", "prescribe", "camp", "--input", str(ctx))
    assert knee.code == 0, knee
    out = list(csv.reader(knee.stdout.splitlines()))
    assert out[0] == rows[0][:6] + ["discount", "emails"] and len(out) == 6
    assert all(0.0 <= float(r[6]) <= 0.5 for r in out[1:])  # discount stays in the range seen in the data
    every = list(csv.reader(cli("model", "prescribe", "camp:1", "--input", str(ctx), "--candidate", "all").stdout.splitlines()))
    # Every candidate the run reports (its population of 20 and what the front archive adds), per context.
    with open(Path(run["outputs_path"]) / "result" / "pareto.csv", newline="") as f:
        n = len(list(csv.DictReader(f)))
    assert n >= 20 and every[0][0] == "candidate" and len(every) == 1 + 5 * n
    dest = tmp_path / "out" / "best.csv"
    r = cli("model", "prescribe", "camp", "--input", str(ctx), "--candidate", "best:revenue", "--out", str(dest), "-o", "json")
    assert r.code == 0 and r.json()["rows"] == 5 and dest.read_text().startswith("age,")
    assert_error(cli("model", "prescribe", "camp", "--input", str(ctx), "--candidate", "best:nope"), 2, "nope")
    assert_error(cli("model", "prescribe", "camp", "--input", str(ctx), "--candidate", "9999"), 2, "9999")
    _write(tmp_path / "few.csv", [r[:2] for r in rows])
    assert_error(cli("model", "prescribe", "camp", "--input", str(tmp_path / "few.csv")), 2, "past_spend")
    assert_error(cli("model", "prescribe", "nosuch", "--input", str(ctx)), 3, "nosuch")


def _run_pids(home: Path, run_id: str) -> tuple[int | None, int | None]:
    db = home / "workspaces" / "default" / "registry.sqlite"
    with sqlite3.connect(db) as c:
        row = c.execute("SELECT pid, child_pid FROM runs WHERE id = ?", (run_id,)).fetchone()
    return (row[0], row[1]) if row else (None, None)


def test_sigkill_mid_run_then_resume_matches_uninterrupted(exe, leaf_env):
    args = ["run", "evolve", "--sample", "campaign", "--generations", "30", "--population", "30", "--seed", "11"]
    full = exe(*args, "-o", "json")
    assert full.code == 0, full
    full_pareto = (Path(full.json()["outputs_path"]) / "result" / "pareto.csv").read_bytes()

    started = exe(*args, "--no-wait", "-o", "json")
    run_id = started.json()["id"]
    progress = Path(started.json()["outputs_path"]) / "result" / "progress.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if progress.exists() and len(progress.read_text().splitlines()) >= 8:
            break
        time.sleep(0.05)
    sup, child = _run_pids(leaf_env / "leafhome", run_id)
    for pid in (child, sup):  # the whole job, at once, with no chance to clean up
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    time.sleep(0.3)
    dead = exe("run", "show", run_id, "-o", "json").json()
    assert dead["status"] == "Failed", dead

    resumed = exe("run", "evolve", "--resume", run_id, "-o", "json")
    assert resumed.code == 0, resumed
    assert resumed.json()["run_id"] != run_id
    logs = exe("run", "logs", resumed.json()["run_id"]).stdout
    assert "resuming from generation" in logs
    got = (Path(resumed.json()["outputs_path"]) / "result" / "pareto.csv").read_bytes()
    assert got == full_pareto


def test_resume_refuses_changes_and_non_evolve_runs(cli, tmp_path):
    run = cli("run", "evolve", "--sample", "campaign", *FAST, "-o", "json").json()
    assert_error(cli("run", "evolve", "--resume", run["run_id"], "--seed", "3"), 2, "seed")
    more = cli("run", "evolve", "--resume", run["run_id"], "--generations", "8", "-o", "json")
    assert more.code == 0, more
    hist = (Path(more.json()["outputs_path"]) / "result" / "history.csv").read_text().splitlines()
    assert len(hist) == 1 + 9
    plain = cli("run", "submit", "--command", "true", "--wait", "-o", "json").json()
    assert_error(cli("run", "evolve", "--resume", plain["id"]), 2, "not an evolve run")
    assert_error(cli("run", "evolve", "--resume", "nosuch_run"), 3)


def test_no_wait_and_dry_run(cli):
    r = cli("run", "evolve", "--sample", "campaign", *FAST, "--dry-run", "-o", "json")
    assert r.code == 0 and r.json()["config"]["generations"] == 6
    assert "leafctl.esp.job" in r.json()["job"]["command"]
    assert cli("run", "list", "-o", "json").json() == []
    nw = cli("run", "evolve", "--sample", "campaign", *FAST, "--no-wait", "-o", "json")
    assert nw.code == 0 and nw.json()["status"] in ("Queued", "Running", "Completed")
    done = cli("run", "wait", nw.json()["id"], "-o", "json")
    assert done.json()["status"] == "Completed"
