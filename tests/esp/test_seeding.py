"""Issue 10 item 5: generation 0 seeded from the data (behaviour clones, min/max action policies), the
historical baseline, and genomes carried between runs (seeding.py). The engine's own parts throughout."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from leafctl.errors import UsageError
from leafctl.esp import seeding
from leafctl.esp.data import ColumnSpec, load_dataset
from leafctl.esp.engine import config_from_dict, evolve
from leafctl.esp.prescriptor import Layout, cost_table, decode, forward
from leafctl.esp.samples import sample_config

from .conftest import write_csv


def _historical_table(n: int = 1500, seed: int = 1):
    """Contexts X (n, 3) and actions that are a known function of them: a continuous share of [0, 0.5], a
    binary threshold and a 3-way categorical argmax; ColumnSpecs and the encoding load_dataset makes."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    v = 0.5 / (1.0 + np.exp(-(1.2 * X[:, 0] - 0.8 * X[:, 1])))
    b = (X[:, 2] > 0.3).astype(float)
    cat = np.argmax(np.stack([X[:, 0], X[:, 1], -X[:, 0] - X[:, 1]], axis=1), axis=1)
    actions = [ColumnSpec("dose", "numeric", mean=v.mean(), std=v.std(), lo=v.min(), hi=v.max()),
               ColumnSpec("flag", "binary"), ColumnSpec("arm", "categorical", categories=["a", "b", "c"])]
    Xa = np.concatenate([((v - v.mean()) / v.std())[:, None], b[:, None], np.eye(3)[cat]], axis=1)
    return X, Xa, actions, (v, b, cat)


def _decoded(theta, X, layout):
    nat, _, _ = decode(forward(theta, X.astype(np.float32), layout), layout, cost_table(layout.actions, {}))
    return nat


def test_behaviour_clones_reproduce_the_historical_actions():
    X, Xa, actions, (v, b, cat) = _historical_table()
    layout = Layout(3, 16, actions)
    theta = seeding.clone_policies(layout, X, Xa, 6, np.random.default_rng(0))
    assert theta.shape == (6, layout.D) and theta.dtype == np.float32 and np.all(theta != 0)
    nat = _decoded(theta, X, layout)
    for k in range(6):  # every clone, not just the best: each has its own hidden layer and bootstrap rows
        assert np.abs(nat[k, :, 0] - v).mean() < 0.04 * (v.max() - v.min()), k
        assert (nat[k, :, 1] == b).mean() > 0.92, k
        assert (nat[k, :, 2] == cat).mean() > 0.88, k
    # Different hidden layers: the clones are not one genome six times.
    assert len({theta[k].tobytes() for k in range(6)}) == 6
    # Random prescriptors are nowhere near: the thresholds above mean something.
    rand = _decoded(layout.init(np.random.default_rng(5), 6), X, layout)
    assert all(np.abs(rand[k, :, 0] - v).mean() > 0.1 * (v.max() - v.min()) for k in range(6))


def test_min_and_max_policies_decode_to_lo_and_hi_and_cover_each_category():
    X, Xa, actions, (v, _, _) = _historical_table(n=400)
    layout = Layout(3, 8, actions)
    theta = seeding.extreme_policies(layout, np.random.default_rng(0))
    nat = _decoded(theta, X, layout)
    lo, hi, span = actions[0].lo, actions[0].hi, actions[0].hi - actions[0].lo
    half = len(theta) // 2
    assert np.all(np.abs(nat[:half, :, 0] - lo) < 1e-3 * span) and np.all(nat[:half, :, 1] == 0)
    assert np.all(np.abs(nat[half:, :, 0] - hi) < 1e-3 * span) and np.all(nat[half:, :, 1] == 1)
    # A categorical action takes each category in some policy, the same for every context.
    assert set(nat[:half, 0, 2].tolist()) == {0.0, 1.0, 2.0} == set(nat[half:, 0, 2].tolist())
    assert np.all(nat[:, :, 2] == nat[:, :1, 2])


def test_generation_zero_holds_the_seeds_then_the_unseeded_random_members(tiny_config, tmp_path):
    cfg = config_from_dict({"generations": 0, "predictor": "ridge", "contexts_sample": 0}, tiny_config).validate()
    evolve(cfg, tmp_path / "seeded")
    with np.load(tmp_path / "seeded" / "population.npz") as z:
        seeded = z["theta"]
    plain_cfg = config_from_dict({"seed_policies": False}, cfg).validate()
    evolve(plain_cfg, tmp_path / "plain")
    with np.load(tmp_path / "plain" / "population.npz") as z:
        plain = z["theta"]
    ds = load_dataset(cfg.data, cfg.context, cfg.actions, cfg.resolved_outcomes())
    layout = Layout(ds.Xc.shape[1], cfg.hidden, ds.actions)
    seeds = seeding.policy_seeds(layout, ds.Xc, ds.Xa, seeding.seed_budget(cfg.population),
                                 seeding.seeding_rng(cfg.seed))
    S = len(seeds)
    assert S == 4  # population 20: two clones, the min and the max policy
    np.testing.assert_array_equal(seeded[:S], seeds)
    # The random members are the unseeded run's first members: seeding draws from a stream of its own.
    np.testing.assert_array_equal(seeded[S:], plain[:cfg.population - S])
    # Generation 0 holds the min and the max policy: every context gets the lowest (highest) discount.
    nat = _decoded(seeded, ds.Xc, layout)
    d = ds.actions[0]
    assert np.all(np.abs(nat[1, :, 0] - d.lo) < 1e-3 * (d.hi - d.lo))
    assert np.all(np.abs(nat[2, :, 0] - d.hi) < 1e-3 * (d.hi - d.lo))
    # A small population is seeded at most half-way; a population of 2 gets one clone.
    assert seeding.seed_budget(2) == 1 and seeding.seed_budget(7) == 3


def test_baseline_is_the_predictor_on_the_data_rows_and_the_front_matches_or_beats_it(tmp_path):
    cfg = sample_config("campaign", population=40, generations=15, predictor="ridge",
                        objectives=["revenue:max", "margin:max", "action_cost:min"], seed=0)
    evolve(cfg, tmp_path / "run")
    base = json.loads((tmp_path / "run" / "baseline.json").read_text())
    # action_cost of the historical actions, from the CSV itself: 10 x discount + 1 x emails per row.
    with open(cfg.data, newline="") as fh:
        rows = list(csv.DictReader(fh))
    cost = np.mean([10.0 * float(r["discount"]) + float(r["emails"]) for r in rows])
    assert base["objectives"]["action_cost"] == pytest.approx(cost, rel=1e-9)
    assert base["observed"]["revenue"] == pytest.approx(np.mean([float(r["revenue"]) for r in rows]))
    assert base["rows"] == len(rows)
    # The surrogate's mean prediction over the rows' own (context, action) pairs.
    from leafctl.esp import surrogate

    predictor, _ = surrogate.load(tmp_path / "run")
    ds = load_dataset(cfg.data, cfg.context, cfg.actions, cfg.resolved_outcomes())
    mean = seeding._predict_mean(predictor, np.concatenate([ds.Xc, ds.Xa], axis=1).astype(np.float32)).mean(0)
    assert base["objectives"]["revenue"] == pytest.approx(mean[0], rel=1e-5)
    assert base["objectives"]["margin"] == pytest.approx(mean[1], rel=1e-5)
    # Some prescribed candidate is at least as good as today in every objective. Measured over seeds
    # 0-9 at this budget: so in 9 of 10 (seed 4 is the exception), with or without the seeds; with
    # uniform crossover in place of blend, 10 of 10.
    for seed in (0, 1, 2):
        run = tmp_path / "run" if seed == 0 else tmp_path / f"run{seed}"
        if seed:
            evolve(dataclasses.replace(cfg, seed=seed), run)
        with open(run / "pareto.csv", newline="") as fh:
            front = [r for r in csv.DictReader(fh) if r["rank"] == "1"]
        b = json.loads((run / "baseline.json").read_text())["objectives"]
        assert any(float(r["revenue"]) >= b["revenue"] and float(r["margin"]) >= b["margin"]
                   and float(r["action_cost"]) <= b["action_cost"] for r in front), (seed, b, front[:5])


def test_genomes_carry_the_context_standardisation_over_exactly(tmp_path):
    """Genomes evolved on one table prescribe the same actions for the same raw contexts on another
    table whose numeric contexts have other means and spreads."""
    rng = np.random.default_rng(0)
    raw = rng.normal(50, 10, size=(200, 2))
    old = [ColumnSpec("a", "numeric", mean=50.0, std=10.0), ColumnSpec("b", "numeric", mean=48.0, std=12.0)]
    new = [ColumnSpec("a", "numeric", mean=55.0, std=7.0), ColumnSpec("b", "numeric", mean=40.0, std=20.0)]
    enc = lambda specs: np.stack([(raw[:, j] - s.mean) / s.std for j, s in enumerate(specs)], axis=1)  # noqa: E731
    layout = Layout(2, 8, [ColumnSpec("dose", "numeric", mean=0.5, std=0.2, lo=0.0, hi=1.0)])
    theta = layout.init(np.random.default_rng(1), 5)
    moved = seeding.reencode_contexts(theta, layout, [s.to_dict() for s in old], [s.to_dict() for s in new])
    np.testing.assert_allclose(_decoded(moved, enc(new), layout), _decoded(theta, enc(old), layout), atol=2e-5)
    assert not np.allclose(_decoded(theta, enc(new), layout), _decoded(theta, enc(old), layout), atol=1e-3)


def test_seed_genomes_of_another_layout_are_refused_by_name(tiny_config, tmp_path):
    cfg = config_from_dict({"generations": 0, "predictor": "ridge"}, tiny_config).validate()
    evolve(cfg, tmp_path / "first")
    g = seeding.Genomes.load(tmp_path / "first")
    ds = load_dataset(cfg.data, cfg.context, cfg.actions, cfg.resolved_outcomes())
    assert g.theta.shape == (cfg.population, Layout(ds.Xc.shape[1], cfg.hidden, ds.actions).D)
    assert (np.diff(g.rank) >= 0).all()  # best first
    wider = Layout(ds.Xc.shape[1], cfg.hidden * 2, ds.actions)
    with pytest.raises(UsageError, match="hidden = 8; this run has hidden = 16"):
        g.for_layout(wider, ds.context, "--seed-from")
    fewer = load_dataset(cfg.data, cfg.context[:-1], cfg.actions, cfg.resolved_outcomes())
    with pytest.raises(UsageError, match="context columns"):
        g.for_layout(Layout(fewer.Xc.shape[1], cfg.hidden, fewer.actions), fewer.context, "--seed-from")
    # Through the engine: seed_from names the first run's folder; a narrower table is exit 2 naming it.
    with open(cfg.data, newline="") as fh:
        rows = list(csv.reader(fh))
    keep = [j for j, h in enumerate(rows[0]) if h != "channel"]
    narrow = write_csv(tmp_path / "narrow.csv", [rows[0][j] for j in keep], [[r[j] for j in keep] for r in rows[1:]])
    bad = config_from_dict({"data": str(narrow), "context": [c for c in cfg.context if c != "channel"],
                            "seed_from": str(tmp_path / "first")}, cfg).validate()
    with pytest.raises(UsageError, match="layout differs") as e:
        evolve(bad, tmp_path / "second")
    assert e.value.exit_code == 2 and "channel" in str(e.value)
    # The same layout seeds: the first run's front is in generation 0, after the three data seeds.
    ok = config_from_dict({"seed_from": str(tmp_path / "first")}, cfg).validate()
    evolve(ok, tmp_path / "third")
    with np.load(tmp_path / "third" / "population.npz") as z:
        theta = z["theta"]
    front = g.front().theta
    n = min(len(front), seeding.seed_budget(cfg.population) - 3)
    np.testing.assert_allclose(theta[3:3 + n], front[:n], atol=1e-6)
    assert json.loads((tmp_path / "third" / "lineage.json").read_text()) == {"seeded_from": str(tmp_path / "first")}


def test_a_warm_start_of_islands_shares_the_population_out_and_re_evaluates_it(tiny_config, tmp_path):
    cfg = config_from_dict({"generations": 1, "predictor": "ridge", "population": 16}, tiny_config).validate()
    evolve(cfg, tmp_path / "first")
    prior = seeding.Genomes.load(tmp_path / "first")
    warm = config_from_dict({"islands": 2, "population": 8, "generations": 0,
                             "warm_start": str(tmp_path / "first")}, cfg).validate()
    evolve(warm, tmp_path / "islands")
    with np.load(tmp_path / "islands" / "population.npz") as z:
        theta, F = z["theta"], z["F"]
    # Island i starts from every second member, best first: the best two are on different islands.
    np.testing.assert_array_equal(theta[:8], prior.theta[0::2])
    np.testing.assert_array_equal(theta[8:], prior.theta[1::2])
    from leafctl.esp import surrogate
    from leafctl.esp.evaluate import Problem

    ds = load_dataset(cfg.data, cfg.context, cfg.actions, cfg.resolved_outcomes())
    layout = Layout(ds.Xc.shape[1], cfg.hidden, ds.actions)
    predictor, _ = surrogate.load(tmp_path / "islands")
    problem = Problem(layout, predictor, surrogate.contexts(ds, warm, np.random.SeedSequence(warm.seed).spawn(3)[1]),
                      cfg.resolved_outcomes(), list(cfg.objectives), cost_table(ds.actions, cfg.action_cost))
    np.testing.assert_allclose(F, problem.evaluate(theta), rtol=1e-6)
    assert json.loads((tmp_path / "islands" / "lineage.json").read_text()) == {"warm_started_from": str(tmp_path / "first")}
