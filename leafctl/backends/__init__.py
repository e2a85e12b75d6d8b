"""Backend selection. Implementations are imported lazily: the azure one costs ~0.75 s to import.

``BEFORE_AZURE``: checks run before anything first imports azure-ai-ml (the azure backend, or a spec's
validation by azure-ai-ml's loaders). The CLI registers "the selected profile can sign in", so that a
missing key or an unset ``env:`` secret is refused in milliseconds rather than after the SDK's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from leafctl.backends.base import Backend
    from leafctl.profiles import Settings

BEFORE_AZURE: list[Callable[[], None]] = []


def before_azure() -> None:
    """Run the registered checks (each raises a LeafctlError to refuse)."""
    for check in list(BEFORE_AZURE):
        check()


def get_backend(settings: Settings) -> Backend:
    if settings.backend == "azure":
        from leafctl.profiles import check_azure_ready

        check_azure_ready(settings)
        from leafctl.backends.azure import AzureBackend

        return AzureBackend(settings)
    from leafctl.backends.local import LocalBackend

    return LocalBackend(settings)
