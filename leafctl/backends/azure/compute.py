"""Compute on Azure: clusters (AmlCompute) and instances (ComputeInstance); get-or-create semantics."""

from __future__ import annotations

from typing import Any

from leafctl.backends.base import Compute
from leafctl.backends.azure.workspaces import _iso
from leafctl.backends.azure.client import lro
from leafctl.errors import Conflict, NotFound, UsageError

TIERS = {"dedicated": "dedicated", "low_priority": "low_priority", "lowpriority": "low_priority"}


def _str(value: Any) -> str | None:
    """Enum members (ProvisioningState.SUCCEEDED) as their value ('Succeeded')."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _extra(c: Any) -> dict[str, Any]:
    """The az ml fields beyond the typed ones that the service reports back (location, description, tags)."""
    out = {k: getattr(c, k, None) for k in ("location", "description")}
    out["tags"] = dict(getattr(c, "tags", None) or {})
    return {k: v for k, v in out.items() if v}


def compute_record(c: Any) -> Compute:
    kind = (getattr(c, "type", "") or "").lower()
    created = _iso(getattr(c, "created_on", None))
    if kind == "amlcompute":
        tier = TIERS.get((c.tier or "dedicated").replace("-", "_").lower(), "dedicated")
        return Compute(name=c.name, type="cluster", size=c.size, min_nodes=int(c.min_instances or 0),
                       max_nodes=int(c.max_instances or 1), idle_seconds=int(c.idle_time_before_scale_down or 0),
                       tier=tier, state=_str(c.provisioning_state) or "Succeeded", created_at=created, extra=_extra(c))
    if kind == "computeinstance":
        state = _str(getattr(c, "state", None)) or _str(c.provisioning_state) or "Succeeded"
        return Compute(name=c.name, type="instance", size=c.size, min_nodes=0, max_nodes=1, idle_seconds=0,
                       state=state, created_at=created, extra=_extra(c))
    return Compute(name=c.name, type=kind or "attached", size=getattr(c, "size", None),
                   state=_str(getattr(c, "provisioning_state", None)) or "Succeeded", created_at=created)


def _entity(spec: Compute) -> Any:
    """The azure-ai-ml entity: the record's whole az ml document (every carried field, as the spec gave it)."""
    if spec.type in ("cluster", "instance"):
        from leafctl.specs.compute import compute_entity

        return compute_entity(spec)
    if spec.type == "cluster":
        from azure.ai.ml.entities import AmlCompute

        return AmlCompute(name=spec.name, size=spec.size or "Standard_DS3_v2", min_instances=spec.min_nodes,
                          max_instances=spec.max_nodes, idle_time_before_scale_down=spec.idle_seconds,
                          tier="low_priority" if spec.tier == "low_priority" else "dedicated")
    if spec.type == "instance":
        from azure.ai.ml.entities import ComputeInstance

        return ComputeInstance(name=spec.name, size=spec.size or "Standard_DS3_v2")
    raise UsageError(f"compute type {spec.type!r} is not available on Azure", "use --type cluster or --type instance")


def _comparable(c: Compute) -> dict[str, Any]:
    spec = c.spec()
    spec["size"] = (spec["size"] or "").lower() or None
    if c.type == "instance":  # instances have no node counts or tier
        return {"type": spec["type"], "size": spec["size"]}
    return spec


class ComputeOps:
    def get_compute(self, name: str) -> Compute:
        return compute_record(self.client.compute.get(name))

    def list_computes(self) -> list[Compute]:
        return [compute_record(c) for c in self.client.compute.list()]

    def create_compute(self, compute: Compute, update: bool = False) -> Compute:
        from azure.core.exceptions import ResourceNotFoundError

        entity = _entity(compute)
        try:
            existing = compute_record(self.client.compute.get(compute.name))
        except ResourceNotFoundError:
            existing = None
        if existing is not None:
            want = _comparable(Compute(**{**compute.to_dict(), "size": compute.size or existing.size, "extra": {}}))
            have = _comparable(existing)
            if want == have:
                return existing
            diff = ", ".join(f"{k} {have.get(k)!r} -> {want.get(k)!r}" for k in want if want.get(k) != have.get(k))
            if not update:
                raise Conflict(f"compute '{compute.name}' already exists with a different spec ({diff})",
                               "pass --update to change it, or pick another name")
            if existing.type != compute.type or compute.type == "instance":
                raise Conflict(f"compute '{compute.name}' cannot be changed in place ({diff})",
                               "delete it first, or pick another name")
        return compute_record(lro(lambda: self.client.compute.begin_create_or_update(entity)))

    def delete_compute(self, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.client.compute.get(name)
        except ResourceNotFoundError:
            raise NotFound(f"compute '{name}' not found in workspace '{self.settings.workspace}'",
                           "see `leafctl compute list`") from None
        lro(lambda: self.client.compute.begin_delete(name))

    def _instance(self, name: str, verb: str) -> None:
        current = self.get_compute(name)
        if current.type != "instance":
            raise UsageError(f"compute '{name}' is a {current.type}; only instances can {verb}",
                             "clusters scale between min and max nodes on their own")

    def start_compute(self, name: str) -> Compute:
        self._instance(name, "start")
        lro(lambda: self.client.compute.begin_start(name))
        return self.get_compute(name)

    def stop_compute(self, name: str) -> Compute:
        self._instance(name, "stop")
        lro(lambda: self.client.compute.begin_stop(name))
        return self.get_compute(name)

    def list_sizes(self) -> list[dict[str, Any]]:
        sizes = self.client.compute.list_sizes(location=self.settings.location) if self.settings.location \
            else self.client.compute.list_sizes()
        from leafctl.backends.common import SIZES

        gpu_types = {n.lower(): t for n, _, _, _, t in SIZES if t}  # the VM sizes API does not name the GPU
        out = []
        for s in sizes:
            d = {k: v for k, v in vars(s).items() if v is not None}  # as_dict() wire names or snake_case, by version

            def pick(*keys: str) -> Any:
                return next((d[k] for k in keys if k in d), None)

            types = pick("supportedComputeTypes", "supported_compute_types") or []
            if isinstance(types, str):
                types = [t for t in types.split(",") if t]
            name = pick("name")
            out.append({"name": name, "vcpus": pick("vCPUs", "v_cp_us"), "memory_gb": pick("memoryGB", "memory_gb"),
                        "gpus": pick("gpus"), "gpu_type": gpu_types.get(str(name).lower()),  # same keys as local
                        "family": pick("family"), "low_priority_capable": pick("lowPriorityCapable", "low_priority_capable"),
                        "compute_types": list(types)})
        return out
