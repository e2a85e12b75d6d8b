"""`leafctl env`: environments (a docker image plus an optional conda file), versioned."""

from __future__ import annotations

from typing import Annotated

import typer

from leafctl.cli._common import DryRunOption, FileOption, SetOption, backend, emit, note_local
from leafctl.cli._complete import complete_env_names
from leafctl.errors import NotFound, UsageError
from leafctl.output import Column

app = typer.Typer(help="Environments: docker image plus conda file.", no_args_is_help=True)

COLUMNS = ["name", "version", Column("image", drop=2, cut=True), Column("description", drop=3, cut=True), "created_at"]


def _conda_text(path: str) -> str:
    """The conda file's contents are stored, not its path: the version must not change if the file does."""
    from leafctl.backends.common import read_yaml_mapping

    return read_yaml_mapping(path, "conda file", "--conda-file", empty_ok=False)[0]


@app.command()
def create(
    name: Annotated[str | None, typer.Argument(help="Environment name (or `name:` in the YAML).")] = None,
    image: Annotated[str | None, typer.Option("--image", help="Docker image, e.g. mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04.")] = None,
    conda_file: Annotated[str | None, typer.Option("--conda-file", help="A conda environment YAML.")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Explicit version (default: the next one).")] = None,
    description: Annotated[str | None, typer.Option("--description", help="A description.")] = None,
    file: FileOption = None,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Create a version of an environment (an identical existing version is returned as is): an image, a conda file
    on an image, or (-f) a docker build context (`build:`), as az ml environment YAML has them."""
    from leafctl.backends.base import Environment

    flags = dict(name=name, image=image, version=version, description=description)
    # A flag's conda file is relative to the working directory; its contents are stored, not its path.
    conda_text = _conda_text(conda_file) if conda_file is not None else None
    if file or set_:
        from leafctl.specs.assets import environment_from_file

        env = environment_from_file(file, set_, [{k: v} for k, v in flags.items() if v is not None])
        env.conda_file = conda_text if conda_text is not None else env.conda_file
    else:
        if not name:
            raise UsageError("the environment has no name", "give NAME, or `name:` in the YAML")
        env = Environment(name=name, version=version or "", image=image, conda_file=conda_text, description=description)
    if not env.name:
        raise UsageError("the environment has no name", "give NAME, or `name:` in the YAML")
    if dry_run:
        from leafctl.backends.common import check_name, check_version
        from leafctl.specs.assets import environment_doc

        check_name("environment", env.name)
        if env.version:
            check_version("environment", str(env.version))
        if not env.image and not env.conda_file and not env.extra.get("build"):
            raise UsageError(f"environment {env.name!r} needs an image or a conda file", "pass --image")
        emit(environment_doc(env))  # the az ml document: conda file inline, build context path absolute
        return
    if env.extra:
        from leafctl.specs.assets import no_local_effect

        note_local(f"environment {env.name}", no_local_effect(env.extra),
                   "local runs use the current Python; they are recorded and sent to Azure on the azure backend")
    emit(backend().create_environment(env))


@app.command()
def show(ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@latest.", autocompletion=complete_env_names)]) -> None:
    """Show an environment version."""
    from leafctl.backends.common import split_name_version

    name, version = split_name_version(ref)
    emit(backend().get_environment(name, version))


@app.command("list")
def list_(name: Annotated[str | None, typer.Argument(help="With a name: all its versions.", autocompletion=complete_env_names)] = None) -> None:
    """List environments (latest version of each), or every version of one."""
    b = backend()
    rows = b.list_environments(name) if name else b.list_environments()
    if name and not rows:
        raise NotFound(f"environment {name!r} not found", "see `leafctl env list`")
    emit(rows, COLUMNS)
