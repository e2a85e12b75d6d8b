"""Defects found in an exploratory QA pass of the local backend and the CLI (one test per defect)."""

from __future__ import annotations

from leaftest import assert_error


def test_huge_compute_numbers_are_usage_errors(cli):
    # Python ints beyond SQLite's 64 bits used to crash with an unexpected OverflowError (exit 1).
    big = "99999999999999999999"
    assert_error(cli("compute", "create", "c", "--max-nodes", big), 2, "max_nodes")
    assert_error(cli("compute", "create", "c", "--min-nodes", big, "--max-nodes", "2"), 2, "min_nodes")
    assert_error(cli("compute", "create", "c", "--idle-seconds", big), 2, "idle_seconds")
    assert_error(cli("compute", "create", "c", "--set", f"max_instances={big}"), 2, "max_nodes")
    assert cli("compute", "list", "-q", "[].name").json() == ["local"]


def test_evolve_bad_seed_and_huge_sizes_fail_before_submitting(cli):
    # A negative seed or a population beyond 64 bits used to pass the pre-submit check, start a run
    # and fail inside it with a NumPy traceback line (exit 1).
    assert_error(cli("run", "evolve", "--sample", "campaign", "--seed", "-5"), 2, "seed")
    assert_error(cli("run", "evolve", "--sample", "campaign", "--population", "99999999999999999999"), 2, "population")
    assert_error(cli("run", "evolve", "--sample", "campaign", "--generations", "99999999999999999999"), 2, "generations")
    assert_error(cli("run", "evolve", "--sample", "campaign", "--seed", "-1", "--dry-run"), 2, "seed")
    assert cli("run", "list").json() == []


def _closed_stdout(args, env=None):
    """Run leafctl with a stdout pipe whose reader is already gone (as `leafctl ... | head -0`)."""
    import os
    import subprocess

    from leaftest import leafctl_executable

    p = subprocess.Popen([leafctl_executable(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**os.environ, **(env or {})})
    p.stdout.close()
    err = p.stderr.read().decode()
    return p.wait(timeout=60), err


def test_broken_pipe_exits_0_silently(leaf_env):
    # click turned EPIPE into a bare exit 1, so `set -o pipefail; leafctl run list | head -1` failed.
    for args in (["compute", "list-sizes", "-o", "json"], ["compute", "list-sizes", "-o", "table"],
                 ["compute", "list-sizes", "-o", "tsv"], ["--help"], ["run", "evolve", "--help"]):
        code, err = _closed_stdout(args)
        assert (code, err) == (0, ""), (args, code, err)


def _at_prompt(args, answer, env):
    """Run leafctl on a pseudo-terminal (CI unset), wait for its y/N prompt, then send ``answer``:
    b"n\\n", or None for Ctrl-C (SIGINT to the process, as the terminal would send)."""
    import os
    import pty
    import signal
    import subprocess
    import time

    from leaftest import leafctl_executable

    master, slave = pty.openpty()
    p = subprocess.Popen([leafctl_executable(), *args], stdin=slave, stdout=slave, stderr=slave,
                         env={**os.environ, "CI": "", **env})
    os.close(slave)
    seen = b""
    while b"[y/N]" not in seen:
        seen += os.read(master, 4096)
    time.sleep(0.5)  # let input() start reading: a signal just before it is noticed only at the next key
    if answer is None:
        p.send_signal(signal.SIGINT)
    else:
        os.write(master, answer)
    code = p.wait(timeout=60)
    try:
        while chunk := os.read(master, 4096):
            seen += chunk
    except OSError:
        pass
    os.close(master)
    return code, seen.decode(errors="replace")


def test_ctrl_c_at_a_confirmation_prompt_exits_130(cli, leaf_env):
    # Ctrl-C at "Delete compute c? [y/N]" exited 1 ("the operation failed"); interrupted is 130.
    assert cli("compute", "create", "c").code == 0
    code, text = _at_prompt(["compute", "delete", "c"], None, {})
    assert code == 130, text
    assert "Traceback" not in text and "error:" in text
    code, text = _at_prompt(["compute", "delete", "c"], b"n\n", {})
    assert code == 130, text
    assert cli("compute", "show", "c").code == 0


def test_tsv_of_a_multiselect_query_is_tab_separated(cli):
    # `-q "[].[name,max_nodes]" -o tsv` (az's idiom for `read` loops) printed a JSON array per line.
    assert cli("compute", "create", "pool", "--max-nodes", "3").code == 0
    local_nodes = cli("compute", "show", "local", "-q", "max_nodes").json()
    r = cli("compute", "list", "-q", "[].[name, max_nodes]", "-o", "tsv")
    assert r.code == 0 and r.stdout == f"local\t{local_nodes}\npool\t3\n", r
    r = cli("compute", "list", "-q", "[?name=='pool'].{name: name, size: size}", "-o", "tsv")
    assert r.code == 0 and r.stdout == "pool\tStandard_DS3_v2\n", r


def test_table_never_truncates_ids(cli):
    # Off a terminal rich drew tables 80 columns wide, cutting run ids to `default_20…`.
    for _ in range(2):
        assert cli("run", "submit", "--command", "true", "--name", "a fairly long display name here",
                   "--no-wait", "-o", "none").code == 0
    ids = cli("run", "list", "-q", "[].id").json()
    table = cli("run", "list", "-o", "table")
    assert table.code == 0 and "…" not in table.stdout, table
    for rid in ids:
        assert rid in table.stdout
    show = cli("run", "show", ids[0], "-o", "table")
    assert "…" not in show.stdout and ids[0] in show.stdout


def test_deleting_a_deployed_model_version_is_a_conflict(cli, tmp_path):
    # `model delete` removed a version an endpoint serves; every later `endpoint invoke` then failed
    # with "model not found" while `endpoint show` still named it.
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "weights.txt").write_text("w")
    (tmp_path / "m" / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    for _ in range(2):  # a deployment without a scoring script serves an MLflow model
        assert cli("model", "register", "m", "--path", str(tmp_path / "m"), "--type", "mlflow").code == 0
    assert cli("endpoint", "create", "ep", "--model", "m:1").code == 0
    assert_error(cli("model", "delete", "m", "--version", "1", "--yes"), 5, "ep", "endpoint delete")
    assert_error(cli("model", "delete", "m", "--yes"), 5, "ep")
    assert cli("model", "list", "m", "-q", "[].version").json() == ["1", "2"]
    assert cli("model", "delete", "m", "--version", "2", "--yes").code == 0
    assert cli("endpoint", "delete", "ep", "--yes").code == 0
    assert cli("model", "delete", "m", "--yes").code == 0


def test_unusable_data_home_is_a_clean_error(cli, tmp_path, monkeypatch):
    # A LEAFCTL_HOME that cannot be created crashed with an unexpected FileNotFoundError/NotADirectoryError.
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("LEAFCTL_HOME", str(tmp_path / "a-file" / "home"))
    assert_error(cli("compute", "list"), 2, "LEAFCTL_HOME")
    assert_error(cli("workspace", "create", "ws"), 2, "LEAFCTL_HOME")


def test_prescribe_output_that_is_a_folder_is_a_usage_error(cli, tmp_path):
    # `--output DIR` crashed with an unexpected IsADirectoryError (exit 1) after all the work was done.
    contexts = tmp_path / "contexts.csv"
    contexts.write_text("age,income,past_spend,visits,region,channel\n35,62.0,480.5,4,north,web\n")
    (tmp_path / "out").mkdir()
    assert_error(cli("model", "prescribe", "esp", "--input", str(contexts), "--out", str(tmp_path / "out")),
                 2, "folder")


def test_key_value_hints_fit_the_option(cli):
    # Every malformed key=value option suggested `e.g. --input accuracy=0.93`, a tag's example.
    r = cli("run", "submit", "--command", "true", "--input", "bad")
    assert_error(r, 2, "--input 'bad'", "--input data=")
    assert "accuracy" not in r.stderr
    assert_error(cli("run", "submit", "--command", "true", "--env-var", "X"), 2, "--env-var X=")
    assert_error(cli("config", "init", "--set", "oops"), 2, "--set workspace=")


def test_listing_the_versions_of_an_unknown_name_is_not_found(cli, tmp_path):
    # `model list chrun` (a typo) printed [] with exit 0, while show/download/delete exit 3.
    assert_error(cli("model", "list", "nope"), 3, "model 'nope' not found")
    assert_error(cli("data", "list", "nope"), 3, "data asset 'nope' not found")
    assert_error(cli("env", "list", "nope"), 3, "environment 'nope' not found")
    for group in ("model", "data", "env"):
        assert cli(group, "list").json() == []
    (tmp_path / "f.csv").write_text("a\n1\n")
    assert cli("model", "register", "m", "--path", str(tmp_path / "f.csv")).code == 0
    assert cli("model", "list", "m", "-q", "[].version").json() == ["1"]


def test_conda_file_must_be_a_yaml_mapping(cli, tmp_path):
    # Invalid YAML or an empty file was stored as the environment's conda file (exit 0); Azure only
    # fails at image build time, long after.
    (tmp_path / "bad.yml").write_text("name: [unclosed\n")
    (tmp_path / "empty.yml").write_text("")
    (tmp_path / "list.yml").write_text("- python=3.11\n")
    for f in ("bad.yml", "empty.yml", "list.yml"):
        assert_error(cli("env", "create", "e", "--image", "python:3.11", "--conda-file", str(tmp_path / f)), 2, f)
    assert_error(cli("env", "list", "e"), 3)
    (tmp_path / "ok.yml").write_text("name: e\ndependencies:\n  - python=3.11\n")
    assert cli("env", "create", "e", "--image", "python:3.11", "--conda-file", str(tmp_path / "ok.yml")).code == 0


def test_prescribe_with_a_model_that_is_not_esp_names_the_model(cli, tmp_path):
    # The error named leafctl's own temporary download folder and told the user to "give a run's
    # output folder", which `model prescribe NAME` cannot take.
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "weights.txt").write_text("w")
    assert cli("model", "register", "plain", "--path", str(tmp_path / "m")).code == 0
    contexts = tmp_path / "contexts.csv"
    contexts.write_text("age,income\n35,62.0\n")
    r = cli("model", "prescribe", "plain", "--input", str(contexts))
    assert_error(r, 2, "plain:1", "run evolve")
    assert "leafctl-prescribe-" not in r.stderr


def test_interrupting_a_non_evolve_command_does_not_talk_about_evolve(leaf_env, tmp_path):
    # Ctrl-C during `data upload` said "an interrupted evolve run resumes with --resume".
    import os
    import signal
    import subprocess
    import time

    from leaftest import leafctl_executable

    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(1 << 30)  # sparse: quick to make, slow enough to copy
    p = subprocess.Popen([leafctl_executable(), "data", "upload", str(big), "--path", "big/big.bin"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    if p.returncode == 0:  # the machine copied 1 GiB in 1.5 s: nothing to check
        return
    assert p.returncode == 130, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "evolve" not in err and "--resume" not in err, err


def test_concurrent_config_writes_keep_every_change(exe, leaf_env):
    # Parallel `config init/set` (CI matrix jobs sharing a config) each rewrote the whole file from
    # what they had read: profiles written by the others were silently lost.
    from concurrent.futures import ThreadPoolExecutor

    from leafctl.profiles import ConfigFile

    a, b = ConfigFile.load(), ConfigFile.load()  # two processes read the same (missing) file
    a.profiles["first"] = {"backend": "local", "workspace": "default"}
    a.save()
    b.profiles["second"] = {"backend": "local", "workspace": "default"}
    b.current_profile = "second"
    b.save()
    again = ConfigFile.load()
    assert sorted(again.profiles) == ["first", "second"] and again.current_profile == "second"

    c, d = ConfigFile.load(), ConfigFile.load()
    c.profiles["first"]["compute"] = "cpu"  # different keys of one profile
    c.save()
    d.profiles["first"]["experiment"] = "exp"
    del d.profiles["second"]
    d.save()
    final = ConfigFile.load()
    assert final.profiles == {"first": {"backend": "local", "workspace": "default", "compute": "cpu", "experiment": "exp"}}

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: exe("config", "init", "--profile", f"p{i}", "--no-use").code, range(8)))
    assert codes == [0] * 8
    names = exe("config", "list", "-q", "[].name").json()
    assert {f"p{i}" for i in range(8)} <= set(names), names


def test_a_group_without_a_command_says_what_is_missing(cli):
    # `leafctl compute` printed the help and then an empty `error:  — see ...` line.
    for args in (["compute"], []):
        r = cli(*args)
        assert_error(r, 2, "missing command")
        assert "error:  —" not in r.stderr


def test_download_into_an_existing_file_is_a_usage_error(cli, tmp_path):
    # `model download --output-path FILE` and `run download --dest FILE` crashed with an unexpected
    # FileExistsError (exit 1); `data download --dest FILE` already said "is a file" (exit 2).
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("w")
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert cli("model", "register", "m", "--path", str(tmp_path / "m")).code == 0
    assert_error(cli("model", "download", "m", "--output-path", str(afile)), 2, "is a file")
    run = cli("run", "submit", "--command", "mkdir -p ${{outputs.o}} && echo x > ${{outputs.o}}/f",
              "--output", "o", "--wait")
    assert run.code == 0, run
    assert_error(cli("run", "download", run.json()["id"], "--dest", str(afile)), 2, "is a file")
    assert afile.read_text() == "x"


def test_tsv_and_table_cells_keep_unicode(cli, tmp_path):
    # Nested values in tsv/table cells were JSON with \\u escapes: {"\\u043a...": ...}.
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("w")
    assert cli("model", "register", "m", "--path", str(tmp_path / "m"), "--tag", "ключ=значение").code == 0
    for fmt in ("tsv", "table"):
        r = cli("model", "list", "-o", fmt)
        assert r.code == 0 and '{"ключ":"значение"}' in r.stdout and "\\u" not in r.stdout, r


def test_an_empty_input_path_is_refused_not_the_working_directory(cli, tmp_path, monkeypatch):
    # `--input d=` (an unset shell variable) resolved to the working directory: the run read, or the
    # scoring run scored, every file in it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.csv").write_text("a\n1\n")
    assert_error(cli("run", "submit", "--command", "ls ${{inputs.d}}", "--input", "d="), 2, "--input", "empty")
    assert_error(cli("endpoint", "invoke", "ep", "--input", ""), 2, "--input", "empty")
    assert cli("run", "list").json() == []


def test_an_output_destination_that_is_a_file_is_refused_up_front(cli, tmp_path):
    # The run did all its work, then failed copying its output onto the file ("failed (exit code 0)").
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_error(cli("run", "submit", "--command", "true", "--output", f"o={afile}"), 2, "is a file")
    assert_error(cli("endpoint", "invoke", "ep", "--input", str(afile), "--output-path", str(afile)), 2, "is a file")
    assert cli("run", "list").json() == [] and afile.read_text() == "x"


def test_config_set_refuses_a_workspace_name_that_is_a_path(cli):
    # `config set workspace ../../etc` was accepted; every later command then failed with exit 2.
    assert_error(cli("config", "set", "workspace", "../../etc"), 2, "workspace")
    assert_error(cli("config", "set", "workspace", "a b"), 2, "workspace")
    assert cli("config", "set", "workspace", "team-ws_2").code == 0
