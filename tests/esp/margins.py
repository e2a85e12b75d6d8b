"""Prescriptors far from every decision tie, for the tests that compare an evaluation path in float32
(the fused CPU kernel, the CUDA kernel run on the host) with the float64 NumPy reference: a binary
logit near 0, a categorical top-2 gap near 0 or an integer action's unrounded value near .5 may
decide differently in the two precisions, which would be a difference of rounding, not a bug."""

from __future__ import annotations

import numpy as np

from leafctl.esp import prescriptor as presc

MARGIN = 1e-4  # float32 logits (tanh32 included) sit within ~1e-6 of float64 ones


def decision_margins(prob, theta: np.ndarray) -> np.ndarray:
    """Per prescriptor, the smallest decision margin over its contexts (float64 forward); inf if it
    has no hard decision."""
    raw = presc.forward(theta.astype(np.float64), np.asarray(prob.X, np.float64), prob.layout, np)
    m = np.full(theta.shape[0], np.inf)
    off = 0
    for a in prob.layout.actions:
        block = raw[..., off:off + a.width]
        if a.kind == "binary":
            m = np.minimum(m, np.abs(block[..., 0]).min(axis=1))
        elif a.kind == "categorical" and a.width > 1:
            top2 = np.sort(block, axis=-1)[..., -2:]
            m = np.minimum(m, (top2[..., 1] - top2[..., 0]).min(axis=1))
        elif a.kind == "numeric" and a.integer:  # distance of the unrounded value from a rounding tie
            v = a.lo + (a.hi - a.lo) / (1.0 + np.exp(-block[..., 0]))
            m = np.minimum(m, np.abs(v - np.floor(v) - 0.5).min(axis=1))
        off += a.width
    return m


def clear_of_ties(prob, seed: int, P: int, draws: int) -> np.ndarray:
    """P prescriptors whose decisions all clear MARGIN, the first of ``draws`` x P random ones."""
    cand = prob.layout.init(np.random.default_rng(seed + 1), draws * P)
    keep = cand[decision_margins(prob, cand) >= MARGIN]
    assert len(keep) >= P, f"seed {seed}: only {len(keep)} of {draws * P} candidates clear margin {MARGIN}"
    return np.ascontiguousarray(keep[:P])
