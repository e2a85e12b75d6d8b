"""The README's tour, run as written: its fenced block, command by command, in an empty HOME.

Only what a reader would do themselves is done here: backslash-continued lines are joined, `cd DIR`
changes the folder for the commands after it, and `<RUN_ID>` becomes the `id` that the last command
printing one printed. Comments stay in (bash drops them). Nothing else is filled in: no flags added,
no files made beforehand. The example folder and evolve.toml's documentation are checked alongside.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BIN = Path(sys.executable).parent


def tour_commands(text: str) -> list[str]:
    """The commands of the fenced block under "## A tour", continuation lines joined."""
    section = text.split("\n## A tour\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the tour has a fenced sh block"
    commands, current = [], ""
    for line in block.group(1).splitlines():
        if not line.strip() and not current:
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        commands.append((current + line).strip())
        current = ""
    return [c for c in commands if c]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEAFCTL_", "AZML_", "XDG_"))}
    env.update(HOME=str(tmp_path / "home"), LEAFCTL_HOME=str(tmp_path / "leafhome"), NO_COLOR="1", CI="1",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")  # `leafctl` as a fresh install puts it on PATH
    (tmp_path / "home").mkdir()
    return env


def test_the_readme_tour_runs_as_written(tmp_path):
    env = _env(tmp_path)
    cwd = tmp_path / "work"
    cwd.mkdir()
    run_id = None
    commands = tour_commands(README.read_text(encoding="utf-8"))
    assert commands[0].startswith("leafctl example write"), "the tour starts by writing its files"
    for command in commands:
        if "<RUN_ID>" in command:
            assert run_id, f"{command!r} needs a run id and no command before it printed one"
            command = command.replace("<RUN_ID>", run_id)
        for part in command.split(" && "):
            words = shlex.split(part, comments=True)
            if words[:1] == ["cd"]:
                cwd = (cwd / words[1]).resolve()
                continue
            p = subprocess.run(["bash", "-c", part], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
            assert p.returncode == 0, f"{part}\nexit {p.returncode}\n{p.stderr[-3000:]}"
            try:
                out = json.loads(p.stdout)
            except ValueError:
                continue
            if isinstance(out, dict) and isinstance(out.get("id"), str):
                run_id = out["id"]
    # What the tour promised is there: the downloaded model, the plots, the prescribed actions.
    assert (cwd / "model" / "metadata.json").is_file()
    assert list(cwd.glob("*-plots/pareto.png")) and list(cwd.glob("*-plots/history.png"))
    header = (cwd / "actions.csv").read_text().splitlines()[0].split(",")
    assert header[-2:] == ["discount", "emails"]


def test_the_example_writes_the_tour_files_and_refuses_to_overwrite(cli, tmp_path):
    r = cli("example", "write", "campaign", str(tmp_path / "ex"), "-o", "json")
    assert r.code == 0, r
    assert r.json()["files"] == ["contexts.csv", "data/campaign.csv", "evolve.toml", "job.yml", "src/train.py"]
    again = cli("example", "write", "campaign", str(tmp_path / "ex"))
    assert again.code == 5 and "already exists" in again.stderr and "--force" in again.stderr
    assert cli("example", "write", "campaign", str(tmp_path / "ex"), "--force", "-o", "none").code == 0
    typo = cli("example", "write", "campain", str(tmp_path / "ex2"))
    assert typo.code == 2 and "did you mean 'campaign'" in typo.stderr and not (tmp_path / "ex2").exists()


def test_every_evolve_config_key_is_documented_in_config_evolve_toml():
    from leafctl.esp.config import EvolveConfig

    text = (REPO / "config" / "evolve.toml").read_text(encoding="utf-8")
    # Set or shown commented out ("# key = default"), each with its own comment above it.
    keys = set(re.findall(r"^(?:# )?([a-z_]+) = ", text, re.M))
    missing = [f.name for f in dataclasses.fields(EvolveConfig) if f.name not in keys]
    assert not missing, f"config/evolve.toml does not document: {missing}"
    unknown = sorted(keys - {f.name for f in dataclasses.fields(EvolveConfig)})
    assert not unknown, f"config/evolve.toml documents keys leafctl does not read: {unknown}"
    # It is the example's evolve.toml, and every key it sets is at its default unless the sample needs it.
    example = REPO / "leafctl" / "esp" / "samples" / "campaign" / "evolve.toml"
    assert example.read_text(encoding="utf-8") == text
    # The sample sets its data, columns and objectives; every other key is shown at its default, commented
    # out (so a default that changes is caught here, and the example follows leafctl's defaults).
    sample_keys = {"data", "context", "actions", "outcomes", "objectives", "action_cost"}
    assert set(tomllib.loads(text)) == sample_keys
    shown = tomllib.loads("\n".join(ln[2:] for ln in text.splitlines() if re.match(r"^# [a-z_]+ = ", ln)))
    defaults = EvolveConfig()
    for key, value in shown.items():
        if getattr(defaults, key) is None:  # TOML has no null: such a key is documented as "unset"
            continue
        assert value == getattr(defaults, key), f"{key} = {value!r} is shown as the default, which is {getattr(defaults, key)!r}"


def test_dry_run_shows_the_resolved_columns(cli, tmp_path):
    assert cli("example", "write", "campaign", str(tmp_path / "ex"), "-o", "none").code == 0
    data = str(tmp_path / "ex" / "data" / "campaign.csv")
    r = cli("run", "evolve", "--data", data, "--actions", "discount,emails", "--objective", "revenue:max",
            "--objective", "action_cost:min", "--dry-run", "-o", "json")
    assert r.code == 0, r
    cfg = r.json()["config"]
    assert cfg["context"] == ["age", "income", "past_spend", "visits", "region", "channel", "margin"]
    assert cfg["outcomes"] == ["revenue"] and cfg["actions"] == ["discount", "emails"]
    table = cli("run", "evolve", "--data", data, "--actions", "discount,emails", "--objective", "revenue:max",
                "--dry-run", "-o", "table")
    assert "context: age, income, past_spend, visits, region, channel, margin" in table.stderr
    assert "outcomes: revenue" in table.stderr


def test_the_documented_config_runs_as_the_sample(cli, tmp_path):
    """evolve.toml loads (every key it sets is accepted) and means the campaign sample, default for default."""
    from leafctl.esp.config import load_config
    from leafctl.esp.samples import sample_config

    assert cli("example", "write", "campaign", str(tmp_path / "ex"), "-o", "none").code == 0
    got, want = load_config(tmp_path / "ex" / "evolve.toml").to_dict(), sample_config("campaign").to_dict()
    assert got.pop("data") == str((tmp_path / "ex" / "data" / "campaign.csv").resolve())
    want.pop("data")
    assert got == want
