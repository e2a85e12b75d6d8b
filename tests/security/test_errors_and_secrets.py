"""Issue 7, items 4 and 5: every failure is a documented error, and secrets never reach the terminal.

Everything runs through the installed ``leafctl`` in a real subprocess, against real files:
- permissions: the tests run as root, which ignores permission bits, so those cases run leafctl as the
  ``nobody`` user (``setpriv``) on a root-owned file or folder mode 000;
- a read-only folder is a read-only tmpfs mount, a full disk a 1 MiB tmpfs mount (both unmounted after);
- the secrets cases use the fake Azure ML control plane (tests/azure/fake_arm.py, shared with the
  subprocess through a state file) and a blob endpoint where nothing listens (storage that is down).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from leaftest import Result, assert_error, leafctl_executable

AZURE_TESTS = Path(__file__).resolve().parents[1] / "azure"
SAMPLE = Path(__file__).resolve().parents[2] / "leafctl" / "esp" / "data" / "campaign.csv"


def clean_error(r: Result, code: int, *fragments: str) -> None:
    """The documented code, exactly one `error:` line, never "unexpected", no traceback."""
    assert_error(r, code, *fragments)
    assert len([ln for ln in r.stderr.splitlines() if ln.startswith("error:")]) == 1, r
    assert "unexpected" not in r.stderr, r


# ------------------------------------------------------------------ helpers: other users, mounts


def as_nobody(env: dict, *args: str, cwd: str | None = None) -> Result:
    cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", leafctl_executable(), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=cwd)
    return Result(p.returncode, p.stdout, p.stderr)


@pytest.fixture
def open_dir():
    """A folder the ``nobody`` user can reach (pytest's tmp_path is 0700 under root)."""
    d = Path(tempfile.mkdtemp(prefix="leafctl-sec-"))
    d.chmod(0o755)
    yield d
    for p in d.rglob("*"):
        try:
            p.chmod(0o755)
        except OSError:
            pass
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def mount(tmp_path):
    """``mount(options)`` -> a fresh tmpfs mounted with those options; unmounted at teardown."""
    mounted: list[Path] = []

    def make(options: str) -> Path:
        d = tmp_path / f"mnt{len(mounted)}"
        d.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(d)], check=True)
        mounted.append(d)
        return d

    yield make
    for d in reversed(mounted):
        subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.fixture
def model(exe, leaf_env):
    """``model(name)``: registers a tiny evolve run's model as NAME:1; returns its folder in the registry."""
    work = leaf_env / "evolve"
    work.mkdir()
    lines = SAMPLE.read_text().splitlines()
    (work / "data.csv").write_text("\n".join(lines[:101]) + "\n")
    (work / "ctx.csv").write_text("\n".join(",".join(ln.split(",")[:6]) for ln in lines[:6]) + "\n")
    (work / "ev.toml").write_text('data = "data.csv"\nactions = ["discount", "emails"]\noutcomes = ["revenue", "margin"]\n'
                                  'objectives = ["revenue:max", "margin:max"]\npopulation = 8\nelites = 2\n'
                                  'generations = 1\nhidden = 4\npredictor_hidden = 6\ndevice = "cpu"\n')
    r = exe("run", "evolve", str(work / "ev.toml"), "-o", "json")
    assert r.code == 0, r
    run_id = r.json()["run_id"]

    def register(name: str) -> Path:
        r = exe("model", "register", name, "--run", run_id, "-o", "json")
        assert r.code == 0, r
        return Path(r.json()["path"])

    register.contexts = work / "ctx.csv"  # type: ignore[attr-defined]
    return register


# ------------------------------------------------------------------ item 4: documented errors


def test_unreadable_config_file_is_exit_4(open_dir, leaf_env):
    cfg = open_dir / "config.toml"
    cfg.write_text('current_profile = "default"\n')
    cfg.chmod(0o000)
    env = {**os.environ, "LEAFCTL_CONFIG": str(cfg), "LEAFCTL_HOME": str(open_dir / "home")}
    for args in (("config", "show"), ("model", "list"), ("config", "set", "compute", "c1")):
        clean_error(as_nobody(env, *args, cwd=str(open_dir)), 4, "permission denied", str(cfg))


def test_unreadable_config_folder_is_exit_4(open_dir, leaf_env):
    folder = open_dir / "cfg"
    folder.mkdir()
    (folder / "config.toml").write_text('current_profile = "default"\n')
    folder.chmod(0o000)
    env = {**os.environ, "LEAFCTL_CONFIG": str(folder / "config.toml"), "LEAFCTL_HOME": str(open_dir / "home")}
    clean_error(as_nobody(env, "config", "show", cwd=str(open_dir)), 4, "permission denied")


def test_deeply_nested_config_toml_is_exit_2(exe, leaf_env):
    cfg = Path(os.environ["LEAFCTL_CONFIG"])
    cfg.parent.mkdir(parents=True)
    cfg.write_text("a = " + "[" * 100000 + "\n")
    clean_error(exe("config", "show"), 2, str(cfg), "nested too deeply")


def test_non_utf8_evolve_toml_is_exit_2(exe, tmp_path):
    f = tmp_path / "latin.toml"
    f.write_bytes(b'data = "caf\xe9.csv"\n')
    clean_error(exe("run", "evolve", str(f)), 2, "latin.toml", "UTF-8")


def test_deeply_nested_evolve_toml_is_exit_2(exe, tmp_path):
    f = tmp_path / "deep.toml"
    f.write_text("a = " + "[" * 100000 + "\n")
    clean_error(exe("run", "evolve", str(f)), 2, "deep.toml", "nested too deeply")


def test_latin1_contexts_csv_is_exit_2(exe, model, tmp_path):
    model("m")
    f = tmp_path / "latin.csv"
    f.write_bytes(b"age,income,past_spend,visits,region,channel\n30,40,50,2,\xe9ast,web\n")
    clean_error(exe("model", "prescribe", "m", "-i", str(f)), 2, "UTF-8")


def test_300_character_upload_path_is_exit_2(exe, tmp_path):
    src = tmp_path / "a.csv"
    src.write_text("x\n1\n")
    r = exe("data", "upload", str(src), "--path", "d/" + "n" * 300 + ".csv")
    clean_error(r, 2, "too long", "304 characters")


def test_prescribe_output_into_read_only_folder_is_exit_4(exe, model, mount):
    model("m")
    ro = mount("size=1m,ro")
    r = exe("model", "prescribe", "m", "-i", str(model.contexts), "--out", str(ro / "out.csv"))
    clean_error(r, 4, "read-only", str(ro / "out.csv"))
    assert ".tmp" not in r.stderr, r  # the user's file is named, not our temp file


def test_download_into_read_only_folder_is_exit_4(exe, model, mount):
    model("m")
    ro = mount("size=1m,ro")
    clean_error(exe("model", "download", "m", "--output-path", str(ro / "m")), 4, "read-only")


def test_model_whose_json_is_a_list_is_damaged(exe, model):
    folder = model("m")
    (folder / "data" / "esp_model.json").write_text("[]")
    clean_error(exe("model", "prescribe", "m", "-i", str(model.contexts)), 2, "model m:1 is damaged", "esp_model.json")


def test_model_whose_npz_is_truncated_is_damaged(exe, model):
    folder = model("m")
    npz = folder / "data" / "prescriptors.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    clean_error(exe("model", "prescribe", "m", "-i", str(model.contexts)), 2, "model m:1 is damaged", "prescriptors.npz")


def test_corrupt_registry_is_exit_1(exe, model, leaf_env):
    model("m")
    reg = leaf_env / "leafhome" / "workspaces" / "default" / "registry.sqlite"
    assert reg.is_file()
    reg.write_bytes(os.urandom(8192))
    for wal in reg.parent.glob("registry.sqlite-*"):
        wal.unlink()
    clean_error(exe("model", "list"), 1, "registry")


def _nobody_workspace(open_dir: Path) -> tuple[dict, Path]:
    """A workspace owned by ``nobody`` with one model, made by ``nobody``; returns (env, workspace)."""
    env = {**os.environ, "LEAFCTL_HOME": str(open_dir / "home"), "LEAFCTL_CONFIG": str(open_dir / "config.toml")}
    (open_dir / "src").mkdir()
    (open_dir / "src" / "w").write_text("w")
    os.chown(open_dir, 65534, 65534)
    assert as_nobody(env, "model", "register", "a", "--path", str(open_dir / "src"), cwd=str(open_dir)).code == 0
    return env, open_dir / "home" / "workspaces" / "default"


def test_read_only_registry_is_read_and_leaves_nothing_behind(open_dir, leaf_env):
    """Issue 7 round 2, item 5: one read by a user who may only read the registry must not leave a
    read-only -shm behind that breaks every later command once the permissions are fixed."""
    env, ws = _nobody_workspace(open_dir)
    reg = ws / "registry.sqlite"
    reg.chmod(0o444)
    r = as_nobody(env, "model", "list", "-o", "json", cwd=str(open_dir))
    assert r.code == 0 and [m["name"] for m in json.loads(r.stdout)] == ["a"], r
    clean_error(as_nobody(env, "model", "register", "b", "--path", str(open_dir / "src"), cwd=str(open_dir)),
                4, "read-only")
    assert sorted(p.name for p in ws.glob("registry.sqlite*")) == ["registry.sqlite"]
    reg.chmod(0o644)
    r = as_nobody(env, "model", "register", "b", "--path", str(open_dir / "src"), cwd=str(open_dir))
    assert r.code == 0, r


def test_stale_read_only_shm_is_named(open_dir, leaf_env):
    """A -shm left read-only by an older leafctl (or any plain SQLite reader) is named in the error."""
    env, ws = _nobody_workspace(open_dir)
    reg = ws / "registry.sqlite"
    reg.chmod(0o444)
    read = "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('SELECT * FROM models').fetchall()"
    subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-c", read,
                    str(reg)], check=True)
    assert (ws / "registry.sqlite-shm").exists()
    reg.chmod(0o644)
    r = as_nobody(env, "model", "register", "b", "--path", str(open_dir / "src"), cwd=str(open_dir))
    clean_error(r, 4, "registry.sqlite-shm", "read-only")


def test_full_disk_is_exit_1_and_nothing_is_lost(exe, mount, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    assert exe("data", "upload", str(big), "-o", "none").code == 0
    full = mount("size=1m")
    old = b"the previous download" * 1000
    (full / "big.bin").write_bytes(old)
    r = exe("data", "download", "big.bin", "--dest", str(full))
    clean_error(r, 1, "the disk is full", "nothing was lost")
    # True: the old file is intact and no temp file is left behind.
    assert (full / "big.bin").read_bytes() == old
    assert [p.name for p in full.iterdir()] == ["big.bin"]


def test_mapper_covers_stdlib_failures():
    """The net under everything: each stdlib failure gets its documented class (no leafctl mocks)."""
    import errno
    import sqlite3
    import tomllib

    from leafctl.errors import from_exception

    cases = [
        (PermissionError(errno.EACCES, "Permission denied", "/x/f"), 4),
        (OSError(errno.EROFS, "Read-only file system", "/x/.out.csv.lf1-2.abcdefgh.tmp"), 4),
        (OSError(errno.ENOSPC, "No space left on device"), 1),
        (OSError(errno.ENAMETOOLONG, "File name too long", "/x/" + "a" * 300), 2),
        (FileNotFoundError(errno.ENOENT, "No such file", "/x/in.csv"), 3),
        (UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte"), 2),
        (RecursionError("maximum recursion depth exceeded"), 2),
        (sqlite3.DatabaseError("file is not a database"), 1),
    ]
    try:
        tomllib.loads("a = ")
    except tomllib.TOMLDecodeError as e:
        cases.append((e, 2))
    for exc, code in cases:
        mapped = from_exception(exc)
        assert mapped is not None and mapped.exit_code == code, (exc, mapped)
        assert "\n" not in mapped.line()
    assert "/x/out.csv" in from_exception(cases[1][0]).line()
    assert "nothing was lost" in from_exception(cases[2][0]).line()


# ------------------------------------------------------------------ item 5: secrets

SIG = "Zm9vYmFyU2VjcmV0U2lnbmF0dXJl%3D"
SAS = f"sv=2025-11-05&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&sig={SIG}"


@pytest.fixture
def sas_store(leaf_env, tmp_path):
    """An azure profile on the fake control plane with a SAS datastore ``leaf_sas`` whose blob
    endpoint is down (nothing listens on the port). Returns the subprocess environment, without the
    variable that held the SAS token: the token now comes only from the service's listSecrets."""
    import socket

    if str(AZURE_TESTS) not in sys.path:
        sys.path.insert(0, str(AZURE_TESTS))
    import fake_arm

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = Path(os.environ["LEAFCTL_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(f'current_profile = "az"\n\n[profiles.az]\nbackend = "azure"\nsubscription_id = "{fake_arm.SUB}"\n'
                   f'resource_group = "{fake_arm.RG}"\nworkspace = "{fake_arm.WS}"\nlocation = "{fake_arm.LOCATION}"\n'
                   f'blob_endpoint = "http://127.0.0.1:{port}/devstoreaccount1"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "MSI_", "IDENTITY_"))}
    env.update(LEAFCTL_AZURE_TRANSPORT="fake_arm:factory", LEAFCTL_FAKE_ARM_STATE=str(tmp_path / "arm.json"),
               LEAFCTL_STORAGE_RETRIES="0",
               PYTHONPATH=str(AZURE_TESTS) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([leafctl_executable(), "data", "store", "create", "leaf_sas", "--type", "azure_blob",
                        "--account-name", "devstoreaccount1", "--container-name", "leaf-data",
                        "--sas-token", "env:LEAF_SAS", "-o", "json"],
                       capture_output=True, text=True, env={**env, "LEAF_SAS": SAS}, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["credential"] == "sas"
    return env


def _leafctl(env: dict, *args: str) -> Result:
    p = subprocess.run([leafctl_executable(), *args], capture_output=True, text=True, env=env, timeout=120)
    return Result(p.returncode, p.stdout, p.stderr)


def _no_secret(r: Result) -> None:
    for text in (r.stdout, r.stderr):
        for piece in (SIG, SIG.replace("%3D", "="), "Zm9vYmFyU2VjcmV0"):
            assert piece not in text, (piece, r)


@pytest.mark.parametrize("args", [
    ("data", "ls", "-d", "leaf_sas"),
    ("data", "download", "x.csv", "-d", "leaf_sas", "--dest", "{tmp}"),
    ("data", "upload", "{src}", "-d", "leaf_sas", "--path", "x.csv"),
])
def test_debug_traceback_never_shows_the_sas_token(sas_store, tmp_path, args):
    src = tmp_path / "a.csv"
    src.write_text("x\n1\n")
    args = tuple(a.format(tmp=tmp_path / "dl", src=src) for a in args)
    r = _leafctl(sas_store, *args, "--debug")
    assert r.code == 1, r
    assert "Traceback" in r.stderr, r  # --debug did print the chained exceptions ...
    assert "127.0.0.1" in r.stderr, r
    _no_secret(r)  # ... without the signature
    assert "<redacted>" in r.stderr, r
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("error:")], r


def test_vv_shows_azure_sdk_logs_redacted(sas_store):
    r = _leafctl(sas_store, "data", "ls", "-d", "leaf_sas", "-vv")
    assert r.code == 1, r
    assert "Request URL" in r.stderr, r  # azure-core's http logging policy, now switched on
    assert "/devstoreaccount1/leaf-data?" in r.stderr, r
    _no_secret(r)
    plain = _leafctl(sas_store, "data", "ls", "-d", "leaf_sas", "-v")
    assert "Request URL" not in plain.stderr, plain  # -v stays as it was


def test_known_secret_values_are_masked_in_error_lines(exe, leaf_env):
    """A profile's env:NAME secret is masked wherever it shows up, even where no pattern matches."""
    cfg = Path(os.environ["LEAFCTL_CONFIG"])
    cfg.parent.mkdir(parents=True)
    secret = "s3cr3t-value-never-printed"
    cfg.write_text('[profiles.default]\nbackend = "local"\nclient_secret = "env:SP_SECRET"\n')
    # The secret lands in an error message through an argument leafctl echoes back.
    r = exe("run", "show", secret, env={"SP_SECRET": secret})
    assert r.code != 0, r
    assert secret not in r.stderr and secret not in r.stdout, r
    assert "<redacted>" in r.stderr, r


def test_secret_referenced_from_a_leafctl_variable_is_masked(exe, leaf_env):
    """Issue 7 round 2, item 4: LEAFCTL_CLIENT_SECRET=env:SP_SECRET makes SP_SECRET's value a secret."""
    secret = "s3cr3t-named-by-a-variable"
    for var in ("LEAFCTL_CLIENT_SECRET", "AZML_SOMETHING"):
        r = exe("run", "show", secret, env={var: "env:SP_SECRET", "SP_SECRET": secret})
        assert r.code == 3, r
        assert secret not in r.stderr and secret not in r.stdout, r
        assert "<redacted>" in r.stderr, r


def test_secret_referenced_from_a_spec_file_is_masked(exe, leaf_env, tmp_path):
    secret = "s3cr3t-named-by-a-spec"
    (tmp_path / "job.yml").write_text("command: cat ${{inputs.d}}\nenvironment_variables:\n  TOK: env:SP_SECRET\n"
                                      f"inputs:\n  d:\n    path: ./{secret}.csv\n")
    r = exe("run", "submit", "-f", str(tmp_path / "job.yml"), env={"SP_SECRET": secret}, cwd=tmp_path)
    assert r.code == 3, r  # the input is missing, and the error line names it
    assert secret not in r.stderr and secret not in r.stdout, r
    assert "<redacted>" in r.stderr, r


def test_redact_patterns():
    from leafctl.redact import redact

    text = (f"GET https://acct.blob.core.windows.net/c/b?{SAS} failed; url: /c/b?restype=container&{SAS}; "
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=QUJDREVGR0g=;EndpointSuffix=x "
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc "
            "{'client_secret': 'hunter2hunter2'} SharedAccessSignature=sv=1&sig=abcdef")
    out = redact(text)
    for piece in ("Zm9vYmFy", "QUJDREVGR0g", "eyJhbGciOi", "hunter2", "abcdef"):
        assert piece not in out, (piece, out)
    assert "https://acct.blob.core.windows.net/c/b?<redacted>" in out
    assert redact("nothing secret at https://x.org/a?b=1") == "nothing secret at https://x.org/a?b=1"


# ------------------------------------------------------------------ issue 7, second round: item 6


def test_prescribe_input_that_is_not_a_regular_file_says_so(exe, model, tmp_path):
    model("m")
    r = exe("model", "prescribe", "m", "-i", "/dev/null")
    clean_error(r, 2, "/dev/null", "not a regular file")
    assert "not found" not in r.stderr, r
    r = exe("model", "prescribe", "m", "-i", str(tmp_path))
    clean_error(r, 2, "is a folder")
    assert "not found" not in r.stderr, r


DOUBLER = """\
class Doubler:
    def predict(self, table):
        return {"doubled": [2 * float(v) for v in table["x"]]}


def _load_pyfunc(path):
    return Doubler()
"""


def test_invoke_whose_output_copy_is_refused_reports_the_copy(exe, leaf_env, tmp_path):
    src = tmp_path / "model"
    (src / "code").mkdir(parents=True)
    (src / "data").mkdir()
    (src / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: doubler\n    code: code\n    data: data\n")
    (src / "code" / "doubler.py").write_text(DOUBLER)
    assert exe("model", "register", "dbl", "--path", str(src), "--type", "mlflow").code == 0
    assert exe("endpoint", "create", "dbl", "--model", "dbl:1").code == 0
    (tmp_path / "in.csv").write_text("x\n1\n")
    out, canary = tmp_path / "out", tmp_path / "canary"
    out.mkdir()
    canary.mkdir()
    os.symlink(canary / "p.csv", out / "predictions.csv")
    r = exe("endpoint", "invoke", "dbl", "-i", str(tmp_path / "in.csv"), "--output-path", str(out), "--wait")
    clean_error(r, 1, "could not copy output", "symlink", "run download")
    assert "exit code 0" not in r.stderr, r
    assert list(canary.iterdir()) == []
