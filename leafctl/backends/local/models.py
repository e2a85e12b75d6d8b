"""Local model registry: versioned copies under ``models/<name>/<version>/``.

Registration runs in three steps so parallel registrations never lose or duplicate a version:
1. claim: one BEGIN IMMEDIATE transaction reads the highest version (pending ones included) and
   inserts a ``pending`` row for the next one;
2. copy: the files go to a temp folder beside the target, then one rename puts them in place;
3. publish: the row becomes ``ready``. Readers only ever see ready versions.
On failure the temp folder and the claimed row are removed again.

Kills and deletes at any moment (issue 7):
- a ``pending`` row records its registering process (``owner``, a leafctl.backends.debris token), and a
  publish happens only if that claim still stands: the rename into place and the switch to ``ready`` are
  one transaction, so a version is ready exactly when its whole folder is in place;
- delete marks only the ready versions it deletes as ``deleting`` (one transaction, after which readers no
  longer see them), then moves their folders aside into a ``.trash-*`` folder and drops their rows; it
  never touches a pending registration of a live process, nor anything else in the model's folder;
- the next register or delete of the model finishes what a killed one left: rows whose owner is gone are
  removed with their folders, and ``.tmp-*``/``.trash-*`` folders of dead processes are swept.
A folder is only ever moved aside inside the write transaction that drops its row, so a version number
freed by that row cannot be claimed, and its new folder removed, in between.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from leafctl.backends.base import Model
from leafctl.backends.common import (atomic_copy, check_name, copy_tree_into, inside, next_version, now_iso, plan_tree, safe_join,
                                     version_key, walk_files)
from leafctl.backends.debris import owner_token, sweep_debris, temp_dir, token_alive
from leafctl.backends.local.endpoints import _SCHEMA as ENDPOINTS_SCHEMA
from leafctl.backends.local.registry import Registry
from leafctl.errors import Conflict, NotFound, UsageError

MODEL_TYPES = ("custom", "mlflow", "triton")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT NOT NULL, version TEXT NOT NULL, type TEXT NOT NULL, path TEXT, tags TEXT NOT NULL DEFAULT '{}',
    description TEXT, run_id TEXT, created_at TEXT, state TEXT NOT NULL DEFAULT 'pending', owner TEXT,
    PRIMARY KEY (name, version)
)
"""
# state: 'pending' (being registered by ``owner``), 'ready', 'deleting' (being deleted by ``owner``).


def _row(r: Any) -> Model:
    extra = r["extra"] if "extra" in r.keys() else None
    return Model(name=r["name"], version=r["version"], type=r["type"], path=r["path"], tags=json.loads(r["tags"] or "{}"),
                 description=r["description"], run_id=r["run_id"], created_at=r["created_at"],
                 extra=json.loads(extra) if extra else {})


def _copy_tree(src: Path, dest: Path, links: list[str] | None = None, follow_links: bool = False,
               within: Path | None = None) -> None:
    """Copy a model's source into ``dest``. Symlinks in it follow the rule of ``data upload``: a user's
    folder (``--path``) has its links left out and named in ``links``, unless ``follow_links``; a run's
    output (``within`` the workspace) has them copied through only while they stay inside it, as
    ``run download`` does (a link out is refused)."""
    if src.is_file():
        atomic_copy(src, dest / src.name)
        return
    dest.mkdir(parents=True, exist_ok=True)
    if within is not None:
        files = plan_tree(src, dest, within=within)
    else:
        files = walk_files(src, links=[] if links is None else links, follow_links=follow_links)
    for name, p in files:
        atomic_copy(p, dest / name)


STALE_SECONDS = 3600


def _sweep_debris(folder: Path) -> None:
    """Remove temp and trash folders of killed registrations and deletions: those naming a dead process
    at once, and token-less ones (an older leafctl's) once an hour old, when surely dead."""
    sweep_debris(folder)
    try:
        entries = list(folder.glob(".tmp-*"))
    except OSError:
        return
    for tmp in entries:
        if "-lf" in tmp.name:
            continue  # names its owner: sweep_debris decided
        try:
            if time.time() - tmp.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def _owner_gone(r: Any) -> bool:
    """Whether a pending/deleting row's process is gone. A row an older leafctl left has no owner: gone
    once an hour old, like its temp folders."""
    alive = token_alive(r["owner"])
    if alive is not None:
        return not alive
    try:
        from datetime import datetime

        return time.time() - datetime.fromisoformat(r["created_at"]).timestamp() > STALE_SECONDS
    except (TypeError, ValueError):
        return True


def _move_aside(folder: Path, path: Path | None) -> Path | None:
    """Rename ``path`` into a ``.trash-*`` folder beside the versions (same file system: one rename, so a
    kill leaves either the version folder or trash, never half of it); the trash path, or None."""
    if path is None or not os.path.lexists(path):
        return None
    trash = temp_dir(folder, "trash")
    os.rename(path, trash)
    return trash


def _empty_trash(trash: list[Path | None]) -> None:
    for t in trash:
        if t is not None:
            shutil.rmtree(t, ignore_errors=True)


class ModelOps:
    registry: Registry
    ws: Path

    def _models(self) -> Registry:
        self.registry.ensure_schema("models", _SCHEMA)
        self.registry.ensure_column("models", "owner", "TEXT")  # a registry an older leafctl created
        self.registry.ensure_column("models", "extra", "TEXT")  # az ml fields beyond the typed ones (stage, properties ...)
        return self.registry

    def _model_source(self, path: Path | None, run_id: str | None, output: str | None) -> Path:
        if (path is None) == (run_id is None):
            raise UsageError("give exactly one of --path and --run", "e.g. --path ./model or --run RUN_ID --output model")
        if output is not None and run_id is None:
            raise UsageError("--output names an output of a run and needs --run", "e.g. --run RUN_ID --output model")
        if path is not None:
            from leafctl.backends.common import parse_uri

            raw = str(path)
            if raw.startswith("azureml:/") and not raw.startswith("azureml://"):  # Path() collapsed the '//'
                raw = "azureml://" + raw[len("azureml:/"):]
            stored = parse_uri(raw)
            if stored is not None:  # azureml://datastores/<ds>/paths/<p>: a path in a local datastore
                ds, root, rel = self._locate(raw, None)  # type: ignore[attr-defined]  # provided by DataOps
                src = safe_join(root, rel) if rel else root
                if not src.exists():
                    raise NotFound(f"model path {raw!r} does not exist in datastore {ds.name!r}",
                                   "upload it first with `leafctl data upload`")
                return src
            src = Path(path).expanduser()
            if not src.exists():
                raise NotFound(f"model path {str(src)!r} does not exist", "check the path")
            return src
        run = self.get_run(run_id)  # type: ignore[attr-defined]  # provided by RunOps
        if run.status != "Completed":
            raise UsageError(f"run {run_id} is {run.status}, not Completed", "register a model from a completed run; see `leafctl run show`")
        outputs = Path(run.outputs_path or "")
        if not run.outputs_path or not outputs.is_dir():
            raise NotFound(f"run {run_id} has no outputs folder", "the run wrote no outputs")
        if output is None:
            return outputs
        src = safe_join(outputs, output)  # an output name never reaches outside the run's outputs
        if not src.exists() or src == outputs:
            have = ", ".join(sorted(p.name for p in outputs.iterdir())) or "none"
            raise NotFound(f"run {run_id} has no output {output!r} (outputs: {have})", "pick one of its outputs with --output")
        return src

    def register_model(self, name: str, path: Path | None = None, run_id: str | None = None, output: str | None = None,
                       type: str = "custom", tags: dict[str, str] | None = None, description: str | None = None,
                       version: str | None = None, extra: dict[str, Any] | None = None,
                       follow_links: bool = False, links: list[str] | None = None) -> Model:
        check_name("model", name)
        if version is not None:
            from leafctl.backends.common import check_version

            version = check_version("model", str(version))
        if type not in MODEL_TYPES:
            raise UsageError(f"model type must be one of {', '.join(MODEL_TYPES)}, got {type!r}", "e.g. --type mlflow")
        src = self._model_source(path, run_id, output)
        if type == "mlflow" and not (src.is_dir() and (src / "MLmodel").is_file()):
            raise UsageError(f"{src} is not an MLflow model: no MLmodel file at its top", "point at the MLflow model folder, or use --type custom")
        tags = {str(k): str(v) for k, v in (tags or {}).items()}
        reg = self._models()
        folder = self.ws / "models" / name
        self._reap_models(name)
        token = owner_token()
        with reg.tx() as conn:
            versions = [r["version"] for r in conn.execute("SELECT version FROM models WHERE name = ?", (name,))]
            if version is not None and version in versions:
                raise Conflict(f"model {name}:{version} already exists", "leave the version out to register the next one")
            version = version if version is not None else next_version(versions)
            model = Model(name=name, version=version, type=type, path=str(folder / version), tags=tags,
                          description=description, run_id=run_id, created_at=now_iso(), extra=dict(extra or {}))
            conn.execute("INSERT INTO models (name, version, type, path, tags, description, run_id, created_at, state, owner, extra) "
                         "VALUES (?,?,?,?,?,?,?,?, 'pending', ?, ?)",
                         (name, version, type, model.path, json.dumps(tags, sort_keys=True), description, run_id, model.created_at,
                          token, json.dumps(model.extra, sort_keys=True)))
        tmp = temp_dir(folder, "tmp", version)
        final = folder / version
        trash: list[Path | None] = []
        try:
            _copy_tree(src, tmp, links, follow_links, within=self.ws if path is None else None)
            with reg.tx() as conn:
                # Publish only while our claim stands; the rename happens under the write lock, so no
                # delete or reaper can act between "files in place" and "ready".
                if not self._claim_stands(conn, name, version, token):
                    raise Conflict(f"version {version} of model {name} was removed while it was being registered",
                                   "register it again")
                trash.append(_move_aside(folder, final))  # debris of an earlier crash that held this number
                os.rename(tmp, final)
                conn.execute("UPDATE models SET state = 'ready', owner = NULL WHERE name = ? AND version = ?", (name, version))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            with reg.tx() as conn:
                # Give the number back only if it is still ours: after a delete it may be someone else's.
                if self._claim_stands(conn, name, version, token):
                    trash.append(_move_aside(folder, final))
                    conn.execute("DELETE FROM models WHERE name = ? AND version = ?", (name, version))
            _empty_trash(trash)
            raise
        _empty_trash(trash)
        return model

    @staticmethod
    def _claim_stands(conn: Any, name: str, version: str, token: str) -> bool:
        row = conn.execute("SELECT state, owner FROM models WHERE name = ? AND version = ?", (name, version)).fetchone()
        return row is not None and row["state"] == "pending" and row["owner"] == token

    def _version_dir(self, name: str, r: Any) -> Path:
        """A row's folder, checked to lie in the model's folder: a tampered row never moves anything else."""
        folder = self.ws / "models" / name
        return inside(r["path"] or folder / r["version"], folder, f"model {name}:{r['version']}")

    def _reap_models(self, name: str) -> None:
        """Finish what killed registrations and deletions of ``name`` left: their rows and folders."""
        folder = self.ws / "models" / name
        reg = self._models()
        if any(_owner_gone(r) for r in reg.query("SELECT owner, created_at FROM models WHERE name = ? AND state != 'ready'", (name,))):
            trash: list[Path | None] = []
            with reg.tx() as conn:  # re-read under the write lock: another process may be reaping too
                for r in conn.execute("SELECT * FROM models WHERE name = ? AND state != 'ready'", (name,)).fetchall():
                    if _owner_gone(r):
                        trash.append(_move_aside(folder, self._version_dir(name, r)))
                        conn.execute("DELETE FROM models WHERE name = ? AND version = ?", (name, r["version"]))
            _empty_trash(trash)
        _sweep_debris(folder)

    def _model_versions(self, name: str) -> list[Model]:
        rows = self._models().query("SELECT * FROM models WHERE name = ? AND state = 'ready'", (name,))
        return sorted((_row(r) for r in rows), key=lambda m: version_key(m.version))

    def get_model(self, name: str, version: str | None = None) -> Model:
        versions = self._model_versions(name)
        if not versions:
            raise NotFound(f"model {name!r} not found", "see `leafctl model list`")
        if version is None:
            return versions[-1]
        for m in versions:
            if m.version == str(version):
                return m
        raise NotFound(f"model {name}:{version} not found (versions: {', '.join(m.version for m in versions)})",
                       f"see `leafctl model list {name}`")

    def list_models(self, name: str | None = None) -> list[Model]:
        if name is not None:
            return self._model_versions(name)
        names = [r["name"] for r in self._models().query("SELECT DISTINCT name FROM models WHERE state = 'ready' ORDER BY name")]
        return [self._model_versions(n)[-1] for n in names]

    def download_model(self, name: str, version: str | None, dest: Path) -> Path:
        model = self.get_model(name, version)
        # The row's path is checked before it is read: an edited row must not copy files from elsewhere.
        src = inside(model.path or "", self.ws, f"model {name}:{model.version}")
        if not src.is_dir():
            raise NotFound(f"the files of model {name}:{model.version} are missing from {src}", "register it again")
        dest = Path(dest).expanduser()
        copy_tree_into(src, dest, within=self.ws)  # never through a symlink in dest (exit 2)
        return dest

    def delete_model(self, name: str, version: str | None = None) -> None:
        """Delete one version, or every ready version, of a model: only those, and whole.

        Pending registrations are left alone (a live one publishes afterwards; a dead one is reaped), so
        a delete racing a register never leaves a ready version without its files."""
        self._reap_models(name)
        self.get_model(name, version)  # NotFound (naming the versions there are) before anything changes
        folder = self.ws / "models" / name
        reg = self._models()
        reg.ensure_schema("endpoints", ENDPOINTS_SCHEMA)  # read in the same transaction below
        token = owner_token()
        with reg.tx() as conn:
            rows = [r for r in conn.execute("SELECT * FROM models WHERE name = ? AND state = 'ready'", (name,)).fetchall()
                    if version is None or r["version"] == str(version)]
            if not rows:  # another delete was first
                raise NotFound(f"model {name}{':' + version if version else ''} not found", "see `leafctl model list`")
            refs = {f"{name}:{r['version']}" for r in rows}
            # Endpoints from older leafctl name the model on the endpoint row; deployments name it on theirs.
            users = {r["name"] for r in conn.execute("SELECT name, model FROM endpoints") if r["model"] in refs}
            users |= {r["endpoint"] for r in conn.execute("SELECT endpoint, model FROM batch_deployments")
                      if r["model"] in refs}
            if users:
                first = sorted(users)[0]
                raise Conflict(f"model {name}{':' + version if version else ''} is deployed by endpoint "
                               f"{', '.join(sorted(users))}", f"delete the endpoint first: leafctl endpoint delete {first} --yes")
            paths = {r["version"]: self._version_dir(name, r) for r in rows}  # every path checked before any change
            # Invisible from here on; a kill after this commit leaves 'deleting' rows the next command finishes.
            conn.executemany("UPDATE models SET state = 'deleting', owner = ? WHERE name = ? AND version = ?",
                             [(token, name, v) for v in paths])
        trash: list[Path | None] = []
        with reg.tx() as conn:
            for v, path in paths.items():
                trash.append(_move_aside(folder, path))
                conn.execute("DELETE FROM models WHERE name = ? AND version = ? AND owner = ?", (name, v, token))
        _empty_trash(trash)
        if version is None:
            try:
                folder.rmdir()  # only if empty: a registration in progress keeps its temp folder here
            except OSError:
                pass
