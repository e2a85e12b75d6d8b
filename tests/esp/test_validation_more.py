"""Input checks a tester found missing (issue X2): senses, impossible constraints, predictor settings
that do nothing, the constraint hint, genomes of rearranged context columns, non-genome files."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from leafctl.errors import UsageError
from leafctl.esp import actions, constraints, seeding
from leafctl.esp.config import EvolveConfig, config_from_dict, load_config
from leafctl.esp.data import ColumnSpec
from leafctl.esp.prescriptor import Layout


def _cfg(**kw) -> EvolveConfig:
    base = {"data": "x.csv", "actions": ["discount"], "objectives": ["revenue:max"]}
    return config_from_dict({**base, **kw}).validate()


# --- 1. objectives without a sense

def test_bare_action_cost_is_minimised_in_every_spelling():
    for o in ("action_cost", ["action_cost", ""], {"name": "action_cost"}):
        assert _cfg(objectives=["revenue:max", o]).objectives == [("revenue", "max"), ("action_cost", "min")]
    assert _cfg(objectives=["revenue:max", "action_cost:max"]).objectives[1] == ("action_cost", "max")


@pytest.mark.parametrize("o", ["revenue", "revenue:", {"name": "revenue"}])
def test_bare_outcome_is_refused_asking_for_a_sense(o):
    with pytest.raises(UsageError) as e:
        _cfg(objectives=[o])
    assert "revenue" in e.value.what and "revenue:max or revenue:min" in e.value.hint


# --- 2. constraints no candidate can meet

def test_contradicting_bounds_on_one_name_are_refused_naming_both():
    with pytest.raises(UsageError) as e:
        constraints.parse_all(["discount<=0.2", "discount>=0.3", "margin>=1"])
    assert "discount>=0.3" in e.value.what and "discount<=0.2" in e.value.what
    # Touching bounds and bounds on different names are satisfiable.
    assert len(constraints.parse_all(["discount<=0.3", "discount>=0.3", "margin<=0.1"])) == 3
    with pytest.raises(UsageError):
        _cfg(constraints=["action_cost<=1", "action_cost>=2"])


def _specs() -> list[ColumnSpec]:
    return [ColumnSpec("discount", "numeric", lo=0.0, hi=0.5), ColumnSpec("emails", "numeric", lo=0.0, hi=10.0)]


@pytest.mark.parametrize("text,fragment", [("discount>=0.6", "between 0 and 0.5"), ("discount<=-0.1", "discount"),
                                           ("emails>=11", "between 0 and 10"),
                                           ("action_cost<=-1", "action_cost is always between 0 and 10.5"),
                                           ("action_cost>=11", "10.5")])
def test_a_bound_outside_the_quantitys_range_is_refused(text, fragment):
    with pytest.raises(UsageError) as e:
        constraints.bind([text], ["revenue"], [], _specs(), [1.0, 1.0])
    assert "cannot be met" in e.value.what and fragment in e.value.what


def test_bounds_inside_the_range_bind():
    b = constraints.bind(["discount>=0.5", "emails<=0", "action_cost<=10.5"], ["revenue"], [], _specs(), [1.0, 1.0])
    assert b is not None and b.scale == [0.5, 10.0, 10.5]


# --- 6. predictor settings that do nothing

def test_ensemble_of_one_member_is_refused():
    with pytest.raises(UsageError) as e:
        _cfg(predictor={"kind": "ensemble", "members": 1})
    assert "at least 2 members" in e.value.what
    assert _cfg(predictor={"kind": "ensemble", "members": 2}).predictor == {"kind": "ensemble", "members": 2}


def test_auto_without_candidates_is_refused():
    with pytest.raises(UsageError) as e:
        _cfg(predictor={"kind": "auto", "candidates": []})
    assert "no candidates" in e.value.what


def test_predictor_hidden_on_a_kind_without_a_width_is_refused(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('data = "x.csv"\nactions = ["discount"]\nobjectives = ["revenue:max"]\n'
                 'predictor = "forest"\npredictor_hidden = 8\n')
    with pytest.raises(UsageError) as e:
        load_config(p)
    assert "predictor_hidden 8 applies to mlp/ensemble" in e.value.what
    # What every config.toml before the [predictor] table holds (the old default) still reads.
    p.write_text(p.read_text().replace("predictor_hidden = 8", "predictor_hidden = 64"))
    assert load_config(p).predictor == "forest"


# --- 7. the unknown-name hint lists only usable names

def test_constraint_hint_lists_only_outcomes_actions_and_action_cost(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("age,region,discount,revenue,margin\n1,a,0.1,2,3\n")
    for text in ("foo<=3", "age<=50"):
        with pytest.raises(UsageError) as e:
            constraints.check_names([text], data, ["discount"], ["revenue", "margin"])
        assert e.value.hint == "names are: action_cost, discount, revenue, margin"
    with pytest.raises(UsageError) as e:
        constraints.check_names(["age<=50"], data, ["discount"], ["revenue"])
    assert "a context column" in e.value.what
    # Without outcomes given, a non-context column may be constrained (it becomes an outcome).
    constraints.check_names(["margin>=1"], data, ["discount"], (), ["age", "region"])
    with pytest.raises(UsageError):
        constraints.check_names(["age<=50"], data, ["discount"], (), ["age", "region"])


# --- 4, 5. notes on what the data does not support

def test_data_notes_name_extrapolated_ranges_simplex_gaps_and_whole_number_members():
    before = [ColumnSpec("emails", "numeric", mean=5.0, std=2.0, lo=0.0, hi=10.0, integer=True),
              ColumnSpec("a", "numeric", mean=50.0, std=10.0, lo=0.0, hi=100.0, integer=True),
              ColumnSpec("b", "numeric", mean=50.0, std=10.0, lo=0.0, hi=100.0)]
    raw = np.array([[1, 40, 60], [2, 55, 45], [3, 50, 50]], dtype=float)
    Xa = (raw - [5.0, 50.0, 50.0]) / [2.0, 10.0, 10.0]
    after = actions.apply(before, action_range={"emails": [0, 30]}, simplex=[{"columns": ["a", "b"], "total": 1}])
    notes = actions.data_notes(before, after, Xa)
    assert any("'emails' ranges 0:30" in n and "0..10" in n and "extrapolates" in n for n in notes)
    assert any("'a' holds whole numbers" in n for n in notes)
    assert any("sums to 100" in n and "total 1" in n for n in notes)
    same = actions.apply(before, action_range={"emails": [2, 8]}, simplex=[{"columns": ["a", "b"], "total": 100}])
    assert [n for n in actions.data_notes(before, same, Xa) if "whole numbers" not in n] == []


# --- 3. genomes of the same context columns in another order

def test_genomes_follow_their_context_columns_by_name():
    ctx = [ColumnSpec("age", "numeric", mean=40.0, std=10.0),
           ColumnSpec("region", "categorical", categories=["e", "n", "w"]),
           ColumnSpec("visits", "numeric", mean=3.0, std=2.0)]
    acts = [ColumnSpec("discount", "numeric", lo=0.0, hi=0.5)]
    layout = Layout(5, 4, acts)
    rng = np.random.default_rng(0)
    theta = layout.init(rng, 3)
    g = seeding.Genomes(theta, np.ones(3, dtype=np.int64), [c.to_dict() for c in ctx],
                        [a.to_dict() for a in acts], 4, "run r1")
    order = [ctx[2], ctx[0], ctx[1]]  # visits, age, region: the same columns, rearranged
    moved = g.for_layout(layout, order, "--seed-from")
    x = rng.standard_normal((7, 5))  # rows of (age, region e/n/w, visits), encoded
    x_new = x[:, [4, 0, 1, 2, 3]]
    W1, b1, _, _ = layout.unpack(theta)
    W1n, b1n, _, _ = layout.unpack(moved)
    np.testing.assert_allclose(np.tanh(x @ W1 + b1[:, None]), np.tanh(x_new @ W1n + b1n[:, None]), atol=1e-6)
    np.testing.assert_array_equal(moved[:, 4 * 5:], theta[:, 4 * 5:])  # the rest of each genome is untouched
    # A column that differs is still refused, by name.
    with pytest.raises(UsageError, match="layout differs"):
        g.for_layout(layout, [ctx[0], ctx[1], ColumnSpec("income", "numeric")], "--seed-from")


# --- 8. a file that is no genomes file

def test_a_file_that_is_no_genomes_file_is_named_not_a_pickle_message(tmp_path):
    p = tmp_path / "some.toml"
    p.write_text('population = 10\n')
    with pytest.raises(UsageError) as e:
        seeding.Genomes.load(p)
    assert "not a genomes or model file" in e.value.what and "pickle" not in e.value.what.lower()
    z = tmp_path / "other.npz"  # an npz, but not one leafctl wrote: the existing message stands
    np.savez(z, x=np.zeros(2))
    assert zipfile.is_zipfile(z)
    with pytest.raises(UsageError, match="no readable prescriptor genomes"):
        seeding.Genomes.load(z)
