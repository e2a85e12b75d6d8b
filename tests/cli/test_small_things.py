"""Small things a newcomer saw (issue 11, items 6 and 12): exit codes, number formats, the front on a
terminal, what `run show` says a resumed run was, the dry-run's input types, migrate's wording."""

from __future__ import annotations

import csv
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
from pathlib import Path

from leaftest import assert_error, leafctl_executable

FAST = ["--population", "60", "--generations", "3", "--predictor", "ridge", "--seed", "1"]
WIDE_FRONT = ["--population", "60", "--generations", "6", "--predictor", "ridge", "--seed", "1"]  # > 10 on the front


def on_a_terminal(*args: str, columns: int = 100, timeout: float = 300) -> tuple[int, str]:
    """leafctl with stdin, stdout and stderr on a pseudo-terminal ``columns`` wide: (exit code, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(COLUMNS=str(columns), LEAFCTL_NO_PROGRESS="1")
    p = subprocess.Popen([leafctl_executable(), *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            p.kill()
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=30), out.decode("utf-8", "replace").replace("\r", "")


def test_an_unknown_profile_is_a_usage_error(exe):
    exe("config", "init", "-p", "dev")
    for args in (["-p", "nope", "compute", "list"], ["compute", "list", "-p", "nope"], ["config", "show", "nope"],
                 ["config", "use", "nope"], ["config", "unset", "compute", "-p", "nope"]):
        assert_error(exe(*args), 2, "profile 'nope' not found", "profiles: default, dev")
    assert_error(exe("-p", "dve", "compute", "list"), 2, "did you mean 'dev'?")
    assert_error(exe("compute", "list", env={"LEAFCTL_PROFILE": "nope"}), 2, "profile 'nope' not found")


def test_the_front_on_a_terminal_is_short_and_in_the_progress_lines_format(leaf_env):
    code, text = on_a_terminal("run", "evolve", "--sample", "campaign", *WIDE_FRONT)
    assert code == 0, text
    lines = text.splitlines()
    progress = [ln for ln in lines if re.match(r"generation \d+/6 ", ln)]
    assert progress, text
    last = dict(re.findall(r"(revenue|margin) (\S+)", progress[-1]))
    head = next(i for i, ln in enumerate(lines) if ln.split() == ["ID", "REVENUE", "MARGIN"])
    table = []
    for ln in lines[head + 1:]:
        parts = ln.split()
        if len(parts) != 3 or not parts[0].isdigit():
            break
        table.append(parts)
    # one format: 4 significant digits, zeros kept; the best revenue reads the same in both places
    number = re.compile(r"-?(\d{4,}|\d{3}\.\d|\d{2}\.\d\d|\d\.\d{3}|0\.0*\d{4})")
    for value in [v for row in table for v in row[1:]] + list(last.values()):
        assert number.fullmatch(value), (value, text)
    assert table[0][1] == last["revenue"], text  # the front is ordered best revenue first
    # the whole front is in pareto.csv; the terminal shows 10 rows of it, both ends included, and says where
    where = re.search(r"all of them: (\S+pareto\.csv)", text)
    assert where, text
    with open(where.group(1), newline="") as f:
        front = [r for r in csv.DictReader(f) if r["rank"] == "1"]
    assert len(front) > 10, len(front)  # else this test would not see the cut
    assert len(table) == 10 and f"showing 10 of the {len(front)} candidates on the first front" in text
    ids = {r["id"] for r in front}
    assert {row[0] for row in table} <= ids
    best = max(front, key=lambda r: float(r["revenue"]))
    most = max(front, key=lambda r: float(r["margin"]))
    assert {best["id"], most["id"]} <= {row[0] for row in table}  # both ends


def test_run_show_of_a_resumed_run_says_what_was_asked_for(exe):
    first = exe("run", "evolve", "--sample", "campaign", *FAST, "--no-wait", "-o", "json").json()
    assert first["id"] == first["run_id"]  # one shape: `id`, and `run_id` as its alias
    waited = exe("run", "wait", first["id"], "-o", "json")
    assert waited.code == 0, waited
    shown = exe("run", "show", first["id"], "-o", "json").json()
    assert shown["command"].startswith("leafctl run evolve --sample campaign --population 60"), shown
    assert "-m leafctl.esp.job" in shown["job_command"]
    more = exe("run", "evolve", "--resume", first["id"], "--generations", "4", "-o", "json")
    assert more.code == 0, more
    assert more.json()["id"] == more.json()["run_id"] != first["id"] and "front" in more.json()
    assert more.json()["command"] == f"leafctl run evolve --resume {first['id']} --generations 4 -o json"
    shown = exe("run", "show", more.json()["id"], "-o", "json").json()
    assert shown["command"] == f"leafctl run evolve --resume {first['id']} --generations 4 -o json"
    assert "--resume-from" in shown["job_command"] and "leafctl.esp.job" not in shown["command"]
    table = exe("run", "show", more.json()["id"], "-o", "table").stdout
    assert f"leafctl run evolve --resume {first['id']}" in table
    # a command job's record is as it was
    plain = exe("run", "submit", "--command", "true", "--wait", "-o", "json").json()
    assert exe("run", "show", plain["id"], "-o", "json").json()["command"] == "true"
    assert "job_command" not in exe("run", "show", plain["id"], "-o", "json").json()


def test_submit_dry_run_keeps_the_input_types(exe, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "one.csv").write_text("a\n1\n")
    r = exe("run", "submit", "--code", str(tmp_path / "src"), "--command", "python t.py ${{inputs.data}} ${{inputs.one}}",
            "--input", f"data={tmp_path / 'data'}", "--input", f"one={tmp_path / 'one.csv'}", "--input", "remote=campaign/x",
            "--dry-run", "-o", "json")
    assert r.code == 0, r
    inputs = r.json()["inputs"]
    assert inputs["data"] == {"type": "uri_folder", "path": str(tmp_path / "data")}
    assert inputs["one"] == {"type": "uri_file", "path": str(tmp_path / "one.csv")}
    assert inputs["remote"] == {"path": "campaign/x"}  # a datastore path: the service tells file from folder


def test_migrate_help_says_what_the_env_files_are(exe):
    text = exe("migrate", "dotenv", "--help", env={"COLUMNS": "200"}).stdout + exe("migrate", "--help").stdout
    assert "seed" not in text.lower()
    assert "Azure ML SDK v1 orchestration scripts' .env files" in " ".join(text.split())
