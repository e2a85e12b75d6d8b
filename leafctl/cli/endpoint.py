"""`leafctl endpoint`: batch endpoints and their deployments (`az ml batch-endpoint` / `az ml batch-deployment`);
`invoke` scores a file or folder with the default deployment or `--deployment NAME`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leafctl.cli._common import DryRunOption, SetOption, YesOption, backend, confirm_destructive, emit, info, note_local
from leafctl.cli._complete import complete_compute_names, complete_deployment_names, complete_endpoint_names
from leafctl.errors import UsageError
from leafctl.output import Column

app = typer.Typer(help="Batch endpoints and their deployments.", no_args_is_help=True)
deployment_app = typer.Typer(help="Batch deployments of an endpoint (the `az ml batch-deployment` commands).",
                             no_args_is_help=True)
app.add_typer(deployment_app, name="deployment")

COLUMNS = ["name", Column("model", drop=1), Column("compute", drop=3), Column("deployment", drop=2), "state", "created_at"]
DEPLOYMENT_COLUMNS = ["name", "endpoint", Column("model", drop=2), Column("compute", drop=4),
                      Column("scoring_script", drop=5, cut=True, tail=True), Column("is_default", drop=1), "created_at"]


NameArg = Annotated[str, typer.Argument(help="Endpoint name.", autocompletion=complete_endpoint_names)]
EndpointOpt = Annotated[str, typer.Option("--endpoint-name", "--endpoint", "-e", help="The endpoint.",
                                          autocompletion=complete_endpoint_names)]
DeploymentArg = Annotated[str, typer.Argument(help="Deployment name.", autocompletion=complete_deployment_names)]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Registered model: NAME:VERSION or NAME@latest.")]
ComputeOpt = Annotated[str | None, typer.Option("--compute", "-c", help="Compute the scoring runs use (default: the profile's, else local).",
                                                autocompletion=complete_compute_names)]


def _note_endpoint(ep: dict) -> None:
    from leafctl.specs.endpoint import ENDPOINT_NOT_LOCAL

    note_local(f"endpoint {ep.get('name')}", [k for k in ENDPOINT_NOT_LOCAL if ep.get(k)])


def _note_deployment(dep: dict) -> None:
    from leafctl.specs.endpoint import no_local_effect

    note_local(f"deployment {dep.get('name')}", no_local_effect(dep),
               "local scoring runs here, one mini batch at a time, in leafctl's own Python")


@app.command()
def create(
    name: Annotated[str | None, typer.Argument(help="Endpoint name (or `name:` in -f).")] = None,
    model: ModelOpt = None,
    compute: ComputeOpt = None,
    file: Annotated[list[str] | None, typer.Option("--file", "-f", help="A batch endpoint YAML and/or a batch deployment YAML "
                                                                   "(az ml v2 schema; repeat -f for both).")] = None,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Create a batch endpoint (create or update from an endpoint YAML); with --model or a deployment YAML, also
    its default deployment (with --model: get-or-create, a different model or compute is a conflict)."""
    if file or set_ or dry_run:
        from leafctl.specs.endpoint import resolve_files

        ep, dep = resolve_files(file or [], set_, name=name, model=model, compute=compute)
    else:
        if not name:
            raise UsageError("the endpoint has no name", "give NAME, or `name:` (endpoint YAML) / `endpoint_name:` (deployment YAML)")
        ep, dep = {"name": name}, None
    if not ep.get("name"):
        raise UsageError("the endpoint has no name", "give NAME, or `name:` (endpoint YAML) / `endpoint_name:` (deployment YAML)")
    if model and dep is None:
        from leafctl.specs import parse_model_ref

        parse_model_ref(model)
    if dry_run:
        emit(ep if dep is None else {"endpoint": ep, "deployment": dep})
        return
    b = backend()
    _note_endpoint(ep)
    spec = ep if len(ep) > 1 else None
    from_file = bool(file) and _has_deployment_file(file or [])
    if dep is None or (model and not from_file and not set_):
        # NAME [--model M [--compute C]]: the endpoint, and with --model its default deployment (get-or-create)
        emit(b.create_endpoint(ep["name"], model, compute=compute, spec=spec))
        return
    _note_deployment(dep)
    b.create_endpoint(ep["name"], spec=spec)
    b.create_deployment(dep)  # the first deployment of an endpoint becomes its default
    emit(b.get_endpoint(ep["name"]))


def _has_deployment_file(files: list[str]) -> bool:
    from leafctl.specs.endpoint import _is_deployment
    from leafctl.specs.load import read_doc

    return any(_is_deployment(read_doc(f)) for f in files)


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
    """Delete a batch endpoint and its deployments (the models stay registered)."""
    b = backend()
    b.get_endpoint(name)  # NotFound before asking for confirmation
    confirm_destructive(f"delete endpoint {name}", yes)
    b.delete_endpoint(name)
    info(f"deleted endpoint {name}")
    emit({"name": name, "deleted": True})


@app.command()
def invoke(
    name: NameArg,
    input_: Annotated[str, typer.Option("--input", "-i", help="A file or folder to score: a local path, azureml:// URI or azureml:ASSET:VERSION.")],
    deployment: Annotated[str | None, typer.Option("--deployment", "--deployment-name", "-d",
                                                   help="The deployment to score with (default: the endpoint's default deployment).",
                                                   autocompletion=complete_deployment_names)] = None,
    output_path: Annotated[Path | None, typer.Option("--output-path", help="Also copy the deployment's output file (predictions.csv) into this folder when done.")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Stream the scoring run's logs until it ends (exit 1 if it fails).")] = False,
) -> None:
    """Score a file or folder with the endpoint's default deployment (or --deployment): starts a batch scoring run."""
    from leafctl.cli.run import _local_path, follow_or_return, output_dest

    source = _local_path(input_)
    dest = Path(output_dest(str(output_path))).resolve() if output_path else None
    run = backend().invoke_endpoint(name, source, output=dest, deployment=deployment)
    follow_or_return(run, wait)


# ----- endpoint deployment ... (az ml batch-deployment) -----

@deployment_app.command("create")
def deployment_create(
    name: Annotated[str | None, typer.Argument(help="Deployment name (or `name:` in -f).")] = None,
    file: Annotated[str | None, typer.Option("--file", "-f", help="A batch deployment YAML (az ml v2 schema).")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint-name", "--endpoint", "-e", help="The endpoint (or `endpoint_name:` in -f).",
                                                 autocompletion=complete_endpoint_names)] = None,
    model: ModelOpt = None,
    compute: ComputeOpt = None,
    set_default: Annotated[bool, typer.Option("--set-default", help="Make it the endpoint's default deployment "
                                                                    "(the first deployment of an endpoint always is).")] = False,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Create or update a batch deployment: a registered or inline model, MLflow or a custom scoring script
    (code_configuration + environment), compute, resources.instance_count and every `settings:` field."""
    from leafctl.specs.endpoint import deployment_doc

    if not file and not model:
        raise UsageError("the deployment has no model", "give -f deployment.yml, or --model NAME:VERSION")
    dep = deployment_doc(file, set_, name=name, endpoint=endpoint, model=model, compute=compute)
    if dry_run:
        emit(dep)
        return
    _note_deployment(dep)
    emit(backend().create_deployment(dep, set_default=set_default))


@deployment_app.command("show")
def deployment_show(name: DeploymentArg, endpoint: EndpointOpt) -> None:
    """Show a batch deployment."""
    emit(backend().get_deployment(endpoint, name))


@deployment_app.command("list")
def deployment_list(endpoint: EndpointOpt) -> None:
    """List an endpoint's batch deployments."""
    emit(backend().list_deployments(endpoint), DEPLOYMENT_COLUMNS)


@deployment_app.command("delete")
def deployment_delete(name: DeploymentArg, endpoint: EndpointOpt, yes: YesOption = False) -> None:
    """Delete a batch deployment (the endpoint and the model stay)."""
    b = backend()
    b.get_deployment(endpoint, name)  # NotFound before asking for confirmation
    confirm_destructive(f"delete deployment {name} of endpoint {endpoint}", yes)
    b.delete_deployment(endpoint, name)
    info(f"deleted deployment {name} of endpoint {endpoint}")
    emit({"name": name, "endpoint": endpoint, "deleted": True})
