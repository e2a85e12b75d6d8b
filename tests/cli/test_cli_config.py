"""`leafctl config` and profile precedence."""

from __future__ import annotations

import os
import stat

from leaftest import assert_error


def test_init_writes_0600_file(cli, leaf_env):
    r = cli("config", "init", "--profile", "dev", "-o", "json")
    assert r.code == 0, r
    path = leaf_env / "config" / "config.toml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert 'current_profile = "dev"' in path.read_text()
    assert r.json()["current"] is True


def test_init_twice_conflicts_unless_force(cli):
    assert cli("config", "init", "-p", "dev").code == 0
    assert_error(cli("config", "init", "-p", "dev"), 5, "already exists", "--force")
    assert cli("config", "init", "-p", "dev", "--force").code == 0


def test_no_file_behaves_as_one_local_default_profile(cli):
    r = cli("config", "show")
    assert r.code == 0
    assert r.json()["name"] == "default" and r.json()["backend"] == "local"
    assert cli("config", "list").json() == [{"name": "default", "backend": "local", "workspace": "default", "current": True}]


def test_set_unset_use(cli):
    cli("config", "init", "-p", "a")
    cli("config", "init", "-p", "b", "--no-use")
    assert cli("config", "set", "experiment", "exp1", "-p", "b").code == 0
    assert cli("config", "show", "b").json()["experiment"] == "exp1"
    assert cli("config", "use", "b").code == 0
    assert [p["name"] for p in cli("config", "list").json() if p["current"]] == ["b"]
    assert cli("config", "unset", "experiment").code == 0
    assert cli("config", "show").json()["experiment"] == "default"
    assert_error(cli("config", "unset", "experiment"), 3, "no key")
    assert_error(cli("config", "use", "zzz"), 2, "not found")  # a profile is input: usage (issue 11)


def test_literal_secret_refused_with_env_form_shown(cli, leaf_env):
    cli("config", "init")
    r = cli("config", "set", "client_secret", "hunter2")
    assert_error(r, 2, "client_secret", "env:")
    assert "hunter2" not in r.stderr + r.stdout
    assert "hunter2" not in (leaf_env / "config" / "config.toml").read_text()


def test_secret_reference_accepted_and_never_resolved_in_output(cli, monkeypatch):
    monkeypatch.setenv("SP_PASSWORD", "s3cr3t-value")
    cli("config", "init", "-p", "prod", "--backend", "azure", "--set", "subscription_id=1",
        "--set", "resource_group=rg", "--set", "workspace=w")
    assert cli("config", "set", "client_secret", "env:SP_PASSWORD").code == 0
    for args in (["config", "show"], ["config", "show", "-v"], ["config", "list"], ["config", "validate"]):
        r = cli(*args, "-o", "json")
        assert "s3cr3t-value" not in r.stdout + r.stderr


def test_literal_secret_in_file_is_redacted_by_show_and_flagged_by_validate(cli, leaf_env):
    cfg = leaf_env / "config" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text('[profiles.default]\nbackend = "local"\nclient_secret = "hunter2"\n')
    r = cli("config", "validate")
    assert_error(r, 2, "client_secret", "env:")
    assert "hunter2" not in r.stderr + r.stdout
    r = cli("config", "show")
    assert_error(r, 2, "client_secret")
    assert "hunter2" not in r.stderr + r.stdout


def test_malformed_toml_names_file_and_line(cli, leaf_env):
    cfg = leaf_env / "config" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text('current_profile = "a"\n[profiles.a]\nbackend = = "local"\n')
    assert_error(cli("config", "list"), 2, str(cfg), "line 3")


def test_validate_reports_every_problem(cli, leaf_env):
    cfg = leaf_env / "config" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text('[profiles.p]\nbackend = "azure"\nauth = "magic"\nbogus = "x"\n')
    r = cli("config", "validate")
    assert_error(r, 2, "auth must be one of", "unknown profile key 'bogus'", "subscription_id")


def test_unknown_key_suggests_close_match(cli):
    assert_error(cli("config", "set", "experimnt", "x"), 2, "did you mean experiment")


def test_precedence_flag_env_azml_profile_default(cli, monkeypatch):
    cli("config", "init", "--set", "experiment=from-profile", "--set", "compute=c-profile")
    assert cli("config", "show").json()["experiment"] == "from-profile"
    monkeypatch.setenv("AZML_EXPERIMENT", "from-azml")
    assert cli("config", "show").json()["experiment"] == "from-azml"
    monkeypatch.setenv("LEAFCTL_EXPERIMENT", "from-leafctl-env")
    r = cli("config", "show", "-v")
    assert r.json()["experiment"] == "from-leafctl-env"
    assert r.json()["sources"]["experiment"] == "LEAFCTL_EXPERIMENT"
    assert r.json()["compute"] == "c-profile"
    assert r.json()["auth"] == "default" and r.json()["sources"]["auth"] == "default"


def test_profile_selection_flag_over_env_over_current(cli, monkeypatch):
    cli("config", "init", "-p", "a", "--set", "experiment=ea")
    cli("config", "init", "-p", "b", "--set", "experiment=eb")
    cli("config", "init", "-p", "c", "--set", "experiment=ec", "--no-use")
    assert cli("config", "show").json()["experiment"] == "eb"  # current_profile = b
    monkeypatch.setenv("LEAFCTL_PROFILE", "a")
    assert cli("config", "show").json()["experiment"] == "ea"
    assert cli("-p", "c", "config", "show").json()["experiment"] == "ec"


def test_config_path(cli, leaf_env):
    assert cli("config", "path", "-o", "table").stdout.strip() == str(leaf_env / "config" / "config.toml")
    assert cli("config", "path", "-o", "json").json()["exists"] is False
