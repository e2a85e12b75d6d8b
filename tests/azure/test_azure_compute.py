"""compute on Azure through the CLI: get-or-create clusters, instances start/stop, list-sizes, errors."""

from __future__ import annotations


from azure_helpers import assert_error

CLUSTER = ["compute", "create", "leaf-cluster", "--type", "cluster", "--size", "Standard_DS1_v2", "--min-nodes", "0",
           "--max-nodes", "2", "--idle-seconds", "120", "--tier", "dedicated", "-o", "json"]


def test_cluster_create_is_get_or_create(azure, fake):
    r = azure(*CLUSTER)
    assert r.code == 0, r
    c = r.json()
    assert c == {**c, "name": "leaf-cluster", "type": "cluster", "size": "Standard_DS1_v2", "min_nodes": 0,
                 "max_nodes": 2, "idle_seconds": 120, "tier": "dedicated", "state": "Succeeded"}
    stored = fake.get(fake.ws_id("leaf-ws") + "/computes/leaf-cluster")
    props = stored["properties"]["properties"]
    assert stored["properties"]["computeType"] == "AmlCompute"
    assert props["scaleSettings"] == {"minNodeCount": 0, "maxNodeCount": 2, "nodeIdleTimeBeforeScaleDown": "PT2M"}
    assert props["vmPriority"] == "Dedicated"
    puts = sum(1 for m, u in fake.calls if m == "PUT" and "/computes/" in u)
    again = azure(*CLUSTER)
    assert again.code == 0 and again.json()["name"] == "leaf-cluster", again
    assert sum(1 for m, u in fake.calls if m == "PUT" and "/computes/" in u) == puts  # nothing re-created


def test_cluster_different_spec_conflicts_unless_update(azure, fake):
    assert azure(*CLUSTER).code == 0
    bigger = [a if a != "2" else "4" for a in CLUSTER]
    assert_error(azure(*bigger), 5, "leaf-cluster", "--update")
    r = azure(*bigger, "--update")
    assert r.code == 0 and r.json()["max_nodes"] == 4, r
    assert azure("compute", "show", "leaf-cluster", "-o", "json").json()["max_nodes"] == 4


def test_low_priority_tier(azure, fake):
    r = azure("compute", "create", "lp", "--size", "Standard_DS1_v2", "--max-nodes", "3", "--tier", "low_priority", "-o", "json")
    assert r.code == 0 and r.json()["tier"] == "low_priority", r
    assert fake.get(fake.ws_id("leaf-ws") + "/computes/lp")["properties"]["properties"]["vmPriority"] == "LowPriority"


def test_instance_start_stop_and_list(azure, fake):
    r = azure("compute", "create", "notebook-vm", "--type", "instance", "--size", "STANDARD_DS1_V2", "-o", "json")
    assert r.code == 0 and r.json()["type"] == "instance" and r.json()["state"] == "Running", r
    stopped = azure("compute", "stop", "notebook-vm", "-o", "json")
    assert stopped.code == 0 and stopped.json()["state"] == "Stopped", stopped
    assert any(m == "POST" and u.split("?")[0].endswith("/computes/notebook-vm/stop") for m, u in fake.calls)
    started = azure("compute", "start", "notebook-vm", "-o", "json")
    assert started.code == 0 and started.json()["state"] == "Running", started
    assert azure(*CLUSTER).code == 0
    names = azure("compute", "list", "-o", "json", "--query", "[].name").json()
    assert sorted(names) == ["leaf-cluster", "notebook-vm"]


def test_start_on_a_cluster_is_a_usage_error(azure, fake):
    assert azure(*CLUSTER).code == 0
    assert_error(azure("compute", "start", "leaf-cluster"), 2, "instance")


def test_list_sizes(azure, fake):
    r = azure("compute", "list-sizes", "-o", "json")
    assert r.code == 0, r
    sizes = {s["name"]: s for s in r.json()}
    assert sizes["Standard_NC6s_v3"]["gpus"] == 1 and sizes["Standard_DS1_v2"]["vcpus"] == 1
    assert sizes["Standard_NC6s_v3"]["gpu_type"] == "V100" and sizes["Standard_DS3_v2"]["memory_gb"] == 14
    assert any("/locations/centralus/vmSizes" in u for _, u in fake.calls)


def test_show_and_delete_missing_exit_3(azure, fake):
    assert_error(azure("compute", "show", "nope"), 3, "nope")
    assert_error(azure("compute", "delete", "nope", "--yes"), 3, "nope")


def test_delete(azure, fake):
    assert azure(*CLUSTER).code == 0
    r = azure("compute", "delete", "leaf-cluster", "--yes")
    assert r.code == 0, r
    assert fake.get(fake.ws_id("leaf-ws") + "/computes/leaf-cluster") is None
