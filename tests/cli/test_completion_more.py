"""Completion and suggestions (issue 11, item 7): model names and candidates for `model prescribe`, the
root `-o`, evolve runs after `--resume`, `-p` = `config list`; "did you mean" for commands and names;
`--resume` of a completed run."""

from __future__ import annotations

import csv
from pathlib import Path

from leaftest import assert_error
from test_completion import complete

FAST = ["--generations", "3", "--population", "20", "--predictor", "ridge", "--seed", "1"]


def test_prescribe_completes_models_and_candidates(exe, tmp_path):
    run = exe("run", "evolve", "--sample", "campaign", *FAST, "-o", "json").json()
    assert exe("model", "register", "campaign-esp", "--run", run["id"]).code == 0
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("x")
    assert exe("model", "register", "churn", "--path", str(tmp_path / "m")).code == 0
    assert complete("leafctl model prescribe ") == ["campaign-esp", "churn"]
    assert complete("leafctl model prescribe camp") == ["campaign-esp"]
    with open(Path(run["outputs_path"]) / "result" / "pareto.csv", newline="") as f:
        first = sorted(r["id"] for r in csv.DictReader(f) if r["rank"] == "1")
    got = complete("leafctl model prescribe campaign-esp --candidate ")
    assert sorted(got) == sorted(["knee", "all", "best:revenue", "best:margin", *first])
    assert complete("leafctl model prescribe campaign-esp --candidate best:m") == ["best:margin"]
    assert complete("leafctl model prescribe campaign-esp:1 --candidate k") == ["knee"]
    # no model typed yet (or not an ESP model): the fixed words
    assert complete("leafctl model prescribe --candidate ") == ["knee", "all", "best:"]
    assert complete("leafctl model prescribe churn --candidate ") == ["knee", "all", "best:"]


def test_root_output_and_profiles_complete_like_the_commands(exe):
    assert complete("leafctl -o ") == ["table", "json", "yaml", "tsv", "none"]
    assert complete("leafctl -o j") == ["json"]
    assert complete("leafctl compute list -o y") == ["yaml"]
    exe("config", "init", "-p", "dev")
    exe("config", "init", "-p", "prod", "--no-use")
    listed = [p["name"] for p in exe("config", "list", "-o", "json").json()]
    assert complete("leafctl -p ") == listed == ["default", "dev", "prod"]
    assert complete("leafctl compute list -p ") == listed


def test_did_you_mean_for_commands_and_resource_names(exe, tmp_path):
    assert_error(exe("modle", "list"), 2, "no such command 'modle'", "did you mean 'model'?")
    assert_error(exe("model", "lst"), 2, "did you mean 'list'?")
    assert_error(exe("data", "store", "lisst"), 2, "did you mean 'list'?")
    r = exe("zzzz")
    assert_error(r, 2, "no such command 'zzzz'")
    assert "did you mean" not in r.stderr
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("x")
    assert exe("model", "register", "churn", "--path", str(tmp_path / "m")).code == 0
    assert exe("compute", "create", "gpu-pool", "--type", "cluster", "--max-nodes", "1").code == 0
    assert_error(exe("model", "download", "chrun", "--output-path", str(tmp_path / "d")), 3,
                 "model 'chrun' not found", "did you mean 'churn'?")
    assert_error(exe("model", "show", "churm"), 3, "did you mean 'churn'?")
    assert_error(exe("compute", "show", "gpu-pol"), 3, "did you mean 'gpu-pool'?")
    assert_error(exe("compute", "show", "locl"), 3, "did you mean 'local'?")
    r = exe("model", "show", "zebra")
    assert_error(r, 3, "not found")
    assert "did you mean" not in r.stderr


def test_resume_completes_evolve_runs_and_a_completed_one_has_nothing_to_resume(exe):
    first = exe("run", "evolve", "--sample", "campaign", *FAST, "-o", "json").json()
    plain_id = exe("run", "submit", "--command", "true", "--wait", "-o", "json").json()["id"]
    got = complete("leafctl run evolve --resume ")
    assert got == [first["id"]] and plain_id not in got
    assert plain_id in complete("leafctl run show ")  # other run arguments still offer every run
    runs_before = len(exe("run", "list", "--all", "-o", "json").json())
    assert_error(exe("run", "evolve", "--resume", first["id"]), 2, "nothing to resume", "--generations")
    assert_error(exe("run", "evolve", "--resume", first["id"], "--generations", "3"), 2, "nothing to resume")
    assert len(exe("run", "list", "--all", "-o", "json").json()) == runs_before  # no copy was submitted
    more = exe("run", "evolve", "--resume", first["id"], "--generations", "5", "-o", "json")
    assert more.code == 0, more
