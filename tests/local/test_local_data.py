"""Local datastores, transfers (checksums, unsafe names) and data assets, through the backend API."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leafctl.backends.base import DatastoreSpec
from leafctl.errors import Conflict, NotFound, UsageError


@pytest.fixture
def backend(leaf_env):
    from leafctl.backends.local import LocalBackend
    from leafctl.profiles import resolve

    return LocalBackend(resolve(None))


@pytest.fixture
def src(tmp_path) -> Path:
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    (root / "a.csv").write_text("x,y\n1,2\n")
    (root / "sub" / "b.txt").write_text("bee")
    return root


class Recorder:
    def __init__(self):
        self.total, self.done, self.finished = None, 0, False

    def start(self, total, description=""):
        self.total = total

    def advance(self, n):
        self.done += n

    def finish(self):
        self.finished = True


def test_upload_folder_then_skip_unchanged(backend, src):
    rec = Recorder()
    r = backend.upload(src, "train", progress=rec)
    assert (r.files, r.skipped, r.bytes) == (2, 0, 11)
    assert r.uri == "azureml://datastores/workspaceblobstore/paths/train"
    assert rec.total == rec.done == 11 and rec.finished
    r = backend.upload(src, "train")
    assert (r.files, r.skipped, r.bytes) == (0, 2, 0)
    (src / "a.csv").write_text("x,y\n1,3\n")  # same size, different content: MD5 decides
    r = backend.upload(src, "train")
    assert (r.files, r.skipped) == (1, 1)
    assert [e.path for e in backend.ls("train")] == ["train/a.csv", "train/sub/b.txt"]
    assert [e.path for e in backend.ls("train/a.csv")] == ["train/a.csv"]
    store = backend.ws / "datastores" / "workspaceblobstore"
    assert not [p for p in store.rglob("*.tmp")]


def test_upload_file_destinations(backend, src):
    assert backend.upload(src / "a.csv", "data/").path == "data/a.csv"
    assert backend.upload(src / "a.csv", "data").path == "data/a.csv"  # an existing folder
    assert backend.upload(src / "a.csv", "renamed.csv").path == "renamed.csv"
    assert backend.upload(src / "a.csv", "").path == "a.csv"
    assert backend.upload(src, "").path == "src"
    with pytest.raises(NotFound):
        backend.upload(src / "missing", "x")
    with pytest.raises(UsageError):
        backend.upload(src, "../outside")


def test_download_roundtrip(backend, src, tmp_path):
    backend.upload(src, "train")
    r = backend.download("azureml://datastores/workspaceblobstore/paths/train", tmp_path / "out")
    assert r.files == 2
    assert (tmp_path / "out" / "sub" / "b.txt").read_text() == "bee"
    backend.download("train/a.csv", tmp_path / "one")
    assert (tmp_path / "one" / "a.csv").exists()
    with pytest.raises(NotFound):
        backend.download("nope", tmp_path / "x")
    with pytest.raises(NotFound):
        backend.ls("nope")


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd"])
def test_download_refuses_stored_names_outside_dest(backend, src, tmp_path, monkeypatch, bad):
    """A listing that yields an escaping name (as a crafted blob listing can) writes nothing."""
    backend.upload(src, "train")
    stored = backend.ws / "datastores" / "workspaceblobstore" / "train" / "a.csv"
    monkeypatch.setattr(type(backend), "_listing", lambda self, root, rel: [("ok.txt", stored), (bad, stored)])
    dest = tmp_path / "out"
    with pytest.raises(UsageError, match="refusing"):
        backend.download("train", dest)
    assert not (tmp_path / "x").exists()
    assert list(dest.iterdir()) == []  # checked before anything was written


@pytest.mark.parametrize("bad", ["../x", "/etc", "a/../../x"])
def test_download_refuses_paths_leaving_the_datastore(backend, tmp_path, bad):
    with pytest.raises(UsageError):
        backend.download(bad, tmp_path / "out")


def test_download_refuses_symlink_out_of_datastore(backend, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    store = backend.get_datastore().path
    Path(store, "d").mkdir(parents=True)
    os.symlink(secret, Path(store, "d", "link.txt"))
    with pytest.raises(UsageError, match="symlink"):
        backend.download("d", tmp_path / "out")


def test_download_refuses_symlink_in_dest(backend, src, tmp_path):
    backend.upload(src, "train")
    dest = tmp_path / "out"
    dest.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, dest / "sub")
    with pytest.raises(UsageError, match="symlink"):
        backend.download("train", dest)
    assert list(elsewhere.iterdir()) == []


def test_datastores(backend, tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    ds = backend.create_datastore(DatastoreSpec(name="shared", type="local", path=str(folder)))
    assert ds.path == str(folder.resolve()) and ds.credential == "none"
    assert backend.create_datastore(DatastoreSpec(name="shared", type="local", path=str(folder))) == ds
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(Conflict):
        backend.create_datastore(DatastoreSpec(name="shared", type="local", path=str(other)))
    (tmp_path / "f.txt").write_text("hi")
    r = backend.upload(tmp_path / "f.txt", "in/", datastore="shared")
    assert r.uri == "azureml://datastores/shared/paths/in/f.txt" and (folder / "in" / "f.txt").exists()
    assert [d.name for d in backend.list_datastores()] == ["workspaceblobstore", "shared"]
    assert backend.list_datastores()[0].is_default
    backend.delete_datastore("shared")
    assert (folder / "in" / "f.txt").exists()  # files stay
    with pytest.raises(NotFound):
        backend.get_datastore("shared")
    with pytest.raises(UsageError):
        backend.delete_datastore("workspaceblobstore")
    with pytest.raises(UsageError, match="existing folder"):
        backend.create_datastore(DatastoreSpec(name="x", type="local", path=str(tmp_path / "missing")))


def test_azure_datastore_recorded_but_no_local_transfers(backend, tmp_path):
    with pytest.raises(UsageError, match="literal secret"):
        backend.create_datastore(DatastoreSpec(name="blob", type="azure_blob", account_name="acct", container_name="c",
                                               account_key="hunter2"))
    ds = backend.create_datastore(DatastoreSpec(name="blob", type="azure_blob", account_name="acct", container_name="c",
                                                account_key="env:KEY"))
    assert ds.credential == "account_key"
    assert "env:KEY" not in str(ds.to_dict())
    (tmp_path / "f").write_text("x")
    for call in (lambda: backend.upload(tmp_path / "f", "x", datastore="blob"),
                 lambda: backend.download("x", tmp_path / "o", datastore="blob"),
                 lambda: backend.ls("", datastore="blob")):
        with pytest.raises(UsageError, match="azure backend"):
            call()


def test_data_asset_versions(backend, src):
    backend.upload(src, "train")
    a1 = backend.create_data_asset("train", "train", description="first")
    assert (a1.version, a1.type, a1.path) == ("1", "uri_folder", "azureml://datastores/workspaceblobstore/paths/train")
    a2 = backend.create_data_asset("train", "azureml://datastores/workspaceblobstore/paths/train/a.csv")
    assert (a2.version, a2.type) == ("2", "uri_file")
    a3 = backend.create_data_asset("train", str(src / "a.csv"), tags={"split": "all"})  # a local path is snapshotted
    assert a3.version == "3" and a3.type == "uri_file" and "/LocalUpload/" in a3.path
    (src / "a.csv").write_text("changed")
    ds, rel = a3.path.split("/paths/")[0].rsplit("/", 1)[1], a3.path.split("/paths/")[1]
    assert (Path(backend.get_datastore(ds).path) / rel).read_text() == "x,y\n1,2\n"
    with pytest.raises(Conflict):
        backend.create_data_asset("train", "train", version="2")
    assert backend.create_data_asset("train", "train", version="7").version == "7"
    assert backend.create_data_asset("train", "train").version == "8"
    assert backend.get_data_asset("train").version == "8"
    assert backend.get_data_asset("train", "1").description == "first"
    assert [a.version for a in backend.list_data_assets("train")] == ["1", "2", "3", "7", "8"]
    assert [(a.name, a.version) for a in backend.list_data_assets()] == [("train", "8")]
    with pytest.raises(NotFound):
        backend.get_data_asset("train", "99")
    with pytest.raises(NotFound):
        backend.get_data_asset("nope")
    with pytest.raises(NotFound):
        backend.create_data_asset("x", "no/such/path")
    with pytest.raises(UsageError, match="not a uri_file"):
        backend.create_data_asset("x", "train", type="uri_file")
    with pytest.raises(UsageError):
        backend.create_data_asset("x", "train", type="mltable")


def test_things_in_the_way(backend, src, tmp_path):
    backend.upload(src / "a.csv", "train")  # "train" is now a file
    with pytest.raises(Conflict, match="cannot write"):
        backend.upload(src, "train")
    (tmp_path / "afile").write_text("")
    with pytest.raises(UsageError, match="is a file"):
        backend.download("train", tmp_path / "afile")
