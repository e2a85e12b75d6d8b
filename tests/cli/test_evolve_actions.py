"""`run evolve --integer/--action-range/--constraint` and `model prescribe` honouring them, via the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from leaftest import assert_error

FAST = ["--generations", "3", "--population", "16", "--seed", "2"]


def _contexts(tmp_path: Path, n: int = 12) -> Path:
    from leafctl.esp.samples import sample_data_path

    with open(sample_data_path("campaign"), newline="") as f:
        rows = list(csv.reader(f))[:n + 1]
    path = tmp_path / "ctx.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([r[:6] for r in rows])  # the context columns
    return path


def test_actions_and_constraints_reach_the_model_and_prescribe(cli, tmp_path):
    r = cli("run", "evolve", "--sample", "campaign", *FAST, "--action-range", "discount=0.05:0.2",
            "--constraint", "action_cost<=6", "--constraint", "emails<=8", "-o", "json")
    assert r.code == 0, r
    out = r.json()
    assert out["front"] and all(f["cv"] == 0 for f in out["front"])  # feasible candidates exist: front is feasible
    result = Path(out["outputs_path"]) / "result"
    cfg = (result / "config.toml").read_text()
    assert 'constraints = [' in cfg and "action_cost<=6" in cfg and "discount" in cfg
    assert "cv" in (result / "pareto.csv").read_text().splitlines()[0].split(",")
    assert cli("model", "register", "acts", "--run", out["run_id"]).code == 0
    pres = cli("model", "prescribe", "acts", "--input", str(_contexts(tmp_path)))
    assert pres.code == 0, pres
    rows = list(csv.reader(pres.stdout.splitlines()))
    assert rows[0][-2:] == ["discount", "emails"] and len(rows) == 13
    for row in rows[1:]:
        assert 0.05 <= float(row[-2]) <= 0.2  # the overridden range
        assert row[-1].isdigit() and 0 <= int(row[-1]) <= 10  # emails: whole numbers in the data's range
    assert "meets the constraints (action_cost<=6, emails<=8)" in pres.stderr


def test_declared_integer_flag(cli, tmp_path):
    r = cli("run", "evolve", "--sample", "campaign", *FAST, "--integer", "discount", "--action-range",
            "discount=0:3", "-o", "json")
    assert r.code == 0, r
    assert cli("model", "register", "ints", "--run", r.json()["run_id"]).code == 0
    rows = list(csv.reader(cli("model", "prescribe", "ints", "--input", str(_contexts(tmp_path)),
                               "--candidate", "all").stdout.splitlines()))
    assert rows[0][0] == "candidate"
    assert {row[-2] for row in rows[1:]} <= {"0", "1", "2", "3"}


@pytest.mark.parametrize("args,fragments", [
    (["--constraint", "margin<100"], ["'<'", "NAME<=BOUND"]),
    (["--constraint", "margin>=lots"], ["not a number"]),
    (["--constraint", "marginn>=100"], ["marginn", "did you mean 'margin'"]),
    (["--constraint", "action_cots<=5"], ["did you mean 'action_cost'"]),
    (["--constraint", "region>=1"], ["region"]),
    (["--action-range", "emails=5:1"], ["emails", "below HI"]),
    (["--action-range", "emails"], ["--action-range", "emails=0:10"]),
    (["--action-range", "emails=a:b"], ["not LO:HI"]),
    (["--action-range", "income=0:1"], ["income", "not an action column"]),
    (["--integer", "emial"], ["did you mean 'emails'"]),
])
def test_bad_action_and_constraint_flags_exit_2(cli, args, fragments):
    r = cli("run", "evolve", "--sample", "campaign", *FAST, *args)
    assert_error(r, 2, *fragments)
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1, r.stderr
