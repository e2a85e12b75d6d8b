"""The plots a finished run writes, with matplotlib (the ``plot`` extra), from its own output files.

pareto.png, pareto.svg  the reported candidates in objective space: the first front as dots joined by its
                        attainment step line, dominated candidates grey, the knee (what ``--candidate
                        knee`` prescribes with) marked. Two objectives: one panel; three or more: a
                        pairwise grid (lower triangle); one objective: the population's values as a
                        histogram with the best marked (there is no second axis to invent).
history.png             hypervolume and, per objective, the best and mean value per generation.

Everything is read back from pareto.csv, history.csv and config.toml, so the engine (at the end of a run)
and ``leafctl run show RUN --plot`` (on a downloaded run, titled with its name) draw the same thing.
matplotlib is imported only here and only when a plot is drawn: a run without it still succeeds
(``PlotsUnavailable`` carries the one-line note), and ``leafctl`` itself starts without it.
"""

from __future__ import annotations

import csv
import math
import tomllib
from pathlib import Path
from typing import Any, Sequence

PLOT_HINT = "plots need matplotlib: pip install 'leafctl[plot]'"
FRONT_COLOUR, DOMINATED_COLOUR, KNEE_COLOUR = "#1f77b4", "#b0b0b0", "#d62728"
FILES = ("pareto.png", "pareto.svg", "history.png")


class PlotsUnavailable(RuntimeError):
    """matplotlib is not installed; the message says what to install."""


def _cache_dir() -> None:
    """matplotlib keeps a font cache; leafctl gives it a folder under its own cache (LEAFCTL_HOME) rather
    than ~/.config or ~/.cache, and keeps its "created a temporary cache directory" warning (a read-only
    home) off stderr. A user's own MPLCONFIGDIR wins."""
    import logging  # noqa: PLC0415
    import os  # noqa: PLC0415

    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    if os.environ.get("MPLCONFIGDIR"):
        return
    from leafctl.profiles import data_home  # noqa: PLC0415

    d = data_home() / "cache" / "matplotlib"
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    if os.access(d, os.W_OK):
        os.environ["MPLCONFIGDIR"] = str(d)


def _figure_class() -> Any:
    _cache_dir()
    try:
        # The object-oriented API without pyplot: no GUI backend is chosen, nothing global is touched,
        # and it is about half of pyplot's import time.
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        raise PlotsUnavailable(PLOT_HINT) from None
    return Figure


# ------------------------------------------------------------------ reading a run's files

def read_objectives(result_dir: Path) -> list[tuple[str, str]]:
    """(name, sense) of each objective, from the run's config.toml."""
    cfg = tomllib.loads((result_dir / "config.toml").read_text(encoding="utf-8"))
    out = []
    for o in cfg.get("objectives", []):
        name, _, sense = str(o).partition(":")
        out.append((name, sense or "max"))
    return out


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def read_pareto(result_dir: Path, names: Sequence[str]) -> dict[str, Any]:
    """pareto.csv as columns: ids, ranks, is_knee flags and the objective values (natural units)."""
    with open(result_dir / "pareto.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {"id": [int(r["id"]) for r in rows], "rank": [int(r["rank"]) for r in rows],
            "is_knee": [r.get("is_knee") == "true" for r in rows],
            "F": [[_number(r.get(n)) for n in names] for r in rows]}


def read_history(result_dir: Path) -> dict[str, list[float]]:
    """history.csv as {column: values}; empty cells (no hypervolume) are NaN."""
    with open(result_dir / "history.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cols = rows[0].keys() if rows else []
    return {c: [_number(r.get(c)) for r in rows] for c in cols}


# ------------------------------------------------------------------ drawing

def axis_label(name: str, sense: str, axis: str = "x") -> str:
    """``revenue (max, better →)``: the objective, its sense, and which way is better on this axis."""
    arrow = {("x", "max"): "→", ("x", "min"): "←", ("y", "max"): "↑", ("y", "min"): "↓"}[(axis, sense)]
    return f"{name} ({sense}, better {arrow})"


def _split(front: dict[str, Any]) -> tuple[list[int], list[int], int | None]:
    """Row numbers of the first front, of the dominated rest (finite values only), and of the knee."""
    finite = [all(math.isfinite(v) for v in f) for f in front["F"]]
    first = [i for i, (r, ok) in enumerate(zip(front["rank"], finite)) if ok and r == 1]
    rest = [i for i, (r, ok) in enumerate(zip(front["rank"], finite)) if ok and r != 1]
    knee = next((i for i, k in enumerate(front["is_knee"]) if k), None)
    return first, rest, knee


def front_figure(objectives: Sequence[tuple[str, str]], front: dict[str, Any], title: str) -> Any:
    """The Pareto plot as a matplotlib Figure (see the module docstring for its three shapes)."""
    Figure = _figure_class()
    F = front["F"]
    first, rest, knee = _split(front)
    k = len(objectives)
    col = lambda rows, j: [F[i][j] for i in rows]  # noqa: E731
    knee_label = f"knee: id {front['id'][knee]}" if knee is not None else None

    if k == 1:
        fig = Figure(figsize=(6.4, 4.2), layout="constrained")
        ax = fig.subplots()
        name, sense = objectives[0]
        ax.hist(col(first + rest, 0), bins="auto", color=DOMINATED_COLOUR, edgecolor="white", label="candidates")
        if knee is not None:
            ax.axvline(F[knee][0], color=KNEE_COLOUR, linewidth=2, label=f"{knee_label} (best)")
        ax.set_xlabel(axis_label(name, sense))
        ax.set_ylabel("candidates")
        from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # a count of candidates is whole
        ax.legend(frameon=False)
    elif k == 2:
        fig = Figure(figsize=(6.4, 4.8), layout="constrained")
        ax = fig.subplots()
        _front_panel(ax, objectives, F, first, rest, knee, 0, 1, step=True, knee_label=knee_label)
        ax.legend(frameon=False, loc="best")
    else:
        n = k - 1  # row r plots objective r+1 against objective c (c <= r): each pair once
        fig = Figure(figsize=(3.0 * n + 0.6, 3.0 * n + 0.4), layout="constrained")
        axes = fig.subplots(n, n, squeeze=False)
        for r in range(n):
            for c in range(n):
                ax = axes[r][c]
                if c > r:
                    ax.set_axis_off()
                    continue
                # A projection of a k-objective front is no 2-D front: dots only, no step line.
                _front_panel(ax, objectives, F, first, rest, knee, c, r + 1, step=False, knee_label=knee_label)
                if r != n - 1:
                    ax.set_xlabel("")
                if c != 0:
                    ax.set_ylabel("")
        handles, labels = axes[0][0].get_legend_handles_labels()
        # In the empty upper-right corner of the grid, clear of the title.
        axes[0][n - 1].legend(handles, labels, loc="center", frameon=False)
    counted = f"first front: {len(first)} of {len(F)} candidates" if k > 1 else f"{len(F)} candidates"
    fig.suptitle(f"{title}\n{counted}", fontsize=11)
    return fig


def _front_panel(ax: Any, objectives: Sequence[tuple[str, str]], F: list[list[float]], first: list[int],
                 rest: list[int], knee: int | None, jx: int, jy: int, step: bool, knee_label: str | None) -> None:
    (nx, sx), (ny, sy) = objectives[jx], objectives[jy]
    ax.scatter([F[i][jx] for i in rest], [F[i][jy] for i in rest], s=12, color=DOMINATED_COLOUR,
               label="dominated", zorder=1)
    if step and len(first) > 1:
        # The attainment surface: walk the front best-first in x; each point's y holds until the next x.
        # In minimised terms x ascends and y descends; plotted in natural units either way.
        sign = lambda s: -1.0 if s == "max" else 1.0  # noqa: E731
        order = sorted(first, key=lambda i: (sign(sx) * F[i][jx], sign(sy) * F[i][jy]))
        ax.step([F[i][jx] for i in order], [F[i][jy] for i in order], where="post", color=FRONT_COLOUR,
                linewidth=1.2, zorder=2)
    ax.scatter([F[i][jx] for i in first], [F[i][jy] for i in first], s=22, color=FRONT_COLOUR,
               label="first front", zorder=3)
    if knee is not None:
        ax.scatter([F[knee][jx]], [F[knee][jy]], s=160, marker="*", color=KNEE_COLOUR, edgecolor="black",
                   linewidth=0.6, label=knee_label, zorder=4)
    ax.set_xlabel(axis_label(nx, sx, "x"))
    ax.set_ylabel(axis_label(ny, sy, "y"))
    ax.grid(True, color="#e8e8e8", linewidth=0.6)
    ax.set_axisbelow(True)


def history_figure(objectives: Sequence[tuple[str, str]], history: dict[str, list[float]], title: str) -> Any:
    """Hypervolume (merged and per island) and each objective's best and mean value, per generation."""
    Figure = _figure_class()
    gens = history.get("generation", [])
    panels = 1 + len(objectives)
    fig = Figure(figsize=(6.4, 1.9 * panels + 0.8), layout="constrained")
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    ax = axes[0]
    islands = sorted(c for c in history if c.startswith("hypervolume_island_"))
    for c in islands:
        ax.plot(gens, history[c], linewidth=0.8, alpha=0.6, label=c.replace("hypervolume_", "").replace("_", " "))
    ax.plot(gens, history.get("hypervolume", [math.nan] * len(gens)), color="black", linewidth=1.6, label="hypervolume")
    ax.set_ylabel("hypervolume")
    if islands:
        ax.legend(frameon=False, fontsize=8, ncols=2)
    for ax, (name, sense) in zip(axes[1:], objectives):
        ax.plot(gens, history.get(f"best_{name}", []), color=FRONT_COLOUR, linewidth=1.6, label="best")
        ax.plot(gens, history.get(f"mean_{name}", []), color=FRONT_COLOUR, linewidth=1.0, linestyle="--",
                alpha=0.7, label="population mean")
        ax.set_ylabel(f"{name} ({sense})")
        ax.legend(frameon=False, fontsize=8)
    for ax in axes:
        ax.grid(True, color="#e8e8e8", linewidth=0.6)
    axes[-1].set_xlabel("generation")
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))  # generations are whole numbers
    fig.suptitle(f"{title}\nper generation", fontsize=11)
    return fig


# ------------------------------------------------------------------ writing

def _save(fig: Any, path: Path, **kw: Any) -> None:
    """Atomically: a plot being replaced (run show --plot into the same folder) is never half-written."""
    import os  # noqa: PLC0415

    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        fig.savefig(tmp, **kw)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_plots(result_dir: str | Path, title: str, dest: str | Path | None = None) -> list[Path]:
    """Draw a run's plots from the files in ``result_dir`` into ``dest`` (default: the same folder).
    Returns the files written; raises PlotsUnavailable without matplotlib."""
    src = Path(result_dir)
    out = Path(dest) if dest is not None else src
    objectives = read_objectives(src)
    names = [n for n, _ in objectives]
    fig = front_figure(objectives, read_pareto(src, names), title)
    written = [out / "pareto.png", out / "pareto.svg"]
    _save(fig, written[0], dpi=150)
    from matplotlib import rc_context  # noqa: PLC0415

    # Text stays text (searchable, editable, a third of the size) and no timestamp is written, so the
    # same run draws the same file.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "leafctl"}):
        _save(fig, written[1], metadata={"Date": None})
    if (src / "history.csv").is_file():
        _save(history_figure(objectives, read_history(src), title), out / "history.png", dpi=150)
        written.append(out / "history.png")
    return written
