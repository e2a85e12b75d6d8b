"""The bundled campaign sample: reproducible data, and ESP beating the historical policy on the
known ground truth (not just on its own surrogate)."""

from __future__ import annotations

import csv

import numpy as np

from leafctl.esp.engine import evolve
from leafctl.esp.prescribe import prescribe
from leafctl.esp.samples import sample_config, sample_data_path
from leafctl.esp.samples.make_campaign import expected_outcomes, generate


def _columns(rows, names):
    return [[r[n] for r in rows] for n in names]


def test_bundled_csv_is_what_the_generator_writes():
    header, rows = generate()
    with open(sample_data_path("campaign"), newline="") as fh:
        assert list(csv.reader(fh)) == [header] + rows


def test_evolved_policy_beats_history_on_ground_truth(tmp_path):
    cfg = sample_config("campaign", device="cpu", seed=1, population=50, generations=30,
                        contexts_sample=400, elites=5)
    evolve(cfg, tmp_path)
    with open(sample_data_path("campaign"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    ctx = _columns(rows, ["income", "past_spend", "visits", "region", "channel"])
    _, rev0, mar0 = expected_outcomes(*ctx, *_columns(rows, ["discount", "emails"]))
    results = {}
    for cand in ("knee", "best:revenue", "best:margin"):
        header, out = prescribe(tmp_path, sample_data_path("campaign"), cand)
        acts = np.array([r[-2:] for r in out], dtype=float)
        assert np.all((acts[:, 0] >= 0) & (acts[:, 0] <= 0.5) & (acts[:, 1] >= 0) & (acts[:, 1] <= 10))
        _, rev, mar = expected_outcomes(*ctx, acts[:, 0], acts[:, 1])
        results[cand] = (rev.mean(), mar.mean())
    # Historical policy: revenue ~376, margin ~81 per customer. The trade-off must be real and
    # every evolved end of the front must beat history on the objective it favours.
    assert results["best:revenue"][0] > rev0.mean() * 1.03
    assert results["best:margin"][1] > mar0.mean() * 1.5
    assert results["knee"][0] > rev0.mean() and results["knee"][1] > mar0.mean() * 1.3
