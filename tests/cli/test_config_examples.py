"""The example profiles in config/ are valid, and REFERENCE.md documents every key."""

from __future__ import annotations

from pathlib import Path

import pytest

from leafctl.profiles import KEYS

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.mark.parametrize("name", ["local.toml", "azure.toml"])
def test_example_validates(cli, monkeypatch, name):
    monkeypatch.setenv("LEAFCTL_CONFIG", str(CONFIG / name))
    r = cli("config", "validate", "-o", "json")
    assert r.code == 0, r
    assert r.json()["valid"] is True


def test_reference_documents_every_key():
    text = (CONFIG / "REFERENCE.md").read_text()
    missing = [k for k in KEYS if f"`{k}`" not in text]
    assert not missing
