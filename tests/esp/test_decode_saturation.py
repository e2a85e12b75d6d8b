"""A strongly evolved prescriptor saturates its sigmoid: that is the intended limit, not a warning."""

from __future__ import annotations

import warnings

import numpy as np

from leafctl.esp.data import ColumnSpec
from leafctl.esp.prescriptor import Layout, decode


def test_saturated_numeric_action_decodes_to_its_bounds_without_a_warning():
    spec = ColumnSpec(name="discount", kind="numeric", lo=0.0, hi=0.3, mean=0.15, std=0.1)
    layout = Layout(2, 4, [spec])
    raw = np.array([[-1000.0], [1000.0], [0.0]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        natural, _, _ = decode(raw, layout, np.ones(1, dtype=np.float32))
    assert natural[:, 0].tolist() == [0.0, np.float32(0.3), np.float32(0.15)]
