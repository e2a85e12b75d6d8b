"""The azure-identity credential for a profile's ``auth`` mode (imported only when a command needs Azure).

default            DefaultAzureCredential(exclude_interactive_browser_credential=True)
cli                AzureCliCredential (after `az login`)
managed-identity   ManagedIdentityCredential(client_id=profile client_id, for a user-assigned identity)
service-principal  ClientSecretCredential(tenant_id, client_id, the secret behind client_secret = "env:NAME")

Sign-in failures surface at the first request as ClientAuthenticationError / CredentialUnavailableError;
``leafctl.backends.azure.errors`` turns them into one AuthError line (exit 4) naming the mode and the fix,
except when the sign-in service could not be reached at all (DNS, refused, proxy down): that is exit 1,
"cannot reach Azure (<host>)", since no tenant or secret setting would fix it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leafctl.errors import UsageError

if TYPE_CHECKING:
    from leafctl.profiles import Settings


def credential(settings: Settings) -> Any:
    mode = settings.auth or "default"
    if mode == "default":
        from azure.identity import DefaultAzureCredential

        kwargs: dict[str, Any] = {"exclude_interactive_browser_credential": True}
        if settings.client_id:
            kwargs["managed_identity_client_id"] = settings.client_id
        if settings.tenant_id:
            kwargs["additionally_allowed_tenants"] = [settings.tenant_id]
        return DefaultAzureCredential(**kwargs)
    if mode == "cli":
        from azure.identity import AzureCliCredential

        return AzureCliCredential(tenant_id=settings.tenant_id) if settings.tenant_id else AzureCliCredential()
    if mode == "managed-identity":
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=settings.client_id) if settings.client_id else ManagedIdentityCredential()
    if mode == "service-principal":
        missing = [k for k in ("tenant_id", "client_id", "client_secret") if not settings.get(k)]
        if missing:
            raise UsageError(f"auth = \"service-principal\" needs {', '.join(missing)} in profile {settings.profile!r}",
                             f"leafctl config set {missing[0]} ...  (client_secret as env:NAME)")
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(settings.tenant_id, settings.client_id, settings.secret("client_secret"))
    raise UsageError(f"unknown auth mode {mode!r}", "use default, cli, managed-identity or service-principal")
