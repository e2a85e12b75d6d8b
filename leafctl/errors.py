"""One exception hierarchy; each class maps to a documented exit code.

Every error leafctl raises on purpose is a ``LeafctlError``. The CLI prints it as one line,
``error: <what> — <what to do>``, and exits with the class's ``exit_code``. Anything else is a bug
and is reported the same way (exit 1), with a traceback only under ``--debug``.
"""

from __future__ import annotations


class LeafctlError(Exception):
    """Base class. ``what`` says what went wrong, ``hint`` what to do about it."""

    exit_code = 1

    def __init__(self, what: str, hint: str | None = None):
        super().__init__(what)
        self.what = what
        self.hint = hint

    def line(self) -> str:
        text = f"error: {self.what}"
        if self.hint:
            text += f" — {self.hint}"
        # One line, always: a multi-line message from a library would break CI log parsing.
        return " ".join(text.split())


class OperationFailed(LeafctlError):
    """The operation ran and failed: a service error, a waited-for run that failed."""

    exit_code = 1


class UsageError(LeafctlError):
    """Bad flags, profile, spec or data file."""

    exit_code = 2


class NotFound(LeafctlError):
    exit_code = 3


class AuthError(LeafctlError):
    """Authentication or permission."""

    exit_code = 4


class Conflict(LeafctlError):
    """The thing already exists (with a different spec)."""

    exit_code = 5


class Interrupted(LeafctlError):
    exit_code = 130


EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_AUTH = 4
EXIT_CONFLICT = 5
EXIT_INTERRUPTED = 130
