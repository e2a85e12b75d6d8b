"""The embedded local backend: a workspace is a folder with a SQLite registry, files and processes.

``$LEAFCTL_HOME/workspaces/<name>/``: ``registry.sqlite``, ``datastores/workspaceblobstore/``,
``runs/<run-id>/{snapshot,logs,outputs}``, ``models/<name>/<version>/``.
Each group of operations is a mixin in its own module; this class only composes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from leafctl.backends.local.compute import ComputeOps
from leafctl.backends.local.data import DataOps
from leafctl.backends.local.endpoints import EndpointOps
from leafctl.backends.local.environments import EnvOps
from leafctl.backends.local.models import ModelOps
from leafctl.backends.local.registry import Registry
from leafctl.backends.local.runs import RunOps
from leafctl.backends.local.workspaces import WorkspaceOps

if TYPE_CHECKING:
    from leafctl.profiles import Settings


class LocalBackend(WorkspaceOps, ComputeOps, DataOps, RunOps, ModelOps, EndpointOps, EnvOps):
    name = "local"

    def __init__(self, settings: Settings):
        from leafctl.profiles import data_home

        self.settings = settings
        self.home: Path = data_home()
        self.workspace_name: str = settings.workspace or "default"

    @property
    def ws(self) -> Path:
        """The current workspace's folder (created on first use by ``registry``)."""
        return self.home / "workspaces" / self.workspace_name

    _registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = self.open_workspace()
        return self._registry
