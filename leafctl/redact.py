"""Keep secrets out of everything leafctl prints: error lines, ``--debug`` tracebacks, ``-vv`` SDK logs.

Two nets, because neither alone is enough:
- patterns: a SAS query string (``...?sv=...&sig=...``), ``sig=`` / ``AccountKey=`` /
  ``SharedAccessSignature=`` / ``client_secret=`` pairs, ``"accountKey": "..."`` fields and bearer tokens,
  whatever produced them (azure-core, requests and urllib3 quote request URLs in their exceptions);
- values: the secrets this invocation can know about, i.e. the variables every ``env:NAME`` reference
  (in the config file, on the command line, as another variable's value, in a spec file) names, the
  standard Azure credential variables, and what the code ``remember()``-ed at the moment it fetched
  one (a datastore's SAS token or key).

Stdlib only and cheap: cli/main.py imports it on every run (start-up time matters for completion).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

MASK = "<redacted>"

# Variables that hold credentials by convention (azure-identity, azure-storage, the az CLI).
STANDARD_SECRET_VARS = ("AZURE_CLIENT_SECRET", "AZURE_PASSWORD", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
                        "AZURE_STORAGE_CONNECTION_STRING", "AZURE_CLIENT_CERTIFICATE_PASSWORD")
MIN_SECRET = 6  # shorter values ("1", "yes") would blank out ordinary words


class _Lazy:
    """A regex compiled on first use: compiling them all would cost every start-up (every Tab press)
    milliseconds, for the rare run that prints an error."""

    def __init__(self, pattern: str):
        self.pattern, self._rx = pattern, None

    def __getattr__(self, name: str) -> Any:
        if self._rx is None:
            self._rx = re.compile(self.pattern)
        return getattr(self._rx, name)

_REF = _Lazy(r"env:([A-Za-z_][A-Za-z0-9_]*)")
# (?!env:) below: an ``env:NAME`` reference is not a secret, and hints quote it on purpose.
# A URL's query string that carries a SAS signature: the whole query goes (se/sp/sv alone reveal little,
# but a half-redacted token invites someone to "fix" it by pasting the rest).
_SAS_QUERY = _Lazy(r"(?P<base>(?:https?://|/)[^\s?'\"<>]*)\?(?P<q>[^\s'\"<>]*)")
_PAIR = _Lazy(r"(?i)\b(?P<k>sig|signature|AccountKey|SharedAccessKey|SharedAccessSignature|client_secret|"
                   r"client_assertion|password|access_token|refresh_token|sas_token|sasToken)=(?!env:)(?P<v>[^&\s;'\"<>,]+)")
_FIELD = _Lazy(r"(?i)(?P<k>[\"']?(?:account_?key|sas_?token|client_?secret|password|key1|key2|access_?token|"
                    r"refresh_?token)[\"']?\s*[:=]\s*[\"'])(?!env:)(?P<v>[^\"']+)")
_BEARER = _Lazy(r"(?i)\b(Bearer|SharedKey|SharedAccessSignature)\s+[A-Za-z0-9._~+/=:%-]{8,}")

_remembered: set[str] = set()
_known: set[str] | None = None


def reset() -> None:
    """Forget this invocation's secrets (each CLI run, in-process test runs included, starts clean)."""
    global _known, _sdk_logging
    _known = None
    _remembered.clear()
    if _sdk_logging:  # a previous in-process run's -vv must not leak into this one
        import logging

        _sdk_logging = False
        for name in SDK_LOGGERS:
            logging.getLogger(name).removeHandler(_handler())
            logging.getLogger(name).setLevel(logging.NOTSET)


def remember(secret: Any) -> None:
    """Mask this value too from now on: call it where a secret is fetched (e.g. a datastore's SAS token)."""
    if isinstance(secret, str) and len(secret) >= MIN_SECRET:
        from urllib.parse import quote, unquote

        _remembered.update(v for v in (secret, secret.lstrip("?"), unquote(secret), quote(secret, safe=""))
                           if len(v) >= MIN_SECRET)
        m = _PAIR.search(secret)  # a SAS token's signature is the part that matters most
        if m and len(m.group("v")) >= MIN_SECRET:
            _remembered.update({m.group("v"), unquote(m.group("v"))})


def remember_refs(text: str) -> None:
    """Mask the values of the variables that the ``env:NAME`` references in ``text`` name: call it on
    a spec file as it is read (``environment_variables: {TOK: env:SP_SECRET}``)."""
    for name in set(_REF.findall(text)):
        remember(os.environ.get(name))


def _gather() -> set[str]:
    """The values of every variable an ``env:NAME`` reference names, in the config file, on the
    command line or as the value of another variable (``LEAFCTL_CLIENT_SECRET=env:SP_SECRET``), plus
    the standard credential variables. Read with a regex, not a TOML parser: a broken config file must
    not stop its secrets from being masked in the error that reports it."""
    names = set(STANDARD_SECRET_VARS)
    for arg in sys.argv[1:]:
        names.update(_REF.findall(arg))
    for value in os.environ.values():
        m = _REF.fullmatch(value.strip())
        if m:
            names.add(m.group(1))
    try:
        from leafctl.profiles import config_path

        with open(config_path(), "rb") as f:
            names.update(_REF.findall(f.read(1 << 20).decode("utf-8", "replace")))
    except Exception:  # unreadable, missing, a folder: nothing to learn there
        pass
    return {os.environ[n] for n in names if len(os.environ.get(n, "")) >= MIN_SECRET}


def _values() -> list[str]:
    global _known
    if _known is None:
        _known = _gather()
    # Longest first: a secret that contains another is masked whole.
    return sorted(_known | _remembered, key=len, reverse=True)


def _query(m: re.Match) -> str:
    q = m.group("q")
    if re.search(r"(?i)(?:^|&)(?:sig|sv|se|skoid|sktid)=", q):
        return f"{m.group('base')}?{MASK}"
    return m.group(0)


def redact(text: str) -> str:
    """``text`` with every secret we can recognise replaced by ``<redacted>``."""
    if not text:
        return text
    for value in _values():
        if value in text:
            text = text.replace(value, MASK)
    text = _SAS_QUERY.sub(_query, text)
    text = _PAIR.sub(lambda m: f"{m.group('k')}={MASK}", text)
    text = _FIELD.sub(lambda m: f"{m.group('k')}{MASK}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)


# ---------------------------------------------------------------- -vv: the Azure SDK's own logs

SDK_LOGGERS = ("azure", "msal")
_sdk_logging = False


def sdk_logging_enabled() -> bool:
    return _sdk_logging


def enable_sdk_logging() -> None:
    """``-vv``: the Azure SDK's logs (request URLs, headers, retries) on stderr, redacted.

    backends/azure/client.py's quiet_sdk() checks sdk_logging_enabled() so it cannot silence them again.
    """
    global _sdk_logging
    import logging

    _sdk_logging = True
    handler = _handler()
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        if handler not in logger.handlers:
            logger.addHandler(handler)


def guard_handlers() -> None:
    """Add the redacting filter to every handler an SDK module attached to its own logger (azure-ai-ml
    gives some modules a stderr handler at import time): no log line leaves unredacted."""
    import logging

    flt = _filter()
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.startswith(SDK_LOGGERS):
            for h in logger.handlers:
                if flt not in h.filters:
                    h.addFilter(flt)


_HANDLER: Any = None
_FILTER: Any = None


def _filter() -> Any:
    global _FILTER
    if _FILTER is None:
        import logging

        class RedactingFilter(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                record.msg, record.args = redact(record.getMessage()), None
                if record.exc_info and not record.exc_text:
                    record.exc_text = logging.Formatter().formatException(record.exc_info)
                if record.exc_text:
                    record.exc_text = redact(record.exc_text)
                return True

        _FILTER = RedactingFilter()
    return _FILTER


def _handler() -> Any:
    global _HANDLER
    if _HANDLER is None:
        import logging

        class StderrHandler(logging.StreamHandler):
            """Writes to the sys.stderr of the moment (test runners swap it), never a stale one."""

            @property  # type: ignore[override]
            def stream(self):  # noqa: D401
                return sys.stderr

            @stream.setter
            def stream(self, value):
                pass

        _HANDLER = StderrHandler()
        _HANDLER.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        _HANDLER.addFilter(_filter())
    return _HANDLER
