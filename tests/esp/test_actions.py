"""Action types: integer actions (detected or declared), overridden ranges, simplex groups.

Decoding is checked on the engine's decode (prescriptor.decode), on the exported model's own loader
(pyfunc_model, which must decode identically) and, in test_actions_gpu_host.py, on the CUDA kernel.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from leafctl.errors import UsageError
from leafctl.esp import actions
from leafctl.esp import prescriptor as presc
from leafctl.esp.config import EvolveConfig
from leafctl.esp.data import ColumnSpec, load_dataset
from leafctl.esp.engine import check_config, evolve
from leafctl.esp.prescriptor import Layout, cost_table
from leafctl.esp.pyfunc_model import LeafEspModel
from leafctl.esp.samples import sample_data_path

CAMPAIGN_CTX = ["age", "income", "past_spend", "visits", "region", "channel"]


def _campaign_actions() -> list[ColumnSpec]:
    ds = load_dataset(sample_data_path("campaign"), CAMPAIGN_CTX, ["discount", "emails"], ["revenue"])
    return ds.actions


def refused(fragment: str):
    """pytest.raises for a UsageError whose line (what and hint) contains ``fragment``."""
    return _Refused(fragment)


class _Refused:
    def __init__(self, fragment: str):
        self.fragment = fragment

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        assert kind is not None, f"nothing refused (wanted {self.fragment!r})"
        assert issubclass(kind, UsageError), e
        assert self.fragment in e.line(), (self.fragment, e.line())
        assert "\n" not in e.line()
        return True


def _raw(rng: np.random.Generator, layout: Layout, shape=(7, 50), scale: float = 3.0) -> np.ndarray:
    return (rng.standard_normal(shape + (layout.n_out,)) * scale).astype(np.float32)


# ------------------------------------------------------------------ integer actions

def test_integer_detected_from_the_data():
    discount, emails = _campaign_actions()
    assert emails.kind == "numeric" and emails.integer and (emails.lo, emails.hi) == (0.0, 10.0)
    assert discount.kind == "numeric" and not discount.integer


def test_old_spec_dicts_still_load():
    """Model files written before these fields: a plain continuous action."""
    old = {"name": "emails", "kind": "numeric", "mean": 4.0, "std": 2.0, "lo": 0.0, "hi": 10.0, "categories": []}
    s = ColumnSpec.from_dict(old)
    assert not s.integer and s.simplex == -1
    assert ColumnSpec.from_dict(s.to_dict()) == s


def test_integer_decode_rounds_inside_the_range_and_feeds_the_rounded_value():
    rng = np.random.default_rng(0)
    acts = _campaign_actions()
    layout = Layout(3, 4, acts)
    costs = cost_table(acts, {"discount": 2.0, "emails": 0.5})
    raw = _raw(rng, layout, scale=6.0)  # saturates both ends too
    natural, enc, cost = presc.decode(raw, layout, costs)
    emails = natural[..., 1]
    assert np.array_equal(emails, np.rint(emails)) and emails.min() == 0 and emails.max() == 10
    # the predictor's encoding and the cost use the rounded value
    e = acts[1]
    np.testing.assert_allclose(enc[..., 1], (emails - e.mean) / e.std, rtol=1e-6)
    np.testing.assert_allclose(cost, 2.0 * natural[..., 0] + 0.5 * emails, rtol=1e-5)
    # the continuous action is not rounded
    assert not np.array_equal(natural[..., 0], np.rint(natural[..., 0]))


def test_declared_integer_and_whole_number_range():
    discount, emails = _campaign_actions()
    spec = actions.apply([discount, emails], integer=["discount"], action_range={"discount": "0.5:7.5"})
    assert spec[0].integer and (spec[0].lo, spec[0].hi) == (1.0, 7.0)  # narrowed to whole numbers inside
    assert (discount.lo, discount.integer) != (spec[0].lo, True)  # the data's own spec is left alone
    with refused("fewer than two whole numbers"):
        actions.apply([discount, emails], action_range={"emails": [0.2, 0.9]})


# ------------------------------------------------------------------ ranges

def test_action_range_overrides_the_data_range():
    rng = np.random.default_rng(1)
    discount, emails = _campaign_actions()
    spec = actions.apply([discount, emails], action_range={"discount": [0.1, 0.2], "emails": "2:5"})
    assert (spec[0].lo, spec[0].hi, spec[1].lo, spec[1].hi) == (0.1, 0.2, 2.0, 5.0)
    assert (spec[0].mean, spec[0].std) == (discount.mean, discount.std)  # the predictor's encoding stays
    layout = Layout(3, 4, spec)
    natural, _, _ = presc.decode(_raw(rng, layout), layout, cost_table(spec, None))
    assert natural[..., 0].min() >= np.float32(0.1) and natural[..., 0].max() <= np.float32(0.2)
    assert set(np.unique(natural[..., 1]).tolist()) <= {2.0, 3.0, 4.0, 5.0}


@pytest.mark.parametrize("rng_value,fragment", [
    ({"discount": [0.3, 0.1]}, "below HI"),
    ({"discount": "0.2:0.2"}, "below HI"),
    ({"discount": "x:1"}, "not LO:HI"),
    ({"discount": [0, 1, 2]}, "not LO:HI"),
    ({"discount": ["nan", 1]}, "finite"),
    ({"discont": [0, 1]}, "did you mean 'discount'"),
    ({"region": [0, 1]}, "not an action column"),
])
def test_bad_action_ranges_are_refused(rng_value, fragment):
    with refused(fragment):
        actions.apply(_campaign_actions(), action_range=rng_value)


def test_range_and_integer_refused_on_non_numeric_actions():
    specs = [ColumnSpec("send", "binary"), ColumnSpec("offer", "categorical", categories=["a", "b"]),
             ColumnSpec("x", "numeric", lo=0, hi=1)]
    with refused("binary action"):
        actions.apply(specs, action_range={"send": [0, 1]})
    with refused("categorical action"):
        actions.apply(specs, integer=["offer"])


# ------------------------------------------------------------------ simplex groups

def _shares_specs() -> list[ColumnSpec]:
    return [ColumnSpec("a", "numeric", mean=0.3, std=0.1, lo=0.1, hi=0.6),
            ColumnSpec("n", "numeric", mean=5, std=2, lo=0, hi=10, integer=True),
            ColumnSpec("b", "numeric", mean=0.3, std=0.1, lo=0.0, hi=0.5),
            ColumnSpec("c", "numeric", mean=0.4, std=0.2, lo=0.0, hi=0.9),
            ColumnSpec("k", "categorical", categories=["x", "y", "z"])]


def test_simplex_group_sums_to_its_total():
    rng = np.random.default_rng(2)
    spec = actions.apply(_shares_specs(), simplex=[{"columns": ["a", "b", "c"], "total": 100.0}])
    assert [s.simplex for s in spec] == [0, -1, 0, 0, -1]
    layout = Layout(3, 5, spec)
    raw = _raw(rng, layout, scale=30.0)  # large outputs: the softmax must not overflow
    natural, enc, cost = presc.decode(raw, layout, cost_table(spec, {"a": 1.0, "b": 2.0, "c": 3.0}))
    shares = natural[..., [0, 2, 3]]
    assert np.isfinite(shares).all() and shares.min() >= 0 and shares.max() <= 100
    np.testing.assert_allclose(shares.sum(-1), 100.0, rtol=1e-5)
    np.testing.assert_allclose(enc[..., 0], (natural[..., 0] - 0.3) / 0.1, rtol=1e-5)
    # the softmax of the group's own outputs, nothing else's
    r = raw[..., [0, 2, 3]].astype(np.float64)
    want = 100 * np.exp(r - r.max(-1, keepdims=True)) / np.exp(r - r.max(-1, keepdims=True)).sum(-1, keepdims=True)
    np.testing.assert_allclose(shares, want, rtol=1e-4, atol=1e-4)
    assert np.array_equal(natural[..., 1], np.rint(natural[..., 1]))  # the integer action is not in it


@pytest.mark.parametrize("groups,fragment", [
    ([{"columns": ["a", "b"]}, {"columns": ["b", "c"]}], "simplex groups 1 and 2"),
    ([{"columns": ["a"]}], "two or more"),
    ([{"columns": ["a", "a"]}], "twice"),
    ([{"columns": ["a", "k"]}], "categorical action"),
    ([{"columns": ["a", "q"]}], "not an action column"),
    ([{"columns": ["a", "b"], "total": 0}], "positive"),
    ([{"columns": ["a", "b"], "totl": 1}], "did you mean 'total'"),
    (["a,b"], "not a table"),
])
def test_bad_simplex_groups_are_refused(groups, fragment):
    with refused(fragment):
        actions.apply(_shares_specs(), simplex=groups)


def test_simplex_conflicts_with_integer_and_range():
    with refused("declared integer and is in a simplex group"):
        actions.apply(_shares_specs(), integer=["a"], simplex=[{"columns": ["a", "b"]}])
    with refused("action_range and is in a simplex group"):
        actions.apply(_shares_specs(), action_range={"b": [0, 1]}, simplex=[{"columns": ["a", "b"]}])
    # an integer-looking member (whole-number percentages in the data) becomes continuous
    spec = actions.apply(_shares_specs(), simplex=[{"columns": ["n", "c"], "total": 100}])
    assert not spec[1].integer and spec[1].simplex == 0


def test_config_validate_checks_the_options_without_data():
    with refused("below HI"):
        EvolveConfig(data="x.csv", actions=["a"], objectives=["y:max"], action_range={"a": [2, 1]}).validate()
    with refused("simplex groups 1 and 2"):
        EvolveConfig(data="x.csv", actions=["a"], objectives=["y:max"],
                     simplex=[{"columns": ["a", "b"]}, {"columns": ["a", "c"]}]).validate()


# ------------------------------------------------------------------ through a run and its model

def _shares_csv(path: Path, n: int = 240) -> Path:
    """Contexts u, g; actions a, b, c (shares of 1), n (0..6 whole), send (0/1); outcome y."""
    rng = np.random.default_rng(5)
    w = rng.dirichlet([2, 2, 2], size=n)
    rows = [["u", "g", "a", "b", "c", "n", "send", "y"]]
    for i in range(n):
        u = rng.uniform(-1, 1)
        k = int(rng.integers(0, 7))
        s = int(rng.integers(0, 2))
        y = 3 * w[i, 0] * (1 + u) + 2 * w[i, 1] - 0.2 * (k - 3) ** 2 + s + rng.normal(0, 0.1)
        rows.append([round(u, 4), ["p", "q"][i % 2], *(round(x, 4) for x in w[i]), k, s, round(y, 4)])
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_exported_model_decodes_as_the_engine(tmp_path):
    """A run with an integer, an overridden range and a simplex group: the model's own loader gives
    the engine's decoded actions for the same prescriptors and contexts."""
    data = _shares_csv(tmp_path / "shares.csv")
    cfg = EvolveConfig(data=str(data), context=["u", "g"], actions=["a", "b", "c", "n", "send"], outcomes=["y"],
                       objectives=["y:max", "action_cost:min"], population=12, generations=2, elites=2,
                       hidden=6, predictor_hidden=8, seed=1, device="cpu",
                       action_range={"n": "1:5"}, simplex=[{"columns": ["a", "b", "c"], "total": 1.0}])
    ds, _ = check_config(cfg)
    by = {a.name: a for a in ds.actions}
    assert by["n"].integer and (by["n"].lo, by["n"].hi) == (1.0, 5.0) and by["a"].simplex == 0
    evolve(cfg, tmp_path / "out")
    model = LeafEspModel(str(tmp_path / "out" / "model" / "data"))
    assert [a.get("integer") for a in model.actions] == [False, False, False, True, False]
    X = ds.Xc[:50].astype(np.float32)
    layout = Layout(X.shape[1], cfg.hidden, ds.actions)
    natural, _, _ = presc.decode(presc.forward(model.theta, X, layout), layout, cost_table(ds.actions, None))
    for row in range(len(model.ids)):
        cols = model.action_columns(row, X)
        assert cols[3].dtype == np.int64 and set(np.unique(cols[3]).tolist()) <= {1, 2, 3, 4, 5}
        np.testing.assert_allclose(cols[0] + cols[1] + cols[2], 1.0, rtol=1e-9)
        for j in (0, 1, 2):
            np.testing.assert_allclose(cols[j], natural[row, :, j], rtol=1e-4, atol=1e-5)
        # integers agree unless the float32 value sits within rounding of a half
        v = natural[row, :, 3]
        assert np.mean(cols[3] == v) >= 0.98
        assert np.array_equal(cols[4], natural[row, :, 4])
