"""Local workspaces and compute, through the backend API."""

from __future__ import annotations

import os

import pytest

from leafctl.backends.base import Compute
from leafctl.errors import Conflict, NotFound, UsageError


@pytest.fixture
def backend(leaf_env):
    from leafctl.backends.local import LocalBackend
    from leafctl.profiles import resolve

    return LocalBackend(resolve(None))


def _other(ws: str):
    from leafctl.backends.local import LocalBackend
    from leafctl.profiles import resolve

    b = LocalBackend(resolve(None))
    b.workspace_name = ws
    return b


def test_default_workspace_created_on_first_use(backend):
    ws = backend.ws
    assert not ws.exists()
    backend.list_computes()
    for sub in ("registry.sqlite", "datastores/workspaceblobstore", "runs", "models"):
        assert (ws / sub).exists(), sub
    conn = backend.registry._connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_other_workspace_must_exist(backend):
    b = _other("research")
    with pytest.raises(NotFound) as e:
        b.list_computes()
    assert "leafctl workspace create research" in e.value.line()
    w = backend.create_workspace("research", location="westeurope")
    assert w.name == "research" and w.location == "westeurope" and w.backend == "local"
    assert backend.create_workspace("research").created_at == w.created_at  # get-or-create
    with pytest.raises(Conflict):
        backend.create_workspace("research", exist_ok=False)
    assert [c.name for c in _other("research").list_computes()] == ["local"]
    assert [x.name for x in backend.list_workspaces()] == ["default", "research"]
    backend.delete_workspace("research")
    assert [x.name for x in backend.list_workspaces()] == ["default"]
    with pytest.raises(NotFound):
        backend.delete_workspace("research")


@pytest.mark.parametrize("name", ["has space", "../up", "a/b", "", "-lead", "x" * 300])
def test_workspace_name_validation(backend, name):
    with pytest.raises(UsageError):
        backend.create_workspace(name)


def test_delete_own_workspace(backend):
    backend.list_computes()
    backend.delete_workspace("default")
    assert not backend.ws.exists()
    assert [c.name for c in backend.list_computes()] == ["local"]  # recreated on next use


def test_local_compute_always_exists(backend):
    local = backend.get_compute("local")
    assert local.type == "local" and local.max_nodes == (os.cpu_count() or 1)
    with pytest.raises(UsageError):
        backend.delete_compute("local")
    with pytest.raises(UsageError):
        backend.stop_compute("local")
    with pytest.raises(Conflict):
        backend.create_compute(Compute(name="local", type="cluster", size="Standard_DS3_v2"))


def test_compute_get_or_create(backend):
    spec = Compute(name="cpu", type="cluster", size="standard_ds3_v2", min_nodes=0, max_nodes=2)
    a = backend.create_compute(spec)
    assert a.size == "Standard_DS3_v2" and a.state == "Succeeded"
    assert backend.create_compute(spec) == a
    with pytest.raises(Conflict, match="max_nodes 2 -> 4"):
        backend.create_compute(Compute(name="cpu", type="cluster", size="Standard_DS3_v2", max_nodes=4))
    b = backend.create_compute(Compute(name="cpu", type="cluster", size="Standard_DS3_v2", max_nodes=4), update=True)
    assert b.max_nodes == 4 and b.created_at == a.created_at
    with pytest.raises(Conflict, match="type"):
        backend.create_compute(Compute(name="cpu", type="instance", size="Standard_DS3_v2", max_nodes=1), update=True)
    assert [c.name for c in backend.list_computes()] == ["local", "cpu"]


@pytest.mark.parametrize("kw, msg", [
    (dict(min_nodes=3, max_nodes=2), "greater than max_nodes"),
    (dict(max_nodes=0), "at least 1"),
    (dict(tier="spot"), "tier"),
    (dict(type="vm"), "compute type"),
    (dict(idle_seconds=-1), "idle_seconds"),
    (dict(min_nodes=-1), "min_nodes"),
    (dict(type="instance", max_nodes=2), "one node"),
    (dict(size="bad size!"), "size"),
    (dict(name="bad name"), "compute name"),
])
def test_compute_validation(backend, kw, msg):
    spec = dict(name="c", type="cluster", size="Standard_DS3_v2", min_nodes=0, max_nodes=1) | kw
    with pytest.raises(UsageError, match=msg):
        backend.create_compute(Compute(**spec))


def test_compute_start_stop_delete(backend):
    inst = backend.create_compute(Compute(name="box", type="instance", size="Standard_DS3_v2", max_nodes=1))
    assert inst.state == "Running"
    assert backend.stop_compute("box").state == "Stopped"
    assert backend.get_compute("box").state == "Stopped"
    assert backend.start_compute("box").state == "Running"
    backend.delete_compute("box")
    for op in (backend.get_compute, backend.delete_compute, backend.start_compute, backend.stop_compute):
        with pytest.raises(NotFound):
            op("box")


def test_list_sizes(backend):
    sizes = {s["name"]: s for s in backend.list_sizes()}
    assert sizes["Standard_NC24ads_A100_v4"]["gpus"] == 1
    assert sizes["Standard_ND96asr_v4"]["gpus"] == 8
    assert sizes["Standard_DS3_v2"]["gpu_type"] is None
    assert set(sizes["Standard_DS3_v2"]) == {"name", "vcpus", "memory_gb", "gpus", "gpu_type"}
