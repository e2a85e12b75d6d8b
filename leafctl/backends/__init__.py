"""Backend selection. Implementations are imported lazily: the azure one costs ~0.75 s to import."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leafctl.backends.base import Backend
    from leafctl.profiles import Settings


def get_backend(settings: Settings) -> Backend:
    if settings.backend == "azure":
        from leafctl.backends.azure import AzureBackend

        return AzureBackend(settings)
    from leafctl.backends.local import LocalBackend

    return LocalBackend(settings)
