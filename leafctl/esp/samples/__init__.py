"""Bundled sample problems (``--sample NAME``): data shipped as package data plus default configs."""

from __future__ import annotations

from pathlib import Path

from leafctl.errors import UsageError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

SAMPLES = {
    # Customer context -> (discount, emails); trade revenue against margin. See make_campaign.py.
    "campaign": dict(
        data="campaign.csv",
        context=["age", "income", "past_spend", "visits", "region", "channel"],
        actions=["discount", "emails"],
        outcomes=["revenue", "margin"],
        objectives=["revenue:max", "margin:max"],
        # Used when action_cost is an objective (e.g. objectives = ["revenue:max", "action_cost:min"]):
        # natural units, so 10 x a 0.5 discount weighs like 5 emails.
        action_cost={"discount": 10.0, "emails": 1.0},
    ),
}


def sample_names() -> list[str]:
    return sorted(SAMPLES)


def sample_data_path(name: str) -> Path:
    return DATA_DIR / _get(name)["data"]


def _get(name: str) -> dict:
    if name not in SAMPLES:
        raise UsageError(f"unknown sample {name!r}", f"samples are: {', '.join(sample_names())}")
    return SAMPLES[name]


def sample_config(name: str = "campaign", **overrides: object):
    """An EvolveConfig for a bundled sample with sensible defaults (data path absolute)."""
    from leafctl.esp.config import EvolveConfig, config_from_dict  # noqa: PLC0415

    spec = dict(_get(name))
    spec["data"] = str(sample_data_path(name))
    cfg = config_from_dict(spec, EvolveConfig())
    return config_from_dict(overrides, cfg).validate() if overrides else cfg.validate()
