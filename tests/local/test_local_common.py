"""Backend-independent helpers: safe paths, URIs, versions, checksums, best-model choice, metadata."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from leafctl.backends.base import Model
from leafctl.backends.common import (atomic_write, clean_store_path, format_uri, md5_file, next_version, parse_uri,
                                     pick_best, safe_join, split_name_version, version_key, write_metadata)
from leafctl.errors import NotFound, UsageError


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", "..", "C:/x", "a\\..\\..\\x", ""])
def test_safe_join_refuses_escapes(tmp_path, name):
    with pytest.raises(UsageError):
        safe_join(tmp_path, name)


def test_safe_join_refuses_symlink_escape(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(UsageError, match="symlink"):
        safe_join(root, "link/x.txt")
    assert safe_join(root, "a/b.txt") == root / "a" / "b.txt"


def test_clean_store_path():
    assert clean_store_path("a//b/./c/") == "a/b/c"
    assert clean_store_path("") == ""
    for bad in ("../x", "/abs", "a/../../b"):
        with pytest.raises(UsageError):
            clean_store_path(bad)


def test_uri_roundtrip():
    uri = format_uri("ws", "data/train.csv")
    assert uri == "azureml://datastores/ws/paths/data/train.csv"
    assert parse_uri(uri) == ("ws", "data/train.csv")
    assert parse_uri("./local") is None


def test_versions():
    assert next_version([]) == "1"
    assert next_version(["1", "2", "10", "beta"]) == "11"
    assert sorted(["10", "2", "1", "b"], key=version_key) == ["1", "2", "10", "b"]
    assert split_name_version("m:3") == ("m", "3")
    assert split_name_version("azureml:m:3") == ("m", "3")
    assert split_name_version("m@latest") == ("m", None)
    assert split_name_version("m") == ("m", None)


def test_md5_and_atomic_write(tmp_path):
    p = tmp_path / "sub" / "f.bin"
    data = os.urandom(3 * 1024 * 1024 + 7)
    atomic_write(p, data)
    assert p.read_bytes() == data
    assert md5_file(p, chunk=4096) == hashlib.md5(data).hexdigest()
    assert [x.name for x in p.parent.iterdir()] == ["f.bin"]  # no temp file left behind


def _m(version, **tags):
    return Model(name="m", version=version, tags={k: str(v) for k, v in tags.items()})


def test_pick_best_highest_lowest_and_skips():
    models = [_m("1", accuracy=0.8), _m("2", accuracy=0.95), _m("3", accuracy="n/a"), _m("4"), _m("5", accuracy=0.7)]
    assert pick_best(models, "accuracy").version == "2"
    assert pick_best(models, "accuracy", lowest=True).version == "5"
    # ties go to the newest version
    assert pick_best([_m("1", a=1), _m("2", a=1)], "a").version == "2"
    with pytest.raises(NotFound, match="loss"):
        pick_best(models, "loss")
    with pytest.raises(NotFound):
        pick_best([_m("1", loss="nan")], "loss")


def test_write_metadata(tmp_path):
    m = Model(name="m", version="3", tags={"accuracy": "0.93", "owner": "ana"}, created_at="2024-01-01T00:00:00+00:00")
    path = write_metadata(tmp_path, m)
    doc = json.loads(path.read_text())
    assert doc["name"] == "m" and doc["version"] == "3"
    assert doc["tags"] == {"accuracy": "0.93", "owner": "ana"}
    assert doc["metrics"] == {"accuracy": 0.93}
    assert doc["created_at"] == "2024-01-01T00:00:00+00:00"
