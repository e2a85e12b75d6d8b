"""What every command group shares: the backend, rendering, prompts, progress, key=value parsing.

Commands stay thin: parse -> call the backend or the engine -> ``emit``. Options used by several
groups are declared once here as ``Annotated`` aliases.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Sequence

import typer

from leafctl.cli import _state
from leafctl.errors import UsageError

if TYPE_CHECKING:
    from leafctl.backends.base import Backend
    from leafctl.profiles import Settings

# Shared options.
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not prompt; required when not on a terminal or in CI.")]
NoWaitOption = Annotated[bool, typer.Option("--no-wait", help="Print the submitted run at once instead of following it.")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Validate and print the resolved spec; change nothing.")]
FileOption = Annotated[str | None, typer.Option("--file", "-f", help="A YAML spec in the az ml v2 schema.")]
SetOption = Annotated[list[str] | None, typer.Option("--set", help="Override a spec field: key=value (repeatable).")]
TagOption = Annotated[list[str] | None, typer.Option("--tag", help="A tag: key=value (repeatable).")]
# `list` commands show at most DEFAULT_LIMIT rows in every format (JSON too, as gh does): a table and its
# `-o json` list the same rows; scripts that need everything pass --all.
DEFAULT_LIMIT = 50
LimitOption = Annotated[int | None, typer.Option("--limit", "-L", min=1, metavar="N",
                                                 help=f"Show at most N, the newest (default: {DEFAULT_LIMIT}, in every output format).")]
AllOption = Annotated[bool, typer.Option("--all", help=f"Show every one, not only the newest {DEFAULT_LIMIT} (what scripts want).")]

# Downloads write into `--output-path DIR` on every command (az ml's name); `--dest` was `run download`'s
# and `data download`'s name for it and stays, hidden, as an alias for a release.
DestAlias = Annotated[Path | None, typer.Option("--dest", hidden=True, help="Old name of --output-path.")]
DestAliasShort = Annotated[Path | None, typer.Option("--dest", "-d", hidden=True, help="Old name of --output-path.")]


def output_folder(output_path: Path | None, dest: Path | None, default: Path | None = None) -> Path | None:
    """The folder a download writes into, from --output-path or its old name --dest; refused when it is a file."""
    if output_path is not None and dest is not None and output_path != dest:
        raise UsageError("--dest is the old name of --output-path: give one", f"e.g. --output-path {output_path}")
    if dest is not None:
        info("note: --dest is now --output-path; --dest goes away in a later release")
    folder = output_path if output_path is not None else dest if dest is not None else default
    if folder is not None and folder.exists() and not folder.is_dir():
        raise UsageError(f"--output-path {str(folder)!r} is a file", "give a folder to download into")
    return folder


def list_limit(limit: int | None, all_: bool) -> int | None:
    """How many rows a list command shows (None: all); --limit and --all together are a usage error."""
    if all_ and limit is not None:
        raise UsageError("give --limit or --all, not both", "--all lists every one; --limit N the newest N")
    return None if all_ else (limit or DEFAULT_LIMIT)


def note_left_out(shown: int, total: int, what: str) -> None:
    """On stderr, when a limit left rows out: how many, and how to get them all."""
    if shown < total:
        info(f"showing {shown} of {total} {what}, the newest; --all lists every one")


def state() -> _state.State:
    return _state.current()


def settings() -> Settings:
    return state().settings()


def backend() -> Backend:
    return state().backend()


def emit(data: Any, columns: Sequence[str] | None = None) -> None:
    """Print a result on stdout in the chosen format."""
    from leafctl.output import render

    st = state()
    render(data, st.output, st.query, columns)


def info(msg: str) -> None:
    """A progress or status line on stderr (never stdout: stdout is data); redacted like error lines."""
    from leafctl.redact import redact

    typer.echo(redact(msg), err=True)


def note_local(where: str, names: Sequence[str], why: str = "they are recorded and sent to Azure on the azure backend") -> None:
    """Once on stderr, on the local backend: spec fields it records but cannot apply."""
    if names and backend().name == "local":
        info(f"note: {where}: {', '.join(names)} {'has' if len(names) == 1 else 'have'} no effect on the local backend ({why})")


def verbose(msg: str) -> None:
    if state().verbose:
        info(msg)


_KV_EXAMPLES = {"--tag": "accuracy=0.93", "--input": "data=./data", "--env-var": "X=1", "--set": "workspace=default",
                "--action-cost": "discount=2", "--action-range": "emails=0:10"}


def parse_kv(items: Sequence[str] | None, what: str = "--tag") -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} {item!r} is not key=value", f"e.g. {what} {_KV_EXAMPLES.get(what, 'key=value')}")
        out[key.strip()] = value
    return out


def interactive() -> bool:
    """May we prompt? Not in CI, not when stdin is not a terminal."""
    return sys.stdin.isatty() and not os.environ.get("CI")


def confirm_destructive(what: str, yes: bool) -> None:
    """Prompt on a terminal; refuse (exit 2) without --yes when not interactive."""
    if yes:
        return
    if not interactive():
        raise UsageError(f"refusing to {what} without confirmation", "pass --yes to confirm (stdin is not a terminal or CI is set)")
    if not typer.confirm(f"{what[0].upper() + what[1:]}?", default=False, err=True):
        from leafctl.errors import Interrupted

        raise Interrupted(f"did not {what}", "nothing was changed")


class RichProgress:
    """A rich progress bar on stderr implementing backends.base.Progress; silent when not a terminal."""

    def __init__(self, description: str = "") -> None:
        self.description = description
        self._progress = None
        self._task = None

    def start(self, total: int, description: str = "") -> None:
        if not sys.stderr.isatty() or os.environ.get("LEAFCTL_NO_PROGRESS"):
            return
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

        self._progress = Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=Console(stderr=True), transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(description or self.description, total=total)

    def advance(self, amount: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, amount)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


@contextmanager
def progress(description: str) -> Iterator[RichProgress]:
    p = RichProgress(description)
    try:
        yield p
    finally:
        p.finish()


def _profile_can_sign_in() -> None:
    """Before azure-ai-ml is imported by anything (a spec's validation, the backend): the selected
    profile's keys and secret reference (leafctl.profiles.check_azure_ready)."""
    s = settings()
    if s.backend == "azure":
        from leafctl.profiles import check_azure_ready

        check_azure_ready(s)


def _register_checks() -> None:
    from leafctl import backends

    if _profile_can_sign_in not in backends.BEFORE_AZURE:
        backends.BEFORE_AZURE.append(_profile_can_sign_in)


_register_checks()
