"""The Azure backend: the same records as the local one, from a real Azure ML workspace via azure-ai-ml.

Each group of operations is a mixin in its own module; this class composes them, builds one ``MLClient``
lazily (client.py) and maps SDK exceptions onto leafctl's exit codes for every Backend method (errors.py).
Importing this package imports no azure module: that happens when a command first touches ``client``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leafctl.backends.azure.assets import AssetOps
from leafctl.backends.azure.compute import ComputeOps
from leafctl.backends.azure.datastores import DatastoreOps
from leafctl.backends.azure.endpoints import EndpointOps
from leafctl.backends.azure.errors import wrap_backend
from leafctl.backends.azure.jobs import JobOps
from leafctl.backends.azure.models import ModelOps
from leafctl.backends.azure.storage import StorageOps
from leafctl.backends.azure.workspaces import WorkspaceOps

if TYPE_CHECKING:
    from leafctl.profiles import Settings


@wrap_backend
class AzureBackend(WorkspaceOps, ComputeOps, DatastoreOps, AssetOps, ModelOps, EndpointOps, StorageOps, JobOps):
    name = "azure"

    def __init__(self, settings: Settings):
        from leafctl.backends.azure.client import silence_sdk_noise

        silence_sdk_noise()  # before any entity is built: azure-ai-ml's experimental/anonymous lines never show
        self.settings = settings
        self.auth_mode: str = settings.auth or "default"
        self._client: Any = None
        self._default_ds: str | None = None

    @property
    def client(self) -> Any:
        """The MLClient, built on first use (sign-in happens at the first request)."""
        if self._client is None:
            from leafctl.backends.azure.client import build_client

            self._client = build_client(self.settings)
        return self._client
