"""Map azure-core / azure-ai-ml exceptions onto leafctl's errors (one line, a documented exit code).

A connection that never got an answer (DNS, refused, timed out, proxy down; azure-identity wraps these in
ClientAuthenticationError) -> OperationFailed (exit 1) "cannot reach Azure (<host>)", checked first;
ClientAuthenticationError (incl. azure-identity's CredentialUnavailableError) and HTTP 401/403 -> AuthError
(exit 4); ResourceNotFoundError / 404 -> NotFound (3); ResourceExistsError / 409 -> Conflict (5); any other
HttpResponseError -> OperationFailed (1); azure-ai-ml's ValidationException and marshmallow errors ->
UsageError (2). ``wrap_backend`` applies the mapping to every Backend method of a class, so the mixins
(and teammates' mixins) stay free of try/except boilerplate.
"""

from __future__ import annotations

import functools
import inspect
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from leafctl.errors import AuthError, Conflict, LeafctlError, NotFound, OperationFailed, UsageError

AUTH_HINTS = {
    "default": "run `az login` (DefaultAzureCredential tried environment variables, workload and managed identity, "
               "the Azure CLI, PowerShell and the developer CLI), or set auth = \"service-principal\" with tenant_id, "
               "client_id and client_secret = \"env:NAME\" in the profile",
    "cli": "run `az login` (and `az account set -s <subscription>`), or choose another auth mode with "
           "`leafctl config set auth default`",
    "managed-identity": "run on an Azure host with a managed identity (set client_id for a user-assigned one), "
                        "or `leafctl config set auth cli` after `az login`",
    "service-principal": "check tenant_id, client_id and the variable that client_secret names, "
                         "or `leafctl config set auth cli` after `az login`",
}

# REST collection name -> what users call it.
_KINDS = {
    "computes": "compute", "datastores": "datastore", "models": "model", "data": "data asset",
    "environments": "environment", "batchendpoints": "endpoint", "deployments": "deployment",
    "workspaces": "workspace", "jobs": "run", "codes": "code asset", "components": "component",
}


def _short(text: str) -> str:
    text = " ".join((text or "").split())
    # azure-core appends "Code: X Message: Y" after the first line; keep the first statement only.
    text = re.split(r"\s(?:Code|Message|Target|Additional Information|Exception Details):", text)[0]
    return text[:400]


def _what_from_url(url: str | None) -> str | None:
    if not url:
        return None
    path = url.split("?", 1)[0]
    m = re.search(r"/providers/Microsoft\.MachineLearningServices/(.+)$", path, re.I)
    if not m:
        return None
    segs = [s for s in m.group(1).split("/") if s]
    if len(segs) % 2:
        segs = segs[:-1]
    if len(segs) < 2:
        return None
    if segs[-2].lower() == "versions" and len(segs) >= 4:
        kind = _KINDS.get(segs[-4].lower(), segs[-4])
        return f"{kind} '{segs[-3]}' version {segs[-1]}"
    kind = _KINDS.get(segs[-2].lower(), segs[-2])
    where = f" in workspace '{segs[1]}'" if len(segs) > 2 and segs[0].lower() == "workspaces" else ""
    return f"{kind} '{segs[-1]}'{where}"


def _status(e: Exception) -> int | None:
    code = getattr(e, "status_code", None)
    if code is None and getattr(e, "response", None) is not None:
        code = getattr(e.response, "status_code", None)
    return code


def _service_message(e: Exception) -> str:
    err = getattr(e, "error", None)
    if err is not None and getattr(err, "message", None):
        code = getattr(err, "code", None)
        return _short(f"{err.message} ({code})" if code else err.message)
    return _short(getattr(e, "message", None) or str(e))


def translate(e: BaseException, auth: str = "default") -> LeafctlError | None:
    """The leafctl error for an SDK exception, or None when ``e`` is not one we know."""
    if isinstance(e, LeafctlError):
        return e
    try:
        from azure.core import exceptions as ce
    except ImportError:  # pragma: no cover
        return None
    # Before the sign-in mapping: azure-identity wraps "no route / DNS / proxy down" in a
    # ClientAuthenticationError, and "check tenant_id" would send people after the wrong problem.
    if _status(e) is None and (unreachable := _unreachable(e, auth)) is not None:
        return unreachable
    if isinstance(e, ce.ClientAuthenticationError) and _status(e) not in (403,):
        if _status(e) == 401:
            return AuthError(f"Azure rejected the credential (HTTP 401): {_service_message(e)}", AUTH_HINTS.get(auth))
        return AuthError(f"could not sign in to Azure with auth = \"{auth}\": {_short(getattr(e, 'message', None) or str(e))}",
                         AUTH_HINTS.get(auth))
    if isinstance(e, ce.HttpResponseError):
        status = _status(e)
        url = None
        resp = getattr(e, "response", None)
        if resp is not None and getattr(resp, "request", None) is not None:
            url = resp.request.url
        what = _what_from_url(url)
        msg = _service_message(e)
        if status == 403:
            return AuthError(f"permission denied{' on ' + what if what else ''} (HTTP 403): {msg}",
                             "ask for a role such as AzureML Data Scientist on the workspace, or check subscription_id "
                             "and resource_group in the profile")
        if status == 401:
            return AuthError(f"Azure rejected the credential (HTTP 401): {msg}", AUTH_HINTS.get(auth))
        if isinstance(e, ce.ResourceNotFoundError) or status == 404:
            return NotFound(f"{what or 'resource'} not found", "check the name with the matching `list` command")
        if isinstance(e, ce.ResourceExistsError) or status == 409:
            return Conflict(f"{what or 'resource'} already exists or is busy: {msg}", "pick another name or delete it first")
        if status == 400:
            return UsageError(f"Azure ML rejected the request{' for ' + what if what else ''}: {msg}", "fix the values and retry")
        return OperationFailed(f"Azure ML request failed{' for ' + what if what else ''} (HTTP {status}): {msg}",
                               "retry later; rerun with --debug for details")
    if isinstance(e, ce.ServiceRequestError):
        return OperationFailed(f"could not reach Azure: {_short(str(e))}", "check the network connection and proxy settings")
    from azure.ai.ml.exceptions import MlException, ValidationErrorType, ValidationException

    if isinstance(e, MlException):
        # azure-ai-ml re-raises with a decorated copy of the message; the cause says what really happened.
        for cause in _causes(e):
            if isinstance(cause, ce.HttpResponseError):
                return translate(cause, auth)
        for cause in [e, *_causes(e)]:
            if isinstance(cause, ValidationException):
                msg = _plain_message(cause)
                if getattr(cause, "error_type", None) == ValidationErrorType.RESOURCE_NOT_FOUND or "does not exist" in msg:
                    return NotFound(msg.rstrip("."), "check the name with the matching `list` command")
                return UsageError(f"invalid input: {msg}", "fix the value and retry")
        return OperationFailed(f"Azure ML: {_plain_message(e)}", "rerun with --debug for details")
    if isinstance(e, ce.AzureError):
        return OperationFailed(f"Azure call failed: {_short(str(e))}", "rerun with --debug for details")
    try:
        from marshmallow import ValidationError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(e, ValidationError):
        return UsageError(f"invalid spec: {_short(str(e.messages))}", "fix the listed fields")
    return None


def _linked(e: BaseException) -> list[BaseException]:
    """``e`` and every exception wrapped inside it: causes and contexts, azure-core's
    ``inner_exception``, and what requests/urllib3 keep in ``args``, ``reason`` and ``original_error``."""
    out: list[BaseException] = []
    todo: list[Any] = [e]
    seen: set[int] = set()
    while todo and len(out) < 64:
        cur = todo.pop(0)
        if not isinstance(cur, BaseException) or id(cur) in seen:
            continue
        seen.add(id(cur))
        out.append(cur)
        todo += [cur.__cause__, cur.__context__, getattr(cur, "inner_exception", None),
                 getattr(cur, "reason", None), getattr(cur, "original_error", None), *cur.args]
    return out


def _unreachable(e: BaseException, auth: str = "default") -> OperationFailed | None:
    """OperationFailed "cannot reach Azure (<host>)" when a connection never got an answer (DNS, refused,
    timed out, unroutable, proxy down) anywhere in ``e``'s chain; None otherwise. Names only host
    names: URLs carry tenant ids, and proxy URLs can carry a password."""
    import os
    import socket
    from urllib.parse import urlsplit

    from azure.core.exceptions import ServiceRequestError

    network: list[type] = [ServiceRequestError, socket.gaierror, ConnectionRefusedError]
    proxy_types: list[type] = []
    try:
        import requests.exceptions as rq

        network.append(rq.ConnectionError)
        proxy_types.append(rq.ProxyError)
    except ImportError:  # pragma: no cover
        pass
    try:
        import urllib3.exceptions as u3

        network += [u3.NewConnectionError, u3.ConnectTimeoutError]
        proxy_types.append(u3.ProxyError)
    except ImportError:  # pragma: no cover
        pass
    chain = _linked(e)
    if not any(isinstance(x, tuple(network)) for x in chain):
        return None
    # "Unavailable" is azure-identity's verdict that a way of signing in does not apply here (e.g.
    # no managed identity endpoint off Azure): a sign-in problem, whatever connection failed inside it.
    if any(type(x).__name__ == "CredentialUnavailableError" for x in chain):
        return None
    failed = None  # the host whose connection failed: the Azure host itself, or the proxy
    for x in chain:
        conn = getattr(x, "conn", None) or getattr(x, "pool", None)
        if getattr(conn, "host", None):
            failed = f"{conn.host}:{conn.port}" if getattr(conn, "port", None) else conn.host
            break
    via_proxy = any(isinstance(x, tuple(proxy_types)) for x in chain)
    if not via_proxy:
        where = failed.removesuffix(":443") if failed else "its endpoint"
    else:
        # A proxy error does not say which host was asked for; a sign-in asks the authority host.
        signing_in = any(type(x).__name__ == "ClientAuthenticationError" for x in chain) and auth != "managed-identity"
        authority = urlsplit(os.environ.get("AZURE_AUTHORITY_HOST") or "https://login.microsoftonline.com")
        target = (authority.hostname or authority.path) if signing_in else None
        where = " ".join(p for p in (target, f"through proxy {failed}" if failed else "through the proxy") if p)
    if any(isinstance(x, socket.gaierror) for x in chain) or "failed to resolve" in " ".join(map(str, chain)).lower():
        name = (failed or "").rsplit(":", 1)[0]
        reason = f"cannot resolve {name}" if name else "a host name does not resolve"
    elif any(isinstance(x, ConnectionRefusedError) for x in chain):
        reason = "connection refused"
    elif any("timed out" in str(x).lower() for x in chain):
        reason = "the connection timed out"
    else:
        reason = "no connection"
    return OperationFailed(f"cannot reach Azure ({where}): {reason}",
                           "check the network or proxy" + (" (HTTPS_PROXY, NO_PROXY)" if via_proxy else ""))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _plain_message(e: BaseException) -> str:
    text = _ANSI.sub("", str(getattr(e, "message", None) or e))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # The decorated form: "1) Resource was not found. / Details: / (x) <the real message> / Resolutions: ..."
    for ln in lines:
        if ln.startswith("(x)"):
            return _short(ln[3:])
    return _short(" ".join(lines))


def _causes(e: BaseException) -> list[BaseException]:
    out, seen, cur = [], {id(e)}, e
    while True:
        cur = cur.__cause__ or cur.__context__
        if cur is None or id(cur) in seen:
            return out
        seen.add(id(cur))
        out.append(cur)


@contextmanager
def sdk_errors(auth: str = "default") -> Iterator[None]:
    try:
        yield
    except LeafctlError:
        raise
    except Exception as e:
        mapped = translate(e, auth)
        if mapped is None:
            raise
        raise mapped from e


def _wrap(fn: Callable) -> Callable:
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(self: Any, *args: Any, **kwargs: Any):
            with sdk_errors(self.auth_mode):
                yield from fn(self, *args, **kwargs)
        return gen

    @functools.wraps(fn)
    def call(self: Any, *args: Any, **kwargs: Any):
        with sdk_errors(self.auth_mode):
            result = fn(self, *args, **kwargs)
        if inspect.isgenerator(result):
            return _mapped_iter(result, self.auth_mode)
        return result
    return call


def _mapped_iter(it: Iterator, auth: str) -> Iterator:
    with sdk_errors(auth):
        yield from it


def wrap_backend(cls: type) -> type:
    """Apply the mapping to every public method the Backend protocol names."""
    from leafctl.backends.base import Backend

    names = [n for n, v in vars(Backend).items() if callable(v) and not n.startswith("_")]
    for name in names:
        fn = getattr(cls, name, None)
        if fn is not None and not getattr(fn, "_leaf_wrapped", False):
            wrapped = _wrap(fn)
            wrapped._leaf_wrapped = True  # type: ignore[attr-defined]
            setattr(cls, name, wrapped)
    return cls
