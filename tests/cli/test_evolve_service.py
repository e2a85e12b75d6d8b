"""Issue 9: `run evolve` as one service (leafctl.evolve) on every backend, and its island launch locally.

Through the installed `leafctl` where the issue says so; the service itself as a notebook user calls it.
The island run really goes through the mpi extra's mpiexec (the MPICH wheel next to the interpreter).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from leaftest import assert_error

FAST = ["--generations", "4", "--population", "16", "--predictor", "ridge"]
SUMMARY = {"hypervolume", "front", "knee", "predictor", "baseline"}


def _record(home: Path, run_id: str) -> dict:
    with sqlite3.connect(home / "workspaces" / "default" / "registry.sqlite") as c:
        return json.loads(c.execute("SELECT spec FROM runs WHERE id = ?", (run_id,)).fetchone()[0])


def test_islands_run_locally_through_mpiexec_with_the_plain_shape(exe, leaf_env):
    plain = exe("run", "evolve", "--sample", "campaign", *FAST, "-o", "json")
    assert plain.code == 0, plain
    isl = exe("run", "evolve", "--sample", "campaign", *FAST, "--islands", "2", "-o", "json")
    assert isl.code == 0, isl
    a, b = plain.json(), isl.json()
    assert set(a) == set(b) and {"id", "run_id", "status", "device"} | SUMMARY <= set(b)
    assert b["id"] == b["run_id"] and b["status"] == "Completed" and b["front"]
    assert isinstance(b["hypervolume"], float)
    assert "2 islands" in isl.stderr and "generation 4/4" in isl.stderr
    # the job the local backend ran: two ranks under the mpi extra's mpiexec
    argv = _record(leaf_env / "leafhome", b["id"])["argv"]
    assert Path(argv[0]).name == "mpiexec" and argv[1:3] == ["-n", "2"]
    assert "leafctl.esp.job" in argv and argv[argv.index("--islands") + 1] == "2"
    result = Path(b["outputs_path"]) / "result"
    cfg = tomllib.loads((result / "config.toml").read_text())
    assert cfg["islands"] == 2
    assert "hypervolume_island_1" in (result / "history.csv").read_text().splitlines()[0]
    # the same outputs as a plain run, so the model registers and prescribes as one
    assert exe("model", "register", "isl", "--run", b["id"], "-o", "json").code == 0


def test_no_wait_is_the_same_shape_without_the_summary(exe):
    nw = exe("run", "evolve", "--sample", "campaign", *FAST, "--no-wait", "-o", "json")
    assert nw.code == 0, nw
    started = nw.json()
    assert started["id"] == started["run_id"] and started["kind"] == "evolve" and started["device"] == "cpu"
    assert not SUMMARY & set(started)
    done = exe("run", "wait", started["id"], "-o", "json")
    assert done.json()["status"] == "Completed"
    waited = exe("run", "evolve", "--sample", "campaign", *FAST, "-o", "json").json()
    assert set(waited) == set(started) | SUMMARY


def test_islands_dry_run_shows_the_mpi_launch_and_submits_nothing(exe):
    r = exe("run", "evolve", "--sample", "campaign", *FAST, "--islands", "2", "--migrate-every", "3",
            "--migrants", "1", "--dry-run", "-o", "json")
    assert r.code == 0, r
    plan = r.json()
    assert Path(plan["argv"][0]).name == "mpiexec" and plan["argv"][1:3] == ["-n", "2"]
    assert plan["argv"][plan["argv"].index("-m") + 1] == "leafctl.esp.job"
    assert plan["argv"][-6:] == ["--islands", "2", "--migrate-every", "3", "--migrants", "1"]
    assert plan["job"]["distribution"] == {"type": "mpi", "process_count_per_instance": 2}
    assert plan["job"]["resources"] == {"instance_count": 1}
    assert plan["config"]["islands"] == 2 and plan["islands"] == 2
    text = exe("run", "evolve", "--sample", "campaign", *FAST, "--islands", "2", "--dry-run")
    assert yaml.safe_load(text.stdout)["distribution"]["type"] == "mpi"
    assert exe("run", "list", "-o", "json").json() == []


@pytest.mark.parametrize("args,fragments", [
    (["--islands", "3", "--instances", "2"], ["--islands 3", "--instances 2"]),
    (["--islands", "0"], ["--islands 0"]),
    (["--migrants", "2"], ["--migrants", "--islands"]),
    (["--islands", "2", "--migrate-every", "0"], ["--migrate-every 0"]),
    (["--islands", "2", "--migrants", "16"], ["migrants 16"]),  # the engine's own check, before submitting
])
def test_bad_island_flags_exit_2(exe, args, fragments):
    assert_error(exe("run", "evolve", "--sample", "campaign", *FAST, *args), 2, *fragments)
    assert exe("run", "list", "-o", "json").json() == []


def _no_mpi(m: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An interpreter with no mpiexec beside it and none on PATH: the mpi extra not installed."""
    bare = tmp_path / "bare" / "bin"
    bare.mkdir(parents=True, exist_ok=True)
    m.setattr(sys, "executable", str(bare / "python3"))
    m.setenv("PATH", str(bare))


def test_missing_mpi_extra_is_one_line_saying_what_to_install(cli, monkeypatch, tmp_path):
    with monkeypatch.context() as m:
        _no_mpi(m, tmp_path)
        r = cli("run", "evolve", "--sample", "campaign", *FAST, "--islands", "2")
    assert_error(r, 2, "mpiexec", "pip install 'leafctl[mpi]'")
    assert len(r.stderr.strip().splitlines()) == 1
    assert cli("run", "list", "-o", "json").json() == []


def test_one_island_needs_no_mpi(cli, monkeypatch, tmp_path):
    with monkeypatch.context() as m:
        _no_mpi(m, tmp_path)
        r = cli("run", "evolve", "--sample", "campaign", *FAST, "--islands", "1", "--dry-run", "-o", "json")
    assert r.code == 0, r
    assert "mpiexec" not in " ".join(r.json()["argv"]) and "distribution" not in r.json()["job"]


def test_the_service_as_a_notebook_calls_it(leaf_env):
    from leafctl import evolve
    from leafctl.backends import get_backend
    from leafctl.profiles import resolve

    b = get_backend(resolve())
    cfg = evolve.config(sample="campaign", flags={"generations": 3, "population": 12, "predictor": "ridge"})
    plan = evolve.plan(cfg, b)
    assert plan.target == "local" and plan.spec.kind == "evolve" and (plan.code / "config.toml").is_file()
    assert yaml.safe_load(plan.yaml())["command"].startswith(sys.executable)
    seen: list[int] = []
    run = evolve.follow(evolve.submit(plan), b, on_progress=lambda rec: seen.append(rec["generation"]))
    assert run.status == "Completed" and seen[-1] == 3 and seen == sorted(seen)
    out = evolve.result(run, b)
    assert out["id"] == run.id == out["run_id"] and out["front"] and out["device"] == "cpu"


def test_one_cupy_package_everywhere(exe):
    from leafctl import evolve

    root = Path(__file__).resolve().parents[2]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["gpu"] == [evolve.CUPY_PACKAGE] == ["cupy-cuda12x"]
    assert "cuda12" in evolve.IMAGE  # the cluster's CUDA matches the CuPy wheel's
    assert evolve.CUPY_PACKAGE in evolve.conda_file(mpi=False)["dependencies"][-1]["pip"]
    r = exe("run", "evolve", "--sample", "campaign", *FAST, "--device", "gpu", "--dry-run", "-o", "json")
    if r.code != 0:  # no CuPy or no GPU here: the hint names the same package
        assert_error(r, 2, evolve.CUPY_PACKAGE)
        assert "cupy-cuda13x" not in r.stderr


def test_an_island_run_resumes_as_one(exe, leaf_env):
    first = exe("run", "evolve", "--sample", "campaign", *FAST, "--islands", "2", "-o", "json")
    assert first.code == 0, first
    rid = first.json()["id"]
    assert_error(exe("run", "evolve", "--resume", rid, "--islands", "3"), 2, "--islands", "used 2")
    more = exe("run", "evolve", "--resume", rid, "--generations", "6", "-o", "json")
    assert more.code == 0, more
    again = more.json()
    argv = _record(leaf_env / "leafhome", again["id"])["argv"]
    assert Path(argv[0]).name == "mpiexec" and "--resume-from" in argv and argv[argv.index("--islands") + 1] == "2"
    assert "resuming 2 islands from generation 4" in exe("run", "logs", again["id"]).stdout
    hist = (Path(again["outputs_path"]) / "result" / "history.csv").read_text().splitlines()
    assert len(hist) == 1 + 7


def test_progress_lines_the_engine_logs_are_parsed_whole():
    """The engine's `run logs` line and the service's parser must agree: best values and hypervolume."""
    from leafctl.evolve import parse_progress

    rec = parse_progress("generation 3/20  revenue 418.4  margin 154.2  hv 1.4823")
    assert rec == {"generation": 3, "generations": 20, "best": {"revenue": 418.4, "margin": 154.2}, "hypervolume": 1.4823}
    assert parse_progress("generation 3/20 best {'revenue': 1.5} hv 0.42")["best"] == {"revenue": 1.5}
    assert parse_progress("loading data") is None
