"""Versioned assets on Azure: data assets (azureml://datastores/... URIs) and environments.

Local files are not uploaded by azure-ai-ml: leafctl moves bytes itself (StorageOps.upload, azure-storage-blob)
to the default datastore and registers the ``azureml://datastores/<ds>/paths/<path>`` URI, as DESIGN.md says.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from leafctl.backends.base import DataAsset, Environment
from leafctl.backends.azure.workspaces import _iso
from leafctl.errors import UsageError

DATASTORE_URI = re.compile(r"^azureml://(?:subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/)?"
                           r"datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$", re.I)
REMOTE = ("azureml://", "https://", "http://", "abfss://", "wasbs://", "adl://")


def fix_uri(path: Any) -> str:
    """``Path("azureml://x")`` collapses the double slash; give the URI back its shape."""
    s = str(path)
    for scheme in ("azureml", "https", "http", "abfss", "wasbs", "adl"):
        if s.startswith(f"{scheme}:/") and not s.startswith(f"{scheme}://"):
            return f"{scheme}://" + s[len(scheme) + 2:]
    return s


def split_datastore_uri(uri: str) -> tuple[str, str] | None:
    m = DATASTORE_URI.match(uri)
    return (m.group("ds"), m.group("path").strip("/")) if m else None


def short_uri(uri: str | None) -> str | None:
    """The long datastore URI the service returns, as the short form users write."""
    hit = split_datastore_uri(uri or "")
    return f"azureml://datastores/{hit[0]}/paths/{hit[1]}" if hit else uri


def _created(entity: Any) -> str | None:
    ctx = getattr(entity, "creation_context", None)
    return _iso(getattr(ctx, "created_at", None)) if ctx else None


def _mltable_refs(folder: Path) -> list[str] | None:
    """The paths a local MLTable file references (what azure-ai-ml records with the asset)."""
    try:
        from azure.ai.ml._utils._data_utils import read_local_mltable_metadata_contents
        from azure.ai.ml.entities._data.mltable_metadata import MLTableMetadata

        contents = read_local_mltable_metadata_contents(path=str(folder))
        return MLTableMetadata._load(contents, folder / "MLTable").referenced_uris() or None
    except Exception as e:  # an unreadable MLTable is the user's to fix, named here rather than by Azure later
        raise UsageError(f"cannot read {folder / 'MLTable'}: {e}", "fix the MLTable file (see the MLTable schema)") from None


def data_record(d: Any) -> DataAsset:
    return DataAsset(name=d.name, version=str(d.version), path=short_uri(d.path) or "", type=d.type or "uri_folder",
                     description=d.description, tags=dict(d.tags or {}), created_at=_created(d))


def environment_record(e: Any) -> Environment:
    conda = e.conda_file
    if isinstance(conda, dict):
        import yaml

        conda = yaml.safe_dump(conda, sort_keys=False)
    extra: dict[str, Any] = {"tags": dict(e.tags or {}) or None, "os_type": getattr(e, "os_type", None)}
    build = getattr(e, "build", None)
    if build is not None:
        extra["build"] = {k: v for k, v in {"path": build.path, "dockerfile_path": build.dockerfile_path}.items() if v}
    return Environment(name=e.name, version=str(e.version), image=e.image, conda_file=conda,
                       description=e.description, created_at=_created(e), extra={k: v for k, v in extra.items() if v})


class AssetOps:
    # ----- helpers shared with models and endpoints -----
    def _remote_path(self, path: Any, prefix: str, datastore: str | None = None, follow_links: bool = False,
                     links: list[str] | None = None) -> str:
        """A registered-asset path: remote URIs as given, local files uploaded to ``datastore`` (default: the
        workspace's default datastore). Symlinks in a folder are left out (named in ``links``) unless
        ``follow_links``."""
        s = fix_uri(path)
        if s.startswith(REMOTE):
            return s
        if s.startswith("azureml:"):  # a short form the SDK resolves itself (azureml:name:version)
            return s
        local = Path(s)
        if not local.exists():
            raise UsageError(f"{s} is neither an existing local path nor an azureml:// URI",
                             "pass a local file or folder, or azureml://datastores/<ds>/paths/<path>")
        dest = f"{prefix}/{uuid.uuid4().hex[:12]}"
        if local.is_file():
            dest = f"{dest}/{local.name}"
        result = self.upload(local, dest, datastore=datastore, follow_links=follow_links)
        if links is not None:
            links.extend(result.links_skipped)
        return result.uri

    # ----- data assets -----
    def create_data_asset(self, name: str, path: str, type: str | None = None, version: str | None = None,
                          description: str | None = None, tags: dict[str, str] | None = None,
                          datastore: str | None = None, extra: dict[str, Any] | None = None) -> DataAsset:
        from leafctl.backends.common import check_name, check_version
        from leafctl.specs.assets import check_mltable, data_entity

        check_name("data asset", name)  # name and version go into the request URL
        if version is not None:
            check_version("data asset", str(version))
        src = fix_uri(path)
        if datastore and not Path(src).exists() and not re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I):
            src = f"azureml://datastores/{datastore}/paths/{src.lstrip('/')}"  # a path in the spec's datastore
        if type is None:
            if Path(src).exists():
                type = "uri_file" if Path(src).is_file() else "uri_folder"
            else:
                last = src.rstrip("/").rsplit("/", 1)[-1]
                type = "uri_file" if ("." in last and not src.endswith("/")) else "uri_folder"
        if type not in ("uri_file", "uri_folder", "mltable"):
            raise UsageError(f"data asset type {type!r} is not known", "use uri_file, uri_folder or mltable")
        refs: list[str] | None = None
        if type == "mltable" and Path(src).exists():
            check_mltable(Path(src), repr(src))
            refs = _mltable_refs(Path(src))
        remote = self._remote_path(src, f"LocalUpload/data/{name}", datastore)
        entity = data_entity(name, remote, type, version, description, tags, extra)
        ops = self.client.data
        if type != "mltable":
            return data_record(ops.create_or_update(entity))
        # azure-ai-ml would read the MLTable file back from storage with a client of its own (and fetch its JSON
        # schema from the internet) to list the paths it references; leafctl moves bytes itself, so it read the
        # local MLTable before the upload and hands over what it references (nothing for a remote MLTable).
        ops._validate = lambda data: refs  # type: ignore[method-assign]
        try:
            return data_record(ops.create_or_update(entity))
        finally:
            del ops._validate

    def get_data_asset(self, name: str, version: str | None = None) -> DataAsset:
        if version and version != "latest":
            return data_record(self.client.data.get(name, version=str(version)))
        return data_record(self.client.data.get(name, label="latest"))

    def list_data_assets(self, name: str | None = None) -> list[DataAsset]:
        if name:
            return [data_record(d) for d in self.client.data.list(name=name)]
        out: list[DataAsset] = []
        for container in self.client.data.list():
            out.extend(data_record(d) for d in self.client.data.list(name=container.name))
        return out

    # ----- environments -----
    def create_environment(self, env: Environment) -> Environment:
        from leafctl.backends.common import check_name, check_version

        # Both end up in the request URL (.../environments/<name>/versions/<version>): checked here.
        check_name("environment", env.name)
        if env.version:
            check_version("environment", str(env.version))
        build = (env.extra or {}).get("build")
        if not env.image and not build:
            raise UsageError("an Azure environment needs a docker image", "pass --image, e.g. mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04")
        if env.conda_file:
            p = Path(env.conda_file)
            if not ("\n" not in env.conda_file and p.exists()):
                import yaml

                if not isinstance(yaml.safe_load(env.conda_file), dict):
                    raise UsageError("the conda file is not a YAML mapping", "give a conda environment.yml")
        build_path = None
        if isinstance(build, dict) and build.get("path") and not str(build["path"]).startswith(REMOTE):
            # A docker build context: leafctl uploads the folder itself and hands Azure ML its datastore URI
            # (a BuildContext), as azure-ai-ml would; the image is built by the workspace.
            folder = Path(str(build["path"]))
            if not folder.is_dir():
                raise UsageError(f"build context {folder} is not a folder", "give build.path: the folder holding the Dockerfile")
            store = (env.extra or {}).get("datastore")
            store = str(store).removeprefix("azureml:") if store else None
            build_path = self.upload(folder, f"LocalUpload/environments/{env.name}/{uuid.uuid4().hex[:12]}",
                                     datastore=store).uri.rstrip("/") + "/"
        from leafctl.specs.assets import environment_entity

        entity = environment_entity(env, build_path)
        return environment_record(self.client.environments.create_or_update(entity))

    def get_environment(self, name: str, version: str | None = None) -> Environment:
        if version and version != "latest":
            return environment_record(self.client.environments.get(name, version=str(version)))
        return environment_record(self.client.environments.get(name, label="latest"))

    def list_environments(self, name: str | None = None) -> list[Environment]:
        if name:
            return [environment_record(e) for e in self.client.environments.list(name=name)]
        out: list[Environment] = []
        for container in self.client.environments.list():
            out.extend(environment_record(e) for e in self.client.environments.list(name=container.name))
        return out
