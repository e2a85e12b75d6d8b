"""One lazily created ``MLClient`` per invocation, built from the profile.

Test hook (the product never sets it): when ``LEAFCTL_AZURE_TRANSPORT=module:callable`` is set, the callable
is imported and called with no arguments and returns ``(transport, credential)``; the client is then
``MLClient(credential, sub, rg, ws, transport=transport, polling_interval=0, <fast retries>)``, so tests
drive the real azure-ai-ml serialisation and polling against an in-process fake (tests/azure/fake_arm.py).
A ``None`` credential means "the profile's credential, as in production".

The SDK is quiet here: its logging never reaches the user's stderr (it shows with -vv), and its
experimental-class/field and anonymous-registration lines never do, -vv included (``silence_sdk_noise``).
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


# azure-ai-ml's noise: lines it logs (never raises) while loading or building entities, that tell a leafctl
# user nothing they can act on: "Class X: This is an experimental class ..." (_utils/_experimental.py),
# "Field 'x': This is an experimental field ..." (_schema/core/fields.py) and "Warning: the provided asset
# name 'n' will not be used for anonymous registration" (_schema/assets/asset.py, environment.py).
NOISE = ("This is an experimental", "will not be used for anonymous registration")
NOISE_LOGGERS = ("azure.ai.ml._utils._experimental", "azure.ai.ml._schema.core.fields",
                 "azure.ai.ml._schema.assets.asset", "azure.ai.ml._schema.assets.environment")
_NOISE_FILTER: Any = None


def _noise_filter() -> Any:
    global _NOISE_FILTER
    if _NOISE_FILTER is None:
        class SdkNoiseFilter(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                try:
                    text = record.getMessage()
                except Exception:  # a malformed record is not ours to judge
                    return True
                return not any(n in text for n in NOISE)

        _NOISE_FILTER = SdkNoiseFilter()
    return _NOISE_FILTER


def silence_sdk_noise() -> None:
    """Drop azure-ai-ml's experimental-class/field and anonymous-registration lines, always (-vv too: they
    are not the SDK logs -vv asks for). Cheap, stdlib only, and safe before azure.ai.ml is imported: a
    filter on the very loggers that emit the lines acts before any handler sees them, and azure-ai-ml's
    import (which gives "azure.ai.ml" its own stderr handler and resets its level) never removes filters.
    The handlers that exist now (the SDK's own, -vv's) get it too, for any other logger saying the same."""
    flt = _noise_filter()
    for name in (*NOISE_LOGGERS, "azure.ai.ml", "azure"):
        logger = logging.getLogger(name)
        if flt not in logger.filters:
            logger.addFilter(flt)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.startswith(QUIET_LOGGERS):
            for h in logger.handlers:
                if flt not in h.filters:
                    h.addFilter(flt)
    warnings.filterwarnings("ignore", message=r".*(experimental|anonymous registration).*", category=Warning)


def quiet_sdk(verbose: int = 0) -> None:
    """Keep azure-ai-ml's warnings and logs off stderr (unless -vv), and its noise off always.

    azure.ai.ml is imported first: its import sets up its loggers (INFO, a stderr handler), which would
    otherwise undo what is configured here. Every caller is about to use it anyway."""
    from leafctl import redact

    silence_sdk_noise()
    import azure.ai.ml  # noqa: F401

    silence_sdk_noise()  # the handlers its import attached
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
