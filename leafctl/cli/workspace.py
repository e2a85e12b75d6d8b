"""`leafctl workspace`: create, show, list, delete."""

from __future__ import annotations

from typing import Annotated

import typer

from leafctl.cli._common import DryRunOption, FileOption, SetOption, YesOption, backend, confirm_destructive, emit, info, note_local
from leafctl.cli._complete import complete_workspace_names
from leafctl.output import Column

app = typer.Typer(help="Workspaces: create, show, list, delete.", no_args_is_help=True)

COLUMNS = ["name", Column("backend", drop=2), Column("location", drop=3), Column("path", drop=1, cut=True, tail=True), "created_at"]
NameArg = Annotated[str, typer.Argument(help="Workspace name.", autocompletion=complete_workspace_names)]


@app.command()
def create(
    name: Annotated[str | None, typer.Argument(help="Workspace name (or `name:` in the YAML).")] = None,
    location: Annotated[str | None, typer.Option("--location", "-l", help="Azure region (recorded locally).")] = None,
    exist_ok: Annotated[bool, typer.Option("--exist-ok/--fail-if-exists", help="Succeed if it already exists.")] = True,
    file: FileOption = None,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Create a workspace (get-or-create by default), from flags or an az ml workspace YAML (-f)."""
    from leafctl.backends.common import check_name

    extra: dict = {}
    if file or set_:
        from leafctl.specs.workspace import workspace_from_file

        spec = workspace_from_file(file, set_, [{k: v} for k, v in (("name", name), ("location", location)) if v])
        name, location, extra = spec["name"], spec["location"], spec["extra"]
    if not name:
        from leafctl.errors import UsageError

        raise UsageError("the workspace has no name", "give NAME, or `name:` in the YAML")
    check_name("workspace", name)
    if dry_run:
        from leafctl.specs.workspace import workspace_doc

        emit(workspace_doc(name, location, extra))
        return
    if extra:
        from leafctl.specs.workspace import no_local_effect

        note_local(f"workspace {name}", no_local_effect(extra))
    emit(backend().create_workspace(name, location=location, exist_ok=exist_ok, **({"extra": extra} if extra else {})))


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
