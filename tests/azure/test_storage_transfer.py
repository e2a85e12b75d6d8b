"""Blob transfers end to end: the fake Azure ML control plane names the datastore, Azurite holds the bytes.

No mocks: AzureBackend resolves ``workspaceblobstore`` through azure-ai-ml (fake transport), fetches its
key, and moves bytes with azure-storage-blob against a real Azurite process.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from leafctl.errors import LeafctlError, NotFound, OperationFailed, UsageError

pytestmark = pytest.mark.azurite


def md5(p: Path) -> str:
    return hashlib.md5(p.read_bytes()).hexdigest()


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): md5(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def small_blocks(monkeypatch):
    """Make 'big file' mean > 256 KiB (64 KiB blocks), so the parallel block path runs on small data."""
    from leafctl.backends.azure import transfer

    monkeypatch.setattr(transfer, "SINGLE_PUT", 256 << 10)
    monkeypatch.setattr(transfer, "SMALL", 128 << 10)
    monkeypatch.setattr(transfer, "BLOCK", 64 << 10)


@pytest.fixture
def folder(tmp_path) -> Path:
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    for i in range(12):
        (src / f"f{i}.csv").write_bytes(os.urandom(100 + i * 37))
    (src / "sub" / "a.txt").write_text("hello\n")
    (src / "sub" / "deeper" / "empty.bin").write_bytes(b"")
    (src / "big.bin").write_bytes(os.urandom((1 << 20) + 12345))
    return src


class Counter:
    def __init__(self):
        self.total = self.done = 0
        self.finished = False

    def start(self, total, description=""):
        self.total = total

    def advance(self, n):
        self.done += n

    def finish(self):
        self.finished = True


def test_roundtrip_folder_with_checksums(az_backend, folder, tmp_path, small_blocks):
    dest = f"t/{uuid.uuid4().hex}"
    prog = Counter()
    r = az_backend.upload(folder, dest, progress=prog)
    assert r.files == 15 and r.skipped == 0 and r.datastore == "workspaceblobstore"
    assert r.uri == f"azureml://datastores/workspaceblobstore/paths/{dest}"
    assert prog.finished and prog.done == prog.total == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    listed = {e.path: e for e in az_backend.ls(dest)}
    local = tree(folder)
    assert set(listed) == {f"{dest}/{k}" for k in local}
    for k, h in local.items():  # Content-MD5 is set on every blob, block uploads included
        assert listed[f"{dest}/{k}"].md5 == h

    out = tmp_path / "out"
    d = az_backend.download(dest, out)
    assert d.files == 15
    assert tree(out) == local

    # one file, by azureml:// URI, into a folder
    one = tmp_path / "one"
    az_backend.download(f"azureml://datastores/workspaceblobstore/paths/{dest}/sub/a.txt", one)
    assert (one / "a.txt").read_text() == "hello\n"


def test_reupload_skips_unchanged(az_backend, folder, small_blocks):
    dest = f"t/{uuid.uuid4().hex}"
    az_backend.upload(folder, dest)
    again = az_backend.upload(folder, dest)
    assert (again.files, again.skipped, again.bytes) == (0, 15, 0)
    (folder / "f3.csv").write_bytes(b"changed")
    third = az_backend.upload(folder, dest)
    assert (third.files, third.skipped) == (1, 14)
    assert {e.path: e.md5 for e in az_backend.ls(f"{dest}/f3.csv")} == {f"{dest}/f3.csv": md5(folder / "f3.csv")}


def test_single_file_destinations(az_backend, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("a,b\n1,2\n")
    base = f"t/{uuid.uuid4().hex}"
    assert az_backend.upload(f, f"{base}/data.csv").path == f"{base}/data.csv"  # a file name
    assert az_backend.upload(f, f"{base}/dir/").path == f"{base}/dir/train.csv"  # into a folder
    assert az_backend.upload(f, f"{base}/dir").path == f"{base}/dir/train.csv"  # an existing folder
    entries = az_backend.ls(base)
    assert sorted(e.path for e in entries) == [f"{base}/data.csv", f"{base}/dir/train.csv"]
    assert all(e.size == 8 and e.modified_at for e in entries)


def test_missing_paths_are_not_found(az_backend, tmp_path):
    with pytest.raises(NotFound):
        az_backend.ls(f"t/{uuid.uuid4().hex}")
    with pytest.raises(NotFound):
        az_backend.download(f"t/{uuid.uuid4().hex}", tmp_path / "x")
    with pytest.raises(NotFound):
        az_backend.upload(tmp_path / "nope", "t/x")


def test_path_escape_refused(az_backend, azurite_up, tmp_path):
    with pytest.raises(UsageError):
        az_backend.download("../x", tmp_path / "a")
    with pytest.raises(UsageError):
        az_backend.upload(tmp_path, "/abs/path")
    # A stored name that becomes absolute below the requested folder ('evil//abs.txt' under 'evil/'):
    # refused before anything is written.
    base = f"t/{uuid.uuid4().hex}"
    cc = azurite_up.service_client().get_container_client("azureml-blobstore")
    cc.upload_blob(f"{base}/ok.txt", b"fine")
    cc.upload_blob(f"{base}//abs.txt", b"evil")
    out = tmp_path / "dl"
    with pytest.raises(UsageError, match="outside"):
        az_backend.download(base, out)
    assert not any(out.rglob("*"))


def test_dotdot_blob_names_refused_before_writing(tmp_path):
    """Real Azure accepts blob names Azurite rejects ('a/../../x'): the check runs on the listing itself."""
    from azure.storage.blob import BlobProperties

    from leafctl.backends.azure import transfer

    blobs = []
    marker = BlobProperties()
    marker.name, marker.size, marker.metadata = "p/sub", 0, {"hdi_isfolder": "true"}  # an ADLS Gen2 folder
    assert transfer.is_dir_marker(marker)
    for name, size in (("p/fine.txt", 1), ("p/../../x.txt", 1)):
        b = BlobProperties()
        b.name, b.size = name, size
        blobs.append(b)
    with pytest.raises(UsageError, match="outside"):
        transfer.download_blobs(None, blobs, "p/", tmp_path / "d")
    assert not any((tmp_path / "d").rglob("*"))


def test_azurite_stopped_mid_upload_then_rerun_completes(az_backend, azurite_up, tmp_path):
    src = tmp_path / "many"
    src.mkdir()
    for i in range(300):
        (src / f"part-{i:03d}.bin").write_bytes(os.urandom(4096))
    dest = f"t/{uuid.uuid4().hex}"

    class StopAfter(Counter):
        def advance(self, n):
            super().advance(n)
            if self.done >= 40 * 4096 and azurite_up.running:
                azurite_up.stop()

    with pytest.raises(OperationFailed) as err:
        az_backend.upload(src, dest, progress=StopAfter())
    line = err.value.line()
    assert "\n" not in line and "lost the connection to storage" in line and "re-run" in line
    assert azurite_up.key not in line and "AccountKey" not in line

    azurite_up.start()
    az_backend._containers = None  # a fresh invocation, as the re-run command would be
    r = az_backend.upload(src, dest)
    assert r.files + r.skipped == 300
    assert r.skipped >= 30  # what the first attempt finished is not sent again
    listed = {e.path.rsplit("/", 1)[1]: e.md5 for e in az_backend.ls(dest)}
    assert listed == tree(src)


def test_errors_are_leafctl_errors_without_secrets(az_backend, azurite_up, tmp_path):
    """Storage down before anything starts: one line, exit 1, endpoint named, key never."""
    f = tmp_path / "x.txt"
    f.write_text("x")
    azurite_up.stop()
    try:
        with pytest.raises(LeafctlError) as err:
            az_backend.upload(f, "t/x.txt")
    finally:
        azurite_up.start()
    assert err.value.exit_code == 1
    assert azurite_up.blob_endpoint.split("//")[1].split("/")[0] in err.value.line()
    assert azurite_up.key not in err.value.line()
