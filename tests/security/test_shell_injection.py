"""Issue 7 item 1: no shell code from data. A path leafctl puts into a job's command is never run as
shell code, and a path with a space, a quote, `$`, a backtick or non-ASCII letters just works.
Also item 7 (second half): `run wait` on an evolve run whose supervisor was killed says how to resume.

Every case goes through the installed `leafctl`; the marker file P must never appear, neither in the
working directory nor in the run's snapshot folder (the job's working directory) nor anywhere else.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from leaftest import assert_error

from leafctl import specs
from leafctl.errors import UsageError

HOSTILE = ["x$(touch P).csv", "x`touch P`.csv", 'd"q.csv']
AWKWARD = ["my data.csv", "q'uote.csv", "dollar$x.csv", "naïve.csv"]
EVOLVE = ["--actions", "discount", "--outcomes", "revenue", "--objective", "revenue:max",
          "--objective", "action_cost:min", "--generations", "2", "--population", "12", "--predictor", "ridge"]


def _table(path: Path) -> Path:
    rows = [["age", "region", "discount", "revenue", "churn"]]
    for i in range(60):
        rows.append([20 + i % 40, ["north", "south"][i % 2], round((i % 10) / 20, 3), 100 + i * 1.5 - (i % 10) * 3,
                     (i % 7) / 10])
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def _no_marker(root: Path) -> None:
    found = [p for p in root.rglob("P") if p.name == "P"]
    assert not found, f"shell code from a path ran: {found}"


@pytest.fixture
def work(leaf_env):
    w = leaf_env / "work"
    w.mkdir()
    return w


def _snapshot(leaf_env: Path, run_id: str) -> Path:
    return leaf_env / "leafhome" / "workspaces" / "default" / "runs" / run_id / "snapshot"


@pytest.mark.parametrize("name", HOSTILE + AWKWARD)
def test_evolve_data_path_is_never_shell_code(exe, leaf_env, work, name):
    _table(work / name)
    r = exe("run", "evolve", "--data", name, *EVOLVE, "-o", "json", cwd=work)
    assert r.code == 0, r
    run_id = r.json()["run_id"]
    assert r.json()["status"] == "Completed"
    assert not (work / "P").exists() and not (_snapshot(leaf_env, run_id) / "P").exists()
    _no_marker(leaf_env)
    shown = exe("run", "show", run_id, "-o", "json").json()
    # `command` is what the user typed (quoted as a shell would need it); the job's own line is argv, no shell
    assert shown["command"].startswith("leafctl run evolve --data ")
    assert "leafctl.esp.job" in shown["job_command"] and str(work / name) in shown["inputs"]["data"]


def test_evolve_resume_needs_no_shell(exe, leaf_env, work):
    _table(work / "x$(touch P).csv")
    first = exe("run", "evolve", "--data", "x$(touch P).csv", *EVOLVE, "-o", "json", cwd=work)
    assert first.code == 0, first
    more = exe("run", "evolve", "--resume", first.json()["run_id"], "--generations", "4", "-o", "json", cwd=work)
    assert more.code == 0, more
    hist = (Path(more.json()["outputs_path"]) / "result" / "history.csv").read_text().splitlines()
    assert len(hist) == 1 + 5
    shown = exe("run", "show", more.json()["run_id"], "-o", "json").json()
    assert "cp -R" not in shown["job_command"] and "--resume-from" in shown["job_command"]
    assert shown["command"].startswith(f"leafctl run evolve --resume {first.json()['id']}")
    _no_marker(leaf_env)


MLMODEL = """\
flavors:
  python_function:
    loader_module: doubler
    code: code
    data: data
"""

DOUBLER = """\
import os


class Doubler:
    def predict(self, table):
        return {"doubled": [2 * float(v) for v in table["x"]]}


def _load_pyfunc(path):
    return Doubler()
"""


def test_endpoint_invoke_input_is_never_shell_code(exe, leaf_env, work):
    model = leaf_env / "model"
    (model / "code").mkdir(parents=True)
    (model / "data").mkdir()
    (model / "MLmodel").write_text(MLMODEL)
    (model / "code" / "doubler.py").write_text(DOUBLER)
    assert exe("model", "register", "doubler", "--path", str(model), "--type", "mlflow").code == 0
    assert exe("endpoint", "create", "dbl", "--model", "doubler:1").code == 0
    for name in HOSTILE + AWKWARD:
        (work / name).write_text("x\n1\n2.5\n", encoding="utf-8")
        r = exe("endpoint", "invoke", "dbl", "-i", name, "--wait", "-o", "json", cwd=work)
        assert r.code == 0, (name, r)
        run = r.json()
        assert run["status"] == "Completed"
        preds = list(csv.DictReader(open(Path(run["outputs_path"]) / "predictions" / "predictions.csv", encoding="utf-8")))
        assert [float(p["doubled"]) for p in preds] == [2.0, 5.0], name
        assert not (work / "P").exists() and not (_snapshot(leaf_env, run["id"]) / "P").exists(), name
    _no_marker(leaf_env)


# A user's command template keeps running under bash, with each value quoted for where it stands.
TEMPLATES = [
    "printf '%s\\n' {refs}",
    "printf '%s\\n' \"{qrefs}\"",
    "printf '%s\\n' '{qrefs}'",
    "for f in {refs}; do printf '%s\\n' \"$f\"; done",
    "printf '%s\\n' \"$(printf '%s\\n' {refs})\"",
    "printf '%s\\n' `printf '%s\\n' {refs}`",
]
SUBMIT_NAMES = ["x$(touch P).txt", 'd"q.txt', "q'uote.txt", "b`touch P`.txt", "my data.txt", "naïve.txt", "do$x.txt"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_run_submit_template_values_are_quoted(exe, leaf_env, work, template):
    split = template.startswith("printf '%s\\n' `")  # an unquoted `...` splits its output into words
    names = [n for n in SUBMIT_NAMES if not (split and " " in n)]
    keys = [f"f{i}" for i in range(len(names))]
    for name in names:
        (work / name).write_text("content\n", encoding="utf-8")
    if "{qrefs}" in template:  # one quoted string per placeholder, as a user writes it
        head, _, tail = template.partition("{qrefs}")
        q = head[-1]
        command = head[:-1] + " ".join(f"{q}${{{{inputs.{k}}}}}{q}" for k in keys) + tail[1:]
    else:
        command = template.replace("{refs}", " ".join(f"${{{{inputs.{k}}}}}" for k in keys))
    inputs = [a for k, n in zip(keys, names) for a in ("--input", f"{k}={n}")]
    r = exe("run", "submit", "--command", command, *inputs, "--wait", "-o", "json", cwd=work)
    assert r.code == 0, (command, r)
    logs = exe("run", "logs", r.json()["id"]).stdout.splitlines()
    assert logs == [str(work / n) for n in names], (command, logs)
    assert not (work / "P").exists() and not (_snapshot(leaf_env, r.json()["id"]) / "P").exists()
    _no_marker(leaf_env)


def test_run_submit_cat_reads_the_file(exe, leaf_env, work):
    for name in ("x$(touch P).txt", "q'uote.txt", 'd"q.txt'):
        (work / name).write_text(f"inside {name}\n", encoding="utf-8")
        for command in ("cat ${{inputs.d}}", 'cat "${{inputs.d}}"'):
            r = exe("run", "submit", "--command", command, "--input", f"d={name}", "--wait", "-o", "json", cwd=work)
            assert r.code == 0, (command, r)
            assert exe("run", "logs", r.json()["id"]).stdout == f"inside {name}\n"
    assert not (work / "P").exists()
    _no_marker(leaf_env)


@pytest.mark.parametrize("template,expect", [
    ("printf %s ${{inputs.d}}", "{v}"),
    ('printf %s "${{inputs.d}}"', "{v}"),
    ("printf %s '${{inputs.d}}'", "{v}"),
    ("printf %s $'${{inputs.d}}'", "{v}"),
    ("printf %s --data=${{inputs.d}}", "--data={v}"),
    ('printf %s "pre ${{inputs.d}} post"', "pre {v} post"),
    ("printf %s 'a'${{inputs.d}}'b'", "a{v}b"),
    ('printf %s "$(printf %s "${{inputs.d}}")"', "{v}"),
    ('printf %s "`printf %s "${{inputs.d}}"`"', "{v}"),
    ("printf %s $((1+1))${{inputs.d}}", "2{v}"),
    ("printf %s \"a'b\"${{inputs.d}}", "a'b{v}"),
    # issue 7, second round: comments and here-documents
    ("printf %s start # don't panic\nprintf %s ${{inputs.d}}", "start{v}"),
    ("printf %s a;#'\nprintf %s \"${{inputs.d}}\"", "a{v}"),
    ("printf %s x # it's ${{inputs.d}} here\nprintf %s y", "xy"),
    ("printf %s `printf %s x # it's`${{inputs.d}}", "x{v}"),
    ("cat <<EOF\n${{inputs.d}}\nEOF", "{v}\n"),
    ("cat <<EOF\npre \"${{inputs.d}}\" 'q' $((1+1))\nEOF", "pre \"{v}\" 'q' 2\n"),
    ("cat <<'EOF'\n${{inputs.d}}\nEOF", "{v}\n"),
    ('cat << "EOF"\n${{inputs.d}}\nEOF', "{v}\n"),
    ("cat <<-EOF\n\t${{inputs.d}}\n\tEOF", "{v}\n"),
    ('cat <<EOF\n$(printf %s "${{inputs.d}}")\nEOF', "{v}\n"),
    ("cat <<EOF; printf %s ${{inputs.d}}\nbody 'x\nEOF", "body 'x\n{v}"),
    ("cat <<A <<'B'\n${{inputs.d}}\nA\n${{inputs.d}}\nB\nprintf %s ${{inputs.d}}", "{v}\n{v}"),
    ('printf %s "$(cat <<EOF\n${{inputs.d}}\nEOF\n)"', "{v}"),
    ("cat <<<${{inputs.d}}", "{v}\n"),
    ("printf %s $((1<<2))${{inputs.d}}", "4{v}"),
])
def test_substitute_quotes_for_the_context_under_real_bash(tmp_path, template, expect):
    values = ["/d/x$(touch P).csv", "/d/x`touch P`.csv", "/d/my data.csv", "/d/q'uote.csv", '/d/d"q.csv',
              "/d/dollar$x.csv", "/d/naïve.csv", "/d/back\\slash.csv", "/d/*?[x]!.csv", "/d/$'a'.csv", "/d/nl\nx"]
    for v in values:
        command = specs.substitute(template, {"inputs.d": v})
        out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=tmp_path).stdout
        want = expect.format(v=v)
        if ("$(" in template or "`" in template) and expect.endswith("{v}"):
            want = want.rstrip("\n")  # command substitution drops trailing newlines
        assert out == want, (template, v, command)
    assert not (tmp_path / "P").exists()


@pytest.mark.parametrize("template", [
    "cat <<EOF\n${{inputs.d}}\nEOF", "cat <<'EOF'\n${{inputs.d}}\nEOF", "cat <<-EOF\n\t${{inputs.d}}\n\tEOF",
    "cat <<EOF\nE${{inputs.d}}\nEOF",
])
def test_a_value_that_would_end_a_heredoc_is_refused(template):
    # "OF" glued after "E" makes the line "EOF" too; the rest of the value would run as commands
    value = "OF\ntouch P" if "E${{" in template else "/d/a\nEOF\ntouch P\n\t"
    with pytest.raises(UsageError) as err:
        specs.substitute(template, {"inputs.d": value})
    assert "here-document" in str(err.value) and "inputs.d" in str(err.value)
    assert specs.substitute(template, {"inputs.d": "/d/EOF x"})  # a line merely holding EOF is fine


@pytest.mark.parametrize("command", [
    "echo start # don't panic\ncat ${{inputs.d}}",
    "cat <<EOF\n${{inputs.d}}\nEOF",
    "cat <<'EOF'\n${{inputs.d}}\nEOF",
])
def test_run_submit_comment_and_heredoc_never_run_the_path(exe, leaf_env, work, command):
    name = "x$(touch P).txt"
    (work / name).write_text("inside\n", encoding="utf-8")
    r = exe("run", "submit", "--command", command, "--input", f"d={name}", "--wait", "-o", "json", cwd=work)
    assert r.code == 0, r
    logs = exe("run", "logs", r.json()["id"]).stdout
    want = "start\ninside\n" if command.startswith("echo") else f"{work / name}\n"
    assert logs == want, (command, logs)
    assert not (work / "P").exists() and not (_snapshot(leaf_env, r.json()["id"]) / "P").exists()
    _no_marker(leaf_env)


def test_run_submit_heredoc_value_ending_it_is_exit_2(exe, leaf_env, work):
    (work / "a\nEOF\ntouch P").write_text("x\n")  # a file name may hold newlines
    r = exe("run", "submit", "--command", "cat <<'EOF'\n${{inputs.d}}\nEOF", "--input", "d=a\nEOF\ntouch P",
            cwd=work)
    assert_error(r, 2, "here-document")
    _no_marker(leaf_env)


def _pids(home: Path, run_id: str) -> tuple[int | None, int | None]:
    with sqlite3.connect(home / "workspaces" / "default" / "registry.sqlite") as c:
        row = c.execute("SELECT pid, child_pid FROM runs WHERE id = ?", (run_id,)).fetchone()
    return (row[0], row[1]) if row else (None, None)


def test_wait_on_evolve_with_killed_supervisor_hints_resume(exe, leaf_env, work):
    _table(work / "t.csv")
    args = [a if a != "2" else "5000" for a in EVOLVE]  # long enough to be killed mid-run
    started = exe("run", "evolve", "--data", "t.csv", *args, "--no-wait", "-o", "json", cwd=work)
    assert started.code == 0, started
    run_id = started.json()["id"]
    ckpt = Path(started.json()["outputs_path"]) / "result" / "checkpoint.npz"
    deadline = time.time() + 60
    while time.time() < deadline and not (ckpt.exists() and all(_pids(leaf_env / "leafhome", run_id))):
        time.sleep(0.05)
    assert ckpt.exists()
    sup, child = _pids(leaf_env / "leafhome", run_id)
    for pid in (child, sup):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    r = exe("run", "wait", run_id)
    assert_error(r, 1, "supervisor died", f"--resume {run_id}")
