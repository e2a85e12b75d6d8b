"""Issue 7 item 2: nothing written outside the destination, nothing read or deleted outside the workspace.

Every case goes through the installed ``leafctl`` executable against a real workspace on disk. Exit codes:
a destination the user gave that would lead outside itself (a symlink placed in it) is 2; a registry row
whose recorded path leads outside the workspace (a corrupt or edited row) is 1.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from leaftest import assert_error


def _registry(leaf_env: Path) -> Path:
    return leaf_env / "leafhome" / "workspaces" / "default" / "registry.sqlite"


def _canary(root: Path) -> Path:
    """A folder outside every destination whose contents must never change."""
    canary = root / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("untouched\n")
    return canary


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _model(exe, root: Path, name: str = "mm") -> None:
    src = root / "model-src"
    (src / "sub").mkdir(parents=True)
    (src / "weights.pkl").write_bytes(b"w")
    (src / "sub" / "part.bin").write_bytes(b"p")
    r = exe("model", "register", name, "--path", str(src), "-o", "json")
    assert r.code == 0, r


def _run(exe) -> dict:
    r = exe("run", "submit", "--command", "mkdir -p ${{outputs.out}}/d && echo x > ${{outputs.out}}/d/f.txt",
            "--output", "out", "--wait", "-o", "json")
    assert r.code == 0 and r.json()["status"] == "Completed", r
    return r.json()


# --- model download ------------------------------------------------------------------------------

def test_model_download_refuses_a_folder_symlink_in_the_destination(exe, leaf_env):
    _model(exe, leaf_env)
    canary = _canary(leaf_env)
    before = _snapshot(canary)
    dest = leaf_env / "dl"
    dest.mkdir()
    os.symlink(canary, dest / "sub")
    r = exe("model", "download", "mm", "--output-path", str(dest))
    assert_error(r, 2, "symlink", "sub")
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1, r
    assert _snapshot(canary) == before
    assert not (dest / "weights.pkl").exists()  # every name is checked before anything is written
    # Without the link the same download works, and again over itself.
    os.unlink(dest / "sub")
    for _ in range(2):
        r = exe("model", "download", "mm", "--output-path", str(dest), "-o", "json")
        assert r.code == 0, r
    assert (dest / "weights.pkl").read_bytes() == b"w" and (dest / "sub" / "part.bin").read_bytes() == b"p"
    assert json.loads((dest / "metadata.json").read_text())["name"] == "mm"


def test_model_download_refuses_a_file_symlink_at_a_final_name(exe, leaf_env):
    _model(exe, leaf_env)
    canary = _canary(leaf_env)
    dest = leaf_env / "dl"
    dest.mkdir()
    os.symlink(canary / "keep.txt", dest / "weights.pkl")
    assert_error(exe("model", "download", "mm", "--output-path", str(dest)), 2, "symlink", "weights.pkl")
    assert (canary / "keep.txt").read_text() == "untouched\n"
    assert (dest / "weights.pkl").is_symlink()  # refused, not replaced either


def test_model_download_refuses_a_symlink_at_metadata_json(exe, leaf_env):
    _model(exe, leaf_env)
    canary = _canary(leaf_env)
    dest = leaf_env / "dl"
    dest.mkdir()
    os.symlink(canary / "keep.txt", dest / "metadata.json")
    assert_error(exe("model", "download", "mm", "--output-path", str(dest)), 2, "symlink", "metadata.json")
    assert (canary / "keep.txt").read_text() == "untouched\n"
    assert not (dest / "weights.pkl").exists()  # refused before the model's files were written


def test_model_download_refuses_a_registry_path_outside_the_workspace(exe, leaf_env):
    _model(exe, leaf_env)
    secret = leaf_env / "secret-model"
    secret.mkdir()
    (secret / "id_rsa").write_text("PRIVATE")
    with sqlite3.connect(_registry(leaf_env)) as db:
        db.execute("UPDATE models SET path = ? WHERE name = 'mm'", (str(secret),))
    dest = leaf_env / "dl"
    assert_error(exe("model", "download", "mm", "--output-path", str(dest)), 1, "outside", "model mm:1")
    assert not (dest / "id_rsa").exists()


# --- run download --------------------------------------------------------------------------------

def test_run_download_refuses_a_folder_symlink_in_the_destination(exe, leaf_env):
    run = _run(exe)
    canary = _canary(leaf_env)
    before = _snapshot(canary)
    dest = leaf_env / "dl"
    dest.mkdir()
    os.symlink(canary, dest / "out")
    assert_error(exe("run", "download", run["id"], "--dest", str(dest)), 2, "symlink", "out")
    assert _snapshot(canary) == before
    # deeper down too: DIR/out/d -> canary
    os.unlink(dest / "out")
    (dest / "out").mkdir()
    os.symlink(canary, dest / "out" / "d")
    assert_error(exe("run", "download", run["id"], "--dest", str(dest)), 2, "symlink")
    assert _snapshot(canary) == before
    os.unlink(dest / "out" / "d")
    r = exe("run", "download", run["id"], "--dest", str(dest), "-o", "json")
    assert r.code == 0, r
    assert (dest / "out" / "d" / "f.txt").read_text() == "x\n"


def test_run_download_refuses_an_output_name_escaping_from_the_registry(exe, leaf_env):
    run = _run(exe)
    ws = leaf_env / "leafhome" / "workspaces" / "default"
    # What a crafted row would pull in: runs/<id>/outputs/../../escape is the workspace's runs/escape.
    (ws / "runs" / "escape").mkdir()
    (ws / "runs" / "escape" / "payload.txt").write_text("boo")
    with sqlite3.connect(_registry(leaf_env)) as db:
        spec = json.loads(db.execute("SELECT spec FROM runs WHERE id = ?", (run["id"],)).fetchone()[0])
        spec["outputs"]["../../escape"] = "x"
        db.execute("UPDATE runs SET spec = ? WHERE id = ?", (json.dumps(spec), run["id"]))
    dest = leaf_env / "a" / "b" / "dl"
    r = exe("run", "download", run["id"], "--dest", str(dest))
    assert_error(r, 1, "../../escape")
    assert not (leaf_env / "a" / "escape").exists()
    assert not (dest / "out").exists()  # checked before anything is written


# --- data download: the same rule ---------------------------------------------------------------

def test_data_download_refuses_a_file_symlink_at_a_final_name(exe, leaf_env):
    src = leaf_env / "train"
    src.mkdir()
    (src / "a.csv").write_text("1\n")
    assert exe("data", "upload", str(src), "--path", "train").code == 0
    canary = _canary(leaf_env)
    dest = leaf_env / "dl"
    dest.mkdir()
    os.symlink(canary / "keep.txt", dest / "a.csv")
    assert_error(exe("data", "download", "train", "--dest", str(dest)), 2, "symlink", "a.csv")
    assert (canary / "keep.txt").read_text() == "untouched\n"
    # A link that stays inside DIR is not followed (nor replaced) either: one rule for every download.
    os.unlink(dest / "a.csv")
    (dest / "other.csv").write_text("mine\n")
    os.symlink(dest / "other.csv", dest / "a.csv")
    assert_error(exe("data", "download", "train", "--dest", str(dest)), 2, "symlink", "a.csv")
    assert (dest / "other.csv").read_text() == "mine\n" and (dest / "a.csv").is_symlink()


# --- data upload: links are skipped unless --follow-links ----------------------------------------

def _linked_folder(leaf_env: Path) -> Path:
    secret = leaf_env / "secret.txt"
    secret.write_text("TOP SECRET")
    elsewhere = leaf_env / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "other.csv").write_text("o\n")
    src = leaf_env / "folder"
    src.mkdir()
    (src / "real.csv").write_text("r\n")
    os.symlink(secret, src / "creds.txt")
    os.symlink(elsewhere, src / "more")
    return src


def _stored(exe, path: str) -> set[str]:
    r = exe("data", "ls", path, "-o", "json")
    assert r.code == 0, r
    return {e["path"] for e in r.json()}


def test_data_upload_skips_links_with_one_warning(exe, leaf_env):
    src = _linked_folder(leaf_env)
    r = exe("data", "upload", str(src), "--path", "up", "-o", "json")
    assert r.code == 0, r
    assert r.json()["files"] == 1
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1, r
    assert "creds.txt" in warnings[0] and "more" in warnings[0] and "--follow-links" in warnings[0]
    assert _stored(exe, "up") == {"up/real.csv"}
    store = leaf_env / "leafhome" / "workspaces" / "default" / "datastores" / "workspaceblobstore"
    assert "TOP SECRET" not in {p.read_text() for p in store.rglob("*") if p.is_file()}


def test_data_upload_follow_links(exe, leaf_env):
    src = _linked_folder(leaf_env)
    r = exe("data", "upload", str(src), "--path", "up", "--follow-links", "-o", "json")
    assert r.code == 0, r
    assert not [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")], r
    assert _stored(exe, "up") == {"up/real.csv", "up/creds.txt", "up/more/other.csv"}


def test_data_upload_follow_links_survives_a_link_loop(exe, leaf_env):
    src = leaf_env / "loop"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f.csv").write_text("f\n")
    os.symlink(src, src / "d" / "back")  # d/back -> the folder itself
    r = exe("data", "upload", str(src), "--path", "loop", "--follow-links", "-o", "json", timeout=60)
    assert r.code == 0, r
    assert "loop/d/f.csv" in _stored(exe, "loop")


def test_endpoint_invoke_refuses_a_model_path_outside_the_workspace(exe, leaf_env):
    _model(exe, leaf_env)
    # A deployment without a scoring script serves an MLflow model: register this one as such.
    src = leaf_env / "model-src"
    (src / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    assert exe("model", "register", "mm", "--path", str(src), "--type", "mlflow", "--version", "9").code == 0
    assert exe("model", "delete", "mm", "--version", "1", "--yes").code == 0
    assert exe("endpoint", "create", "ep", "--model", "mm:9").code == 0
    elsewhere = leaf_env / "elsewhere-model"
    elsewhere.mkdir()
    with sqlite3.connect(_registry(leaf_env)) as db:
        db.execute("UPDATE models SET path = ? WHERE name = 'mm'", (str(elsewhere),))
    data = leaf_env / "in.csv"
    data.write_text("a\n1\n")
    r = exe("endpoint", "invoke", "ep", "--input", str(data))
    assert_error(r, 1, "outside", "model mm:9")
    assert exe("run", "list", "-o", "json").json() == []  # refused before any run was queued


def test_run_output_destination_never_written_through_a_symlink(exe, leaf_env):
    """`run submit --output out=DEST` copies the output into DEST when the run ends: a link that sits in
    DEST is refused (the run fails, saying so), never written through."""
    canary = _canary(leaf_env)
    dest = leaf_env / "dest"
    dest.mkdir()
    (dest / "sub").symlink_to(canary)
    before = _snapshot(canary)
    r = exe("run", "submit", "--command", "mkdir -p ${{outputs.out}}/sub && echo evil > ${{outputs.out}}/sub/keep.txt",
            "--output", f"out={dest}", "--wait", "-o", "json")
    assert r.code == 1, r
    assert "symlink" in r.stderr.lower(), r
    assert _snapshot(canary) == before
    # Without the link, the same run completes and the copy lands in DEST.
    (dest / "sub").unlink()
    r = exe("run", "submit", "--command", "mkdir -p ${{outputs.out}}/sub && echo ok > ${{outputs.out}}/sub/keep.txt",
            "--output", f"out={dest}", "--wait", "-o", "json")
    assert r.code == 0, r
    assert (dest / "sub" / "keep.txt").read_text() == "ok\n"


# --- issue 7, second round: links in what model register copies ---------------------------------

def _stored_model(leaf_env: Path, name: str, version: str = "1") -> Path:
    return leaf_env / "leafhome" / "workspaces" / "default" / "models" / name / version


def test_model_register_path_skips_links_with_one_warning(exe, leaf_env):
    src = _linked_folder(leaf_env)
    r = exe("model", "register", "a", "--path", str(src), "-o", "json")
    assert r.code == 0, r
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1, r
    assert "creds.txt" in warnings[0] and "more" in warnings[0] and "--follow-links" in warnings[0]
    assert _snapshot(_stored_model(leaf_env, "a")) == {"real.csv": b"r\n"}


def test_model_register_path_follow_links(exe, leaf_env):
    src = _linked_folder(leaf_env)
    r = exe("model", "register", "a", "--path", str(src), "--follow-links", "-o", "json")
    assert r.code == 0, r
    assert not [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")], r
    stored = _stored_model(leaf_env, "a")
    assert _snapshot(stored) == {"real.csv": b"r\n", "creds.txt": b"TOP SECRET", "more/other.csv": b"o\n"}
    assert not any(p.is_symlink() for p in stored.rglob("*"))  # copies, not links out of the workspace


def _run_with_a_link_out(exe, leaf_env: Path) -> tuple[str, Path]:
    secret = leaf_env / "secret.txt"
    secret.write_text("TOP SECRET")
    r = exe("run", "submit", "--command", f"mkdir -p ${{{{outputs.o}}}} && echo w > ${{{{outputs.o}}}}/w "
            f"&& ln -s {secret} ${{{{outputs.o}}}}/link", "--output", "o", "--wait", "-o", "json")
    assert r.code == 0 and r.json()["status"] == "Completed", r
    return r.json()["id"], secret


def test_model_register_run_refuses_an_output_link_leaving_the_workspace(exe, leaf_env):
    run_id, _ = _run_with_a_link_out(exe, leaf_env)
    r = exe("model", "register", "a", "--run", run_id, "--output", "o")
    assert_error(r, 1, "symlink", "outside the workspace", "link")
    assert "registry row" not in r.stderr, r
    assert not _stored_model(leaf_env, "a").exists()
    assert exe("model", "show", "a").code == 3  # no half version left behind


def test_run_download_names_the_link_leaving_the_workspace(exe, leaf_env):
    run_id, _ = _run_with_a_link_out(exe, leaf_env)
    dest = leaf_env / "dl"
    r = exe("run", "download", run_id, "--dest", str(dest))
    assert_error(r, 1, "symlink", "outside the workspace", "link")
    assert "registry row is corrupt" not in r.stderr, r
    assert not (dest / "o" / "link").exists()


def test_links_inside_the_workspace_are_still_copied(exe, leaf_env):
    r = exe("run", "submit", "--command", "mkdir -p ${{outputs.o}}/d ${{outputs.p}} && echo w > ${{outputs.o}}/d/w "
            "&& echo q > ${{outputs.p}}/q && ln -s d/w ${{outputs.o}}/alias && ln -s ${{outputs.p}} ${{outputs.o}}/plink",
            "--output", "o", "--output", "p", "--wait", "-o", "json")
    assert r.code == 0, r
    assert exe("model", "register", "a", "--run", r.json()["id"], "--output", "o").code == 0
    assert _snapshot(_stored_model(leaf_env, "a")) == {"alias": b"w\n", "d/w": b"w\n", "plink/q": b"q\n"}
