"""Global options mean the same before the group and after the command; one name per kind of option
(`-o/--output` the format, `--out FILE` / `--output-path DIR` where files go); every command's help
ends with examples that parse (issue 11, item 2)."""

from __future__ import annotations

import csv
import shlex
import tomllib
import warnings
from pathlib import Path

import click
import pytest
from leaftest import assert_error

FAST = ["--generations", "3", "--population", "20", "--predictor", "ridge"]


def _config(leaf_env: Path) -> dict:
    return tomllib.loads((leaf_env / "config" / "config.toml").read_text())


def test_profile_before_the_group_names_the_profile_config_init_writes(exe, leaf_env):
    r = exe("-p", "prod", "config", "init", "-o", "json")
    assert r.code == 0, r
    assert r.json()["name"] == "prod"
    cfg = _config(leaf_env)
    assert set(cfg["profiles"]) == {"prod"} and cfg["current_profile"] == "prod"
    # ... exactly as after the command; and with neither, `default`
    assert exe("config", "init", "-p", "dev", "--no-use").code == 0
    assert exe("config", "init", "--no-use").code == 0
    cfg = _config(leaf_env)
    assert set(cfg["profiles"]) == {"prod", "dev", "default"} and cfg["current_profile"] == "prod"
    # config set/unset follow the root's -p too
    assert exe("-p", "dev", "config", "set", "experiment", "x").code == 0
    assert _config(leaf_env)["profiles"]["dev"]["experiment"] == "x"
    assert "experiment" not in _config(leaf_env)["profiles"]["prod"]


def test_verbose_is_a_counter_flag_and_root_output_lists_its_choices(exe):
    for args in (["--help"], ["compute", "list", "--help"], ["config", "show", "--help"]):
        text = exe(*args, env={"COLUMNS": "200"}).stdout
        line = next(ln for ln in text.splitlines() if "--verbose" in ln)
        assert "INTEGER" not in line and "default: 0" not in line, (args, line)
        out = next(ln for ln in text.splitlines() if "--output" in ln and "-o" in ln)
        assert "[table|json|yaml|tsv|none]" in out, (args, out)
    exe("config", "init")
    # -v / -vv count, before or after the command
    assert "sources" not in exe("config", "show", "-o", "json").json()
    assert "sources" in exe("-v", "config", "show", "-o", "json").json()
    assert "sources" in exe("config", "show", "-vv", "-o", "json").json()
    assert_error(exe("-o", "xml", "config", "list"), 2, "'xml' is not one of")


@pytest.fixture
def esp_model(cli, tmp_path):
    run = cli("run", "evolve", "--sample", "campaign", *FAST, "-o", "json").json()
    assert cli("model", "register", "camp", "--run", run["id"]).code == 0
    ctx = tmp_path / "ctx.csv"
    ctx.write_text("age,income,past_spend,visits,region,channel\n35,62.0,480.5,4,north,web\n51,30.5,120.0,1,south,store\n")
    return ctx


def test_prescribe_out_writes_the_file_and_output_is_the_format(cli, esp_model, tmp_path):
    ctx = esp_model
    plain = cli("model", "prescribe", "camp", "--input", str(ctx))
    header, *rows = list(csv.reader(plain.stdout.splitlines()))
    assert header[:6] == ["age", "income", "past_spend", "visits", "region", "channel"] and len(rows) == 2
    # -o json: the same rows as JSON objects on stdout
    js = cli("model", "prescribe", "camp", "--input", str(ctx), "-o", "json")
    assert js.code == 0, js
    assert [list(r) for r in js.json()] == [header, header] and js.json()[1]["region"] == "south"
    assert [str(js.json()[0][k]) for k in ("age", "region")] == ["35", "north"]
    tsv = cli("model", "prescribe", "camp", "--input", str(ctx), "--output", "tsv").stdout.splitlines()
    assert len(tsv) == 2 and tsv[1].split("\t")[4] == "south"
    # --out FILE: the CSV goes there, stdout gets the record in the -o format
    dest = tmp_path / "actions.csv"
    r = cli("model", "prescribe", "camp", "--input", str(ctx), "--out", str(dest), "-o", "json")
    assert r.code == 0 and r.json()["rows"] == 2 and r.json()["output"] == str(dest)
    assert dest.read_text() == plain.stdout
    # the old long --output FILE is the format now: refused by name, no file called `actions2.csv`
    assert_error(cli("model", "prescribe", "camp", "--input", str(ctx), "--output", str(tmp_path / "actions2.csv")),
                 2, "is not one of")
    assert not (tmp_path / "actions2.csv").exists()


def test_downloads_write_into_output_path_and_dest_is_a_hidden_alias(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    cmd = "mkdir -p ${{outputs.model}} && echo hi > ${{outputs.model}}/w.txt"
    run = cli("run", "submit", "--command", cmd, "--output", "model", "--wait", "-o", "json").json()
    assert cli("data", "upload", str(src), "--path", "up").code == 0
    for args, got in ((["run", "download", run["id"]], "model/w.txt"), (["data", "download", "up"], "a.txt")):
        new = cli(*args, "--output-path", str(tmp_path / "new"), "-o", "json")
        assert new.code == 0, new
        assert (tmp_path / "new" / got).is_file()
        old = cli(*args, "--dest", str(tmp_path / "old"), "-o", "json")
        assert old.code == 0 and (tmp_path / "old" / got).is_file() and "--dest is now --output-path" in old.stderr
        assert_error(cli(*args, "--output-path", str(tmp_path / "x"), "--dest", str(tmp_path / "y")), 2, "old name")
        assert_error(cli(*args, "--output-path", str(src / "a.txt")), 2, "--output-path", "is a file")
        text = cli(*args[:2], "--help", env={"COLUMNS": "200"}).stdout
        assert "--output-path" in text and "--dest" not in text
    assert cli("run", "download", run["id"], "-d", str(tmp_path / "short"), "-o", "none").code == 0
    assert (tmp_path / "short" / "model" / "w.txt").is_file()


def _leaves():
    from leafctl.cli.main import cli as root

    ctx = click.Context(root, info_name="leafctl")

    def walk(cmd, ctx, path):
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    yield from walk(sub, click.Context(sub, info_name=name, parent=ctx), f"{path} {name}".strip())
        else:
            yield path, cmd

    return list(walk(root, ctx, ""))


def _parse(line: str) -> None:
    """Parse one example against the real command tree: unknown options, bad choices and missing
    arguments raise click errors (nothing runs: only each command's context is made)."""
    from leafctl.cli.main import cli as root

    words = shlex.split(line)
    words = words[:next((i for i, w in enumerate(words) if w in (">", "|", "&&")), len(words))]
    assert words[0] == "leafctl", line
    ctx = root.make_context("leafctl", words[1:])
    cmd: click.Command = root
    while isinstance(cmd, click.Group):
        with warnings.catch_warnings():  # click 8.2+ deprecates protected_args (9.0 folds it into args)
            warnings.simplefilter("ignore", DeprecationWarning)
            args = [*getattr(ctx, "protected_args", []), *ctx.args]
        name, sub, rest = cmd.resolve_command(ctx, args)
        assert sub is not None, line
        ctx = sub.make_context(name, rest, parent=ctx)
        cmd = sub
    assert not ctx.args, (line, ctx.args)


def test_every_command_help_ends_with_examples_that_parse(cli, leaf_env):
    leaves = _leaves()
    assert len(leaves) > 50
    for path, cmd in leaves:
        text = cli(*path.split(), "--help", env={"COLUMNS": "250"}).stdout
        lines = [ln.strip().strip("│").strip() for ln in text.splitlines()]
        assert "Examples:" in lines, path
        after = [ln for ln in lines[lines.index("Examples:") + 1:] if ln]
        examples = []
        for ln in after:
            if not (ln.startswith("leafctl ") or ln.startswith("cd ")):
                break
            examples.append(ln)
        assert 1 <= len(examples) <= 3, (path, after)
        assert any(f" {path} " in f" {e} " for e in examples), (path, examples)  # about this command
    from leafctl.cli._examples import EXAMPLES

    for path, lines in EXAMPLES.items():
        for line in lines:
            _parse(line)
