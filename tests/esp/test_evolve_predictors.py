"""Whole runs with the new predictors: risk-adjusted objectives and std columns in pareto.csv, resume
with a forest, and the island model broadcasting a forest's plain arrays."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np

from leafctl.esp import predictors, surrogate
from leafctl.esp.engine import check_config, evolve
from leafctl.esp.evaluate import Problem
from leafctl.esp.prescriptor import Layout


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _forest(tiny_config, **kw):
    return dataclasses.replace(tiny_config, predictor={"kind": "forest", "trees": 8}, population=12,
                               generations=2, **kw).validate()


def test_risk_run_optimises_mean_minus_k_std_and_reports_std(tiny_config, tmp_path):
    cfg = _forest(tiny_config, risk=1.5)
    res = evolve(cfg, tmp_path)
    rows = _rows(tmp_path / "pareto.csv")
    assert {"std_revenue", "std_margin"} <= set(rows[0])
    # Recompute the final population with the saved predictor, on the run's own contexts.
    ds, costs = check_config(cfg)
    model = predictors.load(tmp_path / "predictor.npz")
    assert model.kind == "forest"
    s_ctx = np.random.SeedSequence(cfg.seed).spawn(3)[1]
    with np.load(tmp_path / "population.npz", allow_pickle=False) as z:
        theta = z["theta"]
    prob = Problem(Layout(ds.Xc.shape[1], cfg.hidden, ds.actions), model, surrogate.contexts(ds, cfg, s_ctx),
                   cfg.resolved_outcomes(), list(cfg.objectives), costs, np)
    M, S = prob.outcome_stats(theta)
    assert (S > 0).all()
    # Ranked on mean - K*std (both objectives are max; risk_F), reported as the means (F).
    np.testing.assert_allclose(res.risk_F[:, 0], M[:, 0] - 1.5 * S[:, 0], rtol=1e-5)
    np.testing.assert_allclose(res.risk_F[:, 1], M[:, 1] - 1.5 * S[:, 1], rtol=1e-5)
    np.testing.assert_allclose(res.F, M[:, :2], rtol=1e-5)
    for r in rows:
        assert abs(float(r["std_revenue"]) - S[int(r["id"]), 0]) <= 1e-5 * (1 + S[int(r["id"]), 0])


def test_runs_without_a_spread_write_no_std_columns(tiny_config, tmp_path):
    evolve(dataclasses.replace(tiny_config, predictor="ridge", generations=1).validate(), tmp_path)
    assert not any(c.startswith("std_") for c in _rows(tmp_path / "pareto.csv")[0])


def test_forest_run_resumes_byte_identically(tiny_config, tmp_path):
    cfg = _forest(tiny_config)
    evolve(dataclasses.replace(cfg, generations=3), tmp_path / "straight")
    evolve(cfg, tmp_path / "cut")
    evolve(dataclasses.replace(cfg, generations=3), tmp_path / "cut", resume=True)
    a = (tmp_path / "straight" / "pareto.csv").read_text()
    assert a == (tmp_path / "cut" / "pareto.csv").read_text() and "std_revenue" in a


def test_islands_share_the_lead_forest(tiny_config, tmp_path):
    cfg = dataclasses.replace(_forest(tiny_config), islands=2, migrate_every=1, migrants=1)
    res = evolve(cfg, tmp_path)
    # 2 islands of 12, merged with the migrants' copies dropped (each genome once)
    assert res.predictor_metrics["predictor"] == "forest" and res.F.shape[1] == 2 and 12 < res.F.shape[0] <= 24
    assert "std_margin" in _rows(tmp_path / "pareto.csv")[0]
