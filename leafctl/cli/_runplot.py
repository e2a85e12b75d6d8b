"""`leafctl run show RUN --plot`: an evolve run's plots, drawn here from its downloaded files.

The run's result folder is fetched through the backend (the same call as `run download`), the plots
are drawn from its pareto.csv, history.csv and config.toml by ``leafctl.esp.plots`` (titled with the
run's display name and id), written into a folder of the user's, and pareto.png is opened where a
display exists and the command runs on a terminal; otherwise the paths are printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from leafctl.cli._common import info
from leafctl.errors import UsageError

if TYPE_CHECKING:
    from leafctl.backends.base import Backend, Run

RESULT = "result"  # an evolve run's output folder (leafctl.evolve.RESULT)


def plot_run(run: Run, b: Backend, dest: Path | None) -> list[str]:
    """Draw ``run``'s plots into ``dest`` (default ./RUN_ID-plots); returns the files' absolute paths."""
    from leafctl.esp.plots import PLOT_HINT, PlotsUnavailable, write_plots

    if run.kind != "evolve":
        raise UsageError(f"run {run.id} is a {run.kind} run; --plot draws an evolve run's Pareto front",
                         "give the id of a `run evolve` run (leafctl run list)")
    if run.status != "Completed":
        raise UsageError(f"run {run.id} is {run.status}; it has no front to plot yet",
                         f"wait for it: leafctl run wait {run.id}")
    out = (dest or Path(f"{run.id}-plots")).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output-path {str(out)!r} is a file", "give a folder to write the plots into")
    title = f"{run.display_name} ({run.id})" if run.display_name else f"run {run.id}"
    with tempfile.TemporaryDirectory(prefix="leafctl-plot-") as tmp:
        b.download_run(run.id, Path(tmp), output=RESULT)
        src = Path(tmp) / RESULT
        if not (src / "pareto.csv").is_file() or not (src / "config.toml").is_file():
            raise UsageError(f"run {run.id} has no pareto.csv to plot", "it may predate leafctl's evolve outputs")
        out.mkdir(parents=True, exist_ok=True)
        try:
            files = write_plots(src, f"LEAF-ESP {title}", dest=out)
        except PlotsUnavailable:
            raise UsageError("cannot draw plots without matplotlib", PLOT_HINT.split(": ", 1)[1]) from None
    paths = [str(p.resolve()) for p in files]
    if not _open(Path(paths[0])):
        info(f"wrote {', '.join(paths)}")
    return paths


def has_display() -> bool:
    """A screen a viewer can open on: macOS and Windows always; elsewhere an X11 or Wayland session."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open(path: Path) -> bool:
    """Open ``path`` in the desktop's viewer, without waiting for it; only for a person at a terminal."""
    if not (sys.stdout.isatty() and has_display()):
        return False
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]  # noqa: S606
        return True
    opener = shutil.which("open" if sys.platform == "darwin" else "xdg-open")
    if opener is None:
        return False
    subprocess.Popen([opener, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
    info(f"opened {path}")
    return True
