"""Datastore records on Azure: blob (account key or SAS) and ADLS Gen2 (service principal).

Secrets arrive as ``env:NAME`` references and are resolved only here, at the moment of the request; a
literal is refused (exit 2) so that keys never land in shell history, profiles or CI logs.
"""

from __future__ import annotations

from typing import Any

from leafctl.backends.base import Datastore, DatastoreSpec
from leafctl.errors import Conflict, UsageError
from leafctl.profiles import is_reference, resolve_secret

TYPES = {"azureblob": "azure_blob", "azure_blob": "azure_blob", "azuredatalakegen2": "azure_data_lake_gen2",
         "azure_data_lake_gen2": "azure_data_lake_gen2", "azurefile": "azure_file", "azure_file": "azure_file",
         "azuredatalakegen1": "azure_data_lake_gen1", "azure_data_lake_gen1": "azure_data_lake_gen1"}


def _credential_kind(creds: Any) -> str:
    name = type(creds).__name__ if creds is not None else ""
    return {"AccountKeyConfiguration": "account_key", "SasTokenConfiguration": "sas",
            "ServicePrincipalConfiguration": "service_principal", "CertificateConfiguration": "certificate"}.get(name, "none")


def datastore_record(ds: Any, default_name: str | None = None) -> Datastore:
    raw = getattr(ds, "type", "")
    raw = str(getattr(raw, "value", raw)).lower().replace(" ", "")
    kind = TYPES.get(raw, raw)
    container = getattr(ds, "container_name", None) or getattr(ds, "filesystem", None) or getattr(ds, "file_share_name", None)
    return Datastore(name=ds.name, type=kind, account_name=getattr(ds, "account_name", None), container_name=container,
                     endpoint=getattr(ds, "endpoint", None), credential=_credential_kind(getattr(ds, "credentials", None)),
                     is_default=bool(default_name and ds.name == default_name), description=getattr(ds, "description", None),
                     tags=dict(getattr(ds, "tags", None) or {}))


def _secret(value: str | None, flag: str) -> str:
    if not value:
        raise UsageError(f"{flag} is required for this datastore", f"pass {flag} env:NAME (the variable holds the secret)")
    if not is_reference(value):
        raise UsageError(f"{flag} must be a reference to an environment variable, not a literal secret",
                         f"export the secret and pass {flag} env:NAME")
    return resolve_secret(value, flag.lstrip("-").replace("-", "_")) or ""


def datastore_entity(spec: DatastoreSpec) -> Any:
    from azure.ai.ml import entities as e

    common: dict[str, Any] = {"name": spec.name, "account_name": spec.account_name, "protocol": spec.protocol or "https",
                              "description": spec.description, "tags": dict(spec.tags or {})}
    if spec.endpoint:
        common["endpoint"] = spec.endpoint
    if not spec.account_name:
        raise UsageError("an Azure datastore needs --account-name", "the storage account that holds the container")
    if not spec.container_name:
        raise UsageError("an Azure datastore needs --container-name", "the blob container or ADLS Gen2 filesystem")
    if spec.type == "azure_blob":
        if spec.account_key and spec.sas_token:
            raise UsageError("give --account-key or --sas-token, not both", "one credential per datastore")
        if spec.account_key:
            creds: Any = e.AccountKeyConfiguration(account_key=_secret(spec.account_key, "--account-key"))
        elif spec.sas_token:
            creds = e.SasTokenConfiguration(sas_token=_secret(spec.sas_token, "--sas-token"))
        else:
            creds = None  # identity-based access
        return e.AzureBlobDatastore(container_name=spec.container_name, credentials=creds, **common)
    if spec.type == "azure_data_lake_gen2":
        creds = None
        if spec.client_id or spec.client_secret or spec.tenant_id:
            if not (spec.tenant_id and spec.client_id):
                raise UsageError("a service principal needs --tenant-id and --client-id", "and --client-secret env:NAME")
            creds = e.ServicePrincipalConfiguration(tenant_id=spec.tenant_id, client_id=spec.client_id,
                                                    client_secret=_secret(spec.client_secret, "--client-secret"))
        return e.AzureDataLakeGen2Datastore(filesystem=spec.container_name, credentials=creds, **common)
    raise UsageError(f"datastore type {spec.type!r} is not available on Azure", "use azure_blob or azure_data_lake_gen2")


class DatastoreOps:
    def _default_datastore_name(self) -> str:
        if getattr(self, "_default_ds", None) is None:
            self._default_ds = self.client.datastores.get_default().name
        return self._default_ds

    def create_datastore(self, spec: DatastoreSpec) -> Datastore:
        from azure.core.exceptions import ResourceNotFoundError

        entity = datastore_entity(spec)
        try:
            existing = datastore_record(self.client.datastores.get(spec.name))
        except ResourceNotFoundError:
            existing = None
        if existing is not None:
            wanted = datastore_record(entity)
            keys = ("type", "account_name", "container_name", "credential")
            diff = [f"{k} {getattr(existing, k)!r} -> {getattr(wanted, k)!r}" for k in keys if getattr(existing, k) != getattr(wanted, k)]
            if diff:
                raise Conflict(f"datastore '{spec.name}' already exists with a different spec ({', '.join(diff)})",
                               "delete it first, or pick another name")
        # Same spec: write it again, which also rotates the secret behind the reference.
        return datastore_record(self.client.datastores.create_or_update(entity), self._default_datastore_name())

    def get_datastore(self, name: str | None = None) -> Datastore:
        if name is None:
            ds = self.client.datastores.get_default()
            return datastore_record(ds, ds.name)
        return datastore_record(self.client.datastores.get(name), self._default_datastore_name())

    def list_datastores(self) -> list[Datastore]:
        items = list(self.client.datastores.list())
        default = next((d.name for d in items if getattr(d, "_is_default", False)), None) or self._default_datastore_name()
        return [datastore_record(d, default) for d in items]

    def delete_datastore(self, name: str) -> None:
        if name == self._default_datastore_name():
            raise UsageError(f"'{name}' is the workspace's default datastore", "it cannot be deleted")
        self.client.datastores.get(name)  # NotFound (exit 3) rather than a silent no-op
        self.client.datastores.delete(name)
