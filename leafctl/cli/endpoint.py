"""`leafctl endpoint`: batch endpoints serving a registered model; `invoke` scores a CSV file or folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer

from leafctl.cli._common import DryRunOption, SetOption, YesOption, backend, confirm_destructive, emit, info
from leafctl.cli._complete import _names, complete_compute_names
from leafctl.errors import UsageError

app = typer.Typer(help="Batch endpoints serving a registered model.", no_args_is_help=True)

COLUMNS = ["name", "model", "compute", "deployment", "state", "created_at"]


def complete_endpoint_names(ctx: click.Context, incomplete: str) -> list[str]:
    return _names(ctx, "SELECT name FROM endpoints", incomplete)


NameArg = Annotated[str, typer.Argument(help="Endpoint name.", autocompletion=complete_endpoint_names)]


@app.command()
def create(
    name: Annotated[str | None, typer.Argument(help="Endpoint name (or `name:` in -f).")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Registered model: NAME:VERSION or NAME@latest.")] = None,
    compute: Annotated[str | None, typer.Option("--compute", "-c", help="Compute the scoring runs use (default: the profile's, else local).",
                                                autocompletion=complete_compute_names)] = None,
    file: Annotated[list[str] | None, typer.Option("--file", "-f", help="A batch endpoint YAML and/or a batch deployment YAML "
                                                                   "(az ml v2 schema; repeat -f for both).")] = None,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Create a batch endpoint with a deployment of a registered model (get-or-create)."""
    from leafctl.specs import parse_model_ref

    if file or set_:
        from leafctl.specs.endpoint import endpoint_from_files

        spec = endpoint_from_files(file or [], set_, name=name, model=model, compute=compute)
    else:
        spec = {"name": name, "model": model, "compute": compute}
    if not spec["name"]:
        raise UsageError("the endpoint has no name", "give NAME, or `name:` (endpoint YAML) / `endpoint_name:` (deployment YAML)")
    if not spec["model"]:
        raise UsageError("the endpoint has no model", "give --model NAME:VERSION, or `model: azureml:NAME:VERSION` in the deployment YAML")
    parse_model_ref(spec["model"])
    if dry_run:
        emit(spec)
        return
    emit(backend().create_endpoint(spec["name"], spec["model"], compute=spec["compute"]))


@app.command()
def show(name: NameArg) -> None:
    """Show a batch endpoint."""
    emit(backend().get_endpoint(name))


@app.command("list")
def list_() -> None:
    """List batch endpoints."""
    emit(backend().list_endpoints(), COLUMNS)


@app.command()
def delete(name: NameArg, yes: YesOption = False) -> None:
    """Delete a batch endpoint (the model stays registered)."""
    b = backend()
    b.get_endpoint(name)  # NotFound before asking for confirmation
    confirm_destructive(f"delete endpoint {name}", yes)
    b.delete_endpoint(name)
    info(f"deleted endpoint {name}")
    emit({"name": name, "deleted": True})


@app.command()
def invoke(
    name: NameArg,
    input_: Annotated[str, typer.Option("--input", "-i", help="CSV file or folder of CSVs: a local path, azureml:// URI or azureml:ASSET:VERSION.")],
    output_path: Annotated[Path | None, typer.Option("--output-path", help="Also copy predictions.csv into this folder when done.")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Stream the scoring run's logs until it ends (exit 1 if it fails).")] = False,
) -> None:
    """Score a CSV file or folder with the endpoint's model: starts a batch scoring run."""
    from leafctl.cli.run import _local_path, follow_or_return, output_dest

    source = _local_path(input_)
    dest = Path(output_dest(str(output_path))).resolve() if output_path else None
    run = backend().invoke_endpoint(name, source, output=dest)
    follow_or_return(run, wait)
