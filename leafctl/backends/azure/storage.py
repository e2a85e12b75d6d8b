"""``data upload / download / ls`` on Azure: a datastore resolved through MLClient, bytes moved by transfer.py.

The blob endpoint comes from the datastore record (account, container, endpoint suffix, protocol); the
profile key ``blob_endpoint`` overrides it (e.g. ``http://127.0.0.1:10000/devstoreaccount1`` for the
Azurite emulator). The credential: the account key (fetched with the datastore's secrets), the SAS
token, or, for an identity-based datastore, the profile's own Azure credential. It lives only in the
client object, never in a message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leafctl.backends.base import FileEntry, Progress, TransferResult
from leafctl.backends.common import clean_store_path, format_uri, parse_uri
from leafctl.errors import NotFound, UsageError


def parse_any_uri(uri: str) -> tuple[str, str] | None:
    """Short ``azureml://datastores/<ds>/paths/<p>`` or the long form with subscriptions/.../workspaces/<ws>/."""
    short = parse_uri(uri)
    if short:
        return short
    import re

    m = re.match(r"^azureml://subscriptions/[^/]+/resource[gG]roups/[^/]+/(?:providers/[^/]+/)?workspaces/[^/]+"
                 r"/datastores/(?P<ds>[^/]+)/paths/?(?P<path>.*)$", uri)
    return (m.group("ds"), m.group("path")) if m else None


class StorageOps:
    """Mixin for AzureBackend: needs ``self.client`` (MLClient) and ``self.settings``."""

    _containers: dict[str, Any] | None = None

    def _datastore_name(self, datastore: str | None) -> str:
        if datastore:
            return datastore
        if self.settings.get("datastore"):
            return self.settings.get("datastore")
        return self._default_datastore_name()  # DatastoreOps

    def _account_url(self, ds: Any) -> str:
        override = self.settings.get("blob_endpoint")
        if override:
            return str(override).rstrip("/")
        protocol = getattr(ds, "protocol", None) or "https"
        suffix = getattr(ds, "endpoint", None) or "core.windows.net"
        return f"{protocol}://{ds.account_name}.blob.{suffix}"

    def _blob_credential(self, ds: Any) -> Any:
        creds = getattr(ds, "credentials", None)
        kind = type(creds).__name__
        from leafctl import redact

        for attr in ("account_key", "sas_token", "client_secret"):  # fetched from the service: mask them too
            redact.remember(getattr(creds, attr, None))
        if kind == "AccountKeyConfiguration" and getattr(creds, "account_key", None):
            return {"account_name": ds.account_name, "account_key": creds.account_key}
        if kind == "SasTokenConfiguration" and getattr(creds, "sas_token", None):
            return creds.sas_token
        if kind in ("AccountKeyConfiguration", "SasTokenConfiguration"):
            raise UsageError(f"datastore {ds.name!r} returned no {kind[:-13].lower()} secret",
                             "check that you may list the datastore's secrets (or make it identity-based)")
        if kind == "ServicePrincipalConfiguration":
            from azure.identity import ClientSecretCredential

            return ClientSecretCredential(creds.tenant_id, creds.client_id, creds.client_secret)
        # Identity-based datastore: the signed-in user's (or the profile's) own credential.
        return self.client._credential

    def container(self, datastore: str | None = None) -> tuple[str, Any]:
        """(datastore name, ContainerClient) for a blob or ADLS Gen2 datastore."""
        from leafctl.backends.azure import transfer

        name = self._datastore_name(datastore)
        if self._containers is None:
            self._containers = {}
        if name not in self._containers:
            ds = self.client.datastores.get(name, include_secrets=True)
            raw = str(getattr(getattr(ds, "type", ""), "value", getattr(ds, "type", ""))).lower()
            container = getattr(ds, "container_name", None) or getattr(ds, "filesystem", None)
            if "blob" not in raw and "datalakegen2" not in raw.replace("_", "") or not container:
                raise UsageError(f"datastore {name!r} is {raw or 'of an unknown type'}; leafctl moves files only "
                                 "through blob and ADLS Gen2 datastores", "choose another --datastore")
            self._containers[name] = transfer.container_client(self._account_url(ds), container,
                                                               self._blob_credential(ds))
        return name, self._containers[name]

    def _locate(self, path: str, datastore: str | None) -> tuple[str, Any, str]:
        parsed = parse_any_uri(path or "")
        if parsed:
            datastore, path = parsed
        name, cc = self.container(datastore)
        return name, cc, clean_store_path(path)

    def upload(self, src: Path, dest: str, datastore: str | None = None, progress: Progress | None = None,
               follow_links: bool = False) -> TransferResult:
        from leafctl.backends.azure import transfer

        src = Path(src).expanduser()
        if not src.exists():
            raise NotFound(f"local path {str(src)!r} does not exist", "check the path")
        name, cc, rel = self._locate(dest or "", datastore)
        if (dest or "").endswith("/") and rel:
            rel += "/"
        links: list[str] = []  # symlinks in a folder: left out and reported, as on the local backend
        try:
            rel, items = transfer.plan_upload(src, rel, lambda: transfer.is_folder(cc, rel), links, follow_links)
        except Exception as e:
            raise transfer.storage_error(e, cc, "upload failed") from e
        prefix = rel if len(items) == 1 and not src.is_dir() else rel + "/"
        counts = transfer.upload_items(cc, items, prefix, progress, f"upload {src.name}")
        return TransferResult(datastore=name, path=rel, uri=format_uri(name, rel), files=counts.files,
                              skipped=counts.skipped, bytes=counts.bytes, links_skipped=links)

    def download(self, path: str, dest: Path, datastore: str | None = None, progress: Progress | None = None) -> TransferResult:
        from leafctl.backends.azure import transfer

        name, cc, rel = self._locate(path, datastore)
        try:
            blobs, base = transfer.list_under(cc, rel)
        except Exception as e:
            raise transfer.storage_error(e, cc, "download failed") from e
        if not blobs:
            raise NotFound(f"{rel or '/'!r} not found in datastore {name!r}", "see `leafctl data ls`")
        dest = Path(dest).expanduser()
        counts = transfer.download_blobs(cc, blobs, base, dest, progress, f"download {rel or name}")
        return TransferResult(datastore=name, path=str(dest), uri=str(dest), files=counts.files,
                              skipped=counts.skipped, bytes=counts.bytes)

    def ls(self, path: str = "", datastore: str | None = None) -> list[FileEntry]:
        from leafctl.backends.azure import transfer

        name, cc, rel = self._locate(path, datastore)
        try:
            blobs, _ = transfer.list_under(cc, rel)
        except Exception as e:
            raise transfer.storage_error(e, cc, "listing failed") from e
        if rel and not blobs:
            raise NotFound(f"{rel!r} not found in datastore {name!r}", "see `leafctl data ls`")
        return transfer.entries(blobs)
