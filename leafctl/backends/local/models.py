"""Local model registry: versioned copies under ``models/<name>/<version>/``.

Registration runs in three steps so parallel registrations never lose or duplicate a version:
1. claim: one BEGIN IMMEDIATE transaction reads the highest version (pending ones included) and
   inserts a ``pending`` row for the next one;
2. copy: the files go to a temp folder beside the target, then one rename puts them in place;
3. publish: the row becomes ``ready``. Readers only ever see ready versions.
On failure the temp folder and the claimed row are removed again.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from leafctl.backends.base import Model
from leafctl.backends.common import atomic_copy, check_name, next_version, now_iso, safe_join, version_key, walk_files
from leafctl.backends.local.endpoints import _SCHEMA as ENDPOINTS_SCHEMA
from leafctl.backends.local.registry import Registry
from leafctl.errors import Conflict, NotFound, UsageError

MODEL_TYPES = ("custom", "mlflow")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT NOT NULL, version TEXT NOT NULL, type TEXT NOT NULL, path TEXT, tags TEXT NOT NULL DEFAULT '{}',
    description TEXT, run_id TEXT, created_at TEXT, state TEXT NOT NULL DEFAULT 'pending',
    PRIMARY KEY (name, version)
)
"""


def _row(r: Any) -> Model:
    return Model(name=r["name"], version=r["version"], type=r["type"], path=r["path"], tags=json.loads(r["tags"] or "{}"),
                 description=r["description"], run_id=r["run_id"], created_at=r["created_at"])


def _copy_tree(src: Path, dest: Path) -> None:
    if src.is_file():
        atomic_copy(src, dest / src.name)
        return
    dest.mkdir(parents=True, exist_ok=True)
    for name, p in walk_files(src):
        atomic_copy(p, dest / name)


STALE_SECONDS = 3600


def _sweep_debris(folder: Path) -> None:
    """Remove temp folders left by registrations that were killed mid-copy (an hour old: surely dead)."""
    import time

    try:
        entries = list(folder.glob(".tmp-*"))
    except OSError:
        return
    for tmp in entries:
        try:
            if time.time() - tmp.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


class ModelOps:
    registry: Registry
    ws: Path

    def _models(self) -> Registry:
        self.registry.ensure_schema("models", _SCHEMA)
        return self.registry

    def _model_source(self, path: Path | None, run_id: str | None, output: str | None) -> Path:
        if (path is None) == (run_id is None):
            raise UsageError("give exactly one of --path and --run", "e.g. --path ./model or --run RUN_ID --output model")
        if output is not None and run_id is None:
            raise UsageError("--output names an output of a run and needs --run", "e.g. --run RUN_ID --output model")
        if path is not None:
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
                       type: str = "custom", tags: dict[str, str] | None = None, description: str | None = None) -> Model:
        check_name("model", name)
        if type not in MODEL_TYPES:
            raise UsageError(f"model type must be one of {', '.join(MODEL_TYPES)}, got {type!r}", "e.g. --type mlflow")
        src = self._model_source(path, run_id, output)
        if type == "mlflow" and not (src.is_dir() and (src / "MLmodel").is_file()):
            raise UsageError(f"{src} is not an MLflow model: no MLmodel file at its top", "point at the MLflow model folder, or use --type custom")
        tags = {str(k): str(v) for k, v in (tags or {}).items()}
        reg = self._models()
        folder = self.ws / "models" / name
        _sweep_debris(folder)
        with reg.tx() as conn:
            versions = [r["version"] for r in conn.execute("SELECT version FROM models WHERE name = ?", (name,))]
            version = next_version(versions)
            model = Model(name=name, version=version, type=type, path=str(folder / version), tags=tags,
                          description=description, run_id=run_id, created_at=now_iso())
            conn.execute("INSERT INTO models (name, version, type, path, tags, description, run_id, created_at, state) "
                         "VALUES (?,?,?,?,?,?,?,?, 'pending')",
                         (name, version, type, model.path, json.dumps(tags, sort_keys=True), description, run_id, model.created_at))
        tmp = folder / f".tmp-{version}-{uuid.uuid4().hex}"
        try:
            _copy_tree(src, tmp)
            final = folder / version
            if final.exists():  # debris of an earlier crashed registration that held this number
                shutil.rmtree(final)
            tmp.rename(final)
            with reg.tx() as conn:
                conn.execute("UPDATE models SET state = 'ready' WHERE name = ? AND version = ?", (name, version))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(folder / version, ignore_errors=True)
            with reg.tx() as conn:
                conn.execute("DELETE FROM models WHERE name = ? AND version = ?", (name, version))
            raise
        return model

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
        src = Path(model.path or "")
        if not src.is_dir():
            raise NotFound(f"the files of model {name}:{model.version} are missing from {src}", "register it again")
        dest = Path(dest).expanduser()
        _copy_tree(src, dest)
        return dest

    def delete_model(self, name: str, version: str | None = None) -> None:
        targets = [self.get_model(name, version)] if version is not None else self._model_versions(name)
        if not targets:
            raise NotFound(f"model {name!r} not found", "see `leafctl model list`")
        refs = {f"{m.name}:{m.version}" for m in targets}
        self._models().ensure_schema("endpoints", ENDPOINTS_SCHEMA)  # read in the same transaction below
        with self._models().tx() as conn:
            users = sorted(r["name"] for r in conn.execute("SELECT name, model FROM endpoints") if r["model"] in refs)
            if users:
                raise Conflict(f"model {name}{':' + version if version else ''} is deployed by endpoint "
                               f"{', '.join(users)}", f"delete the endpoint first: leafctl endpoint delete {users[0]} --yes")
            for m in targets:
                conn.execute("DELETE FROM models WHERE name = ? AND version = ?", (name, m.version))
        # Files after rows: a reader never sees a ready version without its files.
        for m in targets:
            shutil.rmtree(m.path or "", ignore_errors=True)
        if version is None:
            shutil.rmtree(self.ws / "models" / name, ignore_errors=True)
