"""Issue 7 item 2 on the Azure backend: a download into a local folder follows the same rule as on the
local backend (a symlink placed in the destination is refused, exit 2, and nothing lands outside it).

The control plane is tests/azure/fake_arm.py, the bytes live in Azurite; the fixtures are tests/azure's own,
loaded from its conftest (this folder is not below it).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from leaftest import assert_error

_AZ = Path(__file__).resolve().parents[1] / "azure"
_spec = importlib.util.spec_from_file_location("_leafctl_security_azure_fixtures", _AZ / "conftest.py")
_conf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conf)  # puts tests/azure on sys.path: fake_arm and azurite are the suite's modules

fake, azure_profile, azure, azure_blob = _conf.fake, _conf.azure_profile, _conf.azure, _conf.azure_blob
azurite = _conf.azurite
az_backend, azurite_up, fj, az = _conf.az_backend, _conf.azurite_up, _conf.fj, _conf.az


@pytest.mark.azurite
def test_azure_model_download_refuses_a_symlink_in_the_destination(azure_blob, leaf_env):
    src = leaf_env / "model-src"
    (src / "sub").mkdir(parents=True)
    (src / "weights.pkl").write_bytes(b"w")
    (src / "sub" / "part.bin").write_bytes(b"p")
    assert azure_blob("model", "register", "mm", "--path", str(src)).code == 0
    # Not even a link that stays inside DIR is followed: DIR/sub -> DIR/real (one rule, no judgement calls).
    inner = leaf_env / "inner"
    (inner / "real").mkdir(parents=True)
    os.symlink(inner / "real", inner / "sub")
    assert_error(azure_blob("model", "download", "mm", "--output-path", str(inner)), 2, "symlink", "sub")
    assert list((inner / "real").iterdir()) == []

    canary = leaf_env / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("untouched\n")
    dest = leaf_env / "dl"
    dest.mkdir()
    os.symlink(canary, dest / "sub")
    assert_error(azure_blob("model", "download", "mm", "--output-path", str(dest)), 2, "symlink", "sub")
    assert sorted(p.name for p in canary.iterdir()) == ["keep.txt"]
    assert not (dest / "weights.pkl").exists()

    # A link at a final name is refused too, not written through.
    os.unlink(dest / "sub")
    os.symlink(canary / "keep.txt", dest / "weights.pkl")
    assert_error(azure_blob("model", "download", "mm", "--output-path", str(dest)), 2, "symlink", "weights.pkl")
    assert (canary / "keep.txt").read_text() == "untouched\n"

    os.unlink(dest / "weights.pkl")
    assert azure_blob("model", "download", "mm", "--output-path", str(dest)).code == 0
    assert (dest / "weights.pkl").read_bytes() == b"w" and (dest / "sub" / "part.bin").read_bytes() == b"p"


@pytest.mark.azurite
def test_azure_data_upload_skips_links(azure_blob, leaf_env):
    secret = leaf_env / "secret.txt"
    secret.write_text("TOP SECRET")
    src = leaf_env / "folder"
    src.mkdir()
    (src / "real.csv").write_text("r\n")
    os.symlink(secret, src / "creds.txt")
    elsewhere = leaf_env / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "other.csv").write_text("o\n")
    os.symlink(elsewhere, src / "more")
    r = azure_blob("data", "upload", str(src), "--path", "f", "-o", "json")
    assert r.code == 0, r
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "creds.txt" in warnings[0] and "more" in warnings[0], r
    listed = {e["path"] for e in azure_blob("data", "ls", "f", "-o", "json").json()}
    assert listed == {"f/real.csv"}
    r = azure_blob("data", "upload", str(src), "--path", "g", "--follow-links", "-o", "json")
    assert r.code == 0, r
    assert {e["path"] for e in azure_blob("data", "ls", "g", "-o", "json").json()} == \
        {"g/real.csv", "g/creds.txt", "g/more/other.csv"}


@pytest.mark.azurite
def test_azure_run_download_refuses_a_symlink_in_the_destination(az, fj, leaf_env):
    r = az("run", "submit", "--command", "echo ${{outputs.model}}", "--output", "model", "--compute", "gpu-cluster",
           "-o", "json")
    assert r.code == 0, r
    rid = r.json()["id"]
    assert az("run", "wait", rid, "-o", "json").json()["status"] == "Completed"
    canary = leaf_env / "canary"
    canary.mkdir()
    dest = leaf_env / "dl"
    dest.mkdir()
    os.symlink(canary, dest / "model")  # DIR/<output> -> elsewhere
    assert_error(az("run", "download", rid, "--dest", str(dest)), 2, "symlink", "model")
    assert list(canary.iterdir()) == []
    os.unlink(dest / "model")
    assert az("run", "download", rid, "--dest", str(dest)).code == 0
    assert (dest / "model" / "model.txt").is_file()


@pytest.mark.azurite
def test_azure_model_register_skips_links_with_one_warning(azure_blob, leaf_env):
    """Issue 7 round 2, item 3: model register --path uploads no link's target unless --follow-links."""
    secret = leaf_env / "secret.txt"
    secret.write_text("TOP SECRET")
    src = leaf_env / "model-src"
    src.mkdir()
    (src / "w.bin").write_bytes(b"w")
    os.symlink(secret, src / "link")
    os.symlink(leaf_env, src / "dlink")
    r = azure_blob("model", "register", "mm", "--path", str(src))
    assert r.code == 0, r
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "link" in warnings[0] and "dlink" in warnings[0] and "--follow-links" in warnings[0], r
    dest = leaf_env / "dl"
    assert azure_blob("model", "download", "mm", "--output-path", str(dest)).code == 0
    assert sorted(p.name for p in dest.iterdir() if p.name != "metadata.json") == ["w.bin"]
    assert azure_blob("model", "register", "mm", "--path", str(src / "link"), "--follow-links").code == 0
