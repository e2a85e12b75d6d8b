"""Issue 11 (items 1, 6-tsv, 8, 12): tables that fit the terminal, --limit/--all, tsv rows, file modes
that follow the umask, NO_COLOR on a terminal, and small wording fixes. All through the installed leafctl."""

from __future__ import annotations

import csv
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest
from leaftest import assert_error, leafctl_executable, on_a_terminal

TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
LONG_NAME = "a rather long display name that nobody could fit into a narrow column"
FAST = ["--generations", "3", "--population", "12"]


def _runs(exe) -> list[str]:
    """Four finished runs in two experiments (one long-named), newest first as `run list` shows them."""
    for args in (["--name", LONG_NAME], ["--experiment", "campaign-2026-q4"], [],
                 ["--experiment", "campaign-2026-q4", "--name", "short"]):
        r = exe("run", "submit", "--command", "true", "--wait", "-o", "none", *args)
        assert r.code == 0, r
    ids = exe("run", "list", "--all", "-q", "[].id", "-o", "json").json()
    assert len(ids) == 4
    return ids


def _table(exe, width: int, *args: str) -> list[str]:
    r = exe(*args, "-o", "table", env={"COLUMNS": str(width)})
    assert r.code == 0, r
    return r.stdout.splitlines()


def _assert_fits(lines: list[str], width: int) -> None:
    assert lines, lines
    for line in lines:
        assert len(line) <= width, (width, line, lines)


@pytest.mark.parametrize("width", [80, 120])
def test_run_list_fits_the_terminal_and_keeps_ids_and_times_whole(exe, width):
    ids = _runs(exe)
    lines = _table(exe, width, "run", "list")
    _assert_fits(lines, width)
    header, rows = lines[0], lines[1:]
    assert header.split()[:2] == ["ID", "STATUS"] and "CREATED AT" in header, lines
    assert len(rows) == len(ids)  # one line per run: nothing folded onto a second line
    for rid, row in zip(ids, rows):
        assert row.split()[0] == rid, (rid, row)  # the id whole, at the start of its own line
        assert TIME.search(row), row  # the timestamp whole on the same line
    assert LONG_NAME not in "\n".join(lines)
    if width == 120:  # room for the display name, cut with an ellipsis, never an id
        long_row = rows[ids.index(ids[-1])]
        assert re.search(r"a rather[^…]*…", long_row), lines
        assert "DISPLAY NAME" in header


def test_a_table_off_a_terminal_without_columns_is_printed_whole(exe):
    # Piped to a file with no COLUMNS, there is no width to fit: nothing is cut or dropped.
    _runs(exe)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    p = subprocess.run([leafctl_executable(), "run", "list", "-o", "table"], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and LONG_NAME in p.stdout and "…" not in p.stdout, p


@pytest.mark.parametrize("width", [80, 120])
def test_model_list_fits_the_terminal(exe, tmp_path, width):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("w")
    tags = ["--tag", "accuracy=0.93", "--tag", "owner=the-data-science-team-of-the-marketing-department",
            "--tag", "dataset=campaign-2026-q4-with-a-long-suffix"]
    for name in ("churn-model-with-a-long-name", "uplift", "esp-campaign"):
        assert exe("model", "register", name, "--path", str(tmp_path / "m"), *tags, "-o", "none").code == 0
    lines = _table(exe, width, "model", "list")
    _assert_fits(lines, width)
    assert len(lines) == 4 and lines[0].startswith("NAME") and "VERSION" in lines[0] and "CREATED AT" in lines[0]
    names = {ln.split()[0] for ln in lines[1:]}
    assert names == {"churn-model-with-a-long-name", "uplift", "esp-campaign"}
    for row in lines[1:]:
        assert TIME.search(row), row
    text = "\n".join(lines)
    assert "the-data-science-team-of-the-marketing-department" not in text
    if "TAGS" in lines[0]:
        assert "…" in text


def test_limit_and_all(exe, tmp_path):
    ids = _runs(exe)
    r = exe("run", "list", "--limit", "2", "-o", "json")
    assert r.code == 0 and [x["id"] for x in r.json()] == ids[:2], r  # the newest two
    assert "2 of 4" in r.stderr and "--all" in r.stderr, r  # says rows were left out, and how to get them
    r = exe("run", "list", "--all", "-o", "json")
    assert r.code == 0 and [x["id"] for x in r.json()] == ids and r.stderr == "", r
    assert exe("run", "list", "-o", "json").json() == r.json()  # 4 < the default limit: all of them
    assert_error(exe("run", "list", "--limit", "0"), 2, "--limit")
    assert_error(exe("run", "list", "--limit", "1", "--all"), 2, "--all")
    assert "50" in exe("run", "list", "--help").stdout

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("w")
    for name in ("first", "second", "third", "first", "first"):
        time.sleep(1.05)  # model times have whole seconds: make "most recent" unambiguous
        assert exe("model", "register", name, "--path", str(tmp_path / "m"), "-o", "none").code == 0
    r = exe("model", "list", "--limit", "2", "-q", "[].[name, version]", "-o", "json")
    assert r.code == 0 and r.json() == [["first", "3"], ["third", "1"]], r  # the two most recently created
    assert exe("model", "list", "first", "--limit", "2", "-q", "[].version", "-o", "json").json() == ["2", "3"]
    assert len(exe("model", "list", "--all", "-o", "json").json()) == 3
    assert "50" in exe("model", "list", "--help").stdout


def test_tsv_of_a_multiselect_is_one_row(exe):
    ids = _runs(exe)
    r = exe("run", "show", ids[0], "-q", "[id, status, exit_code]", "-o", "tsv")
    assert r.code == 0 and r.stdout == f"{ids[0]}\tCompleted\t0\n", r
    r = exe("run", "list", "-q", "[].id", "-o", "tsv")  # a projection stays one value per line
    assert r.code == 0 and r.stdout == "".join(i + "\n" for i in ids), r
    r = exe("run", "list", "-q", "[].[id, status]", "-o", "tsv")
    assert r.code == 0 and r.stdout.splitlines()[0] == f"{ids[0]}\tCompleted", r


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize("umask, public", [(0o022, 0o644), (0o077, 0o600)])
def test_user_files_follow_the_umask_and_config_stays_private(exe, tmp_path, leaf_env, umask, public):
    old = os.umask(umask)  # inherited by every leafctl started below
    try:
        run = exe("run", "evolve", "--sample", "campaign", *FAST, "-o", "json")
        assert run.code == 0, run
        rid = run.json()["run_id"]
        assert exe("model", "register", "camp", "--run", rid, "-o", "none").code == 0
        from leafctl.esp.samples import sample_data_path

        with open(sample_data_path("campaign"), newline="") as f:
            rows = list(csv.reader(f))[:2]
        ctx = tmp_path / "ctx.csv"
        ctx.write_text("\n".join(",".join(r[:6]) for r in rows) + "\n")
        out_flag = "--out" if "--out " in exe("model", "prescribe", "--help", env={"COLUMNS": "200"}).stdout else "--output"
        r = exe("model", "prescribe", "camp", "--input", str(ctx), out_flag, str(tmp_path / "actions.csv"), "-o", "json")
        assert r.code == 0, r
        assert "wrote 1 row to" in r.stderr, r  # one context row: "row", not "rows"
        r = exe("model", "download", "camp", "--output-path", str(tmp_path / "model"), "-o", "none")
        assert r.code == 0, r
        assert exe("run", "download", rid, "--dest", str(tmp_path / "run"), "-o", "none").code == 0
        assert exe("config", "set", "compute", "cpu-cluster").code == 0
    finally:
        os.umask(old)
    assert _mode(tmp_path / "actions.csv") == public
    assert _mode(tmp_path / "model" / "metadata.json") == public
    pareto = list((tmp_path / "run").rglob("pareto.csv"))
    assert pareto and all(_mode(p) == public for p in pareto), pareto
    assert _mode(leaf_env / "config" / "config.toml") == 0o600  # it may name secrets: always private


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    return on_a_terminal(args, env, wait=60)


def test_no_color_on_a_terminal_prints_no_escape_codes(exe):
    ids = _runs(exe)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    for args in (["run", "list"], ["run", "show", ids[0]], ["model", "list"]):
        code, out = _on_a_terminal(args, env)
        assert code == 0, (args, out)
        assert b"\x1b" not in out, (args, out)
    code, out = _on_a_terminal(["run", "list"], env)
    assert ids[0].encode() in out  # it did print the table (default format on a terminal)


def test_cancel_of_a_finished_run_says_so_before_asking(exe):
    rid = _runs(exe)[0]
    # No --yes and not interactive: before, this was "refusing to cancel without confirmation" (exit 2).
    assert_error(exe("run", "cancel", rid), 5, "already ended", "nothing to cancel")


def test_evolve_logs_are_words_not_a_python_dict(exe):
    run = exe("run", "evolve", "--sample", "campaign", *FAST, "-o", "json")
    assert run.code == 0, run
    logs = exe("run", "logs", run.json()["run_id"])
    assert logs.code == 0 and "generation 3/3" in logs.stdout, logs
    assert "{'" not in logs.stdout and "{" not in logs.stdout, logs
    line = next(ln for ln in logs.stdout.splitlines() if "generation 3/3" in ln)
    assert re.search(r"revenue \d+(\.\d+)?\s+margin \d+(\.\d+)?\s+hv \d\.\d{4}$", line), line
