"""Example project folders (``leafctl example write NAME DIR``): a sample's data plus the files the
README tour uses, so the tour runs as written on a fresh machine.

An example is the sample's table and the files in ``samples/<name>/`` (package data): ``src/train.py``
(the training job), ``job.yml`` (the same job as an az ml command job), ``evolve.toml`` (the evolve
config, every key documented; it is config/evolve.toml) and ``contexts.csv`` (rows to prescribe for).
Stdlib only: copying files needs no numpy.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from leafctl.errors import Conflict, UsageError
from leafctl.esp.samples import DATA_DIR, SAMPLES

HERE = Path(__file__).resolve().parent

# name -> (what it is, {path in the example folder: source file})
EXAMPLES: dict[str, tuple[str, dict[str, Path]]] = {
    "campaign": (
        "customer campaign: discount and emails vs revenue and margin (the README tour)",
        {
            "data/campaign.csv": DATA_DIR / SAMPLES["campaign"]["data"],
            "src/train.py": HERE / "campaign" / "train.py",
            "job.yml": HERE / "campaign" / "job.yml",
            "evolve.toml": HERE / "campaign" / "evolve.toml",
            "contexts.csv": HERE / "campaign" / "contexts.csv",
        },
    ),
}


def example_names() -> list[str]:
    return sorted(EXAMPLES)


def describe() -> list[dict[str, object]]:
    return [{"name": n, "description": EXAMPLES[n][0], "files": sorted(EXAMPLES[n][1])} for n in example_names()]


def write_example(name: str, dest: str | Path, force: bool = False) -> list[Path]:
    """Copy example ``name`` into ``dest`` (created). An existing file is Conflict (exit 5) unless
    ``force``; the check comes first, so nothing is written when one would be refused."""
    if name not in EXAMPLES:
        import difflib  # noqa: PLC0415

        close = difflib.get_close_matches(name, example_names(), n=1)
        raise UsageError(f"unknown example {name!r}", f"did you mean {close[0]!r}?" if close
                         else f"examples are: {', '.join(example_names())}")
    out = Path(dest).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"{str(out)!r} is a file", "give a folder to write the example into")
    files = EXAMPLES[name][1]
    taken = [rel for rel in files if (out / rel).exists()]
    if taken and not force:
        raise Conflict(f"{out / taken[0]} already exists", "pass --force to overwrite, or give another folder")
    written = []
    for rel, src in files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(src, tmp)  # the user's files: their umask applies, as for any file they make
        os.replace(tmp, target)
        written.append(target)
    return written

