"""Runs on Azure: azure-ai-ml command jobs (seed 004's run-training.py), their logs, waits and outputs.

- Code, local inputs and logs are moved by leafctl's own transfer code (azure-storage-blob), so the same
  path works against Azurite: the code snapshot is uploaded to the default datastore under
  ``LocalUpload/leafctl/<hash>/`` (unchanged files are skipped) and the job refers to it by URL.
- Every named output gets an explicit path, ``azureml://datastores/<default>/paths/azureml/<job>/<name>/``
  (Azure ML's own default), so ``download_run`` needs no data-plane lookups.
- Logs come from run history (``runs/<id>/details`` lists the log files with SAS URLs) and are read
  incrementally by byte offset; ``jobs.stream`` would print to stdout, which the CLI must not.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

from leafctl.backends.base import RUN_TERMINAL, JobSpec, Run
from leafctl.errors import Conflict, NotFound, UsageError

STATUS = {
    "notstarted": "Queued", "queued": "Queued", "preparing": "Queued", "starting": "Queued",
    "provisioning": "Queued", "scheduled": "Queued", "unknown": "Queued",
    "running": "Running", "finalizing": "Running",
    "completed": "Completed", "finished": "Completed",
    "failed": "Failed", "notresponding": "Failed",
    "canceled": "Canceled", "cancelrequested": "Canceled", "cancelled": "Canceled",
}
LOG_PREFERENCE = ("user_logs/std_log.txt", "azureml-logs/70_driver_log.txt")
DEFAULT_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
POLL_SECONDS = 5.0
POLL_ENV = "LEAFCTL_AZURE_POLL_SECONDS"  # how often wait/logs --follow poll the service (default 5)
MODEL_TYPES = ("mlflow_model", "custom_model", "triton_model")
# az ml command job fields carried to Azure as azure-ai-ml entities (JobSpec.doc -> the job).
EXTRA_FIELDS = ("resources", "distribution", "limits", "services", "identity", "queue_settings")


def map_status(status: str | None) -> str:
    return STATUS.get((status or "").lower().replace(" ", ""), "Queued")


def _iso(dt: Any) -> str | None:
    if dt is None:
        return None
    return dt.isoformat(timespec="seconds") if hasattr(dt, "isoformat") else str(dt)


def _leaf(value: Any) -> str | None:
    """The resource name at the end of an ARM id (``.../computes/gpu`` -> ``gpu``)."""
    if value is None:
        return None
    return str(value).rstrip("/").rsplit("/", 1)[-1]


def _io_path(v: Any) -> str | None:
    from leafctl.backends.azure.assets import fix_uri, short_uri

    v = getattr(v, "_data", v)  # a job node's input wraps what it was given
    if isinstance(v, (int, float, bool)):  # a literal input: shown as Azure ML substitutes it
        return str(v)
    path = getattr(v, "path", None) if not isinstance(v, str) else v
    return short_uri(fix_uri(path)) if path is not None else None


def _kind(job: Any) -> str:
    """A job leafctl did not tag: Azure ML runs a batch endpoint invocation as a pipeline job named
    ``batchjob-<id>`` (kind ``batch``, as ``endpoint invoke`` reports it); others by their job type."""
    jtype = str(getattr(job, "type", None) or "command").lower()
    return "batch" if jtype == "pipeline" and str(job.name).startswith("batchjob-") else jtype


def run_record(job: Any) -> Run:
    ctx = getattr(job, "creation_context", None)
    tags = {k: str(v) for k, v in (job.tags or {}).items()}
    return Run(
        id=job.name, status=map_status(job.status), compute=_leaf(getattr(job, "compute", None)),
        experiment=getattr(job, "experiment_name", None), display_name=getattr(job, "display_name", None),
        kind=tags.get("leafctl.kind") or _kind(job), command=getattr(job, "command", None),
        created_at=_iso(getattr(ctx, "created_at", None)) if ctx else None,
        inputs={k: p for k, v in (getattr(job, "inputs", None) or {}).items() if (p := _io_path(v)) is not None},
        outputs={k: p or "" for k, v in (getattr(job, "outputs", None) or {}).items()
                 if k != "default" and (p := _io_path(v)) is not None},
        tags=tags,
    )


def tree_hash(root: Path) -> str:
    """A content hash of a folder (names and bytes), for snapshot paths that change only with the code."""
    from leafctl.backends.common import md5_file, walk_files

    h = hashlib.sha256()
    if root.is_file():
        h.update(root.name.encode() + b"\0" + md5_file(root).encode())
    else:
        for name, p in walk_files(root):
            if "__pycache__" in name.split("/") or name.endswith(".pyc"):
                continue
            h.update(name.encode() + b"\0" + md5_file(p).encode() + b"\n")
    return h.hexdigest()[:32]


class JobOps:
    """Mixin for AzureBackend: needs ``self.client`` (MLClient), ``self.settings`` and StorageOps."""

    _poll: float | None = None

    @property
    def poll_interval(self) -> float:
        if self._poll is None:
            import math

            raw = os.environ.get(POLL_ENV, "").strip()
            try:
                value = float(raw) if raw else POLL_SECONDS
            except ValueError:
                value = -1.0
            if not math.isfinite(value) or value < 0:  # inf would overflow time.sleep; nan and < 0 mean nothing
                raise UsageError(f"{POLL_ENV} must be a number of seconds (0 or more), got {raw!r}",
                                 f"unset it or e.g. {POLL_ENV}=5")
            self._poll = value
        return self._poll

    @poll_interval.setter
    def poll_interval(self, value: float) -> None:
        self._poll = value

    # --- submit ---------------------------------------------------------------------------------

    def _store_url(self, datastore: str, path: str) -> str:
        """The https (or emulator) URL of a datastore folder, as code assets record it."""
        _, cc = self.container(datastore)
        return f"{cc.url.split('?', 1)[0].rstrip('/')}/{path.strip('/')}"

    def _upload_code(self, code: str) -> str:
        src = Path(code).expanduser()
        if not src.is_dir():
            raise UsageError(f"code folder {code!r} does not exist", "pass --code DIR (the folder holding your script)")
        ds = self._default_datastore_name()
        rel = f"LocalUpload/leafctl/{tree_hash(src)}"
        self._upload_tree(src, rel, ds)
        return self._store_url(ds, rel)

    def _upload_tree(self, src: Path, rel: str, ds: str) -> None:
        from leafctl.backends.azure import transfer
        from leafctl.backends.common import walk_files

        _, cc = self.container(ds)
        items = [transfer.Item(f"{rel}/{name}", p, p.stat().st_size) for name, p in walk_files(src)
                 if "__pycache__" not in name.split("/") and not name.endswith(".pyc")]
        transfer.upload_items(cc, items, rel + "/", None, f"upload {src.name}")

    def _input(self, name: str, value: str) -> Any:
        from azure.ai.ml import Input

        from leafctl.backends.azure.assets import fix_uri
        from leafctl.backends.azure.storage import parse_any_uri
        from leafctl.backends.common import clean_store_path, split_name_version

        value = fix_uri(value)
        if value.startswith("azureml:") and not value.startswith("azureml://"):
            asset, version = split_name_version(value)
            data = self.client.data.get(asset, version=version) if version else self.client.data.get(asset, label="latest")
            return Input(type=data.type or "uri_folder", path=f"azureml:{data.name}:{data.version}")
        local = Path(value).expanduser()
        if "://" not in value and local.exists():
            ds = self._default_datastore_name()
            rel = f"LocalUpload/leafctl/inputs/{tree_hash(local)}"
            result = self.upload(local, rel + ("/" if local.is_file() else ""), datastore=ds)
            return Input(type="uri_file" if local.is_file() else "uri_folder", path=result.uri)
        if value.startswith(("https://", "http://", "wasbs://", "abfss://")):
            return Input(type="uri_file" if not value.endswith("/") and "." in value.rsplit("/", 1)[-1] else "uri_folder",
                         path=value)
        parsed = parse_any_uri(value)
        ds, path = parsed if parsed else (self._datastore_name(None), clean_store_path(value))
        return Input(type=self._uri_type(ds, path), path=f"azureml://datastores/{ds}/paths/{path}")

    def _uri_type(self, ds: str, path: str) -> str:
        """uri_file when the path is one blob, else uri_folder (also when storage cannot be asked)."""
        from leafctl.backends.azure import transfer

        if not path or path.endswith("/"):
            return "uri_folder"
        try:
            _, cc = self.container(ds)
            blobs, base = transfer.list_under(cc, path)
        except Exception:
            return "uri_folder"
        return "uri_file" if len(blobs) == 1 and blobs[0].name == path.strip("/") else "uri_folder"

    def _environment(self, spec_env: str | None) -> Any:
        from azure.ai.ml.entities import Environment

        env = spec_env or self.settings.get("environment")
        if env is None:
            return Environment(image=DEFAULT_IMAGE)
        if not isinstance(env, str):
            return env  # an azure.ai.ml Environment built by the caller (remote evolve)
        if env.startswith("azureml:") or env.startswith("/subscriptions/"):
            return env
        if "/" in env:  # a container image, e.g. mcr.microsoft.com/azureml/...:tag
            return Environment(image=env)
        return f"azureml:{env}" if ("@" in env or ":" in env) else f"azureml:{env}@latest"

    def _typed_input(self, name: str, value: str, declared: dict[str, Any]) -> Any:
        """An input as the spec declared it: its ``type`` and ``mode`` as written (a model type's
        ``azureml:NAME:VERSION`` / ``@latest`` is a model reference, resolved to its version here)."""
        from azure.ai.ml import Input

        from leafctl.backends.azure.assets import fix_uri
        from leafctl.backends.common import split_name_version

        itype, mode = declared.get("type"), declared.get("mode")
        if itype in MODEL_TYPES and value.startswith("azureml:") and not value.startswith("azureml://"):
            model, version = split_name_version(fix_uri(value))
            if not version:
                version = self.client.models.get(model, label="latest").version
            inp = Input(type=itype, path=f"azureml:{model}:{version}")
        else:
            inp = self._input(name, value)
            if itype:
                inp.type = itype
        if mode:
            inp.mode = mode
        return inp

    def _inline_environment(self, env: dict[str, Any]) -> Any:
        """An inline ``environment:`` mapping -> azure-ai-ml's Environment, read by its own job loader (its
        AnonymousEnvironmentSchema), so every field the mapping may hold (inference_config, os_type,
        auto_delete_setting ...) is sent as --dry-run prints it; a BuildContext for ``build:``, its local folder
        uploaded by leafctl to the default datastore first."""
        from azure.ai.ml.entities import BuildContext

        from leafctl.specs.load import load_with_doc

        env = {k: v for k, v in env.items() if k != "$schema"}
        build = env.pop("build", None)
        context = None
        if isinstance(build, dict):
            path = str(build.get("path") or "")
            if path and "://" not in path and not path.startswith("azureml:"):
                folder = Path(path).expanduser()
                if not folder.is_dir():
                    raise UsageError(f"environment build context {path} is not a folder", "give build.path: the folder holding the Dockerfile")
                ds, rel = self._default_datastore_name(), f"LocalUpload/leafctl/environments/{tree_hash(folder)}"
                self._upload_tree(folder, rel, ds)
                path = self._store_url(ds, rel) + "/"  # the storage URL, as azure-ai-ml records a build context
            context = BuildContext(path=path, dockerfile_path=build.get("dockerfile_path") or "Dockerfile")
        name, version = env.get("name"), env.get("version")
        entity = load_with_doc("job", None, overrides=[{"command": "true"}, {"environment": env}])[0].environment
        if context is not None:  # set after loading: the schema reads build.path as a local folder only
            entity.build = context
        if name:  # a named inline environment (e.g. from `environment: file:env.yml`) is registered as name:version
            entity.name, entity.version, entity._is_anonymous = str(name), None if version is None else str(version), False
        return entity

    def _extras(self, doc: dict[str, Any]) -> Any:
        """resources, distribution, limits, services, identity, queue_settings as azure-ai-ml entities (read
        by its own job loader, so each takes exactly the az ml YAML forms)."""
        from leafctl.specs.load import load_with_doc

        fields = {k: doc[k] for k in EXTRA_FIELDS if doc.get(k) is not None}
        if not fields:
            return None
        return load_with_doc("job", None, overrides=[{"command": "true", "environment": "azureml:leafctl-extras@latest"},
                                                     *({k: v} for k, v in fields.items())])[0]

    def build_command_job(self, spec: JobSpec, name: str | None = None, environment: Any = None) -> Any:
        """The azure-ai-ml command job for ``spec`` (code already a URL or local folder to upload): every
        field of ``spec.doc`` carried (input/output types and modes, literal inputs, inline environment,
        resources, distribution, limits, services, identity, queue_settings, description, properties, name)."""
        from azure.ai.ml import Output, command

        doc = spec.doc or {}
        name = name or (str(doc["name"]) if doc.get("name") else None) or f"leaf-{uuid.uuid4().hex[:12]}"
        ds = self._default_datastore_name()
        declared_in = doc.get("inputs") or {}
        inputs: dict[str, Any] = {k: self._typed_input(k, v, declared_in.get(k) if isinstance(declared_in.get(k), dict) else {})
                                  for k, v in spec.inputs.items()}
        inputs.update(spec.literals)  # literal inputs: sent as values (Azure ML substitutes str(value))
        declared_out = doc.get("outputs") or {}
        outputs = {}
        for k, v in spec.outputs.items():
            if v and "://" not in v:  # a datastore path, as `data upload --path` takes it
                from leafctl.backends.common import clean_store_path

                v = f"azureml://datastores/{ds}/paths/{clean_store_path(v)}/"
            path = v or f"azureml://datastores/{ds}/paths/azureml/{name}/{k}/"
            given = declared_out.get(k) if isinstance(declared_out.get(k), dict) else {}
            otype = given.get("type") or "uri_folder"
            mode = given.get("mode") or ("rw_mount" if otype == "uri_folder" else None)
            outputs[k] = Output(type=otype, path=path, mode=mode)
        code = spec.code
        if code and "://" not in code:
            code = self._upload_code(code)
        tags = {**spec.tags, "leafctl.kind": spec.kind}
        if environment is None and isinstance(doc.get("environment"), dict) and not spec.environment:
            environment = self._inline_environment(doc["environment"])
        extras = self._extras(doc)
        job = command(
            name=name, command=spec.command, code=code, inputs=inputs, outputs=outputs,
            environment=environment if environment is not None else self._environment(spec.environment),
            # "local" (the CLI's default when no compute is set) means no cluster: Azure ML serverless compute.
            compute=None if (spec.compute or self.settings.get("compute")) in (None, "local") else (spec.compute or self.settings.get("compute")),
            experiment_name=spec.experiment or self.settings.get("experiment") or "Default",
            display_name=spec.display_name, environment_variables=dict(spec.env_vars), tags=tags,
            description=doc.get("description"), properties={str(k): str(v) for k, v in (doc.get("properties") or {}).items()} or None,
            distribution=getattr(extras, "distribution", None), identity=getattr(extras, "identity", None),
            services=getattr(extras, "services", None),
        )
        if extras is not None:
            if extras.resources is not None and doc.get("resources"):
                job.resources = extras.resources
            if extras.limits is not None and doc.get("limits"):
                job.limits = extras.limits
            if extras.queue_settings is not None and doc.get("queue_settings"):
                job.queue_settings = extras.queue_settings
        return job

    def submit_run(self, spec: JobSpec) -> Run:
        if not spec.command or not spec.command.strip():
            raise UsageError("a run needs a command", "e.g. --command \"python train.py --data ${{inputs.data}}\"")
        job = self.build_command_job(spec)
        return run_record(self.client.jobs.create_or_update(job))

    # --- read -----------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        return run_record(self.client.jobs.get(run_id))

    def list_runs(self, experiment: str | None = None, status: str | None = None) -> list[Run]:
        """Command jobs of the workspace, newest first (pipelines, sweeps and batch scoring jobs are not runs)."""
        runs = []
        for job in self.client.jobs.list():
            if str(getattr(job, "type", "command") or "command").lower() != "command":
                continue
            run = run_record(job)
            if experiment and run.experiment != experiment:
                continue
            if status and run.status.lower() != status.lower():
                continue
            runs.append(run)
        runs.sort(key=lambda r: r.created_at or "", reverse=True)
        return runs

    # --- logs -----------------------------------------------------------------------------------

    def _log_sources(self, run_id: str) -> tuple[str, dict[str, Any]]:
        """(run-history status, log name -> blob client). Run history lists log files with SAS URLs; for
        jobs whose logs it does not list, they are read from the artifact store (``ExperimentRun/dcid.<id>/``),
        as azure-ai-ml's own ``jobs.stream`` does."""
        from azure.storage.blob import BlobClient

        from leafctl.backends.azure import transfer

        details = self.client.jobs._runs_operations.get_run_details(run_id)
        files = dict(details.log_files or {})
        if files:
            return details.status or "", {n: BlobClient.from_blob_url(u, api_version=transfer.API_VERSION)
                                          for n, u in files.items()}
        try:
            _, cc = self.container("workspaceartifactstore")
            prefix = f"ExperimentRun/dcid.{run_id}/"
            found = {b.name[len(prefix):]: b.name for b in cc.list_blobs(name_starts_with=prefix)}
        except Exception:  # no artifact store, or no access to it: no logs yet rather than an error
            return details.status or "", {}
        return details.status or "", {n: cc.get_blob_client(b) for n, b in found.items()}

    @staticmethod
    def _pick_logs(files: dict[str, Any]) -> list[str]:
        for want in LOG_PREFERENCE:
            if want in files:
                return [want]
        return sorted(n for n in files if n.endswith(".txt") or n.endswith(".log"))

    @staticmethod
    def _read_from(blob: Any, offset: int) -> bytes:
        from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

        from leafctl.backends.azure.transfer import storage_error

        try:
            return blob.download_blob(offset=offset).readall()
        except ResourceNotFoundError:
            return b""
        except HttpResponseError as e:
            if e.status_code == 416:  # nothing past ``offset`` yet
                return b""
            raise storage_error(e, blob, "reading the run's logs failed") from e
        except AzureError as e:  # the SAS URL must not reach a message
            raise storage_error(e, blob, "reading the run's logs failed") from e

    def _read_logs(self, run_id: str, follow: bool, deadline: float | None) -> Iterator[str]:
        self.client.jobs.get(run_id)  # NotFound (exit 3) for a wrong id, before anything else
        offsets: dict[str, int] = {}
        pending: dict[str, bytes] = {}
        while True:
            status, files = self._log_sources(run_id)
            done = not follow or map_status(status) in RUN_TERMINAL or (deadline is not None and time.monotonic() >= deadline)
            for name in self._pick_logs(files):
                chunk = self._read_from(files[name], offsets.get(name, 0))
                offsets[name] = offsets.get(name, 0) + len(chunk)
                *lines, rest = (pending.get(name, b"") + chunk).split(b"\n")
                pending[name] = rest
                for line in lines:
                    yield line.decode("utf-8", "replace")
            if done:
                for rest in pending.values():
                    if rest:
                        yield rest.decode("utf-8", "replace")
                return
            time.sleep(self.poll_interval)

    def run_logs(self, run_id: str, follow: bool = False) -> Iterator[str]:
        return self._read_logs(run_id, follow, None)

    def wait_run(self, run_id: str, timeout: float | None = None, on_log: Callable[[str], None] | None = None) -> Run:
        from leafctl.backends.common import wait_for_run

        return wait_for_run(self, run_id, timeout, on_log, self.poll_interval, self._read_logs)

    # --- cancel / download ----------------------------------------------------------------------

    def cancel_run(self, run_id: str) -> Run:
        run = self.get_run(run_id)
        if run.done:
            raise Conflict(f"run {run_id} already ended ({run.status})", "nothing to cancel")
        self.client.jobs.begin_cancel(run_id).result()
        run = self.get_run(run_id)
        if not run.done:  # CancelRequested on Azure: the job stops shortly; the record says what was asked
            run.status = "Canceled"
        return run

    def _output_locations(self, run_id: str, only: str | None = None) -> dict[str, tuple[str, str]]:
        """Output name -> (datastore, path) of a run's named outputs (``only``: just that one; ``artifacts``
        is Azure ML's name for the job's default output, as ``azureml://jobs/<run>/outputs/artifacts`` says)."""
        from leafctl.backends.azure.storage import parse_any_uri

        job = self.client.jobs.get(run_id)
        ds = self._default_datastore_name()
        outputs = dict(job.outputs or {})
        declared = {k: v for k, v in outputs.items() if k != "default"}
        if only == "artifacts" and "artifacts" not in declared and "default" in outputs:
            declared = {"artifacts": outputs["default"]}
        if only is not None and only not in declared:
            raise NotFound(f"run {run_id} has no output {only!r}", f"its outputs: {', '.join(sorted(declared)) or 'none'}")
        found = {}
        for name in ([only] if only else sorted(declared)):
            uri = _io_path(declared[name]) or f"azureml://datastores/{ds}/paths/azureml/{run_id}/{name}/"
            # Paths written as templates (az ml's defaults) name the job and the output.
            uri = uri.replace("${{name}}", run_id).replace("${{output_name}}", name)
            where = parse_any_uri(uri)
            if where is None:
                raise UsageError(f"output {name!r} of run {run_id} lives at {uri}, which leafctl cannot download",
                                 "download it with the Azure ML studio")
            found[name] = where
        return found

    def download_run(self, run_id: str, dest: Path, output: str | None = None) -> Path:
        from leafctl.backends.common import dest_file

        locations = self._output_locations(run_id, output)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for name in locations:  # DIR/<output> is written below DIR: never a symlink placed there, never '..'
            dest_file(dest, name)
        for name, where in locations.items():
            try:
                self.download(where[1], dest / name, datastore=where[0])
            except NotFound:
                if output is not None:
                    raise NotFound(f"output {name!r} of run {run_id} has no files (yet)",
                                   f"see `leafctl run show {run_id}`; outputs appear when the run completes") from None
        return dest
