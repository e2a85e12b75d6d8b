"""History mutation (leafctl/esp/operators.py) where a hostile reading found it wanting: the refit that
keeps the other contexts' actions must be exact up to hidden + 1 contexts, donors must decode to the
rows' own actions (bounds included), a table of many rows and few contexts still uses it, -0.0 is
the context 0.0, and island runs use it as plain runs do. The rhea-domain checks are in
test_quality.py."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from leafctl.esp import operators as ops
from leafctl.esp import prescriptor as presc
from leafctl.esp import seeding
from leafctl.esp.config import EvolveConfig
from leafctl.esp.data import load_dataset
from leafctl.esp.xp import DeviceRandom


def _table(path: Path, levels: int, rows_per: int = 12, seed: int = 0, emails_hi: int = 4) -> Path:
    """One categorical context of ``levels`` levels; a binary, an integer (0..emails_hi), a numeric and a
    categorical action; one outcome."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["region", "sms", "emails", "discount", "offer", "revenue"])
        for i in range(levels * rows_per):
            emails = int(rng.integers(0, emails_hi + 1)) if i % 5 else (0 if i % 2 else emails_hi)
            w.writerow([f"r{i % levels}", int(rng.integers(0, 2)), emails, f"{rng.uniform(0, 0.3):.4f}",
                        "abc"[int(rng.integers(0, 3))], f"{rng.normal(100, 5):.3f}"])
    return path


def _setup(path: Path, hidden: int):
    ds = load_dataset(path, ["region"], ["sms", "emails", "discount", "offer"], ["revenue"])
    layout = presc.Layout(ds.Xc.shape[1], hidden, ds.actions)
    contexts, every = ops.context_sample(ds.Xc.astype(np.float32), 32)
    return ds, layout, contexts.astype(np.float32), every


def _decoded(theta, contexts, layout):
    return presc.decode(presc.forward(theta, contexts, layout, np), layout, np.zeros(layout.n_out, np.float32), np)[0]


@pytest.mark.parametrize("levels, hidden", [(17, 16), (16, 16), (8, 16), (4, 3), (2, 1)])
def test_the_refit_keeps_every_other_context_exactly_up_to_hidden_plus_one(tmp_path, levels, hidden):
    ds, layout, contexts, every = _setup(_table(tmp_path / "t.csv", levels), hidden)
    assert every and len(contexts) == levels <= hidden + 1
    donors, counts = ops.history_donors(contexts, *seeding.history(layout, ds))
    theta = layout.init(np.random.default_rng(1), 300)
    before = _decoded(theta, contexts, layout)
    after = _decoded(ops.history_mutation(DeviceRandom(np, np.random.default_rng(2)), theta, layout, contexts,
                                          donors, counts, 1.0), contexts, layout)
    moved = np.any(np.abs(before - after) > 1e-3 * np.array([a.hi - a.lo if a.kind == "numeric" else 1
                                                              for a in layout.actions]), axis=2)
    # Measured before the relative ridge (absolute 1e-3): 17 levels 8 of 300 genomes kept every other
    # context, 16 levels 20, 8 levels 275.
    assert (moved.sum(1) <= 1).mean() >= 0.99, (moved.sum(1) > 1).sum()


def test_donors_decode_to_the_rows_own_actions_bounds_included(tmp_path):
    ds, layout, contexts, _ = _setup(_table(tmp_path / "t.csv", 4, emails_hi=100), 8)
    Xc, T = seeding.history(layout, ds)
    natural = presc.decode(T.astype(np.float32), layout, np.zeros(layout.n_out, np.float32), np)[0]
    with open(tmp_path / "t.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    emails = np.array([float(r["emails"]) for r in rows])
    assert emails.min() == 0 and emails.max() == 100  # the range's own ends are in the data
    np.testing.assert_array_equal(natural[:, 1], emails)  # integer: exact, 0 and 100 too
    np.testing.assert_allclose(natural[:, 2], [float(r["discount"]) for r in rows], atol=1e-5 * 0.3)
    # The clones' targets (seeding.EPS = 0.01) would bring the ends one unit in.
    clone = presc.decode(seeding.action_targets(layout.actions, ds.Xa).astype(np.float32), layout,
                         np.zeros(layout.n_out, np.float32), np)[0]
    assert clone[:, 1].min() >= 1 and clone[:, 1].max() <= 99


def test_a_long_table_of_few_contexts_still_gets_every_context(tmp_path):
    X = np.repeat(np.eye(5, dtype=np.float32), 2000, axis=0)[np.random.default_rng(0).permutation(10000)]
    sample, every = ops.context_sample(X, 32)
    assert every and len(sample) == 5  # the strided subset alone (stride 4) would have said "not every"
    # Many distinct contexts: the strided subset decides, as before.
    Y = np.random.default_rng(1).random((10000, 3)).astype(np.float32)
    sample, every = ops.context_sample(Y, 32)
    assert not every and len(sample) == 32


def test_minus_zero_is_the_context_zero():
    contexts = np.array([[0.0], [1.0]], np.float32)
    Xc = np.array([[-0.0], [0.0], [1.0], [-0.0]], np.float32)
    donors, counts = ops.history_donors(contexts, Xc, np.arange(4, dtype=np.float32)[:, None], per_context=4)
    assert counts.tolist() == [3, 1]
    assert sorted(set(donors[0, :, 0].tolist())) == [0.0, 1.0, 3.0]


def test_an_island_run_uses_history_mutation(tmp_path, monkeypatch):
    from leafctl.esp.engine import evolve

    calls = []
    real = ops.history_mutation
    monkeypatch.setattr(ops, "history_mutation", lambda *a, **k: calls.append(1) or real(*a, **k))
    csv_path = _table(tmp_path / "t.csv", 4)
    cfg = EvolveConfig(data=str(csv_path), context=["region"], actions=["sms", "emails", "discount", "offer"],
                       outcomes=["revenue"], objectives=["revenue:max", "action_cost:min"],
                       action_cost={"emails": 1.0}, population=12, generations=2, seed=0, device="cpu",
                       predictor="ridge", islands=2, migrate_every=1, migrants=1).validate()
    evolve(cfg, tmp_path / "run", log=lambda s: None)
    assert len(calls) == 2 * 2  # each island, each generation (islands.py used to build it without history)



@pytest.mark.parametrize("change, built", [({}, 1), ({"mode": "leaf"}, 0), ({"mode": "nsga2"}, 0),
                                           ({"history_prob": 0.0}, 0), ({"hidden": 2}, 0)])
def test_the_data_rows_are_copied_only_for_a_run_that_uses_history_mutation(tmp_path, monkeypatch, change, built):
    # seeding.history copies every row's actions as float64 targets: a table of millions of rows pays
    # for it only when history mutation runs (mode esp, history_prob > 0, at most hidden + 1 contexts;
    # hidden 2 with 4 contexts is more).
    from leafctl.esp.engine import evolve

    calls = []
    real = seeding.history
    monkeypatch.setattr(seeding, "history", lambda *a: calls.append(1) or real(*a))
    csv_path = _table(tmp_path / "t.csv", 4)
    cfg = EvolveConfig(data=str(csv_path), context=["region"], actions=["sms", "emails", "discount", "offer"],
                       outcomes=["revenue"], objectives=["revenue:max", "action_cost:min"],
                       action_cost={"emails": 1.0}, population=12, generations=2, seed=0, device="cpu",
                       predictor="ridge", **change).validate()
    evolve(cfg, tmp_path / "run", log=lambda s: None)
    assert len(calls) == built
