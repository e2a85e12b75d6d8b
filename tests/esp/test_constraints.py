"""Constraints: parsing, the violation, Deb's constrained-domination ranking, and a constrained run
whose outputs (pareto.csv cv, the model's constraints, model prescribe's choice) honour them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from leafctl.errors import UsageError
from leafctl.esp import constraints
from leafctl.esp.config import EvolveConfig
from leafctl.esp.engine import check_config, evolve
from leafctl.esp.evaluate import Problem
from leafctl.esp.nsga2 import (Constrained, constrained_rank, nondominated_rank, rank_and_crowding,
                               to_minimised)
from leafctl.esp.prescribe import candidate_note, chosen_candidates, prescribe
from leafctl.esp.pyfunc_model import LeafEspModel, knee_index

# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize("text,want", [
    ("action_cost<=5", ("action_cost", "<=", 5.0)),
    (" margin >= 100 ", ("margin", ">=", 100.0)),
    ("emails<=-2.5e1", ("emails", "<=", -25.0)),
])
def test_parse(text, want):
    c = constraints.parse(text)
    assert (c.name, c.op, c.bound) == want


@pytest.mark.parametrize("text,fragment", [
    ("margin<100", "'<'"),
    ("margin>100", "'>'"),
    ("margin==100", "'=='"),
    ("margin=100", "'='"),
    ("margin", "exactly one"),
    ("a<=1<=2", "exactly one"),
    ("a<=1>=0", "exactly one"),
    ("<=5", "nothing left"),
    ("margin>=lots", "not a number"),
    ("margin>=nan", "finite"),
    ("margin>=1e400", "finite"),
])
def test_bad_constraints_are_refused_in_one_line(text, fragment):
    with pytest.raises(UsageError) as e:
        constraints.parse(text)
    line = e.value.line()
    assert fragment in line and "\n" not in line and "NAME<=BOUND" in line


def test_config_names_and_outcomes():
    cfg = EvolveConfig(data="x.csv", actions=["discount"], objectives=["revenue:max", "action_cost:min"],
                       constraints=["margin>=10", "discount<=0.2", "action_cost<=3"])
    assert cfg.resolved_outcomes() == ["revenue", "margin"]  # a constrained outcome is predicted too
    with pytest.raises(UsageError, match="twice"):
        EvolveConfig(data="x.csv", actions=["d"], objectives=["y:max"], constraints=["y>=1", "y>=1"]).validate()
    with pytest.raises(UsageError, match="'<'"):
        EvolveConfig(data="x.csv", actions=["d"], objectives=["y:max"], constraints=["y<1"]).validate()


def test_unknown_names_are_refused_with_did_you_mean(tiny_config):
    for bad, close in (("marginn>=1", "margin"), ("action_cots<=1", "action_cost"), ("emial<=3", "emails")):
        tiny_config.constraints = [bad]
        with pytest.raises(UsageError) as e:
            check_config(tiny_config)
        assert f"did you mean {close!r}" in e.value.line(), e.value.line()
    tiny_config.constraints = ["region>=1"]  # a context column: as an outcome it clashes with its role
    with pytest.raises(UsageError, match="region"):
        check_config(tiny_config)


# ------------------------------------------------------------------ the ranking against an oracle

def _dominates(a: int, b: int, G: np.ndarray, cv: np.ndarray) -> bool:
    """Deb's constrained domination, written out."""
    fa, fb = cv[a] == 0, cv[b] == 0
    if fa and not fb:
        return True
    if not fa and not fb:
        return cv[a] < cv[b]
    if fb and not fa:
        return False
    return bool(np.all(G[a] <= G[b]) and np.any(G[a] < G[b]))


def _oracle(G: np.ndarray, cv: np.ndarray) -> np.ndarray:
    """Fronts by peeling: front r = the rows no remaining row dominates."""
    n = len(G)
    rank = np.zeros(n, dtype=int)
    left = set(range(n))
    r = 1
    while left:
        front = {i for i in left if not any(_dominates(j, i, G, cv) for j in left if j != i)}
        for i in front:
            rank[i] = r
        left -= front
        r += 1
    return rank


@pytest.mark.parametrize("seed", range(40))
def test_constrained_rank_matches_the_oracle(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 30)), int(rng.integers(1, 4))
    G = rng.integers(0, 5, size=(n, k)).astype(float)  # small integers: ties and duplicates
    kind = seed % 4
    if kind == 0:
        cv = np.zeros(n)  # all feasible
    elif kind == 1:
        cv = rng.integers(1, 4, size=n).astype(float) / 2  # all infeasible, with equal violations
    else:
        cv = np.where(rng.random(n) < 0.5, 0.0, rng.integers(1, 4, size=n) / 4)
    got = constrained_rank(G, cv)
    assert np.array_equal(got, _oracle(G, cv)), (G, cv, got)
    rank, crowd = rank_and_crowding(G, cv)
    assert np.array_equal(rank, got) and crowd.shape == (n,)


def test_without_violations_the_ranking_is_unchanged():
    rng = np.random.default_rng(3)
    G = rng.integers(0, 6, size=(50, 2)).astype(float)
    plain = nondominated_rank(G)
    assert np.array_equal(constrained_rank(G, np.zeros(50)), plain)
    r0, c0 = rank_and_crowding(G)
    r1, c1 = rank_and_crowding(G, np.zeros(50))
    assert np.array_equal(r0, r1) and np.array_equal(c0, c1)


def test_infeasible_never_outranks_feasible_and_nan_is_worst():
    G = np.array([[0.0, 0.0], [5.0, 5.0], [1.0, 1.0], [0.0, 1.0]])
    cv = np.array([0.5, 0.0, np.nan, 0.1])
    rank = constrained_rank(G, cv)
    assert rank.tolist() == [3, 1, 4, 2]  # the feasible (worst objectives) first; NaN violation last


def test_to_minimised_hands_the_violation_column_over():
    F = np.array([[10.0, 2.0, 0.0], [12.0, 1.0, 0.3]])
    m = to_minimised(F, ["max", "min", constraints.CV])
    assert isinstance(m, Constrained)
    assert m.G.tolist() == [[-10.0, 2.0], [-12.0, 1.0]] and m.cv.tolist() == [0.0, 0.3]
    rank, _ = rank_and_crowding(m)
    assert rank.tolist() == [1, 2]  # row 1 dominates in objectives but violates


# ------------------------------------------------------------------ the violation

def test_problem_violation_of_outcomes_actions_and_cost(tiny_config, tmp_path):
    from leafctl.esp import surrogate
    from leafctl.esp.prescriptor import Layout

    tiny_config.constraints = ["margin>=40", "emails<=3", "action_cost<=4"]
    ds, costs = check_config(tiny_config)
    bound = constraints.for_run(tiny_config, ds, costs)
    predictor, _ = surrogate.fit_or_load(tiny_config, ds, tmp_path, np.random.SeedSequence(0), reuse=False,
                                         say=lambda _m: None)
    layout = Layout(ds.Xc.shape[1], tiny_config.hidden, ds.actions)
    prob = Problem(layout, predictor, ds.Xc[:40], tiny_config.resolved_outcomes(), list(tiny_config.objectives),
                   costs, constraints=bound)
    theta = layout.init(np.random.default_rng(0), 16)
    F = prob.evaluate(theta)
    assert F.shape == (16, 3)  # revenue, margin objectives, then cv
    M = prob.outcome_means(theta)
    acts = prob.action_means(theta)
    spec = {s.name: s for s in ds.outcomes}
    emails = [a.name for a in ds.actions].index("emails")
    span = constraints.cost_span(ds.actions, costs)
    want = (np.maximum(0, 40 - M[:, 1]) / spec["margin"].std + np.maximum(0, acts[:, emails] - 3) / 10.0
            + np.maximum(0, M[:, -1] - 4) / span)
    np.testing.assert_allclose(F[:, 2], want, rtol=1e-5)
    assert (F[:, 2] >= 0).all() and (F[:, 2] > 0).any()


# ------------------------------------------------------------------ a constrained run end to end

def _pareto(out: Path) -> list[dict[str, str]]:
    with open(out / "pareto.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_constrained_run_front_is_feasible_and_outputs_report_cv(tiny_config, tmp_path):
    tiny_config.objectives = [("revenue", "max"), ("action_cost", "min")]
    tiny_config.outcomes = []
    tiny_config.constraints = ["action_cost<=2"]
    tiny_config.generations = 5
    res = evolve(tiny_config, tmp_path / "run")
    assert res.cv is not None and res.F.shape[1] == 2
    feasible = res.cv == 0
    assert feasible.any()  # feasible prescriptions exist (cheap ones) and were found
    assert (feasible[res.rank == 1]).all()  # the first front is all feasible
    assert (res.F[feasible, 1] <= 2 + 1e-9).all() and (res.F[~feasible, 1] > 2).all()
    rows = _pareto(tmp_path / "run")
    assert list(rows[0])[:6] == ["id", "rank", "crowding", "revenue", "action_cost", "cv"]
    for r in rows:
        assert (float(r["cv"]) == 0) == (float(r["action_cost"]) <= 2)
    meta = json.loads((tmp_path / "run" / "model" / "data" / "esp_model.json").read_text())
    assert meta["constraints"] == ["action_cost<=2"] and len(meta["candidates"]["cv"]) == len(rows)
    progress = [json.loads(line) for line in (tmp_path / "run" / "progress.jsonl").read_text().splitlines()]
    assert all("feasible" in p for p in progress)


def test_prescribe_honours_the_constraints(tiny_config, tmp_path):
    """An unconstrained run's model, given violations after the fact: knee and best:OBJ move to the
    feasible candidates; with none feasible, the least violating, and a note says so."""
    tiny_config.objectives = [("revenue", "max"), ("action_cost", "min")]
    tiny_config.outcomes = []
    tiny_config.generations = 2
    res = evolve(tiny_config, tmp_path / "run")
    data = tmp_path / "run" / "model" / "data"
    meta = json.loads((data / "esp_model.json").read_text())
    model = LeafEspModel(str(data))
    knee = model.candidate_rows("knee")[0]
    best = model.candidate_rows("best:revenue")[0]
    # make the unconstrained knee and best infeasible: both must move to a feasible candidate
    cv = np.zeros(len(res.F))
    cv[[knee, best]] = 1.0
    meta["constraints"], meta["candidates"]["cv"] = ["action_cost<=1"], cv.tolist()
    (data / "esp_model.json").write_text(json.dumps(meta))
    model = LeafEspModel(str(data))
    k2, b2 = model.candidate_rows("knee")[0], model.candidate_rows("best:revenue")[0]
    assert cv[k2] == 0 and cv[b2] == 0 and k2 != knee and b2 != best
    ctx = tmp_path / "ctx.csv"
    with open(tiny_config.data, newline="") as f:
        head = list(csv.reader(f))[:4]
    with open(ctx, "w", newline="") as f:
        csv.writer(f).writerows([r[:6] for r in head])
    header, rows = prescribe(tmp_path / "run", ctx)
    assert len(rows) == 3
    note = candidate_note("knee", chosen_candidates(tmp_path / "run", "knee"))
    assert "meets the constraints (action_cost<=1)" in note
    # none feasible: the least violating, and the note says so
    cv = np.arange(1.0, len(res.F) + 1)[::-1].copy()
    meta["candidates"]["cv"] = cv.tolist()
    (data / "esp_model.json").write_text(json.dumps(meta))
    model = LeafEspModel(str(data))
    assert model.candidate_rows("knee") == [int(np.argmin(cv))] and not model.any_feasible
    note = candidate_note("knee", chosen_candidates(tmp_path / "run", "knee"))
    assert "no candidate meets the constraints (action_cost<=1)" in note and "\n" not in note


def test_knee_index_only_among_feasible():
    G = np.array([[0.0, 10.0], [5.0, 5.0], [10.0, 0.0], [6.0, 6.0]])
    rank = np.array([1, 1, 1, 2])
    assert knee_index(G, rank) == 1
    assert knee_index(G, rank, np.array([0.0, 0.2, 0.0, 0.0])) in (0, 2)
    assert knee_index(G, rank, np.array([0.3, 0.2, 0.3, 0.1])) == 3  # none feasible: the least violating


@pytest.mark.parametrize("mode,islands", [("nsga2", 1), ("leaf", 2)])
def test_nsga2_mode_and_islands_rank_by_constrained_domination(tiny_config, tmp_path, mode, islands):
    """The nsga2 step's survival and the islands' migration and merge rank by the violation too."""
    tiny_config.objectives = [("revenue", "max"), ("margin", "max")]
    tiny_config.constraints = ["margin<=60"]  # binds: margin is maximised
    tiny_config.mode, tiny_config.islands, tiny_config.migrate_every = mode, islands, 2
    tiny_config.population, tiny_config.generations = 12, 4
    res = evolve(tiny_config, tmp_path / "run")
    feasible = res.cv == 0
    assert feasible.any() and feasible[res.rank == 1].all()
    assert (res.F[feasible, 1] <= 60 + 1e-9).all() and (res.F[~feasible, 1] > 60).all()
    if (~feasible).any():
        assert res.rank[feasible].max() < res.rank[~feasible].min()
    rows = _pareto(tmp_path / "run")  # best first: the feasible ones
    n = int(feasible.sum())
    assert [float(r["cv"]) == 0 for r in rows] == [True] * n + [False] * (len(rows) - n)
    # the constraint binds: without it the same run's front goes past margin 60
    tiny_config.constraints = []
    free = evolve(tiny_config, tmp_path / "free")
    assert free.cv is None and free.F[free.rank == 1, 1].max() > 60


def test_constrained_resume_is_identical(tiny_config, tmp_path):
    """The violation travels in the checkpoint with the objectives: a resumed run ends where an
    uninterrupted one does."""
    import dataclasses

    tiny_config.constraints = ["margin<=60", "emails>=2"]
    tiny_config.generations = 4
    whole = evolve(tiny_config, tmp_path / "whole")
    evolve(dataclasses.replace(tiny_config, generations=2), tmp_path / "part")
    resumed = evolve(tiny_config, tmp_path / "part", resume=True)
    assert np.array_equal(whole.F, resumed.F) and np.array_equal(whole.cv, resumed.cv)
    assert (tmp_path / "whole" / "pareto.csv").read_bytes() == (tmp_path / "part" / "pareto.csv").read_bytes()
    with pytest.raises(UsageError, match="different config"):
        evolve(dataclasses.replace(tiny_config, constraints=["margin<=61"]), tmp_path / "part", resume=True)
