"""`leafctl compute` through the CLI: get-or-create, validation, YAML specs, --set, --dry-run."""

from __future__ import annotations

import os

from leaftest import assert_error


def test_compute_get_or_create(cli):
    args = ("compute", "create", "cpu", "--type", "cluster", "--size", "Standard_DS3_v2", "--max-nodes", "2")
    first = cli(*args)
    assert first.code == 0, first
    c = first.json()
    assert (c["name"], c["type"], c["max_nodes"], c["min_nodes"], c["tier"]) == ("cpu", "cluster", 2, 0, "dedicated")
    again = cli(*args)
    assert again.code == 0 and again.json() == c
    assert_error(cli("compute", "create", "cpu", "--max-nodes", "4"), 5, "different spec", "--update")
    up = cli("compute", "create", "cpu", "--max-nodes", "4", "--update")
    assert up.code == 0 and up.json()["max_nodes"] == 4
    assert cli("compute", "show", "cpu", "-q", "max_nodes").json() == 4
    assert cli("compute", "list", "-q", "[].name").json() == ["local", "cpu"]


def test_compute_validation_errors(cli):
    assert_error(cli("compute", "create", "c", "--min-nodes", "3", "--max-nodes", "2"), 2, "min_nodes")
    assert_error(cli("compute", "create", "c", "--max-nodes", "0"), 2, "max_nodes")
    assert_error(cli("compute", "create", "c", "--tier", "spot"), 2, "tier")
    assert_error(cli("compute", "create", "c", "--type", "vm"), 2, "compute type")
    assert_error(cli("compute", "create", "c", "--idle-seconds", "-5"), 2, "idle_seconds")
    assert_error(cli("compute", "create", "c", "--max-nodes", "many"), 2, "max-nodes")
    assert_error(cli("compute", "create", "bad name"), 2, "invalid compute name")
    assert_error(cli("compute", "create"), 2, "no name")
    assert cli("compute", "list", "-q", "[].name").json() == ["local"]


def test_compute_local_and_missing(cli):
    local = cli("compute", "show", "local").json()
    assert local["type"] == "local" and local["max_nodes"] == os.cpu_count()
    assert_error(cli("compute", "delete", "local", "--yes"), 2, "built in")
    assert_error(cli("compute", "show", "nosuch"), 3, "not found")
    assert_error(cli("compute", "delete", "nosuch", "--yes"), 3, "not found")
    assert_error(cli("compute", "stop", "nosuch"), 3, "not found")


def test_compute_start_stop_delete(cli):
    assert cli("compute", "create", "box", "--type", "instance").json()["state"] == "Running"
    assert cli("compute", "stop", "box", "-q", "state").json() == "Stopped"
    assert cli("compute", "start", "box", "-q", "state").json() == "Running"
    assert_error(cli("compute", "delete", "box"), 2, "--yes")
    assert cli("compute", "delete", "box", "-y").code == 0
    assert_error(cli("compute", "show", "box"), 3)


def test_compute_yaml_spec_set_and_dry_run(cli, leaf_env):
    spec = leaf_env / "cluster.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
        "name: gpu-cluster\ntype: amlcompute\nsize: Standard_NC6s_v3\nmin_instances: 0\nmax_instances: 4\n"
        "idle_time_before_scale_down: 300\ntier: low_priority\nlocation: westeurope\n")
    dry = cli("compute", "create", "-f", str(spec), "--set", "max_instances=6", "--dry-run")
    assert dry.code == 0, dry
    # --dry-run prints the az ml document: every field carried (location too), none dropped
    assert dry.json() == {"$schema": "https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json",
                          "name": "gpu-cluster", "type": "amlcompute", "size": "Standard_NC6s_v3", "min_instances": 0,
                          "max_instances": 6, "idle_time_before_scale_down": 300, "tier": "low_priority",
                          "location": "westeurope"}
    assert cli("compute", "list", "-q", "[].name").json() == ["local"]  # dry run changed nothing
    made = cli("compute", "create", "-f", str(spec), "--max-nodes", "5")
    assert made.code == 0 and made.json()["max_nodes"] == 5
    assert made.json()["extra"]["location"] == "westeurope" and "location" in made.stderr  # recorded; no effect locally
    bad = leaf_env / "bad.yml"
    bad.write_text("name: x\ntype: amlcompute\nmax_instance: 3\n")
    assert_error(cli("compute", "create", "-f", str(bad)), 2, "max_instance", "did you mean max_instances")
    bad.write_text("name: x\nmin_instances: [1\n")
    assert_error(cli("compute", "create", "-f", str(bad)), 2, "invalid yaml")
    assert_error(cli("compute", "create", "-f", str(leaf_env / "missing.yml")), 3, "not found")
    inst = leaf_env / "ci.yml"
    inst.write_text("name: box\ntype: computeinstance\nsize: Standard_DS3_v2\nidle_time_before_shutdown: PT30M\n")
    got = cli("compute", "create", "-f", str(inst), "--dry-run").json()
    assert (got["type"], got["idle_time_before_shutdown"]) == ("computeinstance", "PT30M")
    made = cli("compute", "create", "-f", str(inst)).json()
    assert (made["type"], made["max_nodes"], made["idle_seconds"]) == ("instance", 1, 1800)


def test_compute_defaults_from_profile(cli):
    assert cli("config", "init", "--set", "compute_size=Standard_NC24ads_A100_v4", "--set", "compute_max_nodes=3").code == 0
    c = cli("compute", "create", "gpu").json()
    assert (c["size"], c["max_nodes"]) == ("Standard_NC24ads_A100_v4", 3)


def test_list_sizes(cli):
    sizes = cli("compute", "list-sizes").json()
    names = [s["name"] for s in sizes]
    assert {"Standard_DS3_v2", "Standard_NC6s_v3", "Standard_NC24ads_A100_v4", "Standard_ND96asr_v4",
            "Standard_NC40ads_H100_v5"} <= set(names)
    assert set(sizes[0]) == {"name", "vcpus", "memory_gb", "gpus", "gpu_type"}


def test_compute_via_executable(exe):
    r = exe("compute", "create", "cpu", "--max-nodes", "2", "-o", "json")
    assert r.code == 0, r
    assert exe("compute", "create", "cpu", "--max-nodes", "2").code == 0
    assert_error(exe("compute", "create", "cpu", "--max-nodes", "3"), 5, "--update")
    assert_error(exe("compute", "create", "cpu", "--min-nodes", "9", "--max-nodes", "2"), 2, "min_nodes")


def test_compute_name_completion(exe):
    assert exe("compute", "create", "gpu-a").code == 0
    assert exe("compute", "create", "gpu-b").code == 0
    env = {"_LEAFCTL_COMPLETE": "complete_bash", "COMP_WORDS": "leafctl compute show gp", "COMP_CWORD": "3"}
    r = exe(env=env)
    assert r.code == 0, r
    assert "gpu-a" in r.stdout and "gpu-b" in r.stdout and "local" not in r.stdout
