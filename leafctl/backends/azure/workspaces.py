"""Workspaces on Azure: `az ml workspace create/show/list/delete` through azure-ai-ml."""

from __future__ import annotations

from typing import Any

from leafctl.backends.base import Workspace
from leafctl.backends.azure.client import lro
from leafctl.errors import Conflict, NotFound, UsageError


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def workspace_record(ws: Any, settings: Any) -> Workspace:
    return Workspace(
        name=ws.name,
        backend="azure",
        location=ws.location,
        resource_group=ws.resource_group or settings.resource_group,
        subscription_id=settings.subscription_id,
        id=ws.id,
        created_at=_iso(getattr(ws, "creation_time", None)),
        extra={k: v for k, v in {"display_name": getattr(ws, "display_name", None), "description": getattr(ws, "description", None),
                                 "tags": dict(getattr(ws, "tags", None) or {}) or None}.items() if v},
    )


class WorkspaceOps:
    def get_workspace(self, name: str | None = None) -> Workspace:
        return workspace_record(self.client.workspaces.get(name or self.settings.workspace), self.settings)

    def list_workspaces(self) -> list[Workspace]:
        return [workspace_record(w, self.settings) for w in self.client.workspaces.list()]

    def create_workspace(self, name: str, location: str | None = None, exist_ok: bool = True,
                         extra: dict[str, Any] | None = None) -> Workspace:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            existing = self.client.workspaces.get(name)
        except ResourceNotFoundError:
            existing = None
        if existing is not None:
            if not exist_ok:
                raise Conflict(f"workspace '{name}' already exists in resource group '{self.settings.resource_group}'",
                               "use it, or pick another name")
            if location and existing.location and existing.location.replace(" ", "").lower() != location.replace(" ", "").lower():
                raise Conflict(f"workspace '{name}' exists in {existing.location}, not {location}", "pick another name")
            return workspace_record(existing, self.settings)
        location = location or self.settings.location
        if not location:
            raise UsageError("an Azure workspace needs a location", "pass --location centralus or `leafctl config set location ...`")
        from leafctl.specs.workspace import workspace_entity

        # Like `az ml workspace create`: an ARM deployment that also creates storage, key vault and app insights
        # (or uses the ones the spec names); every carried field of the spec goes into azure-ai-ml's entity.
        entity = workspace_entity(name, location, extra)
        return workspace_record(lro(lambda: self.client.workspaces.begin_create(entity)), self.settings)

    def delete_workspace(self, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            lro(lambda: self.client.workspaces.begin_delete(name, delete_dependent_resources=False))
        except ResourceNotFoundError:
            raise NotFound(f"workspace '{name}' not found in resource group '{self.settings.resource_group}'",
                           "see `leafctl workspace list`") from None
