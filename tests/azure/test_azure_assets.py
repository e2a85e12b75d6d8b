"""data assets and environments on Azure through the CLI: versions, latest, list, show."""

from __future__ import annotations

from azure_helpers import assert_error

URI = "azureml://datastores/workspaceblobstore/paths/leaf/iris.csv"


def test_data_asset_versions_and_latest(azure, fake):
    r1 = azure("data", "create", "iris", "--path", URI, "--description", "iris v1", "-o", "json")
    assert r1.code == 0, r1
    assert r1.json() == {**r1.json(), "name": "iris", "version": "1", "type": "uri_file", "path": URI}
    r2 = azure("data", "create", "iris", "--path", "azureml://datastores/workspaceblobstore/paths/leaf/", "-o", "json")
    assert r2.code == 0 and r2.json()["version"] == "2" and r2.json()["type"] == "uri_folder", r2
    stored = fake.get(fake.ws_id("leaf-ws") + "/data/iris/versions/1")["properties"]
    assert stored["dataType"] == "uri_file" and stored["dataUri"].endswith("/datastores/workspaceblobstore/paths/leaf/iris.csv")
    assert azure("data", "show", "iris", "-o", "json").json()["version"] == "2"
    assert azure("data", "show", "iris:1", "-o", "json").json()["path"] == URI
    versions = azure("data", "list", "iris", "-o", "json", "--query", "[].version").json()
    assert sorted(versions) == ["1", "2"]
    assert len(azure("data", "list", "-o", "json").json()) == 2


def test_data_asset_explicit_version_and_tags(azure, fake):
    r = azure("data", "create", "leaf-data", "--path", URI, "--version", "7", "--tag", "source=seed", "-o", "json")
    assert r.code == 0, r
    assert r.json()["version"] == "7" and r.json()["tags"] == {"source": "seed"}


def test_data_show_missing_exit_3(azure, fake):
    assert_error(azure("data", "show", "nope"), 3)
    assert_error(azure("data", "show", "nope:3"), 3, "nope")


def test_environment_image_plus_conda(azure, fake, tmp_path):
    conda = tmp_path / "conda.yml"
    conda.write_text("name: leaf\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n  - pip: [numpy]\n")
    image = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
    r = azure("env", "create", "leaf-esp", "--image", image, "--conda-file", str(conda), "--version", "1", "-o", "json")
    assert r.code == 0, r
    assert r.json() == {**r.json(), "name": "leaf-esp", "version": "1", "image": image}
    assert "python=3.11" in r.json()["conda_file"]
    stored = fake.get(fake.ws_id("leaf-ws") + "/environments/leaf-esp/versions/1")["properties"]
    assert stored["image"] == image and "python=3.11" in stored["condaFile"]
    assert azure("env", "create", "leaf-esp", "--image", image, "--version", "2", "-o", "json").code == 0
    assert azure("env", "show", "leaf-esp", "-o", "json").json()["version"] == "2"
    assert azure("env", "show", "leaf-esp:1", "-o", "json").json()["image"] == image
    listed = azure("env", "list", "-o", "json", "--query", "[].version").json()
    assert sorted(listed) == ["1", "2"]
    assert_error(azure("env", "show", "missing-env"), 3)
