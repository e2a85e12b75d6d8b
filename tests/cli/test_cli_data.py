"""`leafctl data` through the CLI: datastores, upload/download/ls, data assets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leaftest import assert_error


@pytest.fixture
def src(leaf_env) -> Path:
    root = leaf_env / "src"
    (root / "sub").mkdir(parents=True)
    (root / "train.csv").write_text("a,b\n1,2\n")
    (root / "sub" / "notes.txt").write_text("hello")
    return root


def test_upload_reupload_download_ls(cli, src, leaf_env):
    up = cli("data", "upload", str(src), "--path", "train")
    assert up.code == 0, up
    assert {k: up.json()[k] for k in ("files", "skipped", "uri")} == {
        "files": 2, "skipped": 0, "uri": "azureml://datastores/workspaceblobstore/paths/train"}
    again = cli("data", "upload", str(src), "--path", "train").json()
    assert (again["files"], again["skipped"], again["bytes"]) == (0, 2, 0)
    (src / "sub" / "notes.txt").write_text("changed!")
    third = cli("data", "upload", str(src), "--path", "train").json()
    assert (third["files"], third["skipped"]) == (1, 1)
    assert cli("data", "ls", "train", "-q", "[].path").json() == ["train/sub/notes.txt", "train/train.csv"]
    dest = leaf_env / "out"
    down = cli("data", "download", "train", "--dest", str(dest))
    assert down.code == 0 and down.json()["files"] == 2
    assert (dest / "sub" / "notes.txt").read_text() == "changed!"


def test_download_refuses_unsafe_paths(cli, src, leaf_env):
    cli("data", "upload", str(src), "--path", "train")
    assert_error(cli("data", "download", "../x", "--dest", str(leaf_env / "o")), 2, "leaves the datastore")
    assert_error(cli("data", "download", "/etc/passwd", "--dest", str(leaf_env / "o")), 2, "absolute")
    assert_error(cli("data", "download", "azureml://datastores/workspaceblobstore/paths/../../x", "--dest",
                     str(leaf_env / "o")), 2, "leaves the datastore")
    # a stored entry that is a symlink out of the datastore
    store = Path(cli("data", "store", "show", "-q", "path").json())
    (leaf_env / "secret").write_text("s3cret")
    os.symlink(leaf_env / "secret", store / "train" / "link")
    assert_error(cli("data", "download", "train", "--dest", str(leaf_env / "o2")), 2, "symlink")
    assert not (leaf_env / "o2" / "train.csv").exists()


def test_transfer_errors(cli, leaf_env):
    assert_error(cli("data", "upload", str(leaf_env / "missing"), "--path", "x"), 3, "does not exist")
    assert_error(cli("data", "download", "nope", "--dest", str(leaf_env / "o")), 3, "not found")
    assert_error(cli("data", "ls", "nope"), 3, "not found")
    assert_error(cli("data", "ls", "-d", "nosuch"), 3, "datastore 'nosuch'")


def test_datastores(cli, leaf_env):
    stores = cli("data", "store", "list").json()
    assert [s["name"] for s in stores] == ["workspaceblobstore"] and stores[0]["is_default"]
    folder = leaf_env / "shared"
    folder.mkdir()
    made = cli("data", "store", "create", "shared", "--path", str(folder))
    assert made.code == 0, made
    assert cli("data", "store", "create", "shared", "--path", str(folder)).code == 0
    assert_error(cli("data", "store", "create", "shared", "--path", str(leaf_env)), 5, "different spec")
    (leaf_env / "f.txt").write_text("x")
    assert cli("data", "upload", str(leaf_env / "f.txt"), "--path", "in/", "-d", "shared").json()["path"] == "in/f.txt"
    assert (folder / "in" / "f.txt").exists()
    assert_error(cli("data", "store", "create", "blob", "--type", "azure_blob", "--account-name", "a",
                     "--container-name", "c", "--account-key", "literal-key"), 2, "literal secret")
    r = cli("data", "store", "create", "blob", "--type", "azure_blob", "--account-name", "a", "--container-name", "c",
            "--account-key", "env:STORAGE_KEY")
    assert r.code == 0 and r.json()["credential"] == "account_key" and "STORAGE_KEY" not in r.stdout
    assert_error(cli("data", "ls", "-d", "blob"), 2, "azure backend")
    assert_error(cli("data", "store", "delete", "shared"), 2, "--yes")
    assert cli("data", "store", "delete", "shared", "--yes").code == 0
    assert_error(cli("data", "store", "delete", "workspaceblobstore", "--yes"), 2, "cannot be deleted")
    assert_error(cli("data", "store", "create", "x", "--path", str(leaf_env / "missing")), 2, "existing folder")
    spec = leaf_env / "ds.yml"
    spec.write_text("name: lake\ntype: azure_data_lake_gen2\naccount_name: acct\nfilesystem: fs\n"
                    "credentials:\n  tenant_id: t\n  client_id: c\n  client_secret: env:SP\n")
    dry = cli("data", "store", "create", "-f", str(spec), "--dry-run").json()
    assert dry["filesystem"] == "fs" and dry["credentials"]["client_secret"] == "env:SP"  # the az ml document
    assert cli("data", "store", "create", "-f", str(spec)).json()["credential"] == "service_principal"
    r = cli("data", "store", "create", "-f", str(spec), "--set", "credentials.client_secret=plain", "--dry-run")
    assert_error(r, 2, "literal secret")
    assert "plain" not in r.stdout + r.stderr


def test_data_assets(cli, src, leaf_env):
    cli("data", "upload", str(src), "--path", "train")
    v1 = cli("data", "create", "train", "--path", "train", "--description", "first", "--tag", "split=all")
    assert v1.code == 0, v1
    assert (v1.json()["version"], v1.json()["type"]) == ("1", "uri_folder")
    v2 = cli("data", "create", "train", "--path", str(src / "train.csv")).json()
    assert (v2["version"], v2["type"]) == ("2", "uri_file") and "LocalUpload" in v2["path"]
    assert_error(cli("data", "create", "train", "--path", "train", "--version", "1"), 5, "already exists")
    assert_error(cli("data", "create", "train", "--path", "train", "--type", "uri_file"), 2, "uri_file")
    assert_error(cli("data", "create", "x", "--path", "no/such"), 3)
    assert_error(cli("data", "create", "x"), 2, "--path")
    assert cli("data", "show", "train", "-q", "version").json() == "2"
    assert cli("data", "show", "train:1", "-q", "tags").json() == {"split": "all"}
    assert cli("data", "list", "-q", "[].[name,version]").json() == [["train", "2"]]
    assert cli("data", "list", "train", "-q", "[].version").json() == ["1", "2"]
    assert_error(cli("data", "show", "train:9"), 3, "versions: 1, 2")
    spec = leaf_env / "asset.yml"
    spec.write_text("name: fromfile\npath: src/train.csv\ndescription: from yaml\n")
    made = cli("data", "create", "-f", str(spec), "--set", "version=5")
    assert made.code == 0, made
    assert (made.json()["version"], made.json()["type"]) == ("5", "uri_file")


def test_upload_via_executable_with_progress_off(exe, src):
    r = exe("data", "upload", str(src), "--path", "exe-train")
    assert r.code == 0, r
    assert r.json()["files"] == 2 and r.stderr == ""
    assert exe("data", "upload", str(src), "--path", "exe-train").json()["skipped"] == 2
