"""CLI defects a tester found (helper brief F2): tables that fit every width, prescribe's numbers and
--out, empty paths, help examples that are never broken inside a word, invalid profile names, a note
for a profile `config set` creates, one number format in the evolve output, full paths in write errors.
All through the installed leafctl (or the command tree in-process for --help)."""

from __future__ import annotations

import csv
import io
import os
import pty
import re
import subprocess
from pathlib import Path

from leaftest import assert_error, leafctl_executable, on_a_terminal

FAST = ["--generations", "3", "--population", "12"]
LONG_NAME = "a display name far too long for any narrow terminal column at all"
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _lines(exe, width: int, *args: str) -> list[str]:
    r = exe(*args, "-o", "table", env={"COLUMNS": str(width)})
    assert r.code == 0, r
    return r.stdout.splitlines()


def _assert_fits(lines: list[str], width: int, what: str) -> None:
    assert lines, what
    for line in lines:
        assert len(line) <= width, (what, width, len(line), line)
        assert line == line.rstrip(), (what, "blanks at the end of a line", line)


def test_every_table_fits_60_80_and_120_columns(exe, tmp_path):
    for args in (["--name", LONG_NAME], []):
        assert exe("run", "submit", "--command", "true", "--wait", "-o", "none", *args).code == 0
    ids = exe("run", "list", "-q", "[].id", "-o", "json").json()
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("w")
    assert exe("model", "register", "churn", "--path", str(tmp_path / "m"), "--tag", "owner=" + "x" * 60, "-o", "none").code == 0
    commands = [["run", "list"], ["run", "show", ids[0]], ["data", "store", "list"], ["example", "list"],
                ["workspace", "list"], ["compute", "list"], ["compute", "list-sizes"], ["config", "list"],
                ["model", "list"], ["model", "show", "churn"]]
    for width in (60, 80, 120):
        for args in commands:
            _assert_fits(_lines(exe, width, *args), width, " ".join(args))
        rows = _lines(exe, width, "run", "list")
        assert len(rows) == 1 + len(ids), rows  # a table, one line per run: ids whole, nothing folded
        for rid, row in zip(ids, rows[1:]):
            assert row.startswith(rid + " ") and TIME.search(row), row
        show = "\n".join(_lines(exe, width, "run", "show", ids[0]))
        assert re.search(rf"^id +{ids[0]}$", show, re.M), show  # the id on its own line, whole
        outputs_path = exe("run", "show", ids[0], "-q", "outputs_path", "-o", "json").json()
        assert outputs_path.replace("/", "") in re.sub(r"\s|/", "", show), show  # a long value wraps, all of it kept
        store = _lines(exe, width, "data", "store", "list")
        assert store[0].startswith("NAME") and store[1].startswith("workspaceblobstore "), store  # a table still
        example = _lines(exe, width, "example", "list")
        assert example[0].startswith("NAME") and example[1].startswith("campaign "), example


def test_a_list_whose_whole_columns_are_too_wide_is_folded_into_blocks(exe):
    # Ids of a long experiment name + status + time need 68 columns: at 60 nothing can be cut or left out,
    # so each run is shown as a block of COLUMN value lines instead of lines wider than the terminal.
    for _ in range(2):
        assert exe("run", "submit", "--command", "true", "--wait", "--experiment", "campaign-2026-q4", "-o", "none").code == 0
    ids = exe("run", "list", "-q", "[].id", "-o", "json").json()
    lines = _lines(exe, 60, "run", "list")
    _assert_fits(lines, 60, "run list")
    for rid in ids:
        assert f"ID                {rid}" in lines, lines
    assert sum(1 for ln in lines if ln.startswith("STATUS ")) == 2 and "" in lines, lines  # a blank line between runs
    assert len(_lines(exe, 80, "run", "list")) == 3  # at 80 it is a table again


def _esp_model(exe, tmp_path) -> Path:
    run = exe("run", "evolve", "--sample", "campaign", *FAST, "-o", "json")
    assert run.code == 0, run
    assert exe("model", "register", "camp", "--run", run.json()["run_id"], "-o", "none").code == 0
    from leafctl.esp.samples import sample_data_path

    with open(sample_data_path("campaign"), newline="") as f:
        rows = list(csv.reader(f))[:3]
    ctx = tmp_path / "ctx.csv"
    ctx.write_text("\n".join(",".join(r[:6]) for r in rows) + "\n")
    return ctx


def test_prescribe_gives_numbers_full_precision_and_out_dash_is_stdout(exe, tmp_path):
    ctx = _esp_model(exe, tmp_path)
    plain = exe("model", "prescribe", "camp", "--input", str(ctx))
    assert plain.code == 0, plain
    table = list(csv.DictReader(io.StringIO(plain.stdout)))
    rows = exe("model", "prescribe", "camp", "--input", str(ctx), "-o", "json").json()
    for got, want in zip(rows, table):
        assert got["age"] == int(want["age"]) and isinstance(got["age"], int), got  # "77" -> 77, not "77"
        assert got["income"] == float(want["income"]) and got["region"] == want["region"], got
        assert got["discount"] == float(want["discount"]), got
    yaml_text = exe("model", "prescribe", "camp", "--input", str(ctx), "-o", "yaml").stdout
    assert re.search(r"^- age: \d+$", yaml_text, re.M) and re.search(r"^  visits: \d+$", yaml_text, re.M), \
        yaml_text  # YAML numbers, not quoted '77'
    tsv = exe("model", "prescribe", "camp", "--input", str(ctx), "-o", "tsv").stdout.splitlines()
    # The same fields as the CSV, digit for digit: tsv is for programs, nothing rounded.
    assert [ln.split("\t") for ln in tsv] == [ln.split(",") for ln in plain.stdout.splitlines()[1:]], (tsv, plain.stdout)

    dash = exe("model", "prescribe", "camp", "--input", str(ctx), "--out", "-", cwd=tmp_path)
    assert dash.code == 0 and dash.stdout == plain.stdout, dash
    assert not (tmp_path / "-").exists()
    assert_error(exe("model", "prescribe", "camp", "--input", str(ctx), "--out", "-", "-o", "json"), 2, "--out -", "stdout")
    empty = exe("model", "prescribe", "camp", "--input", str(ctx), "--out", "", cwd=tmp_path)
    assert_error(empty, 2, "--out is empty")
    assert "'.'" not in empty.stderr, empty
    assert_error(exe("model", "prescribe", "camp", "--input", "", cwd=tmp_path), 2, "--input is empty")
    (tmp_path / "adir").mkdir()
    assert_error(exe("model", "prescribe", "camp", "--input", str(ctx), "--out", "./adir/", cwd=tmp_path), 2,
                 "--out './adir/' is a folder")  # as typed


def test_example_write_refuses_an_empty_folder(exe, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    assert_error(exe("example", "write", "campaign", "", cwd=work), 2, "FOLDER is empty")
    assert list(work.iterdir()) == []  # nothing written into the current folder
    assert exe("example", "write", "campaign", ".", "-o", "none", cwd=work).code == 0  # "." still says so
    assert (work / "evolve.toml").is_file()


def _help_paths() -> list[str]:
    import click

    from leafctl.cli.main import cli as root

    out = []

    def walk(cmd, ctx, path):
        out.append(path)
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, click.Context(sub, info_name=name, parent=ctx), f"{path} {name}".strip())

    walk(root, click.Context(root, info_name="leafctl"), "")
    return out


def _examples_in_help(text: str) -> list[str]:
    """The example commands at the end of a --help, continuation lines (" \\") joined back."""
    lines = text.splitlines()
    at = [i for i, ln in enumerate(lines) if ln.strip() == "Examples:"]
    assert at, text
    examples, pending = [], ""
    for ln in lines[at[-1] + 1:]:
        if not ln.strip():
            break
        part = ln.strip()
        joined = f"{pending} {part}" if pending else part
        if joined.endswith(" \\"):
            pending = joined[:-2]
        else:
            examples.append(joined)
            pending = ""
    assert not pending, text
    return examples


def test_root_and_groups_have_examples_never_broken_inside_a_word_at_80_columns(cli):
    from leafctl.cli._examples import EXAMPLES

    paths = _help_paths()
    groups = ["", "config", "workspace", "compute", "data", "data store", "run", "model", "endpoint",
              "endpoint deployment", "env", "plugins", "example"]
    assert set(groups) <= set(paths), paths
    for path in paths:
        if path not in EXAMPLES:
            continue  # a command with its own Examples section in its docstring (example write)
        for width in (80, 60):
            text = cli(*path.split(), "--help", env={"COLUMNS": str(width)}).stdout
            for line in text.splitlines():
                assert len(line) <= width, (path, width, line)
            # Each example whole: one line, or lines continued with " \" that join back into it exactly.
            assert _examples_in_help(text) == list(EXAMPLES[path]), (path, width, text[-1500:])
    for group in groups:
        examples = EXAMPLES[group]
        assert 1 <= len(examples) <= 3 and all(f"leafctl {group} ".replace("  ", " ") in e + " " for e in examples), group
    from leafctl.cli._examples import shell_lines

    long = "leafctl run submit --code ./src --command 'python train.py --data ${{inputs.data}}' --input data=./d --wait"
    broken = shell_lines(long, 60)
    assert len(broken) > 1 and all(len(ln) <= 60 for ln in broken), broken
    assert any("'python train.py --data ${{inputs.data}}'" in ln for ln in broken), broken  # a quoted word stays whole


def _complete(words: str) -> list[str]:
    env = dict(os.environ, _LEAFCTL_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(len(words.split(" ")) - 1))
    p = subprocess.run([leafctl_executable()], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_invalid_profile_names_are_flagged_in_config_list_and_left_out_of_completion(exe, leaf_env):
    cfg = leaf_env / "config" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('[profiles."café"]\nbackend = "local"\n\n[profiles.prod]\nbackend = "local"\n', encoding="utf-8")
    r = exe("config", "list", "-o", "json")
    assert r.code == 0 and "café" in [p["name"] for p in r.json()], r  # listed: it is in the file
    assert re.search(r"warning: profile 'café' .*invalid name", r.stderr), r
    assert "prod" not in r.stderr, r
    assert_error(exe("-p", "café", "config", "show"), 2, "invalid profile name")  # what every command does with it
    for words in ("leafctl -p ", "leafctl config use ", "leafctl run list -p "):
        got = _complete(words)
        assert "prod" in got and "default" in got and "café" not in got, (words, got)


def test_config_set_says_it_created_a_profile_and_what_was_meant(exe):
    assert exe("config", "init", "-p", "prod", "-o", "none").code == 0
    r = exe("config", "set", "workspace", "w3", "-p", "prdo", "-o", "none")
    assert r.code == 0 and "created profile 'prdo'" in r.stderr and "did you mean 'prod'?" in r.stderr, r
    r = exe("config", "set", "workspace", "w3", "-p", "nope", "-o", "none")
    assert r.code == 0 and "created profile 'nope'" in r.stderr and "did you mean" not in r.stderr, r
    r = exe("config", "set", "workspace", "w4", "-p", "prod", "-o", "none")
    assert r.code == 0 and "created" not in r.stderr, r  # an existing profile: no note
    assert_error(exe("config", "set", "nosuchkey", "x", "-p", "other"), 2)
    assert "other" not in [p["name"] for p in exe("config", "list", "-o", "json").json()]  # refused: nothing created


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    code, out = on_a_terminal(args, env)
    return code, out.decode("utf-8").replace("\r\n", "\n")


def test_evolve_terminal_output_uses_one_number_format(leaf_env):
    code, text = _on_a_terminal(["run", "evolve", "--sample", "campaign", *FAST],
                                {**os.environ, "NO_COLOR": "1", "COLUMNS": "80"})
    assert code == 0, text
    lines = text.splitlines()
    # The predictor's held-out figures: the job's log and the summary say them the same way.
    start = next(i for i, ln in enumerate(lines) if "trained in" in ln)
    log = lines[start:start + 3]
    assert all(len(ln) <= 100 for ln in log), log
    figures = re.findall(r"(revenue|margin) (-?\d+\.\d+)/(\d+\.?\d*)", "\n".join(log))
    assert {f[0] for f in figures} == {"revenue", "margin"}, log
    summary = next(ln for ln in lines if ln.startswith("predictor mlp, held-out"))
    assert len(summary) <= 100, summary
    for name, r2, rmse in figures:
        assert f"{name} {r2}/{rmse}" in summary, (log, summary)
    # The front table: each value in the progress lines' format (4 significant digits), decimal points aligned.
    one_format = re.compile(r"-?(\d{4,}|\d{3}\.\d|\d{2}\.\d\d|\d\.\d{3}|0\.0*\d{4})")
    head = next(i for i, ln in enumerate(lines) if ln.split() == ["ID", "REVENUE", "MARGIN"])
    rows = []
    for ln in lines[head + 1:]:
        if not re.fullmatch(r"\d+ +[-\d.]+ +[-\d.]+ *", ln):
            break
        rows.append(ln)
    assert len(rows) >= 2, lines[head:head + 12]
    points = [[m.start() + m.group().find(".") for m in re.finditer(r"[-\d.]+", r)][1:] for r in rows]
    for col in (1, 2):
        cells = [r.split()[col] for r in rows]
        assert all(one_format.fullmatch(c) and "." in c for c in cells), cells
        assert len({p[col - 1] for p in points}) == 1, rows  # the decimal points of a column in one place
    # The scatter's ticks: the ends of each axis, in the table's format (its rows include both ends).
    axis = next(i for i, ln in enumerate(lines) if re.fullmatch(r" +\+-+", ln))
    xticks = lines[axis + 1].split()
    revenue = [r.split()[1] for r in rows]
    assert {xticks[0], xticks[-1]} == {min(revenue, key=float), max(revenue, key=float)}, (lines[axis + 1], revenue)
    yticks = [ln.split("|")[0].strip() for ln in lines[axis - 12:axis] if ln.split("|")[0].strip()]
    margin = [r.split()[2] for r in rows]
    assert set(yticks) == {min(margin, key=float), max(margin, key=float)}, (yticks, margin)


def test_a_write_error_names_the_whole_path(exe, tmp_path):
    # Linux's /sys refuses new files (EACCES) even to root, as a read-only mount refuses them (EROFS):
    # either way the message named a bare "w.txt" (the write is made relative to the folder's descriptor).
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.txt").write_text("w")
    assert exe("model", "register", "churn", "--path", str(tmp_path / "m"), "-o", "none").code == 0
    r = exe("model", "download", "churn", "--output-path", "/sys")
    assert r.code != 0 and "error:" in r.stderr and "Traceback" not in r.stderr, r
    assert "/sys/w.txt" in r.stderr, r
