"""``risk`` K > 0: the run ranks on mean -/+ K*std, but what it reports as the prediction is the mean.

pareto.csv's objective columns, ``run evolve -o json``'s front and knee and ``model prescribe``'s
"predicted" line are the mean predictions of the final population; risk_<objective> columns (and a
``risk_adjusted`` block in the JSON) carry the adjusted values, and the knee is chosen on those."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from leafctl.esp import predictors, pyfunc_model, surrogate
from leafctl.esp.engine import check_config, evolve
from leafctl.esp.evaluate import Problem
from leafctl.esp.prescriptor import Layout

K = 3.0


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _problem(cfg, out: Path, risk: float) -> tuple[Problem, np.ndarray]:
    """The run's own surrogate and contexts, rebuilt from its outputs, and its final genomes."""
    ds, costs = check_config(cfg)
    model = predictors.load(out / "predictor.npz")
    s_ctx = np.random.SeedSequence(cfg.seed).spawn(3)[1]
    prob = Problem(Layout(ds.Xc.shape[1], cfg.hidden, ds.actions), model, surrogate.contexts(ds, cfg, s_ctx),
                   cfg.resolved_outcomes(), list(cfg.objectives), costs, np, risk=risk)
    with np.load(out / "population.npz", allow_pickle=False) as z:
        theta = z["theta"]
    return prob, theta


def _risky(tiny_config, risk: float):
    # One maximised and one minimised objective: the adjustment moves each against its sense.
    return dataclasses.replace(tiny_config, predictor={"kind": "forest", "trees": 8}, population=12, generations=2,
                               objectives=[("revenue", "max"), ("margin", "min")], risk=risk).validate()


def test_risk_run_reports_means_and_adds_risk_columns_and_ranks_on_them(tiny_config, tmp_path):
    cfg = _risky(tiny_config, K)
    res = evolve(cfg, tmp_path)
    rows = _rows(tmp_path / "pareto.csv")
    assert {"risk_revenue", "risk_margin", "std_revenue", "std_margin"} <= set(rows[0])

    plain, theta = _problem(cfg, tmp_path, 0.0)
    means = plain.evaluate(theta)  # risk 0: the unadjusted mean predictions
    M, S = plain.outcome_stats(theta)
    ids = [int(r["id"]) for r in rows]
    got = np.array([[float(r["revenue"]), float(r["margin"])] for r in rows])
    np.testing.assert_allclose(got, means[ids], rtol=1e-5)
    risk = np.array([[float(r["risk_revenue"]), float(r["risk_margin"])] for r in rows])
    np.testing.assert_allclose(risk[:, 0], (M[:, 0] - K * S[:, 0])[ids], rtol=1e-5)  # max: mean - K*std
    np.testing.assert_allclose(risk[:, 1], (M[:, 1] + K * S[:, 1])[ids], rtol=1e-5)  # min: mean + K*std
    assert (S[ids] > 0).all() and (risk[:, 0] < got[:, 0]).all() and (risk[:, 1] > got[:, 1]).all()
    np.testing.assert_allclose(res.F, means, rtol=1e-5)
    np.testing.assert_allclose(res.risk_F, _problem(cfg, tmp_path, K)[0].evaluate(theta), rtol=1e-5)
    with np.load(tmp_path / "population.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["F"], res.F)
        np.testing.assert_array_equal(z["risk_F"], res.risk_F)

    # The knee is chosen on what the run ranked (the adjusted values), in pareto.csv and in the model.
    knee = pyfunc_model.knee_index(pyfunc_model.minimised(res.risk_F, cfg.objectives), res.rank, None)
    assert [int(r["id"]) for r in rows if r["is_knee"] == "true"] == [knee]
    model = pyfunc_model.LeafEspModel(str(tmp_path / "model" / "data"))
    assert model.candidate_rows("knee") == [knee]
    meta = json.loads((tmp_path / "model" / "data" / pyfunc_model.MODEL_JSON).read_text())
    assert meta["risk"] == K
    # What the model says a candidate is predicted to achieve: the means, as pareto.csv's columns.
    assert model.predicted(knee) == {"revenue": float(res.F[knee, 0]), "margin": float(res.F[knee, 1])}


def test_without_risk_there_are_no_risk_columns(tiny_config, tmp_path):
    res = evolve(_risky(tiny_config, 0.0), tmp_path)
    assert res.risk_F is None
    assert not any(c.startswith("risk_") for c in _rows(tmp_path / "pareto.csv")[0])
    meta = json.loads((tmp_path / "model" / "data" / pyfunc_model.MODEL_JSON).read_text())
    assert "risk" not in meta and "means" not in meta["candidates"]
    with np.load(tmp_path / "population.npz", allow_pickle=False) as z:
        assert "risk_F" not in z.files


def test_progress_and_history_of_a_risk_run_say_their_values_are_risk_adjusted(tiny_config, tmp_path):
    from leafctl.esp.monitors import progress_line
    from leafctl.evolve import parse_progress

    lines = []
    evolve(_risky(tiny_config, K), tmp_path / "r", log=lines.append)
    recs = [json.loads(x) for x in (tmp_path / "r" / "progress.jsonl").read_text().splitlines()]
    assert recs and all(r["risk"] == K for r in recs)
    shown = [ln for ln in lines if parse_progress(ln)]
    assert shown and all(f"risk-adjusted K={K:g}  revenue " in ln for ln in shown)
    back = parse_progress(shown[-1])  # what `run evolve` and `run logs` read from a job's log
    assert back["risk"] == K and set(back["best"]) == {"revenue", "margin"} and back["hypervolume"] is not None
    hist = list(csv.DictReader(open(tmp_path / "r" / "history.csv")))
    assert [float(h["risk"]) for h in hist] == [K] * len(recs)
    # Without risk: no key, no words, no column (the files keep their shape).
    evolve(_risky(tiny_config, 0.0), tmp_path / "p")
    rec = json.loads((tmp_path / "p" / "progress.jsonl").read_text().splitlines()[-1])
    assert "risk" not in rec and "risk" not in progress_line(rec) and "risk" not in parse_progress(progress_line(rec))
    assert "risk" not in next(csv.DictReader(open(tmp_path / "p" / "history.csv")))


def test_risk_run_resumes_byte_identically(tiny_config, tmp_path):
    cfg = _risky(tiny_config, K)
    evolve(dataclasses.replace(cfg, generations=3), tmp_path / "straight")
    evolve(cfg, tmp_path / "cut")
    evolve(dataclasses.replace(cfg, generations=3), tmp_path / "cut", resume=True)
    a = (tmp_path / "straight" / "pareto.csv").read_text()
    assert a == (tmp_path / "cut" / "pareto.csv").read_text() and "risk_revenue" in a


def test_island_run_with_risk_reports_means_of_the_merged_population(tiny_config, tmp_path):
    cfg = dataclasses.replace(_risky(tiny_config, K), islands=2, migrate_every=1, migrants=2).validate()
    res = evolve(cfg, tmp_path)
    plain, theta = _problem(cfg, tmp_path, 0.0)
    np.testing.assert_allclose(res.F, plain.evaluate(theta), rtol=1e-5)
    np.testing.assert_allclose(res.risk_F, _problem(cfg, tmp_path, K)[0].evaluate(theta), rtol=1e-5)
    assert "risk_margin" in _rows(tmp_path / "pareto.csv")[0]


def test_cli_json_and_model_prescribe_report_means_with_risk(cli, tmp_path):
    r = cli("run", "evolve", "--sample", "campaign", "--predictor", "forest", "--risk", "20",
            "--population", "12", "--generations", "1", "-o", "json")
    assert r.code == 0, r
    # The progress says what it shows: last on the line, so a narrow progress bar cuts it first.
    assert re.search(r"generation 1/1  revenue \S+  margin \S+  hv \S+  \(risk K=20\)", r.stderr), r.stderr
    run = r.json()
    rows = {int(x["id"]): x for x in _rows(Path(run["outputs_path"]) / "result" / "pareto.csv")}
    knee = run["knee"]
    row = rows[knee["id"]]
    assert row["is_knee"] == "true"
    # objectives: the means (pareto.csv's columns); risk_adjusted: what the run ranked on.
    assert knee["objectives"] == {"revenue": float(row["revenue"]), "margin": float(row["margin"])}
    assert knee["risk_adjusted"] == {"revenue": float(row["risk_revenue"]), "margin": float(row["risk_margin"])}
    assert knee["risk_adjusted"]["revenue"] < knee["objectives"]["revenue"]
    for f in run["front"]:
        assert f["objectives"]["revenue"] == float(rows[f["id"]]["revenue"])
        assert f["risk_adjusted"]["revenue"] == float(rows[f["id"]]["risk_revenue"])

    assert cli("model", "register", "esp", "--run", run["id"], "-o", "none").code == 0
    contexts = tmp_path / "contexts.csv"
    contexts.write_text("age,income,past_spend,visits,region,channel\n35,62.0,480.5,4,north,web\n")
    out = cli("model", "prescribe", "esp", "--input", str(contexts))
    assert out.code == 0, out
    assert f"candidate knee = id {knee['id']}; predicted over the training contexts: " in out.stderr
    assert f"revenue {knee['objectives']['revenue']:.5g} (max)" in out.stderr
    assert f"revenue {knee['risk_adjusted']['revenue']:.5g}" not in out.stderr
