"""One lazily created ``MLClient`` per invocation, built from the profile.

Test hook (the product never sets it): when ``LEAFCTL_AZURE_TRANSPORT=module:callable`` is set, the callable
is imported and called with no arguments and returns ``(transport, credential)``; the client is then
``MLClient(credential, sub, rg, ws, transport=transport, polling_interval=0, <fast retries>)``, so tests
drive the real azure-ai-ml serialisation and polling against an in-process fake (tests/azure/fake_arm.py).
A ``None`` credential means "the profile's credential, as in production".

The SDK is quiet here: its experimental-class warnings and logging never reach the user's stderr (they
show with -vv).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import warnings
from typing import TYPE_CHECKING, Any, Callable

from leafctl.errors import UsageError

if TYPE_CHECKING:
    from leafctl.profiles import Settings

HOOK_ENV = "LEAFCTL_AZURE_TRANSPORT"
QUIET_LOGGERS = ("azure", "azure.ai.ml", "azure.identity", "azure.core", "msal", "urllib3", "opentelemetry")

# Retries for 408/429/500/502/503/504 are azure-core's RetryPolicy; these are its knobs.
RETRY = {"retry_total": 4, "retry_backoff_factor": 0.8, "retry_backoff_max": 30}
TEST_RETRY = {"retry_total": 3, "retry_backoff_factor": 0.0, "retry_backoff_max": 0}


def quiet_sdk(verbose: int = 0) -> None:
    """Keep azure-ai-ml's warnings and logs off stderr (unless -vv)."""
    from leafctl import redact

    if redact.sdk_logging_enabled():  # -vv was given: it wins over every caller's default
        verbose = max(verbose, 2)
    level = logging.DEBUG if verbose >= 2 else logging.CRITICAL
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
    # azure-ai-ml modules give their own loggers an INFO level and a stderr handler at import time
    # (e.g. LRO progress dots); quiet every such logger that exists now.
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.startswith(QUIET_LOGGERS) and logger.level != logging.NOTSET:
            logger.setLevel(level)
    if verbose >= 2:
        redact.guard_handlers()  # the SDK's own stderr handlers print through the redaction too
    if verbose < 2:
        for mod in ("azure", "marshmallow", "msal", "opentelemetry", "pydash"):
            warnings.filterwarnings("ignore", module=mod)
        warnings.filterwarnings("ignore", message=r".*experimental.*", category=Warning)
        warnings.filterwarnings("ignore", category=FutureWarning)


def _hook() -> tuple[Any, Any] | None:
    spec = os.environ.get(HOOK_ENV)
    if not spec:
        return None
    mod, sep, attr = spec.partition(":")
    if not sep:
        raise UsageError(f"{HOOK_ENV} must be module:callable, got {spec!r}", "unset it (it is a test hook)")
    return getattr(importlib.import_module(mod), attr)()


def build_client(settings: Settings, verbose: int = 0) -> Any:
    missing = [k for k in ("subscription_id", "resource_group", "workspace") if not settings.get(k)]
    if missing:
        raise UsageError(f"profile {settings.profile!r} uses the azure backend but has no {', '.join(missing)}",
                         f"leafctl config set {missing[0]} ... --profile {settings.profile}")
    quiet_sdk(verbose)
    from azure.ai.ml import MLClient
    from azure.ai.ml._utils import _endpoint_utils, _package_utils  # noqa: F401  (their loggers, then quiet them)

    quiet_sdk(verbose)

    kwargs: dict[str, Any] = {"show_progress": False, "enable_telemetry": False, **RETRY}
    hooked = _hook()
    cred = None
    if hooked is not None:
        transport, cred = hooked
        kwargs.update(transport=transport, polling_interval=0, **TEST_RETRY)
    if cred is None:
        from leafctl.backends.azure.auth import credential

        cred = credential(settings)
    return MLClient(cred, settings.subscription_id, settings.resource_group, settings.workspace, **kwargs)


def lro(start: Callable[[], Any]) -> Any:
    """Start a long-running operation and wait for it. azure-ai-ml's AzureMLPolling prints a progress dot
    to stdout on every poll; stdout is data (JSON for scripts), so those dots go nowhere."""
    with contextlib.redirect_stdout(io.StringIO()):
        return start().result()
