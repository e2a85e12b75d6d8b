"""Plugins: entry-point group `leafctl`, LEAFCTL_LOAD_PLUGINS, broken plugins, and leafctl-migrate."""

from __future__ import annotations

import os
import stat
import textwrap

from leaftest import assert_error


def _fake_dist(root, name: str, module_src: str, entry: str):
    """An installed distribution on a PYTHONPATH folder: a module plus its dist-info with entry points."""
    pkg = root / f"{name}.py"
    pkg.write_text(textwrap.dedent(module_src))
    di = root / f"{name}-1.0.dist-info"
    di.mkdir()
    (di / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (di / "entry_points.txt").write_text(f"[leafctl]\n{entry}\n")
    return root


def test_migrate_plugin_is_installed_and_listed(exe):
    r = exe("plugins", "list", "-o", "json")
    assert r.code == 0, r
    rows = {p["name"]: p for p in r.json()}
    assert rows["migrate"]["distribution"] == "leafctl-migrate" and rows["migrate"]["status"] == "ok"


def test_migrate_dotenv_writes_a_profile_with_secret_reference(exe, leaf_env):
    env_file = leaf_env / ".env"
    env_file.write_text(textwrap.dedent("""\
        # seed 004 style
        AZML_SUBID=00000000-0000-0000-0000-000000000001
        export AZML_RESGRP="aml-rg"
        AZML_WORKSPACE=aml   # trailing comment
        AZML_COMPUTE_NAME=demo-cluster
        AZML_COMPUTE_MAX_NODES=3
        AZML_EXPERIMENT=batcomputer
        AZML_MODEL=batcomputer-model
        AZML_SCRIPT=scikit-batcomputer.py
        AZML_CLIENT_SECRET=very-secret
        """))
    r = exe("migrate", "dotenv", str(env_file), "--profile", "prod", "-o", "json")
    assert r.code == 0, r
    keys = r.json()["keys"]
    assert keys["subscription_id"].endswith("1") and keys["resource_group"] == "aml-rg" and keys["workspace"] == "aml"
    assert keys["compute"] == "demo-cluster" and keys["compute_max_nodes"] == 3 and keys["backend"] == "azure"
    assert keys["client_secret"] == "env:AZML_CLIENT_SECRET"
    assert r.json()["skipped"] == ["AZML_SCRIPT"]
    cfg = leaf_env / "config" / "config.toml"
    assert "very-secret" not in cfg.read_text() + r.stdout + r.stderr
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o600
    shown = exe("config", "show", "prod", "-o", "json").json()
    assert shown["experiment"] == "batcomputer" and shown["model"] == "batcomputer-model"
    assert_error(exe("migrate", "dotenv", str(env_file), "--profile", "prod"), 5, "already exists")
    assert_error(exe("migrate", "dotenv", str(leaf_env / "nope.env")), 3, "not found")


def test_load_plugins_restricts(exe):
    assert_error(exe("migrate", "--help", env={"LEAFCTL_LOAD_PLUGINS": ""}), 2, "not enabled")
    r = exe("plugins", "list", "-o", "json", env={"LEAFCTL_LOAD_PLUGINS": ""})
    assert [p["status"] for p in r.json() if p["name"] == "migrate"] == ["disabled"]
    assert exe("migrate", "--help", env={"LEAFCTL_LOAD_PLUGINS": "migrate"}).code == 0


def test_broken_plugin_warns_once_and_leafctl_still_works(exe, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _fake_dist(site, "brokenplug", "raise ImportError('missing dependency xyz')\n", "broken = brokenplug:app")
    env = {"PYTHONPATH": str(site)}
    r = exe("config", "list", "-o", "json", env=env)
    assert r.code == 0 and r.json()[0]["name"] == "default"
    h = exe("--help", env=env)
    assert h.code == 0 and "config" in h.stdout
    assert h.stderr.count("warning: plugin 'broken'") == 1
    lst = exe("plugins", "list", "-o", "json", env=env).json()
    assert [p["status"] for p in lst if p["name"] == "broken"][0].startswith("broken: ImportError")


def test_working_third_party_plugin_adds_a_group(exe, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _fake_dist(site, "helloplug", """
        import typer
        app = typer.Typer()

        @app.command()
        def greet(name: str):
            from leafctl.cli._common import emit
            emit({"hello": name})
        """, "hello = helloplug:app")
    r = exe("hello", "greet", "ann", "-o", "json", env={"PYTHONPATH": str(site)})
    assert r.code == 0, r
    assert r.json() == {"hello": "ann"}
