"""The plots a run writes (leafctl/esp/plots.py), checked on the figures matplotlib builds and the files.

The figures are inspected as objects (axes, lines, markers, labels, ticks), not as pixels; the PNGs were
looked at by eye and are in docs/plots.md.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from leafctl.esp import plots
from leafctl.esp.engine import evolve

PNG = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.plots  # the rest of the suite runs with LEAFCTL_NO_PLOTS=1 (tests/conftest.py)


def _run(tiny_config, out: Path, **changes) -> Path:
    evolve(dataclasses.replace(tiny_config, **changes), out)
    return out


def _knee_row(out: Path) -> dict[str, str]:
    rows = [r for r in csv.DictReader(open(out / "pareto.csv")) if r["is_knee"] == "true"]
    assert len(rows) == 1, "exactly one candidate is the knee"
    return rows[0]


def _nice(step: float) -> bool:
    mant = step / 10 ** math.floor(math.log10(step))
    return any(math.isclose(mant, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5, 10))


def test_a_run_writes_png_svg_and_history_titled_with_its_run_id(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("AZUREML_RUN_ID", "run-abc123")  # what both backends set in a job
    out = _run(tiny_config, tmp_path / "r")
    for name in ("pareto.png", "history.png"):
        assert (out / name).read_bytes()[:8] == PNG, name
    svg = (out / "pareto.svg").read_text()
    # Text is kept as text: the title names the run, the axes name the objectives and their sense.
    assert "LEAF-ESP run run-abc123" in svg
    assert "revenue (max, better →)" in svg and "margin (max, better ↑)" in svg
    knee = _knee_row(out)
    assert f"knee: id {knee['id']}" in svg


def test_two_objectives_front_is_a_step_line_with_the_knee_marked_and_nice_ticks(tiny_config, tmp_path):
    out = _run(tiny_config, tmp_path / "r")
    objectives = plots.read_objectives(out)
    front = plots.read_pareto(out, [n for n, _ in objectives])
    fig = plots.front_figure(objectives, front, "t")
    (ax,) = fig.axes
    steps = [ln for ln in ax.get_lines() if ln.get_drawstyle() == "steps-post"]
    assert len(steps) == 1, "the first front is joined by one attainment step line"
    n_first = sum(r == 1 for r in front["rank"])
    assert len(steps[0].get_xdata()) == n_first
    by_label = {c.get_label(): c for c in ax.collections}
    knee = _knee_row(out)
    star = by_label[f"knee: id {knee['id']}"]
    np.testing.assert_allclose(star.get_offsets()[0], [float(knee["revenue"]), float(knee["margin"])])
    grey = by_label["dominated"]
    assert len(grey.get_offsets()) == len(front["rank"]) - n_first
    assert ax.get_xlabel() == "revenue (max, better →)" and ax.get_ylabel() == "margin (max, better ↑)"
    for ticks in (ax.get_xticks(), ax.get_yticks()):
        assert len(ticks) >= 3 and _nice(float(np.diff(ticks)[0])), ticks  # 340, 360, 380 ... not 98.77, 116


def test_three_objectives_draw_each_pair_once_and_one_objective_a_single_axis(tiny_config, tmp_path):
    three = _run(tiny_config, tmp_path / "three", objectives=["revenue:max", "margin:max", "action_cost:min"])
    objectives = plots.read_objectives(three)
    fig = plots.front_figure(objectives, plots.read_pareto(three, [n for n, _ in objectives]), "t")
    shown = [ax for ax in fig.axes if ax.axison]
    pairs = {(ax.get_xlabel().split(" ")[0], ax.get_ylabel().split(" ")[0]) for ax in shown}
    assert len(shown) == 3  # revenue-margin, revenue-action_cost, margin-action_cost (labels on the outer edge)
    assert ("revenue", "action_cost") in pairs
    assert not any(ln.get_drawstyle() == "steps-post" for ax in shown for ln in ax.get_lines())

    one = _run(tiny_config, tmp_path / "one", objectives=["revenue:max"], outcomes=["revenue"])
    objectives = plots.read_objectives(one)
    fig = plots.front_figure(objectives, plots.read_pareto(one, ["revenue"]), "t")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "revenue (max, better →)" and ax.get_ylabel() == "candidates"
    best = max(float(r["revenue"]) for r in csv.DictReader(open(one / "pareto.csv")))
    (line,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("knee")]
    assert line.get_xdata()[0] == pytest.approx(best)  # the knee of one objective is its best
    ticks = ax.get_xticks()
    assert len(set(np.round(ticks, 9))) == len(ticks)  # no repeated x ticks


def test_history_has_hypervolume_and_each_objectives_best_and_mean(tiny_config, tmp_path):
    out = _run(tiny_config, tmp_path / "r")
    objectives = plots.read_objectives(out)
    hist = plots.read_history(out)
    fig = plots.history_figure(objectives, hist, "t")
    assert [ax.get_ylabel() for ax in fig.axes] == ["hypervolume", "revenue (max)", "margin (max)"]
    assert fig.axes[-1].get_xlabel() == "generation"
    best = next(ln for ln in fig.axes[1].get_lines() if ln.get_label() == "best")
    np.testing.assert_allclose(best.get_ydata(), hist["best_revenue"])
    assert len(best.get_xdata()) == tiny_config.generations + 1


def test_without_matplotlib_the_run_succeeds_and_says_what_to_install(tiny_config, tmp_path):
    cfg = dataclasses.replace(tiny_config, generations=1)
    code = ("import sys; sys.modules['matplotlib'] = None\n"  # as if it were not installed
            "from leafctl.esp.config import config_from_dict\n"
            "from leafctl.esp.engine import evolve\n"
            f"evolve(config_from_dict({cfg.to_dict()!r}), {str(tmp_path / 'r')!r})\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(Path(plots.__file__).parents[2])})
    assert p.returncode == 0, p.stderr
    assert "note: no plots written; plots need matplotlib: pip install 'leafctl[plot]'" in p.stderr
    assert (tmp_path / "r" / "pareto.csv").is_file() and (tmp_path / "r" / "model" / "MLmodel").is_file()
    assert not list((tmp_path / "r").glob("*.png")) and not (tmp_path / "r" / "pareto.svg").exists()


def test_leafctl_no_plots_skips_the_end_of_run_plots(tiny_config, tmp_path, monkeypatch):
    # (`run show --plot` still draws them: tests/cli/test_knee.py runs with LEAFCTL_NO_PLOTS=1 set.)
    monkeypatch.setenv("LEAFCTL_NO_PLOTS", "1")
    out = _run(tiny_config, tmp_path / "r", generations=1)
    assert (out / "pareto.csv").is_file() and (out / "model" / "MLmodel").is_file()
    assert not any((out / n).exists() for n in plots.FILES)
    for i, off in enumerate(("false", " Off ")):  # off, as LEAFCTL_ESP_FUSED reads it ("0" and "" too)
        monkeypatch.setenv("LEAFCTL_NO_PLOTS", off)
        assert all((_run(tiny_config, tmp_path / f"s{i}", generations=1) / n).is_file() for n in plots.FILES), off


def test_a_cluster_job_installs_matplotlib_so_remote_runs_write_plots_too():
    from leafctl.evolve import conda_file

    for mpi in (False, True):
        pip = next(d["pip"] for d in conda_file(mpi)["dependencies"] if isinstance(d, dict))
        assert "matplotlib>=3.7" in pip


def test_matplotlib_keeps_its_cache_under_leafctl_home_not_the_users_home(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    evolve(dataclasses.replace(tiny_config, generations=1), run_dir)
    home, lhome = tmp_path / "home", tmp_path / "lhome"
    home.mkdir()
    (tmp_path / "plots").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    env.update(HOME=str(home), LEAFCTL_HOME=str(lhome))
    code = ("import sys; from leafctl.esp.plots import write_plots; "
            "write_plots(sys.argv[1], 'run x', sys.argv[2])")
    done = subprocess.run([sys.executable, "-c", code, str(run_dir), str(tmp_path / "plots")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert list(home.iterdir()) == []  # no ~/.cache/matplotlib, no ~/.config/matplotlib
    assert (lhome / "cache" / "matplotlib").is_dir()
    assert "matplotlib" not in done.stderr.lower()
