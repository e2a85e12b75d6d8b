"""`leafctl model`: register, show, list, download (with --best), delete, prescribe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leafctl.cli._common import (AllOption, DryRunOption, FileOption, LimitOption, SetOption, TagOption, YesOption, backend,
                                 confirm_destructive, emit, info, list_limit, note_left_out, note_local, parse_kv)
from leafctl.cli._complete import complete_model_names, complete_run_ids
from leafctl.errors import UsageError
from leafctl.output import Column

app = typer.Typer(help="Registered models: register, download, prescribe.", no_args_is_help=True)

# On a narrow terminal tags are cut first, then type, run id and tags are left out in that order.
COLUMNS = ["name", "version", Column("type", drop=3), Column("tags", drop=1, cut=True), Column("run_id", drop=2), "created_at"]
ModelArg = Annotated[str, typer.Argument(help="Model name.", autocompletion=complete_model_names)]


_AZ_TYPES = {"custom": "custom_model", "mlflow": "mlflow_model", "triton": "triton_model"}


def _flags_doc(name: str, path: Path | None, run: str | None, output: str | None, type_: str, tags: dict[str, str],
               description: str | None, version: str | None) -> dict:
    """The az ml model document the flags stand for (--dry-run without -f)."""
    where = str(Path(path).expanduser().resolve()) if path is not None else \
        f"azureml://jobs/{run}/outputs/" + (output or "artifacts").strip("/").replace("/", "/paths/", 1)
    doc = {"name": name, "version": version, "type": _AZ_TYPES.get(type_, type_), "path": where,
           "description": description, "tags": tags or None}
    return {k: v for k, v in doc.items() if v is not None}


@app.command()
def register(
    name: Annotated[str | None, typer.Argument(help="Model name (or `name:` in the YAML).", autocompletion=complete_model_names)] = None,
    path: Annotated[Path | None, typer.Option("--path", help="A local file or folder to register.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Register from a completed run's outputs.", autocompletion=complete_run_ids)] = None,
    output: Annotated[str | None, typer.Option("--output", help="With --run: the output folder to register (default: all outputs; an evolve run's model).")] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="custom | mlflow | triton (default: mlflow for an evolve run, else custom).")] = None,
    tag: TagOption = None,
    description: Annotated[str | None, typer.Option("--description", help="A description.")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Explicit version (default: the next one).")] = None,
    follow_links: Annotated[bool, typer.Option("--follow-links", help="Copy what symlinks inside --path point at "
                                                                      "(default: leave links out, with a warning).")] = False,
    file: FileOption = None,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Register a new version of a model (versions count up: 1, 2, ...), from flags or an az ml model YAML (-f):
    custom_model, mlflow_model or triton_model; a local path, a datastore path or azureml://jobs/<run>/outputs/<name>.
    Symlinks inside a --path folder are left out (one warning names them) unless --follow-links is given."""
    tags = parse_kv(tag)
    links: list[str] = []
    if file or set_:
        from leafctl.specs.assets import model_from_file

        overrides = [{k: v} for k, v in (("name", name), ("description", description), ("version", version),
                                         ("type", _AZ_TYPES.get(type_ or "", type_))) if v]
        overrides += [{f"tags.{k}": v} for k, v in tags.items()]
        spec = model_from_file(file, set_, overrides)
        doc = spec.pop("doc")
        if path is not None or run is not None:  # flags win; a flag's path is relative to the working directory
            spec.pop("path", None), spec.pop("run_id", None), spec.pop("output", None)
            spec.update(path=path) if path is not None else spec.update(run_id=run, output=output)
            doc["path"] = _flags_doc(spec["name"], path, run, output, "custom", {}, None, None)["path"]
        if dry_run:
            emit(doc)
            return
        note_local(f"model {spec['name']}", [k for k in spec["extra"] if k not in ("$schema", "properties", "stage", "flavors")])
        if spec.get("path") is not None and not isinstance(spec["path"], Path):
            spec["path"] = Path(spec["path"]) if "://" not in str(spec["path"]) else spec["path"]
        model = backend().register_model(**spec, follow_links=follow_links, links=links)
        _warn_links(links, spec.get("path"))
        emit(model)
        return
    if not name:
        raise UsageError("the model has no name", "give NAME, or `name:` in the YAML with -f")
    if dry_run:
        if (path is None) == (run is None):
            raise UsageError("give exactly one of --path and --run", "e.g. --path ./model or --run RUN_ID --output model")
        emit(_flags_doc(name, path, run, output, type_ or "custom", tags, description, version))
        return
    b = backend()
    if run and output is None and path is None:
        from leafctl.cli.evolve import EVOLVE_MODEL_OUTPUT

        prior = b.get_run(run)
        if prior.kind == "evolve":
            # An evolve run's registrable product is its MLflow pyfunc folder, not the whole result.
            output, type_ = EVOLVE_MODEL_OUTPUT, type_ or "mlflow"
            tags = {"leafctl.kind": "esp", **tags}
    model = b.register_model(name, path=path, run_id=run, output=output, type=type_ or "custom", tags=tags,
                             description=description, version=version, follow_links=follow_links, links=links)
    _warn_links(links, path)
    emit(model)


def _warn_links(links: list[str], src: object) -> None:
    """The rule of `data upload`: a link may point anywhere (a key file, a home folder), so it is left
    out unless asked for, and said so once."""
    if links:
        shown = ", ".join(links[:20]) + (f" and {len(links) - 20} more" if len(links) > 20 else "")
        info(f"warning: skipped {len(links)} symlink(s) in {src}: {shown} — pass --follow-links to copy what they point at")


@app.command()
def show(ref: Annotated[str, typer.Argument(help="NAME or NAME:VERSION (default: latest).", autocompletion=complete_model_names)]) -> None:
    """Show a model version."""
    from leafctl.backends.common import split_name_version

    name, version = split_name_version(ref)
    emit(backend().get_model(name, version))


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="With a name: all its versions.", autocompletion=complete_model_names)] = None,
    limit: LimitOption = None,
    all_: AllOption = False,
) -> None:
    """List models (latest version of each, by name), or every version of one (oldest first).

    At most 50 are shown unless --limit N or --all: the most recently created models (or versions).
    A table fits the terminal: tags are cut with "…", then columns are left out (`model show` has all)."""
    n = list_limit(limit, all_)
    rows = backend().list_models(name)
    if name is not None and not rows:
        from leafctl.errors import NotFound

        raise NotFound(f"model {name!r} not found", "see `leafctl model list`")
    if n is not None and len(rows) > n:
        total = len(rows)
        if name is not None:
            rows = rows[-n:]  # versions count up: the newest are last
        else:
            newest = {id(m) for m in sorted(rows, key=lambda m: m.created_at or "", reverse=True)[:n]}
            rows = [m for m in rows if id(m) in newest]
        note_left_out(n, total, "versions" if name is not None else "models")
    emit(rows, COLUMNS)


@app.command()
def download(
    name: ModelArg,
    version: Annotated[str | None, typer.Option("--version", help="Version to download (default: latest).")] = None,
    best: Annotated[str | None, typer.Option("--best", help="Pick the version with the highest value of this numeric tag.")] = None,
    lowest: Annotated[bool, typer.Option("--lowest", help="With --best: pick the lowest value instead (losses, errors).")] = False,
    output_path: Annotated[Path | None, typer.Option("--output-path", help="Folder to write into (default: ./NAME).")] = None,
) -> None:
    """Download a model's files plus metadata.json (name, version, tags, metrics)."""
    from leafctl.backends.common import dest_file, pick_best, write_metadata

    if version and best:
        raise UsageError("give --version or --best, not both", "--best TAG picks the version for you")
    if lowest and not best:
        raise UsageError("--lowest needs --best TAG", "e.g. --best loss --lowest")
    if output_path is not None and output_path.exists() and not output_path.is_dir():
        raise UsageError(f"--output-path {str(output_path)!r} is a file", "give a folder to download into")
    b = backend()
    model = pick_best(b.list_models(name) or [b.get_model(name)], best, lowest) if best else b.get_model(name, version)
    dest = output_path if output_path is not None else Path(name)
    dest_file(dest, "metadata.json")  # a symlink planted there is refused before any model file is written
    b.download_model(name, model.version, dest)
    write_metadata(dest, model)
    info(f"downloaded {name}:{model.version} to {dest}")
    emit({**model.to_dict(), "output_path": str(dest)})


@app.command()
def delete(
    name: ModelArg,
    version: Annotated[str | None, typer.Option("--version", help="Delete only this version (default: all versions).")] = None,
    yes: YesOption = False,
) -> None:
    """Delete a model version, or every version of a model."""
    b = backend()
    b.get_model(name, version)  # NotFound before asking
    confirm_destructive(f"delete model {name}" + (f" version {version}" if version else " (all versions)"), yes)
    b.delete_model(name, version)
    info(f"deleted model {name}" + (f":{version}" if version else ""))
    emit({"name": name, "version": version, "deleted": True})


# `model prescribe` lives in its own module (it drives the ESP engine); registered here.
from leafctl.cli.prescribe import prescribe  # noqa: E402

app.command("prescribe")(prescribe)
