"""Typed records and the one backend interface both implementations satisfy.

Records are plain dataclasses. ``to_dict()`` gives the JSON shape the CLI prints (snake_case keys,
ISO-8601 times as strings), so the CLI and its tests never care which backend answered.
Nothing heavy is imported here: the CLI imports this module on the start-up path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

# Terminal run states; anything else is still moving.
RUN_TERMINAL = ("Completed", "Failed", "Canceled")
RUN_STATES = ("Queued", "Running") + RUN_TERMINAL


class _Record:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass
class Workspace(_Record):
    name: str
    backend: str  # local | azure
    location: str | None = None
    resource_group: str | None = None
    subscription_id: str | None = None
    path: str | None = None  # local: the workspace folder
    id: str | None = None  # azure: ARM id
    created_at: str | None = None
    # az ml v2 fields beyond the typed ones, as the spec gave them (carried to Azure; recorded locally).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Compute(_Record):
    name: str
    type: str  # local | cluster | instance
    size: str | None = None
    min_nodes: int = 0
    max_nodes: int = 1
    idle_seconds: int = 120
    tier: str = "dedicated"  # dedicated | low_priority
    state: str = "Succeeded"  # Succeeded | Running | Stopped | Creating | Deleting | Failed
    created_at: str | None = None
    # az ml v2 fields beyond the typed ones, as the spec gave them (carried to Azure; recorded locally).
    extra: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        """The user-settable part, for get-or-create comparisons."""
        return {
            "type": self.type,
            "size": self.size,
            "min_nodes": self.min_nodes,
            "max_nodes": self.max_nodes,
            "idle_seconds": self.idle_seconds,
            "tier": self.tier,
        }


@dataclass
class Datastore(_Record):
    name: str
    type: str  # local | azure_blob | azure_data_lake_gen2
    account_name: str | None = None
    container_name: str | None = None  # blob container / ADLS filesystem
    endpoint: str | None = None
    credential: str | None = None  # kind of credential only (account_key | sas | service_principal | none); never the secret
    is_default: bool = False
    path: str | None = None  # local: the folder
    created_at: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class DatastoreSpec:
    name: str
    type: str = "local"  # local | azure_blob | azure_data_lake_gen2
    account_name: str | None = None
    container_name: str | None = None
    endpoint: str | None = None
    protocol: str = "https"
    # Secrets are references (env:NAME), resolved by the backend only at the moment of use.
    account_key: str | None = None
    sas_token: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    path: str | None = None  # local: an existing folder to expose as a datastore
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class FileEntry(_Record):
    path: str  # relative to the datastore root, forward slashes
    size: int
    md5: str | None = None
    modified_at: str | None = None


@dataclass
class TransferResult(_Record):
    datastore: str
    path: str  # destination path (upload: in the datastore; download: local folder)
    uri: str  # azureml://datastores/<ds>/paths/<path> (upload) or the local folder (download)
    files: int = 0  # files transferred
    skipped: int = 0  # unchanged files not transferred
    bytes: int = 0
    links_skipped: list[str] = field(default_factory=list)  # upload: symlinks left out (no --follow-links)


@dataclass
class DataAsset(_Record):
    name: str
    version: str
    path: str  # azureml:// URI or local path
    type: str = "uri_folder"  # uri_folder | uri_file | mltable
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: str | None = None
    # az ml v2 fields beyond the typed ones, as the spec gave them (carried to Azure; recorded locally).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobSpec:
    """An Azure ML command job, the same on both backends.

    ``command`` may hold ``${{inputs.NAME}}`` and ``${{outputs.NAME}}`` placeholders. Inputs map a
    name to a local path, a datastore path, an ``azureml:`` URI or ``azureml:NAME:VERSION`` data asset.
    Outputs map a name to None (a fresh folder) or a destination URI.
    """

    command: str
    code: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str | None] = field(default_factory=dict)
    environment: str | None = None
    compute: str | None = None
    experiment: str | None = None
    display_name: str | None = None
    env_vars: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    kind: str = "command"  # command | evolve
    # Set for commands leafctl writes for itself (evolve, batch scoring): the program and its arguments,
    # placeholders allowed in each. The local backend runs it without a shell, so no path is ever shell
    # code; ``command`` is then only its readable (quoted) form, and what the Azure backend sends.
    argv: list[str] | None = None
    # Literal inputs (az ml's number, integer, boolean and string inputs): substituted into
    # ``${{inputs.NAME}}`` as str(value), the way Azure ML does.
    literals: dict[str, Any] = field(default_factory=dict)
    # The validated az ml v2 command job document, for the fields beyond the typed ones above (input and
    # output types and modes, an inline environment, resources, distribution, limits, services, identity,
    # queue_settings, description, properties, name): --dry-run prints it, Azure receives it.
    doc: dict[str, Any] | None = None


@dataclass
class Run(_Record):
    id: str
    status: str  # Queued | Running | Completed | Failed | Canceled
    compute: str | None = None
    experiment: str | None = None
    display_name: str | None = None
    kind: str = "command"
    command: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    exit_code: int | None = None
    error: str | None = None
    outputs_path: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in RUN_TERMINAL


@dataclass
class Model(_Record):
    name: str
    version: str
    type: str = "custom"  # custom | mlflow | triton
    path: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    run_id: str | None = None
    created_at: str | None = None
    # az ml v2 fields beyond the typed ones, as the spec gave them (carried to Azure; recorded locally).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Endpoint(_Record):
    name: str
    model: str | None = None  # NAME:VERSION of the deployed model
    compute: str | None = None
    deployment: str | None = None
    state: str = "Succeeded"
    scoring_uri: str | None = None
    created_at: str | None = None
    # az ml v2 endpoint fields beyond the typed ones (description, tags, auth_mode, defaults, ...), as given.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Deployment(_Record):
    """A batch deployment under an endpoint (``az ml batch-deployment``)."""

    name: str
    endpoint: str
    model: str | None = None  # NAME:VERSION of the deployed model
    compute: str | None = None
    scoring_script: str | None = None  # None: an MLflow model, scored without a script
    instance_count: int = 1
    settings: dict[str, Any] = field(default_factory=dict)  # mini_batch_size, output_action, ... (defaults filled)
    is_default: bool = False
    state: str = "Succeeded"
    created_at: str | None = None
    # the az ml v2 deployment document as given (local paths absolute): what --dry-run printed, sent whole
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass
class Environment(_Record):
    name: str
    version: str
    image: str | None = None
    conda_file: str | None = None  # the conda YAML's text or path
    description: str | None = None
    created_at: str | None = None
    # az ml v2 fields beyond the typed ones, as the spec gave them (carried to Azure; recorded locally).
    extra: dict[str, Any] = field(default_factory=dict)


class Progress(Protocol):
    """What a backend reports long transfers to; the CLI draws it on stderr."""

    def start(self, total: int, description: str = "") -> None: ...

    def advance(self, amount: int) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    def start(self, total: int, description: str = "") -> None:
        pass

    def advance(self, amount: int) -> None:
        pass

    def finish(self) -> None:
        pass


class Backend(Protocol):
    """The operations of the command tree. Both backends implement all of them.

    Errors are ``leafctl.errors`` exceptions: NotFound (exit 3), Conflict (5), UsageError (2),
    AuthError (4), OperationFailed (1).
    """

    name: str  # "local" | "azure"

    # workspace
    def create_workspace(self, name: str, location: str | None = None, exist_ok: bool = True,
                         extra: dict[str, Any] | None = None) -> Workspace: ...
    def get_workspace(self, name: str | None = None) -> Workspace: ...
    def list_workspaces(self) -> list[Workspace]: ...
    def delete_workspace(self, name: str) -> None: ...

    # compute
    def create_compute(self, compute: Compute, update: bool = False) -> Compute: ...
    def get_compute(self, name: str) -> Compute: ...
    def list_computes(self) -> list[Compute]: ...
    def delete_compute(self, name: str) -> None: ...
    def start_compute(self, name: str) -> Compute: ...
    def stop_compute(self, name: str) -> Compute: ...
    def list_sizes(self) -> list[dict[str, Any]]: ...

    # datastores and files
    def create_datastore(self, spec: DatastoreSpec) -> Datastore: ...
    def get_datastore(self, name: str | None = None) -> Datastore: ...
    def list_datastores(self) -> list[Datastore]: ...
    def delete_datastore(self, name: str) -> None: ...
    def upload(self, src: Path, dest: str, datastore: str | None = None, progress: Progress | None = None,
               follow_links: bool = False) -> TransferResult: ...
    def download(self, path: str, dest: Path, datastore: str | None = None, progress: Progress | None = None) -> TransferResult: ...
    def ls(self, path: str = "", datastore: str | None = None) -> list[FileEntry]: ...

    # data assets
    def create_data_asset(self, name: str, path: str, type: str | None = None, version: str | None = None,
                          description: str | None = None, tags: dict[str, str] | None = None,
                          datastore: str | None = None, extra: dict[str, Any] | None = None) -> DataAsset: ...
    def get_data_asset(self, name: str, version: str | None = None) -> DataAsset: ...
    def list_data_assets(self, name: str | None = None) -> list[DataAsset]: ...

    # runs
    def submit_run(self, spec: JobSpec) -> Run: ...
    def get_run(self, run_id: str) -> Run: ...
    def list_runs(self, experiment: str | None = None, status: str | None = None) -> list[Run]: ...
    def run_logs(self, run_id: str, follow: bool = False) -> Iterator[str]: ...
    def wait_run(self, run_id: str, timeout: float | None = None, on_log: Callable[[str], None] | None = None) -> Run: ...
    def cancel_run(self, run_id: str) -> Run: ...
    def download_run(self, run_id: str, dest: Path, output: str | None = None) -> Path: ...

    # models
    def register_model(self, name: str, path: Path | None = None, run_id: str | None = None, output: str | None = None,
                       type: str = "custom", tags: dict[str, str] | None = None, description: str | None = None,
                       version: str | None = None, extra: dict[str, Any] | None = None,
                       follow_links: bool = False, links: list[str] | None = None) -> Model: ...
    # links: filled with the symlinks left out of a local folder (no follow_links), for the CLI's warning
    def get_model(self, name: str, version: str | None = None) -> Model: ...
    def list_models(self, name: str | None = None) -> list[Model]: ...
    def download_model(self, name: str, version: str | None, dest: Path) -> Path: ...
    def delete_model(self, name: str, version: str | None = None) -> None: ...

    # endpoints (batch)
    # ``create_endpoint`` with ``model``: the endpoint plus its default deployment (get-or-create); without:
    # the endpoint alone, from ``spec`` (the az ml endpoint document; create or update).
    def create_endpoint(self, name: str, model: str | None = None, compute: str | None = None,
                        spec: dict[str, Any] | None = None) -> Endpoint: ...
    def get_endpoint(self, name: str) -> Endpoint: ...
    def list_endpoints(self) -> list[Endpoint]: ...
    def delete_endpoint(self, name: str) -> None: ...
    def invoke_endpoint(self, name: str, input: str, output: Path | None = None, deployment: str | None = None) -> Run: ...
    # batch deployments: ``spec`` is the az ml deployment document (create or update)
    def create_deployment(self, spec: dict[str, Any], set_default: bool = False) -> Deployment: ...
    def get_deployment(self, endpoint: str, name: str) -> Deployment: ...
    def list_deployments(self, endpoint: str) -> list[Deployment]: ...
    def delete_deployment(self, endpoint: str, name: str) -> None: ...

    # environments
    def create_environment(self, env: Environment) -> Environment: ...
    def get_environment(self, name: str, version: str | None = None) -> Environment: ...
    def list_environments(self, name: str | None = None) -> list[Environment]: ...
