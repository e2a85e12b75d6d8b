from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from leafctl.esp.engine import EvolveConfig
from leafctl.esp.samples import sample_data_path


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    """300 rows of the campaign sample: enough for the predictor, quick to evolve on."""
    with open(sample_data_path("campaign"), newline="") as fh:
        rows = list(csv.reader(fh))
    return write_csv(tmp_path / "small.csv", rows[0], rows[1:301])


@pytest.fixture
def tiny_config(small_csv: Path) -> EvolveConfig:
    return EvolveConfig(
        data=str(small_csv), context=["age", "income", "past_spend", "visits", "region", "channel"],
        actions=["discount", "emails"], outcomes=["revenue", "margin"],
        objectives=["revenue:max", "margin:max"], population=20, generations=4, elites=2,
        hidden=8, predictor_hidden=16, seed=3, device="cpu", contexts_sample=60)


def random_front_data(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Integer-valued points so ties and exact duplicates are common."""
    F = rng.integers(0, 12, size=(n, k)).astype(float)
    dup = rng.integers(0, n, size=n // 5)
    F[rng.integers(0, n, size=n // 5)] = F[dup]
    return F
