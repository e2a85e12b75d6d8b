"""`leafctl example`: write a ready-to-run example folder (sample data, a training job, an evolve config).

The README tour starts with `leafctl example write campaign ./leaf-tour`; every file it then names is
in that folder. Stdlib only: nothing heavy is imported to copy files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer

from leafctl.cli._common import emit, info
from leafctl.errors import UsageError

app = typer.Typer(help="Example folders: sample data, a training job, an evolve config.", no_args_is_help=True)


# In _complete (stdlib only), so the fast Tab path can call it.
from leafctl.cli._complete import complete_examples as _complete_examples  # noqa: E402


@app.command("list")
def list_() -> None:
    """List the examples and the files each one writes.

    Example: leafctl example list"""
    from leafctl.esp.samples.examples import describe

    from leafctl.output import Column

    emit(describe(), columns=["name", Column("description", cut=True)])


@app.command()
def write(
    name: Annotated[str, typer.Argument(help="Example to write (see `leafctl example list`).", autocompletion=_complete_examples)],
    # A str, not a Path: Path("") is ".", and an empty FOLDER must not mean the current folder.
    folder: Annotated[str | None, typer.Argument(click_type=click.Path(path_type=str),
                                                 help="Folder to write it into (default: ./leaf-NAME).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files the folder already has.")] = False,
) -> None:
    """Write an example folder: data/ (the sample table), src/train.py and job.yml (a training job),
    evolve.toml (the evolve config, every key documented) and contexts.csv (rows to prescribe for).

    Examples:

      leafctl example write campaign ./leaf-tour

      cd leaf-tour && leafctl run evolve evolve.toml --generations 20"""
    from leafctl.esp.samples.examples import write_example

    if folder is not None and not folder.strip():
        raise UsageError(f"FOLDER is empty ({folder!r})", f"name the folder to write, e.g. ./leaf-{name} (. for this one)")
    dest = Path(folder) if folder is not None else Path(f"leaf-{name}")
    files = write_example(name, dest, force=force)
    info(f"wrote example {name!r} into {dest} ({len(files)} files)")
    emit({"name": name, "path": str(dest.resolve()), "files": sorted(str(f.relative_to(dest)) for f in files)})
