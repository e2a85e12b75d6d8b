"""Reading and encoding the table, and every bad-input case: UsageError, exit 2, one line naming the
column or row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from leafctl.errors import UsageError
from leafctl.esp.data import load_dataset
from leafctl.esp.engine import EvolveConfig, evolve, load_config

from .conftest import write_csv

HEADER = ["age", "region", "discount", "vip", "plan", "revenue"]


def rows(n: int = 12) -> list[list]:
    regions = ["north", "south", "east"]
    return [[20 + i, regions[i % 3], 0.05 * (i % 5), i % 2, "gold" if i % 3 else "basic", 100 + 7 * i]
            for i in range(n)]


def load(path: Path, context=("age", "region"), actions=("discount", "vip", "plan"), outcomes=("revenue",)):
    return load_dataset(path, list(context), list(actions), list(outcomes))


def usage(fn, *words: str) -> str:
    with pytest.raises(UsageError) as ei:
        fn()
    e = ei.value
    assert e.exit_code == 2
    line = e.line()
    assert "\n" not in line and line.startswith("error: ")
    for w in words:
        assert w in line, line
    return line


def test_encoding_kinds(tmp_path):
    ds = load(write_csv(tmp_path / "d.csv", HEADER, rows()))
    kinds = {c.name: c.kind for c in ds.context + ds.actions}
    assert kinds == {"age": "numeric", "region": "categorical", "discount": "numeric", "vip": "binary",
                     "plan": "categorical"}
    assert ds.Xc.shape == (12, 1 + 3)
    np.testing.assert_allclose(ds.Xc[:, 0].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(ds.Xc[:, 0].std(), 1)
    assert ds.actions[0].lo == 0.0 and ds.actions[0].hi == 0.2
    assert ds.Xa.shape == (12, 1 + 1 + 2)
    assert ds.Y[:, 0].tolist() == [100 + 7 * i for i in range(12)]


def test_default_context_is_every_other_column(tmp_path):
    ds = load_dataset(write_csv(tmp_path / "d.csv", HEADER, rows()), [], ["discount"], ["revenue"])
    assert [c.name for c in ds.context] == ["age", "region", "vip", "plan"]


def test_misspelt_column_suggests_close_match(tmp_path):
    p = write_csv(tmp_path / "d.csv", HEADER, rows())
    usage(lambda: load(p, context=("age", "regoin")), "'regoin'", "did you mean 'region'")
    usage(lambda: load(p, outcomes=("zzz",)), "'zzz'", "columns are")


def test_text_in_numeric_column_names_row_and_column(tmp_path):
    r = rows()
    r[6][0] = "forty"
    usage(lambda: load(write_csv(tmp_path / "d.csv", HEADER, r)), "'age'", "row 7", "'forty'")


def test_nan_or_empty_outcome_names_the_row(tmp_path):
    r = rows()
    r[3][5] = ""
    usage(lambda: load(write_csv(tmp_path / "a.csv", HEADER, r)), "'revenue'", "row 4", "empty")
    r[3][5] = "NaN"
    usage(lambda: load(write_csv(tmp_path / "b.csv", HEADER, r)), "'revenue'", "row 4")
    r[3][5] = "n/a"
    usage(lambda: load(write_csv(tmp_path / "c.csv", HEADER, r)), "'revenue'", "row 4", "not a number")


def test_empty_file_and_header_only(tmp_path):
    (tmp_path / "e.csv").write_text("")
    usage(lambda: load(tmp_path / "e.csv"), "empty")
    (tmp_path / "h.csv").write_text(",".join(HEADER) + "\n")
    usage(lambda: load(tmp_path / "h.csv"), "no data rows")
    usage(lambda: load(tmp_path / "missing.csv"), "not found")


def test_constant_column(tmp_path):
    r = rows()
    for row in r:
        row[0] = 30
    usage(lambda: load(write_csv(tmp_path / "d.csv", HEADER, r)), "'age'", "constant")
    r = rows()
    for row in r:
        row[1] = "north"
    usage(lambda: load(write_csv(tmp_path / "e.csv", HEADER, r)), "'region'", "constant")


def test_ragged_row_duplicate_header_and_two_roles(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("a,b,c\n1,2,3\n4,5\n")
    usage(lambda: load_dataset(p, ["a"], ["b"], ["c"]), "row 2", "2 fields")
    p.write_text("a,b,a\n1,2,3\n4,5,6\n")
    usage(lambda: load_dataset(p, ["a"], ["b"], ["a"]), "'a'", "twice")
    q = write_csv(tmp_path / "d.csv", HEADER, rows())
    usage(lambda: load(q, context=("age", "discount")), "'discount'", "both")


def test_config_errors(tiny_config):
    usage(lambda: EvolveConfig(**{**tiny_config.__dict__, "population": 1}).validate(), "population 1")
    usage(lambda: EvolveConfig(**{**tiny_config.__dict__, "elites": 20, "mode": "leaf"}).validate(), "elites")
    usage(lambda: EvolveConfig(objectives=["revenue:up"]), "'up'")
    usage(lambda: load_config(None, ["populaton=5"]), "'populaton'", "did you mean 'population'")
    usage(lambda: load_config(None, {"population": "many"}), "'population'", "integer")


def test_objective_that_names_nothing(tiny_config, tmp_path):
    cfg = EvolveConfig(**{**tiny_config.__dict__, "objectives": ["revenue:max", "profit:max"],
                          "outcomes": ["revenue", "margin"]})
    usage(lambda: evolve(cfg, tmp_path / "out"), "'profit'", "names nothing")


def test_action_cost_weight_for_unknown_column(tiny_config, tmp_path):
    cfg = EvolveConfig(**{**tiny_config.__dict__, "action_cost": {"discont": 2.0}})
    usage(lambda: evolve(cfg, tmp_path / "out"), "'discont'")


def test_job_exits_2_with_one_error_line(tmp_path):
    (tmp_path / "c.toml").write_text('data = "nope.csv"\nactions = ["a"]\nobjectives = ["y:max"]\n')
    p = subprocess.run([sys.executable, "-m", "leafctl.esp.job", str(tmp_path / "c.toml"), str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ") and "nope.csv" in p.stderr


def test_check_config_reports_data_problems_without_training(tiny_config):
    from leafctl.esp.engine import check_config

    ds, costs = check_config(tiny_config)
    assert ds.n == 300 and costs.tolist() == [1.0, 1.0]
    bad = EvolveConfig(**{**tiny_config.__dict__, "objectives": ["revenu:max"], "outcomes": ["revenue"]})
    usage(lambda: check_config(bad), "'revenu'", "names nothing")
