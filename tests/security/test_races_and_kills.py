"""Issue 7 item 3: no lost or half versions under concurrency and kills, no fresh start over a broken registry.

Everything goes through the installed ``leafctl`` executable in real processes. A process is killed
mid-copy deterministically by making it copy a named pipe (FIFO): the test writes a few bytes and keeps
the pipe open, so the process sits in the middle of the copy with its temp file created and partly
written, exactly where a slow disk or a big file would leave it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from leaftest import assert_error, leafctl_executable


def _home() -> Path:
    return Path(os.environ["LEAFCTL_HOME"]) / "workspaces" / "default"


_procs: list[subprocess.Popen] = []
_fds: list[int] = []


@pytest.fixture(autouse=True)
def _no_strays():
    """A failed test must not leave a leafctl blocked on a pipe behind it."""
    yield
    while _fds:
        try:
            os.close(_fds.pop())
        except OSError:
            pass
    while _procs:
        p = _procs.pop()
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)


def _popen(*args: str) -> subprocess.Popen:
    p = subprocess.Popen([leafctl_executable(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _procs.append(p)
    return p


def _feed(pipe: Path, proc: subprocess.Popen, data: bytes = b"x" * 65536) -> int:
    """Once ``proc`` opens the FIFO for reading, write ``data`` and keep the pipe open: its copy then
    waits for more, mid-file. Returns the writer's descriptor (closing it ends the file)."""
    def opened():
        try:
            return os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            return None
    fd = _wait_for(opened, f"{proc.args[1:3]} to open {pipe.name}", proc)
    _fds.append(fd)
    os.set_blocking(fd, True)
    os.write(fd, data)
    return fd


def _md5s(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in skip}


def _rows(sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{_home() / 'registry.sqlite'}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def _wait_for(pred, what: str, proc: subprocess.Popen, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        assert proc.poll() is None, (what, proc.returncode, proc.communicate())
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reaped: its pid is gone, not a zombie


def _debris(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith((".tmp-", ".trash-")))


# --- register racing delete ---------------------------------------------------------------------------

def _model_src(root: Path, ident: str) -> Path:
    d = root / ident
    (d / "sub").mkdir(parents=True)
    (d / "id.txt").write_text(ident)
    for i in range(40):  # enough files that a copy is still going when the delete lands
        (d / "sub" / f"part{i:02d}.bin").write_bytes(hashlib.sha256(f"{ident}/{i}".encode()).digest() * 256)
    return d


def test_register_racing_delete_never_leaves_a_half_version(exe, tmp_path):
    assert exe("model", "list").code == 0  # the workspace exists before the race, as after a first command
    sources: dict[str, Path] = {}
    for rnd in range(6):
        procs = []
        for i in range(3):
            ident = f"r{rnd}-{i}"
            sources[ident] = _model_src(tmp_path / "src", ident)
            procs.append(("register", _popen("model", "register", "race", "--path", str(sources[ident]), "-o", "json")))
            if i == 0:
                procs.append(("delete", _popen("model", "delete", "race", "--yes")))
        for kind, p in procs:
            out, err = p.communicate(timeout=120)
            assert "Traceback" not in err, err
            if kind == "register":
                # A registration that loses the race fails cleanly (one error line) or completes whole.
                assert p.returncode in (0, 1, 5), (p.returncode, err)
                if p.returncode:
                    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
            else:
                assert p.returncode in (0, 3), (p.returncode, err)

        listed = exe("model", "list", "race", "-o", "json")
        versions = [m["version"] for m in listed.json()] if listed.code == 0 else []
        assert listed.code in (0, 3), listed
        for v in versions:
            dest = tmp_path / "dl" / f"{rnd}-{v}"
            r = exe("model", "download", "race", "--version", v, "--output-path", str(dest))
            assert r.code == 0, r
            ident = (dest / "id.txt").read_text()
            assert _md5s(dest, skip=("metadata.json",)) == _md5s(sources[ident]), f"version {v} is incomplete"
        folder = _home() / "models" / "race"
        if folder.is_dir():
            # Nothing but whole versions that the registry lists: no orphan folders, no temp or trash left.
            assert sorted(p.name for p in folder.iterdir()) == sorted(versions), (rnd, versions)
        assert _rows("SELECT version, state FROM models WHERE state != 'ready'") == []


# --- killed processes -----------------------------------------------------------------------------

def test_killed_register_is_cleaned_by_the_next_register(exe, tmp_path):
    src = tmp_path / "model"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(4096))
    os.mkfifo(src / "z.pipe")  # the copy blocks here, inside the registration's temp folder
    assert exe("model", "list").code == 0
    folder = _home() / "models" / "m"

    p = _popen("model", "register", "m", "--path", str(src))
    _feed(src / "z.pipe", p)
    _wait_for(lambda: list(folder.glob(".tmp-*/.z.pipe.*.tmp")), "the registration to block mid-copy", p)
    _kill(p)
    assert list(folder.glob(".tmp-*")), "precondition: the kill left a temp folder"
    assert _rows("SELECT state FROM models WHERE name = 'm'") == [("pending",)], "precondition: a pending row"

    (src / "z.pipe").unlink()
    (src / "z.pipe").write_bytes(b"now a file")
    r = exe("model", "register", "m", "--path", str(src), "-o", "json")
    assert r.code == 0, r
    assert _debris(folder) == []
    assert _rows("SELECT version, state FROM models WHERE name = 'm'") == [(r.json()["version"], "ready")]
    dest = tmp_path / "out"
    assert exe("model", "download", "m", "--output-path", str(dest)).code == 0
    assert _md5s(dest, skip=("metadata.json",)) == _md5s(src)


def test_register_never_touches_the_temp_of_a_live_registration(exe, tmp_path):
    slow = tmp_path / "slow"
    slow.mkdir()
    os.mkfifo(slow / "z.pipe")
    quick = tmp_path / "quick"
    quick.mkdir()
    (quick / "w.bin").write_bytes(b"w")
    assert exe("model", "list").code == 0
    folder = _home() / "models" / "m"
    p = _popen("model", "register", "m", "--path", str(slow))
    _feed(slow / "z.pipe", p, b"slow bytes")
    try:
        tmp = _wait_for(lambda: list(folder.glob(".tmp-*/.z.pipe.*.tmp")), "the registration to block", p)
        assert exe("model", "register", "m", "--path", str(quick)).code == 0
        assert exe("model", "delete", "m", "--yes").code == 0  # deletes the ready version only
        assert tmp[0].exists(), "a live registration's temp file was removed"
        assert _rows("SELECT state FROM models WHERE name = 'm'") == [("pending",)]
        os.close(_fds.pop())  # end of file: let it finish
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    finally:
        if p.poll() is None:
            _kill(p)
    assert _rows("SELECT state FROM models WHERE name = 'm'") == [("ready",)]
    assert _debris(folder) == []


def test_killed_upload_is_cleaned_by_the_next_upload(exe, tmp_path):
    pipe = tmp_path / "big.bin"
    os.mkfifo(pipe)
    store = _home() / "datastores" / "workspaceblobstore"
    assert exe("data", "ls").code in (0, 3)
    p = _popen("data", "upload", str(pipe), "--path", "in/big.bin")
    _feed(pipe, p)
    _wait_for(lambda: list((store / "in").glob(".big.bin.*.tmp")) if (store / "in").is_dir() else [], "the upload to block", p)
    _kill(p)
    assert list((store / "in").glob("*.tmp")), "precondition: the kill left a temp file in the datastore"

    pipe.unlink()
    pipe.write_bytes(os.urandom(10000))
    r = exe("data", "upload", str(pipe), "--path", "in/big.bin")
    assert r.code == 0, r
    assert _debris(store) == []
    assert (store / "in" / "big.bin").read_bytes() == pipe.read_bytes()


def test_killed_data_download_is_cleaned_by_the_next_download(exe, tmp_path):
    store = _home() / "datastores" / "workspaceblobstore"
    assert exe("data", "ls").code in (0, 3)
    (store / "d").mkdir(parents=True)
    (store / "d" / "a.txt").write_text("a")
    os.mkfifo(store / "d" / "b.bin")
    dest = tmp_path / "dest"
    p = _popen("data", "download", "d", "--dest", str(dest))
    _feed(store / "d" / "b.bin", p)
    _wait_for(lambda: list(dest.glob(".b.bin.*.tmp")) if dest.is_dir() else [], "the download to block", p)
    _kill(p)
    assert list(dest.glob("*.tmp")), "precondition: the kill left a temp file in --dest"

    users = dest / ".notes.txt.tmp"  # looks like a temp file, but names no leafctl process: never swept
    users.write_text("the user's")

    (store / "d" / "b.bin").unlink()
    (store / "d" / "b.bin").write_bytes(b"bee")
    r = exe("data", "download", "d", "--dest", str(dest))
    assert r.code == 0, r
    assert _debris(dest) == [users.name]
    assert _md5s(dest, skip=(users.name,)) == _md5s(store / "d")


def test_killed_model_download_is_cleaned_by_the_next_download(exe, tmp_path):
    src = tmp_path / "model"
    src.mkdir()
    (src / "w.bin").write_bytes(b"weights")
    r = exe("model", "register", "m", "--path", str(src), "-o", "json")
    assert r.code == 0, r
    stored = Path(r.json()["path"])
    os.mkfifo(stored / "z.pipe")  # the stored copy now holds a file whose read blocks
    dest = tmp_path / "dest"
    p = _popen("model", "download", "m", "--output-path", str(dest))
    _feed(stored / "z.pipe", p)
    _wait_for(lambda: list(dest.glob(".z.pipe.*.tmp")) if dest.is_dir() else [], "the download to block", p)
    _kill(p)
    assert list(dest.glob("*.tmp")), "precondition: the kill left a temp file in --output-path"

    (stored / "z.pipe").unlink()
    (stored / "z.pipe").write_bytes(b"zzz")
    r = exe("model", "download", "m", "--output-path", str(dest))
    assert r.code == 0, r
    assert _debris(dest) == []
    assert _md5s(dest, skip=("metadata.json",)) == _md5s(stored)


# --- a registry that is gone, empty or corrupt ----------------------------------------------------

def _workspace_with_a_model(exe, tmp_path) -> tuple[Path, dict[str, str]]:
    src = tmp_path / "model"
    src.mkdir()
    (src / "w.bin").write_bytes(os.urandom(2048))
    r = exe("model", "register", "m", "--path", str(src), "-o", "json")
    assert r.code == 0, r
    models = _home() / "models"
    return models, _md5s(models)


def _break(kind: str) -> None:
    reg = _home() / "registry.sqlite"
    for side in ("registry.sqlite-wal", "registry.sqlite-shm"):
        (_home() / side).unlink(missing_ok=True)
    if kind == "missing":
        reg.unlink()
    elif kind == "empty":
        reg.write_bytes(b"")
    elif kind == "no-tables":  # a valid SQLite file, but not leafctl's: nothing in it
        reg.unlink()
        with sqlite3.connect(reg) as db:
            db.execute("CREATE TABLE t (x)")
            db.execute("DROP TABLE t")
        db.close()
    elif kind == "no-models-table":
        with sqlite3.connect(reg) as db:
            db.execute("DROP TABLE models")
        db.close()
    else:
        reg.write_bytes(b"this is not an SQLite database, it was overwritten " * 200)


def _assert_refused(exe, tmp_path, models: Path, before: dict[str, str], kind: str) -> None:
    reg = _home() / "registry.sqlite"
    state = reg.read_bytes() if reg.exists() else None
    for args in (("model", "list"), ("model", "register", "m", "--path", str(tmp_path / "model")),
                 ("model", "show", "m")):
        r = exe(*args)
        assert_error(r, 1, "registry", "restore")
        assert "unexpected" not in r.stderr, r
        assert len(r.stderr.strip().splitlines()) == 1, r
    assert _md5s(models) == before, f"{kind}: old model files changed"
    assert (reg.read_bytes() if reg.exists() else None) == state, f"{kind}: the registry was re-created over the workspace"


def test_empty_registry_is_refused_not_a_fresh_start(exe, tmp_path):
    models, before = _workspace_with_a_model(exe, tmp_path)
    _break("empty")
    _assert_refused(exe, tmp_path, models, before, "empty")


def test_corrupt_registry_is_refused(exe, tmp_path):
    models, before = _workspace_with_a_model(exe, tmp_path)
    _break("corrupt")
    _assert_refused(exe, tmp_path, models, before, "corrupt")


def test_missing_registry_with_content_is_refused(exe, tmp_path):
    models, before = _workspace_with_a_model(exe, tmp_path)
    _break("missing")
    _assert_refused(exe, tmp_path, models, before, "missing")


@pytest.mark.parametrize("kind", ["no-tables", "no-models-table"])
def test_registry_without_leafctls_tables_is_refused(exe, tmp_path, kind):
    models, before = _workspace_with_a_model(exe, tmp_path)
    _break(kind)
    _assert_refused(exe, tmp_path, models, before, kind)
    assert "table" in exe("model", "list").stderr


def test_new_workspace_still_starts_its_registry(exe, tmp_path):
    r = exe("model", "list", "-o", "json")
    assert r.code == 0 and r.json() == [], r
    assert exe("workspace", "create", "other").code == 0
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w").write_text("w")
    assert exe("model", "register", "m", "--path", str(tmp_path / "m")).code == 0
    assert (_home() / "models" / "m" / "1" / "w").read_text() == "w"


def test_delete_refuses_a_row_pointing_outside_the_model_folder(exe, tmp_path):
    """A tampered row never makes delete remove anything else, and nothing is half deleted."""
    models, _ = _workspace_with_a_model(exe, tmp_path)
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("keep")
    (models / "m" / "1").rename(models / "m" / "1-elsewhere")
    with sqlite3.connect(_home() / "registry.sqlite") as db:
        db.execute("UPDATE models SET path = ? WHERE name = 'm'", (str(canary),))
    assert_error(exe("model", "delete", "m", "--yes"), 1, "outside", "model m:1")
    assert (canary / "keep.txt").read_text() == "keep"
    assert [m["version"] for m in exe("model", "list", "m", "-o", "json").json()] == ["1"]  # still there, whole
