"""Fronts near the optimum: the exact test domains, the operators of mode esp, and small-budget quality
checks whose thresholds fail on a broken optimiser (measured: see bench/RESULTS.md, "Fronts near the
optimum"). Domains and measures: tests/esp/domains.py."""

from __future__ import annotations

import numpy as np
import pytest

from .domains import Continuous, Rhea, TrueProblem, evolve_true, rhea_expert_genomes
from leafctl.esp.operators import (blend_crossover, context_crossover, decision_flip_mutation, decoded_behaviour,
                                   esp_step, first_of_each_behaviour, history_donors, history_mutation,
                                   real_vary)
from leafctl.esp.xp import DeviceRandom


@pytest.fixture(scope="module")
def rhea(tmp_path_factory):
    d = Rhea()
    return d, d.write_csv(tmp_path_factory.mktemp("rhea") / "rhea.csv")


@pytest.fixture(scope="module")
def continuous(tmp_path_factory):
    d = Continuous(n=200)
    return d, d.write_csv(tmp_path_factory.mktemp("cont") / "cont.csv")


# ------------------------------------------------------------------ the domains themselves

def test_rhea_exact_front_is_rhea_demos_eleven_points(rhea):
    d, _ = rhea
    pts = np.rint(d.exact_front() * 7).astype(int).tolist()
    assert pts == [[0, 0], [1, 2], [5, 5], [6, 7], [7, 10], [8, 11], [9, 15], [10, 19], [11, 23], [12, 27], [13, 31]]


def test_continuous_exact_front_beats_every_fixed_policy(continuous):
    d, _ = continuous
    assert d.hv_ratio(d.exact_front()) == pytest.approx(1.0)
    # Any one action pair for every context, swept over a grid, stays below the exact front: the
    # exact front really is the per-context optimum, and hv_ratio sees the difference.
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 21), np.linspace(0, 1, 21)), -1).reshape(-1, 2)
    A = np.broadcast_to(grid[:, None, :], (len(grid), d.x1.size, 2))
    F = d.objective_values(A, A @ d.p)
    assert 0.5 < d.hv_ratio(F) < 0.97
    # Every exact point is on the per-context optimum of its lambda: no fixed policy dominates one.
    G = np.stack([-F[:, 0], F[:, 1]], 1)
    E = np.stack([-d.exact_front()[:, 0], d.exact_front()[:, 1]], 1)
    assert not np.any(np.all(G[:, None, :] <= E[None, :, :] - 1e-9, axis=2))


# ------------------------------------------------------------------ operators

def _rhea_problem(rhea, hidden: int = 16) -> TrueProblem:
    d, csv = rhea
    return TrueProblem(d, csv, hidden)


def test_decision_flip_flips_exactly_the_chosen_decision(rhea):
    pb = _rhea_problem(rhea)
    host = np.random.default_rng(0)
    theta = pb.layout.init(host, 200)
    before, _ = pb.actions(theta)
    after, _ = pb.actions(decision_flip_mutation(DeviceRandom(np, host), theta, pb.layout, pb.X, 1.0, local=True))
    changed = (before != after).reshape(200, -1).sum(1)
    # Local fit over the 7 contexts (17 unknowns): one decision of one context flips, nothing else.
    assert np.all(changed == 1)


def test_context_crossover_acts_like_each_parent_somewhere(rhea):
    pb = _rhea_problem(rhea)
    host = np.random.default_rng(1)
    A, B = pb.layout.init(host, 100), pb.layout.init(host, 100)
    child, _ = pb.actions(context_crossover(DeviceRandom(np, host), A, B, pb.layout, pb.X, 1.0))
    a, _ = pb.actions(A)
    b, _ = pb.actions(B)
    like_a = np.all(child == a, axis=2)  # (P, contexts)
    like_b = np.all(child == b, axis=2)
    # Each context's actions come from one parent (the ridge fit may miss a decision that sits
    # within ~1e-3 of its threshold: measured 0.9986 of contexts).
    assert np.mean(like_a | like_b) > 0.99
    assert like_a.mean() > 0.3 and like_b.mean() > 0.3 and np.mean(like_b & ~like_a, axis=None) > 0.2


def test_history_donors_are_each_contexts_own_rows(rhea):
    pb = _rhea_problem(rhea)
    d, _ = rhea
    donors, counts = history_donors(pb.X, *pb.history(), per_context=40)
    # 30 rows of each of the 7 contexts; the 40 slots repeat them.
    assert counts.tolist() == [d.rows_per_context] * 7 and donors.shape == (7, 40, 10)
    Xc, T = pb.history()
    for k in range(7):
        own = {tuple(r) for r in T[np.all(Xc == pb.X[k], axis=1)].tolist()}
        assert {tuple(r) for r in donors[k].tolist()} == own


def test_history_mutation_takes_one_data_rows_actions_at_one_context(rhea):
    pb = _rhea_problem(rhea)
    d, _ = rhea
    host = np.random.default_rng(3)
    theta = pb.layout.init(host, 200)
    donors, counts = history_donors(pb.X, *pb.history())
    before, _ = pb.actions(theta)
    after, _ = pb.actions(history_mutation(DeviceRandom(np, host), theta, pb.layout, pb.X, donors, counts, 1.0))
    moved = np.any(before != after, axis=2)  # (P, contexts)
    # Refit over the 7 contexts (17 unknowns): only the chosen context changes (a random row may hold
    # the actions the genome already took there). Without the margin on kept binary decisions, the
    # ridge fit tipped a near-threshold decision elsewhere in 4% of these genomes ...
    one = moved.sum(1) <= 1
    assert one.all() and moved.sum() > 150
    # ... and where it changed, it now acts exactly as some data row of that context did.
    taken = np.rint(np.asarray(d.rows(np.random.default_rng(0))[1], dtype=object)[:, 1:11].astype(float))
    for p, c in zip(*np.nonzero(moved & one[:, None])):
        rows = taken[d.ctx == c]
        assert np.any(np.all(rows == after[p, c], axis=1)), (p, c)
    # Probability 0, or no history: nothing moves.
    assert np.array_equal(history_mutation(DeviceRandom(np, host), theta, pb.layout, pb.X, donors, counts, 0.0), theta)
    none = np.zeros_like(counts)
    assert np.array_equal(history_mutation(DeviceRandom(np, host), theta, pb.layout, pb.X, donors, none, 1.0), theta)


def test_history_mutation_runs_on_a_strict_device_stand_in(rhea, monkeypatch):
    # The GPU path without a GPU: every array of the operator stays a "device array" that refuses
    # numpy's own functions (tests/esp/strict_xp.py), and the result equals the NumPy path's.
    import leafctl.esp.operators as ops

    from .strict_xp import DeviceArray, module, to_host

    pb = _rhea_problem(rhea)
    theta = pb.layout.init(np.random.default_rng(4), 60)
    want = ops.history_mutation(DeviceRandom(np, np.random.default_rng(5)), theta, pb.layout, pb.X,
                                *history_donors(pb.X, *pb.history()), 1.0)
    xp = module()
    monkeypatch.setattr(ops, "array_module", lambda a: xp if isinstance(a, DeviceArray) else np)
    donors, counts = ops.history_donors(xp.asarray(pb.X), *(xp.asarray(a) for a in pb.history()))
    assert isinstance(donors, DeviceArray) and isinstance(counts, DeviceArray)
    got = ops.history_mutation(DeviceRandom(np, np.random.default_rng(5)), xp.asarray(theta), pb.layout,
                               xp.asarray(pb.X), donors, counts, 1.0)
    assert isinstance(got, DeviceArray)
    np.testing.assert_allclose(to_host(got), want, rtol=1e-5, atol=1e-6)


def test_first_of_each_behaviour_keeps_the_earliest():
    B = np.array([[1, 0], [0, 1], [1, 0], [0, 0], [0, 1]], float)
    assert first_of_each_behaviour(B).tolist() == [True, True, False, True, False]


def test_esp_step_keeps_distinct_behaviours(rhea):
    pb = _rhea_problem(rhea)
    d, _ = rhea
    r = DeviceRandom(np, np.random.default_rng(2))
    theta = pb.layout.init(r.host, 50)
    theta[25:] = theta[:25]  # half the population are clones
    F = pb.evaluate(theta)
    from leafctl.esp.nsga2 import rank_and_crowding, to_minimised
    from leafctl.esp.operators import esp_vary

    beh = decoded_behaviour(pb.layout, pb.X)
    vary = esp_vary(0.1, 0.1, decision_prob=1.0, layout=pb.layout, contexts=pb.X, context_prob=0.5)
    minimise = lambda F_: to_minimised(F_, d.senses)  # noqa: E731
    rank, crowd = rank_and_crowding(minimise(F))
    theta2, F2 = esp_step(r.for_step(), theta, F, rank, crowd, pb.evaluate, vary, minimise, beh)
    assert first_of_each_behaviour(beh(theta2)).all()
    np.testing.assert_array_equal(F2, pb.evaluate(theta2))


# ------------------------------------------------------------------ quality at small budgets

def _hv(d, csv, mode, P, G, seed):
    return d.hv_ratio(evolve_true(d, csv, d.config(csv, population=P, generations=G, seed=seed, mode=mode))[1])


def test_esp_gets_nearer_the_continuous_front_than_leaf(continuous):
    d, csv = continuous
    esp = _hv(d, csv, "esp", 40, 40, 0)
    leaf = _hv(d, csv, "leaf", 40, 40, 0)
    # Measured here: esp 0.960, leaf 0.904 (seed 0; before closest-pair pruning esp 0.951, nsga2 0.932). Survival that keeps the worst half
    # gives 0.30; a decision flip that does nothing still gives 0.950 (context crossover carries it at
    # this budget), which the operator test above and the rhea tests below catch instead.
    assert esp >= 0.94 and esp > leaf + 0.03, (esp, leaf)


def test_esp_on_the_three_objective_domain_beats_uniform_crossover(monkeypatch, tmp_path):
    import leafctl.esp.operators as ops

    d = Continuous(three=True)
    csv = d.write_csv(tmp_path / "c3.csv")
    blend = _hv(d, csv, "esp", 100, 100, 0)
    monkeypatch.setattr(ops, "blend_crossover", lambda rng, A, B: ops.uniform_crossover(rng, A, B))
    uniform = _hv(d, csv, "esp", 100, 100, 0)
    # Measured here (seed 0): blend 0.944, uniform 0.937 (before closest-pair pruning 0.932, 0.921; leaf 0.855
    # over seeds 0-2).
    assert blend >= 0.925 and blend > uniform + 0.005, (blend, uniform)


def test_blend_crossover_spreads_around_the_parents():
    r = DeviceRandom(np, np.random.default_rng(0))
    A = np.zeros((2000, 50), np.float32)
    B = np.ones((2000, 50), np.float32)
    C = blend_crossover(r, A, B)  # alpha 0.25: uniform on [-0.25, 1.25]
    assert C.dtype == np.float32 and C.min() >= -0.25 and C.max() <= 1.25
    assert abs(C.mean() - 0.5) < 0.01 and (C < 0).mean() > 0.1 and (C > 1).mean() > 0.1
    assert np.isclose(np.var(C), 1.5 ** 2 / 12, rtol=0.02)
    np.testing.assert_array_equal(blend_crossover(r, B, B), B)  # equal parents: equal child


def test_esp_finds_more_of_the_rhea_front_than_leaf(rhea):
    d, csv = rhea
    found = {m: [d.points_found(evolve_true(d, csv, d.config(csv, population=60, generations=60, seed=s, mode=m))[1])
                 for s in range(3)] for m in ("esp", "leaf")}
    # Measured here (seeds 0-2): esp [8, 9, 8], leaf [1, 1, 1]; esp without history mutation [2, 1, 2].
    assert min(found["esp"]) >= 7 and max(found["leaf"]) <= 2, found


def test_esp_finds_nine_of_the_rhea_fronts_eleven_points_at_the_default_budget(rhea):
    d, csv = rhea
    found = [d.points_found(evolve_true(d, csv, d.config(csv, population=100, generations=100, seed=s))[1])
             for s in range(3)]
    # The target, in every seed. Measured here: [11, 9, 9]; 48 seeds range 9-11 (mean 10.1).
    # Without history mutation: [7, 6, 6]; with the decision flip alone: 1-2.
    assert min(found) >= 9, found


def test_esp_combines_rheas_experts_into_most_of_the_front(rhea):
    d, csv = rhea
    found = []
    for seed in range(3):
        cfg = d.config(csv, population=60, generations=60, seed=seed, mode="esp")
        pb = TrueProblem(d, csv, cfg.hidden)
        host = np.random.default_rng(7)
        theta0 = pb.layout.init(host, cfg.population)
        theta0[:3] = rhea_expert_genomes(pb, host)
        # The experts alone hold 1 exact point ((5, 5)); combining them per context reaches more.
        assert d.points_found(pb.evaluate(theta0[:3])) == 1
        found.append(d.points_found(evolve_true(d, csv, cfg, theta0)[1]))
    # Measured here: [10, 9, 10]; before history mutation [4, 4, 5]; without context crossover [2, 2, 2].
    assert sum(found) >= 20, found


def _zdt1(X: np.ndarray) -> np.ndarray:
    f1 = X[:, 0]
    g = 1 + 9 * X[:, 1:].mean(1)
    return np.stack([f1, g * (1 - np.sqrt(f1 / g))], 1)


def test_esp_step_on_zdt1_matches_pymoo_quality():
    from leafctl.esp.nsga2 import hypervolume, rank_and_crowding

    r = DeviceRandom(np, np.random.default_rng(0))
    X = r.host.random((100, 30))
    G = _zdt1(X)
    vary = real_vary(np.zeros(30), np.ones(30))
    for _ in range(99):
        rank, crowd = rank_and_crowding(G)
        X, G = esp_step(r.for_step(), X, G, rank, crowd, _zdt1, vary, behaviour=lambda T: T)
    assert hypervolume(G, [1.1, 1.1]) >= 0.845  # pymoo 0.6.2's NSGA-II, same budget: 0.8486 (seed 0)


# ------------------------------------------------------------------ the fixed hypervolume reference

def test_hypervolume_reference_comes_from_the_data(continuous, tmp_path):
    from leafctl.esp import checkpoint, monitors
    from leafctl.esp.engine import evolve

    d, csv = continuous
    metas = []
    for seed, mode in ((0, "esp"), (1, "leaf")):
        cfg = d.config(csv, population=12, generations=2, seed=seed, mode=mode, hidden=4, seed_policies=False,
                       predictor="ridge")
        evolve(cfg, tmp_path / f"r{seed}")
        metas.append(checkpoint.load(tmp_path / f"r{seed}" / checkpoint.FILE)["meta"])
    assert metas[0]["hv_ref"] == metas[1]["hv_ref"]  # other seed, other mode: the same scale
    ideal, nadir = metas[0]["hv_ref"]
    rev = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=5)
    assert [ideal[0], nadir[0]] == pytest.approx([-rev.max(), -rev.min()])
    assert [ideal[1], nadir[1]] == pytest.approx([0.0, 2.5])  # a1 + 1.5 a2 over [0, 1]^2
    # The reported hypervolume is measured against it: the final population's (the rows before the
    # front archive's in population.npz).
    F = np.load(tmp_path / "r0" / "population.npz")["F"][:12]
    G = np.stack([-F[:, 0], F[:, 1]], 1)
    assert metas[0]["history"][-1]["hypervolume"] == pytest.approx(
        monitors.normalised_hv(G, np.asarray(ideal), np.asarray(nadir)))


def test_an_old_checkpoint_keeps_its_own_reference(continuous, tmp_path):
    from leafctl.esp import checkpoint, monitors
    from leafctl.esp.engine import evolve

    d, csv = continuous
    cfg = d.config(csv, population=12, generations=2, seed=0, mode="leaf", hidden=4, seed_policies=False,
                   predictor="ridge")
    evolve(cfg, tmp_path)
    path = tmp_path / checkpoint.FILE
    st = checkpoint.load(path)
    old_ref = [[-5.0, -1.0], [-1.0, 4.0]]  # as a generation-0 reference of an older run would be
    st["meta"]["hv_ref"] = old_ref
    checkpoint.save(path, st["theta"], st["F"], st["meta"])
    cfg.generations = 3
    evolve(cfg, tmp_path, resume=True)
    meta = checkpoint.load(path)["meta"]
    assert meta["hv_ref"] == old_ref
    F = np.load(tmp_path / "population.npz")["F"]
    G = np.stack([-F[:, 0], F[:, 1]], 1)
    assert meta["history"][-1]["hypervolume"] == pytest.approx(
        monitors.normalised_hv(G, np.asarray(old_ref[0]), np.asarray(old_ref[1])))


# ------------------------------------------------------------------ the CLI

def test_mode_elites_hidden_archive_flags_reach_the_config(cli):
    r = cli("run", "evolve", "--sample", "campaign", "--mode", "leaf", "--elites", "5", "--hidden", "8",
            "--generations", "3", "--population", "20", "--dry-run", "-o", "json")
    assert r.code == 0, r
    c = r.json()["config"]
    assert (c["mode"], c["elites"], c["hidden"]) == ("leaf", 5, 8)
    default = cli("run", "evolve", "--sample", "campaign", "--dry-run", "-o", "json").json()["config"]
    assert default["mode"] == "esp" and default["archive"] == 4
    r = cli("run", "evolve", "--sample", "campaign", "--archive", "0", "--dry-run", "-o", "json")
    assert r.code == 0 and r.json()["config"]["archive"] == 0, r
    r = cli("run", "evolve", "--sample", "campaign", "--archive", "-1", "--dry-run", "-o", "json")
    assert r.code == 2 and "archive -1 must be a whole number from 0 to 64" in r.stderr, r


def test_unknown_mode_is_a_usage_error(cli):
    r = cli("run", "evolve", "--sample", "campaign", "--mode", "fast", "--dry-run", "-o", "json")
    assert r.code == 2 and "unknown mode 'fast'" in r.stderr and "esp, leaf, nsga2" in r.stderr


def test_help_says_what_hypervolume_is_measured_against(cli):
    r = cli("run", "evolve", "--help", env={"COLUMNS": "200"})
    text = " ".join(r.stdout.split())
    assert "normalised by ranges fixed by the data" in text and "--mode" in text and "--elites" in text


def test_evolve_doc_says_what_hypervolume_is_measured_against():
    from pathlib import Path

    doc = " ".join((Path(__file__).resolve().parents[2] / "docs" / "evolve.md").read_text().split())
    assert "normalised by ranges fixed by the data" in doc and "`--mode leaf`" in doc
