"""`run evolve --predictor ... --risk K` through the CLI: forests and ensembles end to end, pareto.csv's
std columns, the held-out summary, the warnings for small or poorly fitted data, and bad input (exit 2)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from leaftest import assert_error


def _header(out: dict) -> list[str]:
    return (Path(out["outputs_path"]) / "result" / "pareto.csv").read_text().splitlines()[0].split(",")


def _write_csv(path: Path, n: int, seed: int = 0, concave_only: bool = False) -> Path:
    """revenue rises with age and is concave in discount; ``concave_only``: only the concave part (a
    linear model sees nothing: the ridge-on-concave case of issue 10)."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["age", "region", "discount", "revenue", "churn"])
        for i in range(n):
            d = round(float(rng.uniform(0, 0.5)), 3)
            age = int(rng.integers(20, 60))
            rev = 100 - 400 * (d - 0.25) ** 2 + (0 if concave_only else age)
            w.writerow([age, ["north", "south"][i % 2], d, round(float(rev), 3), round(float(rng.uniform()), 3)])
    return path


def test_sample_campaign_with_a_forest(cli):
    r = cli("run", "evolve", "--sample", "campaign", "--predictor", "forest", "--generations", "3",
            "--population", "12", "-o", "json")
    assert r.code == 0, r
    out = r.json()
    assert out["predictor"]["kind"] == "forest" and out["predictor"]["rows"] == 2000
    assert set(out["predictor"]["held_out"]) == {"revenue", "margin"}
    assert all(v["r2"] > 0.5 for v in out["predictor"]["held_out"].values())
    header = _header(out)
    assert header[-2:] == ["std_revenue", "std_margin"]
    result = Path(out["outputs_path"]) / "result"
    assert 'predictor = "forest"' in (result / "config.toml").read_text()
    with np.load(result / "predictor.npz", allow_pickle=False) as z:
        assert str(z["kind"]) == "forest" and {"feature", "threshold", "left", "right", "value"} <= set(z.files)
    # The summary line the terminal shows: one figure pair per outcome.
    from leafctl.cli.evolve import predictor_line

    line = predictor_line(out)
    assert line.startswith("predictor forest, held-out R²/RMSE: revenue 0.") and "margin" in line


def test_ensemble_table_in_the_config_with_risk(cli, tmp_path):
    data = _write_csv(tmp_path / "d.csv", 200)
    (tmp_path / "ev.toml").write_text(
        'data = "d.csv"\ncontext = ["age", "region"]\nactions = ["discount"]\noutcomes = ["revenue", "churn"]\n'
        'objectives = ["revenue:max", "churn:min"]\npopulation = 12\nelites = 2\ngenerations = 2\nhidden = 4\n'
        'device = "cpu"\n[predictor]\nkind = "ensemble"\nmembers = 3\nepochs = 40\nhidden = 8\n')
    r = cli("run", "evolve", str(tmp_path / "ev.toml"), "--risk", "1", "-o", "json")
    assert r.code == 0, r
    out = r.json()
    assert out["predictor"]["kind"] == "ensemble" and data.exists()
    header = _header(out)  # the spread, then (risk > 0) the values the run ranked on
    assert {"std_revenue", "std_churn", "risk_revenue", "risk_churn"} <= set(header)
    cfg = (Path(out["outputs_path"]) / "result" / "config.toml").read_text()
    assert "risk = 1.0" in cfg and '[predictor]\nkind = "ensemble"\nmembers = 3' in cfg
    metrics = json.loads((Path(out["outputs_path"]) / "result" / "predictor_metrics.json").read_text())
    assert metrics["predictor"] == "ensemble" and metrics["rows_train"] == 160


def test_auto_says_which_kind_and_why(cli, tmp_path):
    data = _write_csv(tmp_path / "d.csv", 150)
    (tmp_path / "ev.toml").write_text(
        f'data = "{data}"\ncontext = ["age", "region"]\nactions = ["discount"]\noutcomes = ["revenue"]\n'
        'objectives = ["revenue:max"]\npopulation = 8\nelites = 2\ngenerations = 1\nhidden = 4\ndevice = "cpu"\n'
        '[predictor]\nkind = "auto"\ncandidates = ["ridge", "gbt"]\n')
    r = cli("run", "evolve", str(tmp_path / "ev.toml"), "-o", "json")
    assert r.code == 0, r
    chosen = r.json()["predictor"]["auto"]["chosen"]
    assert f"predictor auto: chose {chosen}: 3-fold CV error" in r.stderr and "ridge" in r.stderr
    assert r.json()["predictor"]["kind"] == chosen


def test_twenty_rows_warn_about_rows_and_r2(cli, tmp_path):
    data = _write_csv(tmp_path / "tiny.csv", 20, concave_only=True)
    r = cli("run", "evolve", "--data", str(data), "--context", "age,region", "--actions", "discount",
            "--outcomes", "revenue", "--objective", "revenue:max", "--predictor", "ridge",
            "--generations", "1", "--population", "12", "-o", "json")
    assert r.code == 0, r
    assert "warning: the data has 20 rows (< 50)" in r.stderr
    assert "warning: predictor ridge explains little of revenue (held-out R²" in r.stderr
    assert len(r.json()["predictor"]["warnings"]) == 2


def test_risk_without_a_spread_is_exit_2(cli):
    r = cli("run", "evolve", "--sample", "campaign", "--predictor", "mlp", "--risk", "1", "--dry-run")
    assert_error(r, 2, "needs a predictor that gives a spread")
    assert "ensemble" in r.stderr


def test_misspelt_predictor_and_setting_are_exit_2(cli, tmp_path):
    r = cli("run", "evolve", "--sample", "campaign", "--predictor", "forrest", "--dry-run")
    assert_error(r, 2, "unknown predictor 'forrest'")
    assert "did you mean 'forest'" in r.stderr
    data = _write_csv(tmp_path / "d.csv", 60)
    (tmp_path / "ev.toml").write_text(
        f'data = "{data}"\nactions = ["discount"]\noutcomes = ["revenue"]\nobjectives = ["revenue:max"]\n'
        '[predictor]\nkind = "forest"\ntres = 5\n')
    r = cli("run", "evolve", str(tmp_path / "ev.toml"), "--dry-run")
    assert_error(r, 2, "predictor 'forest' has no setting 'tres'")
    assert "did you mean 'trees'" in r.stderr
