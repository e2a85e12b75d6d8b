"""The chosen candidate is visible: the knee in pareto.csv, `run evolve -o json`, the terminal summary
(through a pseudo-terminal), the plots (`run show --plot`) and `model prescribe`'s stderr."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

from leaftest import assert_error, leafctl_executable, on_a_terminal

FAST = ["--generations", "6", "--population", "20"]


def _evolve(cli) -> dict:
    r = cli("run", "evolve", "--sample", "campaign", *FAST, "-o", "json")
    assert r.code == 0, r
    return r.json()


def test_the_knee_is_marked_in_pareto_csv_and_the_json_and_is_what_prescribe_uses(cli, tmp_path):
    run = _evolve(cli)
    knee = run["knee"]
    assert set(knee) == {"id", "objectives"} and set(knee["objectives"]) == {"revenue", "margin"}
    assert knee["id"] in [f["id"] for f in run["front"]]  # on the first front
    rows = list(csv.DictReader(open(Path(run["outputs_path"]) / "result" / "pareto.csv")))
    marked = [r for r in rows if r["is_knee"] == "true"]
    assert len(marked) == 1 and {r["is_knee"] for r in rows} == {"true", "false"}
    assert int(marked[0]["id"]) == knee["id"]
    assert float(marked[0]["revenue"]) == knee["objectives"]["revenue"]

    assert cli("model", "register", "esp", "--run", run["id"], "-o", "none").code == 0
    contexts = tmp_path / "contexts.csv"
    contexts.write_text("age,income,past_spend,visits,region,channel\n35,62.0,480.5,4,north,web\n")
    by_knee = cli("model", "prescribe", "esp", "--input", str(contexts))
    assert by_knee.code == 0, by_knee
    line = f"candidate knee = id {knee['id']}; predicted over the training contexts: "
    assert line in by_knee.stderr
    assert f"revenue {knee['objectives']['revenue']:.5g} (max)" in by_knee.stderr
    by_id = cli("model", "prescribe", "esp", "--input", str(contexts), "--candidate", str(knee["id"]))
    assert by_id.stdout == by_knee.stdout  # the knee the outputs name is the one the model prescribes with
    assert f"candidate id {knee['id']};" in by_id.stderr
    every = cli("model", "prescribe", "esp", "--input", str(contexts), "--candidate", "all")
    assert f"candidate all: all {len(rows)} candidates" in every.stderr  # pareto.csv's: population and archive


def test_the_terminal_summary_names_the_knee_and_draws_the_front(leaf_env):
    env = {**os.environ, "COLUMNS": "100"}
    code, out = on_a_terminal(["run", "evolve", "--sample", "campaign", *FAST], env)
    text = out.decode().replace("\r\n", "\n")
    assert code == 0, text
    assert "knee (the default --candidate of `model prescribe`): id " in text
    assert "predicted revenue " in text
    lines = text.splitlines()
    legend = next(i for i, ln in enumerate(lines) if ln.strip() == "o first front   * knee")
    plot = lines[legend - 15:legend]  # y label, 12 rows, the axis, the x labels
    assert plot[0] == "margin (max)" and "revenue (max)" in plot[-1] and set(plot[-2].strip()) <= {"+", "-"}
    cells = "".join(ln.split("|", 1)[1] for ln in plot[1:13])
    assert cells.count("*") == 1 and "o" in cells
    assert all(len(ln) <= 80 for ln in plot)
    # Off a terminal the same run prints JSON only: no drawing in a script's output.
    piped = subprocess.run([leafctl_executable(), "run", "evolve", "--sample", "campaign", *FAST],
                           capture_output=True, text=True, env=env, timeout=300)
    assert piped.returncode == 0 and piped.stdout.lstrip().startswith("{") and "o first front" not in piped.stdout


def test_run_show_plot_writes_the_plots_titled_with_the_run(cli, tmp_path):
    run = _evolve(cli)
    dest = tmp_path / "plots"
    r = cli("run", "show", run["id"], "--plot", "--output-path", str(dest), "-o", "json")
    assert r.code == 0, r
    shown = r.json()
    assert shown["id"] == run["id"] and shown["status"] == "Completed"
    assert shown["plots"] == [str((dest / n).resolve()) for n in ("pareto.png", "pareto.svg", "history.png")]
    assert (dest / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    svg = (dest / "pareto.svg").read_text()
    assert f"LEAF-ESP evolve ({run['id']})" in svg and f"knee: id {run['knee']['id']}" in svg
    assert "wrote " in r.stderr  # no display here: the paths are printed


def test_run_show_plot_refuses_what_it_cannot_plot(cli, tmp_path):
    job = cli("run", "submit", "--command", "true", "--wait", "-o", "json")
    assert job.code == 0, job
    assert_error(cli("run", "show", job.json()["id"], "--plot"), 2, "evolve run")
    assert_error(cli("run", "show", job.json()["id"], "--output-path", str(tmp_path)), 2, "--plot")
    run = _evolve(cli)
    (tmp_path / "file").write_text("x")
    assert_error(cli("run", "show", run["id"], "--plot", "--output-path", str(tmp_path / "file")), 2, "is a file")
