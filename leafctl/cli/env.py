"""`leafctl env`: environments (a docker image plus an optional conda file), versioned."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from leafctl.cli._common import DryRunOption, FileOption, SetOption, backend, emit
from leafctl.cli._complete import complete_env_names
from leafctl.errors import NotFound, UsageError

app = typer.Typer(help="Environments: docker image plus conda file.", no_args_is_help=True)

COLUMNS = ["name", "version", "image", "description", "created_at"]
_KEYS = {"$schema", "name", "version", "image", "conda_file", "description", "tags", "build", "os_type", "inference_config"}


def _conda_text(path: str, base: Path | None) -> str:
    """The conda file's contents are stored, not its path: the version must not change if the file does."""
    p = Path(path)
    if base is not None and not p.is_absolute():
        p = base / p
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"conda file {p} not found", "check --conda-file") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise UsageError(f"conda file {p} is not a UTF-8 YAML file", "give a conda environment .yml") from None


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
    """Create a version of an environment (an identical existing version is returned as is)."""
    from leafctl.backends.base import Environment
    from leafctl.specs import apply_sets, read_yaml

    doc: dict[str, Any] = read_yaml(file) if file else {}
    for key in doc:
        if key not in _KEYS:
            raise UsageError(f"{file}: unknown environment key {key!r}", "use name, version, image, conda_file, description")
    if "build" in doc:
        raise UsageError(f"{file}: `build:` (a docker build context) is not supported", "build and push the image, then give `image:`")
    base = Path(file).resolve().parent if file and doc.get("conda_file") else None
    flags = dict(name=name, image=image, version=version, description=description)
    doc.update({k: v for k, v in flags.items() if v is not None})
    if conda_file is not None:
        doc["conda_file"], base = conda_file, None  # a flag's path is relative to the working directory
    doc = apply_sets(doc, set_)
    if not doc.get("name"):
        raise UsageError("the environment has no name", "give NAME, or `name:` in the YAML")
    conda = doc.get("conda_file")
    if isinstance(conda, dict):  # an inline conda spec in the YAML
        import yaml

        conda_text = yaml.safe_dump(conda, sort_keys=False)
    else:
        conda_text = _conda_text(str(conda), base) if conda else None
    env = Environment(name=str(doc["name"]), version=str(doc["version"]) if doc.get("version") is not None else "",
                      image=doc.get("image"), conda_file=conda_text,
                      description=doc.get("description"))
    if dry_run:
        from leafctl.backends.common import check_name

        check_name("environment", env.name)
        if not env.image and not env.conda_file:
            raise UsageError(f"environment {env.name!r} needs an image or a conda file", "pass --image")
        emit({k: v for k, v in env.to_dict().items() if v not in (None, "")})
        return
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
