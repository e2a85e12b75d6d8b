"""The per-invocation state: global options, and the settings and backend built from them on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leafctl.backends.base import Backend
    from leafctl.profiles import Settings


@dataclass
class State:
    profile: str | None = None
    output: str | None = None
    query: str | None = None
    verbose: int = 0
    debug: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)  # the arguments after `leafctl`, as given
    _settings: Settings | None = None
    _backend: Backend | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            from leafctl.profiles import resolve

            self._settings = resolve(self.profile, self.overrides)
        return self._settings

    def command_line(self) -> str:
        """The leafctl command as the user gave it, redacted: what a record says was asked for
        (an evolve run's ``command``), rather than the job line leafctl made of it."""
        import shlex

        from leafctl.redact import redact

        return redact(shlex.join(["leafctl", *self.argv]))

    def backend(self) -> Backend:
        if self._backend is None:
            from leafctl.backends import get_backend

            self._backend = get_backend(self.settings())
        return self._backend


_current = State()


def current() -> State:
    return _current


def reset() -> State:
    global _current
    _current = State()
    return _current
