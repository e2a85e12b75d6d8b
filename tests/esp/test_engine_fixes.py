"""Engine fixes a tester found: an older release's checkpoint resumes bit-for-bit, elites checked only
where used, an island run's merged population without migrant copies, a killed or crashed job's error."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from leafctl.backends.base import Run
from leafctl.errors import UsageError
from leafctl.esp import checkpoint
from leafctl.esp.config import EvolveConfig
from leafctl.esp.engine import evolve, load_config
from leafctl.esp.samples import sample_config

OLD = Path(__file__).parent / "fixtures" / "old_release_run"  # see its MAKE.md


def test_older_release_checkpoint_resumes_as_the_old_run_would_have(tmp_path: Path) -> None:
    # gen3 is a run of release 6d59922 stopped at generation 3; straight_gen6 the same run to 6 in one go.
    # Today's code would detect emails as an integer action and take the fused CPU path (300 contexts).
    run = tmp_path / "run"
    shutil.copytree(OLD / "gen3", run)
    cfg = load_config(OLD / "config.toml")
    cfg.data, cfg.generations = str(OLD / "data.csv"), 6
    evolve(cfg, run, resume=True)
    want = np.load(OLD / "straight_gen6.npz")
    with np.load(run / "checkpoint.npz") as got:
        assert np.array_equal(got["theta"], want["theta"])
        assert np.array_equal(got["F"], want["F"])
        meta = checkpoint.load(run / "checkpoint.npz")["meta"]
    # The resumed run goes on recording the older semantics, so a second resume keeps them too.
    assert meta["integer_detection"] is False and meta["cpu_evaluation"] == "numpy"
    with np.load(run / "population.npz") as pop:
        assert np.array_equal(pop["rank"], want["rank"]) and np.array_equal(pop["crowding"], want["crowding"])


def test_a_new_run_records_what_it_started_with_and_its_resume_matches(tmp_path: Path) -> None:
    cfg = load_config(OLD / "config.toml")
    cfg.data, cfg.generations, cfg.mode = str(OLD / "data.csv"), 2, "leaf"
    evolve(cfg, tmp_path / "a")
    meta = checkpoint.load(tmp_path / "a" / "checkpoint.npz")["meta"]
    assert meta["integer_detection"] is True and meta["cpu_evaluation"] in ("fused", "numpy")
    cfg.generations = 4
    evolve(cfg, tmp_path / "a", resume=True)
    evolve(cfg, tmp_path / "b")
    with np.load(tmp_path / "a" / "checkpoint.npz") as a, np.load(tmp_path / "b" / "checkpoint.npz") as b:
        assert np.array_equal(a["F"], b["F"]) and np.array_equal(a["theta"], b["theta"])


def test_started_with_reads_older_checkpoints_as_the_older_release() -> None:
    assert checkpoint.started_with({"generation": 3}) == {"integer_detection": False, "cpu_evaluation": "numpy"}
    assert checkpoint.started_with(None) == {"integer_detection": True, "cpu_evaluation": None}


def _cfg(**kw) -> EvolveConfig:
    return EvolveConfig(data="d.csv", actions=["a"], objectives=["y:max"], **kw)


def test_elites_are_checked_only_in_mode_leaf() -> None:
    _cfg(population=8).validate()  # mode esp, default elites 10: unused, so no refusal
    _cfg(population=8, mode="nsga2").validate()
    with pytest.raises(UsageError, match="elites 10 must be below population 8 in mode leaf"):
        _cfg(population=8, mode="leaf").validate()
    for mode in ("leaf", "esp"):
        with pytest.raises(UsageError, match="elites -1 is negative") as e:
            _cfg(elites=-1, mode=mode).validate()
        assert "0 or more" in e.value.hint


def test_island_merge_keeps_one_of_each_migrated_genome(tmp_path: Path) -> None:
    cfg = sample_config("campaign", population=10, generations=4, elites=2, hidden=4, predictor_hidden=8,
                        device="cpu", seed=1, contexts_sample=50, islands=2, migrate_every=1, migrants=3,
                        mode="leaf", archive=0)  # the populations alone: archives add distinct members
    res = evolve(cfg, tmp_path)
    with np.load(tmp_path / "population.npz") as pop:
        theta, F = pop["theta"], pop["F"]
    assert len(np.unique(theta, axis=0)) == len(theta)
    assert len(theta) < 2 * cfg.population  # migrants were copies: some went
    assert len(res.F) == len(theta)
    with open(tmp_path / "pareto.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["id"]) for r in rows) == list(range(len(theta)))
    name = cfg.objectives[0][0]
    for r in rows:  # ids index population.npz rows
        assert float(r[name]) == pytest.approx(float(F[int(r["id"]), 0]))


def _run(status: str = "Failed", exit_code: int | None = 1) -> Run:
    return Run(id="r1", status=status, exit_code=exit_code)


PROGRESS = ["[ 10.92s] generation 3/12  revenue 396.2  margin 133.5  hv 0.0698",
            "[ 12.26s] generation 4/12  revenue 396.2  margin 133.5  hv 0.0698"]


@pytest.mark.parametrize("code", [-9, 137])
def test_a_killed_job_says_killed_and_how_to_resume(code: int) -> None:
    from leafctl.evolve import failure

    e = failure(_run(exit_code=code), PROGRESS)
    assert "killed by signal 9 (SIGKILL)" in str(e) and "generation" not in str(e)
    assert "leafctl run evolve --resume r1" in e.hint


def test_an_mpi_launchers_kill_report_is_read_as_killed() -> None:
    from leafctl.evolve import failure

    e = failure(_run(exit_code=1), PROGRESS + ["YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed (signal 9)",
                                                "Please see the FAQ page for debugging suggestions"])
    assert "killed by signal 9" in str(e) and "--resume r1" in e.hint


def test_a_crash_shows_the_tracebacks_last_line_only() -> None:
    from leafctl.evolve import failure

    log = PROGRESS + ["Traceback (most recent call last):", '  File "x.py", line 1, in <module>',
                      "    boom()", "ValueError: the predictor diverged"]
    e = failure(_run(exit_code=1), log)
    assert str(e) == "evolve run r1 failed: ValueError: the predictor diverged"
    assert "leafctl run logs r1" in e.hint and "traceback" in e.hint


def test_progress_pass_through_keeps_a_traceback_off_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    from leafctl.cli.evolve import _Progress

    p = _Progress(12)
    for line in ["predictor mlp trained", "Traceback (most recent call last):", '  File "x.py", line 1',
                 "ValueError: boom", "wrote outputs"]:
        p.log(line)
    err = capsys.readouterr().err
    assert "predictor mlp trained" in err and "wrote outputs" in err
    assert "Traceback" not in err and "x.py" not in err and "ValueError" not in err
