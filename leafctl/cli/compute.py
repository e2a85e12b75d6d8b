"""`leafctl compute`: clusters and instances. Create is get-or-create; a changed spec needs --update."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from leafctl.cli._common import (DryRunOption, FileOption, SetOption, YesOption, backend, confirm_destructive, emit, info,
                                 note_local, settings)
from leafctl.cli._complete import complete_compute_names
from leafctl.errors import UsageError
from leafctl.output import Column

app = typer.Typer(help="Compute targets: clusters and instances.", no_args_is_help=True)

COLUMNS = ["name", "type", Column("size", drop=1), Column("min_nodes", drop=3), Column("max_nodes", drop=2), Column("tier", drop=4),
           "state"]
NameArg = Annotated[str, typer.Argument(help="Compute name.", autocompletion=complete_compute_names)]

_TYPES = {"amlcompute": "cluster", "computeinstance": "instance", "cluster": "cluster", "instance": "instance"}
def resolve_spec(name: str | None, file: str | None, flags: dict[str, Any], sets: list[str] | None,
                 written: dict[str, Any] | None = None):
    """Defaults (profile) < file < flags < --set, into a validated Compute record. A file or --set is read by
    azure-ai-ml's load_compute (imported only then); flags alone need no azure import."""
    from leafctl.backends.base import Compute
    from leafctl.backends.common import DEFAULT_SIZE, validate_compute

    flags = {**flags, "name": name} if name else dict(flags)
    if flags.get("type") is not None and flags["type"] not in ("cluster", "instance"):
        raise UsageError(f"compute type must be cluster or instance (az ml: amlcompute or computeinstance), got {flags['type']!r}",
                         "e.g. --type cluster")
    if file or sets:
        from leafctl.specs.compute import compute_from_file

        from leafctl.specs.flags import compute_overrides

        fields, _ = compute_from_file(file, sets, compute_overrides(flags))
        if written is not None:  # the size as the spec spells it (records keep Azure's spelling)
            written.update({k: fields[k] for k in ("size", "tier") if k in fields})
    else:
        fields = {k: v for k, v in flags.items() if v is not None}
    if not fields.get("name"):
        raise UsageError("the compute has no name", "give NAME, or `name:` in the YAML")
    s = settings()
    kind = fields.setdefault("type", "cluster")
    fields.setdefault("size", s.get("compute_size", DEFAULT_SIZE))
    # Profile node counts describe clusters; an instance always has one node.
    fields.setdefault("min_nodes", 0 if kind == "instance" else s.get("compute_min_nodes", 0))
    fields.setdefault("max_nodes", 1 if kind == "instance" else s.get("compute_max_nodes", max(1, fields["min_nodes"])))
    fields.setdefault("idle_seconds", 120)
    fields.setdefault("tier", "dedicated")
    return validate_compute(Compute(**fields))


@app.command()
def create(
    name: Annotated[str | None, typer.Argument(help="Compute name (or `name:` in the YAML).")] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="cluster | instance (default: cluster).")] = None,
    size: Annotated[str | None, typer.Option("--size", help="VM size (default: profile compute_size, else Standard_DS3_v2).")] = None,
    min_nodes: Annotated[int | None, typer.Option("--min-nodes", help="Minimum nodes (clusters).")] = None,
    max_nodes: Annotated[int | None, typer.Option("--max-nodes", help="Maximum nodes = concurrent runs locally.")] = None,
    idle_seconds: Annotated[int | None, typer.Option("--idle-seconds", help="Idle seconds before scale-down (an instance: shutdown) (default: 120).")] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="dedicated | low_priority.")] = None,
    update: Annotated[bool, typer.Option("--update", help="Change an existing compute whose spec differs.")] = False,
    file: FileOption = None,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Create a compute, or return it unchanged if it exists with the same spec."""
    flags = dict(type=type_ and _TYPES.get(type_.lower(), type_), size=size, min_nodes=min_nodes, max_nodes=max_nodes,
                 idle_seconds=idle_seconds, tier=tier)
    from leafctl.specs.compute import compute_doc, no_local_effect

    written: dict[str, Any] = {}
    spec = resolve_spec(name, file, flags, set_, written)
    if dry_run:
        doc = compute_doc(spec)
        if str(written.get("size", "")).lower() == str(spec.size).lower():
            doc["size"] = written["size"]
        if doc.get("tier") == "dedicated" and "tier" not in written:
            del doc["tier"]  # Azure's default, as az ml leaves it
        emit(doc)
        return
    note_local(f"compute {spec.name}", no_local_effect(spec.extra))
    emit(backend().create_compute(spec, update=update))


@app.command()
def show(name: NameArg) -> None:
    """Show a compute."""
    emit(backend().get_compute(name))


@app.command("list")
def list_() -> None:
    """List computes (`local` is always there)."""
    emit(backend().list_computes(), COLUMNS)


@app.command()
def delete(name: NameArg, yes: YesOption = False) -> None:
    """Delete a compute."""
    b = backend()
    if name != "local":
        b.get_compute(name)  # NotFound before asking
    confirm_destructive(f"delete compute {name}", yes)
    b.delete_compute(name)
    info(f"deleted compute {name}")
    emit({"name": name, "deleted": True})


@app.command()
def start(name: NameArg) -> None:
    """Start a compute (new runs may start on it)."""
    emit(backend().start_compute(name))


@app.command()
def stop(name: NameArg) -> None:
    """Stop a compute (no new run starts on it until it is started; running runs finish)."""
    emit(backend().stop_compute(name))


@app.command("list-sizes")
def list_sizes() -> None:
    """VM sizes: vCPUs, memory and GPUs."""
    emit(backend().list_sizes(), ["name", "vcpus", "memory_gb", "gpus", "gpu_type"])
