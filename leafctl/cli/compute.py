"""`leafctl compute`: clusters and instances. Create is get-or-create; a changed spec needs --update."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from leafctl.cli._common import DryRunOption, FileOption, SetOption, YesOption, backend, confirm_destructive, emit, info, settings
from leafctl.cli._complete import complete_compute_names
from leafctl.errors import UsageError

app = typer.Typer(help="Compute targets: clusters and instances.", no_args_is_help=True)

COLUMNS = ["name", "type", "size", "min_nodes", "max_nodes", "tier", "state"]
NameArg = Annotated[str, typer.Argument(help="Compute name.", autocompletion=complete_compute_names)]

# az ml v2 compute YAML keys -> leafctl fields. leafctl's own names are accepted too (handy with --set).
_ALIASES = {"min_instances": "min_nodes", "max_instances": "max_nodes", "idle_time_before_scale_down": "idle_seconds"}
_FIELDS = ("name", "type", "size", "min_nodes", "max_nodes", "idle_seconds", "tier")
_TYPES = {"amlcompute": "cluster", "computeinstance": "instance", "cluster": "cluster", "instance": "instance"}
# Valid az ml keys that mean nothing locally: accepted with a warning, so one file serves both backends.
_IGNORED = {"$schema", "description", "location", "tags", "identity", "ssh_public_access_enabled", "ssh_settings",
            "network_settings", "enable_node_public_ip", "admin_username", "admin_password", "schedules",
            "create_on_behalf_of", "setup_scripts", "enable_sso", "enable_root_access", "custom_applications"}


def _duration_seconds(value: Any, key: str) -> int:
    """ISO-8601 durations as az ml writes them (PT30M, PT2H, PT120S) or plain seconds."""
    if isinstance(value, str):
        m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", value.strip().upper())
        if m and any(m.groups()):
            h, mi, s = (int(g or 0) for g in m.groups())
            return h * 3600 + mi * 60 + s
    return _int(value, key)


def _int(value: Any, key: str) -> int:
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{key} must be a whole number, got {value!r}", f"e.g. {key}: 2") from None


def _native(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """An az ml compute document (or --set overrides) -> leafctl field values."""
    import difflib

    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in _IGNORED:
            info(f"warning: {where}: {key!r} does not apply to leafctl compute and is ignored")
            continue
        if key == "idle_time_before_shutdown_minutes":
            out["idle_seconds"] = _int(value, key) * 60
            continue
        if key == "idle_time_before_shutdown":
            out["idle_seconds"] = _duration_seconds(value, key)
            continue
        field = _ALIASES.get(key, key)
        if field not in _FIELDS:
            close = difflib.get_close_matches(str(key), [*_ALIASES, *_FIELDS], n=1)
            raise UsageError(f"{where}: unknown compute key {key!r}", f"did you mean {close[0]}?" if close else "see the az ml v2 compute schema")
        if field == "type":
            if str(value).lower() not in _TYPES:
                raise UsageError(f"{where}: compute type must be amlcompute or computeinstance (or cluster|instance), got {value!r}",
                                 "e.g. type: amlcompute")
            value = _TYPES[str(value).lower()]
        elif field == "idle_seconds":
            value = _duration_seconds(value, key)
        elif field in ("min_nodes", "max_nodes"):
            value = _int(value, key)
        elif value is not None:
            value = str(value)
        out[field] = value
    return out


def resolve_spec(name: str | None, file: str | None, flags: dict[str, Any], sets: list[str] | None):
    """Defaults (profile) < file < flags < --set, into a validated Compute record."""
    from leafctl.backends.base import Compute
    from leafctl.backends.common import DEFAULT_SIZE, validate_compute
    from leafctl.specs import apply_sets, read_yaml

    fields: dict[str, Any] = _native(read_yaml(file), file) if file else {}
    fields.update({k: v for k, v in flags.items() if v is not None})
    if name:
        fields["name"] = name
    fields.update(_native(apply_sets({}, sets), "--set"))
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
    idle_seconds: Annotated[int | None, typer.Option("--idle-seconds", help="Idle time before scale-down.")] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="dedicated | low_priority.")] = None,
    update: Annotated[bool, typer.Option("--update", help="Change an existing compute whose spec differs.")] = False,
    file: FileOption = None,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Create a compute, or return it unchanged if it exists with the same spec."""
    flags = dict(type=type_ and _TYPES.get(type_.lower(), type_), size=size, min_nodes=min_nodes, max_nodes=max_nodes,
                 idle_seconds=idle_seconds, tier=tier)
    spec = resolve_spec(name, file, flags, set_)
    if dry_run:
        emit({"name": spec.name, **spec.spec()})
        return
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
