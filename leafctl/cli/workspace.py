"""`leafctl workspace`: create, show, list, delete."""

from __future__ import annotations

from typing import Annotated

import typer

from leafctl.cli._common import YesOption, backend, confirm_destructive, emit, info
from leafctl.cli._complete import complete_workspace_names

app = typer.Typer(help="Workspaces: create, show, list, delete.", no_args_is_help=True)

COLUMNS = ["name", "backend", "location", "path", "created_at"]
NameArg = Annotated[str, typer.Argument(help="Workspace name.", autocompletion=complete_workspace_names)]


@app.command()
def create(
    name: NameArg,
    location: Annotated[str | None, typer.Option("--location", "-l", help="Azure region (recorded locally).")] = None,
    exist_ok: Annotated[bool, typer.Option("--exist-ok/--fail-if-exists", help="Succeed if it already exists.")] = True,
) -> None:
    """Create a workspace (get-or-create by default)."""
    emit(backend().create_workspace(name, location=location, exist_ok=exist_ok))


@app.command()
def show(name: Annotated[str | None, typer.Argument(help="Workspace name (default: the profile's).",
                                                    autocompletion=complete_workspace_names)] = None) -> None:
    """Show a workspace."""
    emit(backend().get_workspace(name))


@app.command("list")
def list_() -> None:
    """List workspaces."""
    emit(backend().list_workspaces(), COLUMNS)


@app.command()
def delete(name: NameArg, yes: YesOption = False) -> None:
    """Delete a workspace with everything in it."""
    b = backend()
    b.get_workspace(name)  # NotFound before asking for confirmation
    confirm_destructive(f"delete workspace {name} and everything in it", yes)
    b.delete_workspace(name)
    info(f"deleted workspace {name}")
    emit({"name": name, "deleted": True})
