"""`leafctl env` through the CLI."""

from __future__ import annotations

from leaftest import assert_error


def test_env_create_show_list(cli, leaf_env):
    conda = leaf_env / "conda.yml"
    conda.write_text("name: leaf\ndependencies:\n  - python=3.11\n")
    r = cli("env", "create", "leaf-esp", "--image", "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04",
            "--conda-file", str(conda), "--description", "cpu")
    assert r.code == 0, r
    e = r.json()
    assert (e["name"], e["version"]) == ("leaf-esp", "1") and "python=3.11" in e["conda_file"]
    assert cli("env", "create", "leaf-esp", "--image", "img:2").json()["version"] == "2"
    # an identical explicit version is returned as is; a different one is a conflict
    assert cli("env", "create", "leaf-esp", "--image", "img:2", "--version", "2").json()["version"] == "2"
    assert_error(cli("env", "create", "leaf-esp", "--image", "img:3", "--version", "2"), 5, "different spec")
    assert cli("env", "show", "leaf-esp", "-q", "version").json() == "2"
    assert cli("env", "show", "leaf-esp:1", "-q", "description").json() == "cpu"
    assert cli("env", "show", "leaf-esp@latest", "-q", "image").json() == "img:2"
    assert cli("env", "list", "-q", "[].[name,version]").json() == [["leaf-esp", "2"]]
    assert cli("env", "list", "leaf-esp", "-q", "[].version").json() == ["1", "2"]
    assert_error(cli("env", "show", "nosuch"), 3, "not found")


def test_env_from_yaml(cli, leaf_env):
    (leaf_env / "conda.yml").write_text("dependencies: [numpy]\n")
    spec = leaf_env / "env.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
                    "name: gpu\nimage: nvcr.io/nvidia/pytorch:24.01-py3\nconda_file: conda.yml\n")
    dry = cli("env", "create", "-f", str(spec), "--set", "version=7", "--dry-run")
    assert dry.code == 0, dry
    assert dry.json()["version"] == "7" and dry.json()["conda_file"] == {"dependencies": ["numpy"]}  # az ml doc, inline
    assert cli("env", "list").json() == []
    assert cli("env", "create", "-f", str(spec)).json()["version"] == "1"


def test_env_errors(cli, leaf_env):
    assert_error(cli("env", "create", "x"), 2, "image")
    assert_error(cli("env", "create", "x", "--image", "i", "--conda-file", str(leaf_env / "missing.yml")), 3, "conda file")
    assert_error(cli("env", "create", "bad name", "--image", "i"), 2, "environment name")
    spec = leaf_env / "env.yml"
    spec.write_text("name: x\nimage: i\nbuild:\n  path: docker\n")  # image and build exclude each other (az ml)
    assert_error(cli("env", "create", "-f", str(spec)), 2, "build")
    spec.write_text("name: x\nimgae: i\n")
    assert_error(cli("env", "create", "-f", str(spec)), 2, "imgae")


def test_env_via_executable(exe):
    r = exe("env", "create", "e1", "--image", "img")
    assert r.code == 0, r
    assert exe("env", "list", "-q", "[].name").json() == ["e1"]
