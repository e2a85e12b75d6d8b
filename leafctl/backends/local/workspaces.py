"""Local workspaces: folders under ``$LEAFCTL_HOME/workspaces/``, each with its own registry.

The workspace named ``default`` springs into existence on first use, so a fresh install works with
no setup; any other workspace must be created first, so a typo in a profile is reported, not
silently turned into a new empty workspace.

Nor is a workspace whose registry is gone: a missing or 0-byte ``registry.sqlite`` beside models or runs
(or a 0-byte one beside datastore files), or an SQLite file there without leafctl's tables, is refused
with OperationFailed, because a fresh registry would hand out version 1 again and overwrite the existing
model files. A corrupt one is refused by Registry.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from leafctl.backends.base import Workspace
from leafctl.backends.common import check_name, now_iso
from leafctl.backends.local.registry import Registry
from leafctl.errors import Conflict, LeafctlError, NotFound, OperationFailed, UsageError

DEFAULT_WORKSPACE = "default"
DEFAULT_DATASTORE = "workspaceblobstore"

_SCHEMA = "CREATE TABLE IF NOT EXISTS workspace_meta (key TEXT PRIMARY KEY, value TEXT)"


def _has_entries(folder: Path) -> bool:
    try:
        with os.scandir(folder) as it:
            return any(True for _ in it)
    except OSError:
        return False


def check_registry(root: Path) -> None:
    """Refuse a workspace folder whose registry is missing or empty while it holds content.

    Models and runs are only ever written after their registry rows, so content there without a
    registry (or beside an SQLite file without leafctl's tables) means the registry was lost. Datastore
    files count only beside a 0-byte registry: the default datastore can be written to before the
    registry is first created.
    """
    reg = root / "registry.sqlite"
    try:
        size: int | None = reg.stat().st_size
    except (FileNotFoundError, NotADirectoryError):  # no registry (a file above it: the mkdir reports that)
        size = None
    models, runs = _has_entries(root / "models"), _has_entries(root / "runs")
    if size:
        if not (models or runs):
            return  # SQLite itself tells a corrupt file apart (Registry raises OperationFailed)
        # A readable SQLite file that lacks leafctl's tables (emptied, or another database copied over
        # it) would be filled with new ones and hand out version 1 again: it is lost all the same.
        tables = Registry(reg).tables()
        needed = [t for t, used in (("workspace_meta", True), ("models", models), ("runs", runs)) if used]
        missing = [t for t in needed if t not in tables]
        if not missing:
            return
        state = f"not leafctl's registry (no {', '.join(missing)} table)"
    elif not (models or runs or (size == 0 and _has_entries(root / "datastores" / DEFAULT_DATASTORE))):
        return  # a new workspace, or one never used: creating its registry is right
    else:
        state = "missing" if size is None else "empty (0 bytes)"
    raise OperationFailed(f"the workspace registry {reg} is {state} but workspace {root.name!r} holds models, runs or data",
                          "restore registry.sqlite from a backup; leafctl will not start a new registry over existing "
                          "files (move the workspace folder away to start afresh)")


class WorkspaceOps:
    home: Path
    workspace_name: str
    _registry: Registry | None

    def _ws_dir(self, name: str) -> Path:
        return self.home / "workspaces" / name

    def _ws_exists(self, name: str) -> bool:
        return (self._ws_dir(name) / "registry.sqlite").exists()

    def _init_ws(self, name: str, location: str | None = None, extra: dict | None = None) -> Registry:
        """Create (or complete) a workspace's layout; safe to run concurrently and repeatedly."""
        root = self._ws_dir(name)
        check_registry(root)
        try:
            for sub in (f"datastores/{DEFAULT_DATASTORE}", "runs", "models"):
                (root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create workspace folder {root}: {e.strerror or e}",
                             "set LEAFCTL_HOME (or XDG_DATA_HOME) to a folder you can write to") from None
        reg = Registry(root / "registry.sqlite")
        reg.ensure_schema("workspace", _SCHEMA)
        with reg.tx() as conn:
            # INSERT OR IGNORE: the first creator's timestamp and location win.
            conn.execute("INSERT OR IGNORE INTO workspace_meta VALUES ('created_at', ?)", (now_iso(),))
            if location:
                conn.execute("INSERT OR IGNORE INTO workspace_meta VALUES ('location', ?)", (location,))
            if extra:  # the az ml fields beyond name and location, as the spec gave them
                import json

                conn.execute("INSERT OR IGNORE INTO workspace_meta VALUES ('spec', ?)", (json.dumps(extra, sort_keys=True),))
        return reg

    def open_workspace(self) -> Registry:
        name = check_name("workspace", self.workspace_name)
        check_registry(self._ws_dir(name))
        if self._ws_exists(name):
            return Registry(self._ws_dir(name) / "registry.sqlite")
        if name == DEFAULT_WORKSPACE:
            return self._init_ws(name)
        raise NotFound(f"workspace {name!r} does not exist in {self.home / 'workspaces'}",
                       f"create it with `leafctl workspace create {name}`")

    def _ws_record(self, name: str) -> Workspace:
        import sqlite3

        reg = Registry(self._ws_dir(name) / "registry.sqlite")
        try:  # read only: listing workspaces must not queue behind writers
            meta = {r["key"]: r["value"] for r in reg.query("SELECT key, value FROM workspace_meta")}
        except (sqlite3.OperationalError, LeafctlError):  # no table yet, or an unreadable registry
            meta = {}
        finally:
            reg.close()
        import json

        return Workspace(name=name, backend="local", location=meta.get("location"),
                         path=str(self._ws_dir(name)), created_at=meta.get("created_at"),
                         extra=json.loads(meta["spec"]) if meta.get("spec") else {})

    def create_workspace(self, name: str, location: str | None = None, exist_ok: bool = True,
                         extra: dict | None = None) -> Workspace:
        check_name("workspace", name)
        if self._ws_exists(name) and not exist_ok:
            raise Conflict(f"workspace {name!r} already exists", "use it as it is, or delete it first")
        self._init_ws(name, location, extra).close()
        return self._ws_record(name)

    def get_workspace(self, name: str | None = None) -> Workspace:
        name = check_name("workspace", name or self.workspace_name)
        if not self._ws_exists(name):
            if name != DEFAULT_WORKSPACE:
                raise NotFound(f"workspace {name!r} not found", f"create it with `leafctl workspace create {name}`")
            self._init_ws(name).close()
        return self._ws_record(name)

    def list_workspaces(self) -> list[Workspace]:
        root = self.home / "workspaces"
        names = {p.name for p in root.iterdir() if (p / "registry.sqlite").exists()} if root.is_dir() else set()
        names.add(DEFAULT_WORKSPACE)  # always usable: it is created on first use
        return [self.get_workspace(n) for n in sorted(names)]

    def delete_workspace(self, name: str) -> None:
        check_name("workspace", name)
        if not self._ws_exists(name):
            raise NotFound(f"workspace {name!r} not found", "see `leafctl workspace list`")
        if name == self.workspace_name and self._registry is not None:
            self._registry.close()
            self._registry = None
        shutil.rmtree(self._ws_dir(name))
