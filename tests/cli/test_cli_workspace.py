"""`leafctl workspace` through the CLI."""

from __future__ import annotations

from leaftest import assert_error


def test_workspace_lifecycle(cli, leaf_env):
    assert [w["name"] for w in cli("workspace", "list").json()] == ["default"]
    r = cli("workspace", "create", "research", "--location", "westeurope")
    assert r.code == 0, r
    ws = r.json()
    assert ws["name"] == "research" and ws["backend"] == "local" and ws["location"] == "westeurope"
    assert ws["path"].endswith("workspaces/research")
    assert cli("workspace", "create", "research").json()["created_at"] == ws["created_at"]
    assert_error(cli("workspace", "create", "research", "--fail-if-exists"), 5, "already exists")
    assert cli("workspace", "show", "research", "-q", "name").json() == "research"
    assert cli("workspace", "list", "-q", "[].name").json() == ["default", "research"]
    assert_error(cli("workspace", "delete", "research"), 2, "--yes")
    assert cli("workspace", "delete", "research", "--yes").code == 0
    assert_error(cli("workspace", "show", "research"), 3, "leafctl workspace create research")


def test_profile_pointing_at_missing_workspace(cli):
    assert cli("config", "init", "--set", "workspace=team").code == 0
    assert_error(cli("compute", "list"), 3, "workspace 'team'", "leafctl workspace create team")
    assert cli("workspace", "create", "team").code == 0
    assert cli("compute", "list", "-q", "[].name").json() == ["local"]


def test_bad_workspace_names(cli):
    for bad in ("a b", "../x", "x/y"):
        assert_error(cli("workspace", "create", bad), 2, "invalid workspace name")
    assert_error(cli("workspace", "delete", "nosuch", "-y"), 3, "not found")


def test_workspace_via_executable(exe):
    r = exe("workspace", "create", "exews", "-o", "json")
    assert r.code == 0, r
    assert r.json()["name"] == "exews"
    assert_error(exe("workspace", "delete", "exews"), 2, "--yes")
