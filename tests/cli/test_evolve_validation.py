"""`leafctl run evolve` refusing or noting what it cannot honour (issue X2), through the CLI and the
local backend's real jobs."""

from __future__ import annotations

import csv
from pathlib import Path

from leaftest import assert_error

from leafctl.esp.samples import sample_data_path

COLS = ["--actions", "discount,emails", "--outcomes", "revenue,margin"]
OBJ = ["--objective", "revenue:max", "--objective", "margin:max"]
FAST = ["--population", "12", "--elites", "2", "--predictor", "ridge", "--seed", "1"]


def _base() -> list[str]:
    return ["run", "evolve", "--data", str(sample_data_path("campaign")), *COLS]


def test_objective_senses_and_impossible_constraints_exit_2_before_anything_runs(cli):
    assert_error(cli(*_base(), "--objective", "revenue", "--dry-run"), 2, "give a sense: revenue:max or revenue:min")
    r = cli(*_base(), *OBJ, "--objective", "action_cost", "--dry-run", "-o", "json")
    assert r.code == 0, r
    assert "action_cost:min" in r.stdout and "action_cost:max" not in r.stdout
    assert_error(cli(*_base(), *OBJ, "--constraint", "discount<=0.2", "--constraint", "discount>=0.3", "--dry-run"),
                 2, "discount>=0.3", "discount<=0.2", "contradict")
    assert_error(cli(*_base(), *OBJ, "--constraint", "discount>=0.9", "--dry-run"), 2, "cannot be met", "0.5")
    r = cli(*_base(), *OBJ, "--constraint", "age<=50", "--dry-run")
    assert_error(r, 2, "context column", "names are: action_cost, discount, emails, revenue, margin")
    assert_error(cli(*_base(), *OBJ, "--seed-from", __file__, "--dry-run"), 2, "not a genomes or model file")
    assert "pickle" not in cli(*_base(), *OBJ, "--seed-from", __file__, "--dry-run").stderr.lower()
    assert cli("run", "list", "-o", "json").json() == []


def test_an_infeasible_front_is_warned_and_counted_and_an_extrapolated_range_noted(cli):
    r = cli(*_base(), *OBJ, *FAST, "--generations", "1", "--constraint", "margin>=100000",
            "--action-range", "emails=0:30", "-o", "json")
    assert r.code == 0, r
    assert r.json()["feasible"] == 0
    assert "no candidate of the final population meets the constraints (margin>=100000)" in r.stderr
    assert "'emails' ranges 0:30 but the data's values are 0..10" in r.stderr
    ok = cli(*_base(), *OBJ, *FAST, "--generations", "1", "--constraint", "emails<=8", "-o", "json")
    assert ok.code == 0, ok
    assert ok.json()["feasible"] > 0 and "meets the constraints" not in ok.stderr
    assert "feasible" not in cli(*_base(), *OBJ, *FAST, "--generations", "0", "-o", "json").json()


def test_seed_from_a_run_on_the_same_columns_in_another_order(cli, tmp_path):
    first = cli(*_base(), *OBJ, *FAST, "--generations", "1", "-o", "json")
    assert first.code == 0, first
    with open(sample_data_path("campaign"), newline="") as fh:
        rows = list(csv.reader(fh))
    moved = tmp_path / "reordered.csv"
    with open(moved, "w", newline="") as fh:
        csv.writer(fh).writerows([list(reversed(r)) for r in rows[:600]])
    r = cli("run", "evolve", "--data", str(moved), *COLS, *OBJ, *FAST, "--generations", "0",
            "--seed-from", first.json()["id"], "-o", "json")
    assert r.code == 0, r
    assert r.json()["seeded_from"] == first.json()["id"]
    assert Path(r.json()["outputs_path"], "result", "pareto.csv").is_file()
