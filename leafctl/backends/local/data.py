"""Local datastores, file transfers and versioned data assets.

The default datastore ``workspaceblobstore`` is a folder inside the workspace. A ``local`` datastore
exposes an existing folder. Azure datastore types can be recorded (so one profile's setup script
works on both backends) but moving bytes through them needs the azure backend.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from leafctl.backends.base import DataAsset, Datastore, DatastoreSpec, FileEntry, NullProgress, Progress, TransferResult
from leafctl.backends.common import (atomic_copy, check_name, check_version, clean_store_path, copy_into, credential_kind, dest_file, format_uri,
                                     md5_file, next_version, now_iso, parse_uri, safe_join, version_key, walk_files)
from leafctl.backends.local.registry import Registry
from leafctl.backends.local.workspaces import DEFAULT_DATASTORE
from leafctl.errors import Conflict, NotFound, UsageError

DATASTORE_TYPES = ("local", "azure_blob", "azure_data_lake_gen2")
ASSET_TYPES = ("uri_file", "uri_folder", "mltable")
# Data that lives in the cloud, outside any datastore: a data asset may point at it (az ml keeps the URL as written).
CLOUD_URL = re.compile(r"^(https?|wasbs?|abfss?|adl)://", re.I)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datastores (
    name TEXT PRIMARY KEY, type TEXT NOT NULL, account_name TEXT, container_name TEXT, endpoint TEXT,
    credential TEXT, path TEXT, created_at TEXT
);
CREATE TABLE IF NOT EXISTS data_assets (
    name TEXT NOT NULL, version TEXT NOT NULL, path TEXT NOT NULL, type TEXT NOT NULL, description TEXT,
    tags TEXT NOT NULL DEFAULT '{}', created_at TEXT, PRIMARY KEY (name, version)
)
"""


def _ds_row(r: Any) -> Datastore:
    keys = r.keys()
    return Datastore(name=r["name"], type=r["type"], account_name=r["account_name"], container_name=r["container_name"],
                     endpoint=r["endpoint"], credential=r["credential"], path=r["path"], created_at=r["created_at"],
                     description=r["description"] if "description" in keys else None,
                     tags=json.loads(r["tags"] or "{}") if "tags" in keys else {})


def _asset_row(r: Any) -> DataAsset:
    extra = r["extra"] if "extra" in r.keys() else None
    return DataAsset(name=r["name"], version=r["version"], path=r["path"], type=r["type"], description=r["description"],
                     tags=json.loads(r["tags"] or "{}"), created_at=r["created_at"], extra=json.loads(extra) if extra else {})


def _check_type(path: str, want: str | None, target: Path) -> str:
    if want == "mltable":  # a folder holding an MLTable file; jobs read it as that folder
        from leafctl.specs.assets import check_mltable

        check_mltable(target, repr(path))
        return "mltable"
    detected = "uri_file" if target.is_file() else "uri_folder"
    if want and want != detected:
        raise UsageError(f"{path!r} is a {'file' if target.is_file() else 'folder'}, not a {want}", f"use --type {detected}")
    return detected


def _copy(src: Path, target: Path, progress: Progress, dest_root: Path | None = None, name: str = "") -> int:
    """One atomic file copy; a file standing where a folder must go is reported, not a traceback.
    A download gives ``dest_root`` and ``name``: it goes through ``copy_into``, never through a symlink."""
    try:
        if dest_root is not None:
            return copy_into(src, dest_root, name, on_chunk=progress.advance)
        return atomic_copy(src, target, on_chunk=progress.advance)
    except (NotADirectoryError, FileExistsError, IsADirectoryError) as e:
        raise Conflict(f"cannot write {target}: {e.strerror or e}", "a file or folder of that name is in the way") from None
    except PermissionError as e:
        from leafctl.errors import AuthError

        raise AuthError(f"cannot write {target}: permission denied", "check the folder's permissions") from e


class DataOps:
    registry: Registry
    ws: Path
    settings: Any

    def _data(self) -> Registry:
        self.registry.ensure_schema("data", _SCHEMA)
        # Columns a newer leafctl added to tables an older one created.
        self.registry.ensure_column("datastores", "description", "TEXT")
        self.registry.ensure_column("datastores", "tags", "TEXT")
        self.registry.ensure_column("data_assets", "extra", "TEXT")
        return self.registry

    # --- datastores ---------------------------------------------------------------------------

    def _default_store(self) -> Datastore:
        return Datastore(name=DEFAULT_DATASTORE, type="local", credential="none", is_default=True,
                         path=str(self.ws / "datastores" / DEFAULT_DATASTORE))

    def create_datastore(self, spec: DatastoreSpec) -> Datastore:
        check_name("datastore", spec.name)
        if spec.name == DEFAULT_DATASTORE:
            raise Conflict(f"datastore {DEFAULT_DATASTORE!r} is built in", "choose another name")
        if spec.type not in DATASTORE_TYPES:
            raise UsageError(f"datastore type must be one of {', '.join(DATASTORE_TYPES)}, got {spec.type!r}", "e.g. --type local --path DIR")
        credential = credential_kind(spec)
        path = None
        if spec.type == "local":
            if not spec.path:
                raise UsageError("a local datastore needs --path, an existing folder", "e.g. --path /data/shared")
            folder = Path(spec.path).expanduser()
            if not folder.is_dir():
                raise UsageError(f"datastore path {spec.path!r} is not an existing folder", "create the folder first")
            path = str(folder.resolve())
        elif not spec.account_name or not spec.container_name:
            raise UsageError(f"a {spec.type} datastore needs an account name and a container name",
                             "pass --account-name and --container-name")
        ds = Datastore(name=spec.name, type=spec.type, account_name=spec.account_name, container_name=spec.container_name,
                       endpoint=spec.endpoint, credential=credential, path=path, description=spec.description,
                       tags={str(k): str(v) for k, v in (spec.tags or {}).items()})
        with self._data().tx() as conn:
            row = conn.execute("SELECT * FROM datastores WHERE name = ?", (spec.name,)).fetchone()
            if row is not None:
                old = _ds_row(row)
                if {**old.to_dict(), "created_at": None} != {**ds.to_dict(), "created_at": None}:
                    raise Conflict(f"datastore {spec.name!r} exists with a different spec", "delete it first, or use another name")
                return old
            ds.created_at = now_iso()
            conn.execute("INSERT INTO datastores (name, type, account_name, container_name, endpoint, credential, path, "
                         "created_at, description, tags) VALUES (?,?,?,?,?,?,?,?,?,?)",
                         (ds.name, ds.type, ds.account_name, ds.container_name, ds.endpoint, ds.credential, ds.path, ds.created_at,
                          ds.description, json.dumps(ds.tags, sort_keys=True)))
        return ds

    def get_datastore(self, name: str | None = None) -> Datastore:
        name = name or self.settings.get("datastore") or DEFAULT_DATASTORE
        if name == DEFAULT_DATASTORE:
            return self._default_store()
        row = self._data().one("SELECT * FROM datastores WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"datastore {name!r} not found", "see `leafctl data store list`")
        return _ds_row(row)

    def list_datastores(self) -> list[Datastore]:
        rows = self._data().query("SELECT * FROM datastores ORDER BY name")
        return [self._default_store()] + [_ds_row(r) for r in rows]

    def delete_datastore(self, name: str) -> None:
        """Forgets the datastore; the files stay where they are (as on Azure)."""
        if name == DEFAULT_DATASTORE:
            raise UsageError(f"datastore {DEFAULT_DATASTORE!r} is the workspace default and cannot be deleted", "delete a datastore you created")
        with self._data().tx() as conn:
            if conn.execute("DELETE FROM datastores WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"datastore {name!r} not found", "see `leafctl data store list`")

    def _store_root(self, datastore: str | None) -> tuple[Datastore, Path]:
        ds = self.get_datastore(datastore)
        if ds.type != "local":
            raise UsageError(f"datastore {ds.name!r} is {ds.type}; moving files through it needs the azure backend",
                             "use a profile with backend = \"azure\", or a local datastore")
        root = Path(ds.path or "")
        root.mkdir(parents=True, exist_ok=True)
        return ds, root

    def _locate(self, path: str, datastore: str | None) -> tuple[Datastore, Path, str]:
        """A datastore path or azureml:// URI -> (datastore, its root, clean relative path)."""
        parsed = parse_uri(path)
        if parsed:
            datastore, path = parsed
        ds, root = self._store_root(datastore)
        return ds, root, clean_store_path(path)

    # --- transfers ----------------------------------------------------------------------------

    def upload(self, src: Path, dest: str, datastore: str | None = None, progress: Progress | None = None,
               follow_links: bool = False) -> TransferResult:
        """Copy a file or a folder into a datastore; files whose MD5 is unchanged are skipped.

        A file goes to ``dest`` (or into it when ``dest`` is empty, ends in '/' or is a folder);
        a folder's contents go under ``dest`` (or under the folder's name when ``dest`` is empty).
        Symlinks inside a folder are left out and named in ``links_skipped``, unless ``follow_links``.
        """
        progress = progress or NullProgress()
        src = Path(src).expanduser()
        if not src.exists():
            raise NotFound(f"local path {str(src)!r} does not exist", "check the path")
        ds, root, rel = self._locate(dest or "", datastore)
        links: list[str] = []
        if src.is_dir():
            rel = rel or src.name
            plan = [(f"{rel}/{name}", p) for name, p in walk_files(src, links=links, follow_links=follow_links)]
        else:
            if not rel or dest.endswith("/") or (root / rel).is_dir():
                rel = f"{rel}/{src.name}".lstrip("/")
            plan = [(rel, src)]
        result = TransferResult(datastore=ds.name, path=rel, uri=format_uri(ds.name, rel), links_skipped=links)
        progress.start(sum(p.stat().st_size for _, p in plan), f"upload {src.name}")
        for name, p in plan:
            target = safe_join(root, name)
            size = p.stat().st_size
            if target.is_file() and target.stat().st_size == size and md5_file(target) == md5_file(p):
                result.skipped += 1
                progress.advance(size)
                continue
            if target.is_dir():
                raise Conflict(f"{name!r} is a folder in datastore {ds.name!r}", "upload to another --path")
            result.bytes += _copy(p, target, progress)
            result.files += 1
        progress.finish()
        return result

    def _listing(self, root: Path, rel: str) -> list[tuple[str, Path]]:
        """(name relative to ``rel``, stored file) for a datastore path: one file, or a folder's files."""
        src = safe_join(root, rel) if rel else root
        if src.is_file():
            return [(src.name, src)]
        if not src.is_dir():
            raise NotFound(f"{rel!r} not found in the datastore", "see `leafctl data ls`")
        return walk_files(src)

    def download(self, path: str, dest: Path, datastore: str | None = None, progress: Progress | None = None) -> TransferResult:
        progress = progress or NullProgress()
        ds, root, rel = self._locate(path, datastore)
        dest = Path(dest).expanduser()
        listing = self._listing(root, rel)
        if dest.exists() and not dest.is_dir():
            raise UsageError(f"--dest {str(dest)!r} is a file", "give a folder to download into")
        dest.mkdir(parents=True, exist_ok=True)
        # Check every name first (both ends): nothing is written when one entry is unsafe.
        base = root.resolve()
        plan = []
        for name, stored in listing:
            resolved = Path(stored).resolve()
            if resolved != base and base not in resolved.parents:
                raise UsageError(f"refusing {name!r}: it is a symlink to a file outside datastore {ds.name!r}",
                                 "remove that link from the datastore")
            plan.append((dest_file(dest, name), name, stored))  # the one rule for every download (exit 2)
        result = TransferResult(datastore=ds.name, path=str(dest), uri=str(dest))
        progress.start(sum(s.stat().st_size for _, _, s in plan), f"download {rel or ds.name}")
        for target, name, stored in plan:
            result.bytes += _copy(stored, target, progress, dest, name)
            result.files += 1
        progress.finish()
        return result

    def ls(self, path: str = "", datastore: str | None = None) -> list[FileEntry]:
        from datetime import datetime, timezone

        ds, root, rel = self._locate(path, datastore)
        listing = self._listing(root, rel)
        prefix = rel if (root / rel).is_dir() and rel else rel.rpartition("/")[0]
        out = []
        for name, p in listing:
            st = p.stat()
            when = datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(timespec="seconds")
            out.append(FileEntry(path=f"{prefix}/{name}".lstrip("/"), size=st.st_size, modified_at=when))
        return out

    # --- data assets --------------------------------------------------------------------------

    def _asset_target(self, path: str, want: str | None, datastore: str | None = None) -> tuple[str, str | None]:
        """Where an asset points: (azureml:// URI, detected type or None if unknowable). Local paths are snapshotted into
        the default datastore (as Azure uploads them), so a version never changes under its users."""
        if CLOUD_URL.match(path):
            # A cloud URL (https://, wasbs://, abfss://), as az ml records it: kept as written, nothing copied. A
            # local run cannot read it; a job input naming the asset is refused when it is submitted.
            return path, None
        parsed = parse_uri(path)
        if parsed is None and not Path(path).expanduser().exists():
            # Not a local path: a path in the spec's datastore, else the profile's.
            ds = self.get_datastore(datastore)
            parsed = (ds.name, path)
        if parsed is not None:
            ds_name, rel = parsed
            ds = self.get_datastore(ds_name)
            rel = clean_store_path(rel)
            if ds.type != "local":
                return format_uri(ds.name, rel), None  # cannot look inside from here
            target = safe_join(Path(ds.path or ""), rel) if rel else Path(ds.path or "")
            if not target.exists():
                raise NotFound(f"{path!r} is neither a local path nor a path in datastore {ds.name!r}",
                               "upload it first with `leafctl data upload`, or give an existing local path")
            return format_uri(ds.name, rel), _check_type(path, want, target)
        src = Path(path).expanduser()
        detected = _check_type(path, want, src)  # before the upload: a wrong --type copies nothing
        return self.upload(src, f"LocalUpload/{uuid.uuid4().hex}/").uri, detected

    def create_data_asset(self, name: str, path: str, type: str | None = None, version: str | None = None,
                          description: str | None = None, tags: dict[str, str] | None = None,
                          datastore: str | None = None, extra: dict[str, Any] | None = None) -> DataAsset:
        check_name("data asset", name)
        if type is not None and type not in ASSET_TYPES:
            raise UsageError(f"data asset type must be one of {', '.join(ASSET_TYPES)}, got {type!r}", "or leave --type out to detect it")
        if version is not None:
            check_version("data asset", str(version))
        uri, detected = self._asset_target(path, type, datastore)
        asset = DataAsset(name=name, version="", path=uri, type=type or detected or "uri_folder", description=description,
                          tags=dict(tags or {}), created_at=now_iso(), extra=dict(extra or {}))
        with self._data().tx() as conn:
            existing = [r["version"] for r in conn.execute("SELECT version FROM data_assets WHERE name = ?", (name,))]
            if version is not None and str(version) in existing:
                raise Conflict(f"data asset {name}:{version} already exists", "leave --version out to create the next version")
            asset.version = str(version) if version is not None else next_version(existing)
            conn.execute("INSERT INTO data_assets (name, version, path, type, description, tags, created_at, extra) "
                         "VALUES (?,?,?,?,?,?,?,?)",
                         (asset.name, asset.version, asset.path, asset.type, asset.description,
                          json.dumps(asset.tags, sort_keys=True), asset.created_at, json.dumps(asset.extra, sort_keys=True)))
        return asset

    def _asset_versions(self, name: str) -> list[DataAsset]:
        # rowid order = creation order: "latest" is the most recently created version, as on Azure.
        rows = self._data().query("SELECT * FROM data_assets WHERE name = ? ORDER BY rowid", (name,))
        return [_asset_row(r) for r in rows]

    def get_data_asset(self, name: str, version: str | None = None) -> DataAsset:
        versions = self._asset_versions(name)
        if not versions:
            raise NotFound(f"data asset {name!r} not found", "see `leafctl data list`")
        if version is None:
            return versions[-1]
        for a in versions:
            if a.version == str(version):
                return a
        raise NotFound(f"data asset {name}:{version} not found (versions: {', '.join(a.version for a in versions)})",
                       f"see `leafctl data list {name}`")

    def list_data_assets(self, name: str | None = None) -> list[DataAsset]:
        if name is not None:
            return sorted(self._asset_versions(name), key=lambda a: version_key(a.version))
        rows = self._data().query("SELECT * FROM data_assets WHERE rowid IN (SELECT max(rowid) FROM data_assets GROUP BY name) ORDER BY name")
        return [_asset_row(r) for r in rows]
