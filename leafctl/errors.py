"""One exception hierarchy; each class maps to a documented exit code.

Every error leafctl raises on purpose is a ``LeafctlError``. The CLI prints it as one line,
``error: <what> — <what to do>``, and exits with the class's ``exit_code``. A stdlib failure that
escapes (a full disk, a permission, a file that is not UTF-8) is mapped by ``from_exception`` below;
anything else is a bug, reported the same way (exit 1, "unexpected"), with a traceback only under ``--debug``.
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


# ---------------------------------------------------------------- stdlib exceptions -> documented errors
#
# The code that knows which file it was reading says so itself (profiles.py, the evolve TOML loader, the
# model loader). This is the net under all of them: an OSError, a decode error, a corrupt SQLite file
# or a runaway nesting that still escapes becomes a documented error with the right exit code, never
# "unexpected" (which is reserved for real bugs).


def _short_name(name: object, limit: int = 120) -> str:
    """A file name fit for one line: the real name for an atomic write's temp file (``.out.csv.k2j4x9ab.tmp``
    is ``out.csv`` to the user), the middle of a very long one elided."""
    import re

    text = re.sub(r"(^|/)\.([^/]+?)\.(?:lf\d+-\d+\.)?(?:[A-Za-z0-9_]{8}\.)?tmp$", r"\1\2", str(name))
    return text if len(text) <= limit else f"{text[:limit // 2]}...{text[-limit // 2:]}"


def from_exception(e: BaseException, registry: object = None) -> LeafctlError | None:
    """The documented error for a stdlib exception, or None when ``e`` is not one we understand.

    ``registry``: the registry file being used, when the caller knows it (named in the corrupt message).
    """
    import errno

    if isinstance(e, LeafctlError):
        return e
    if isinstance(e, OSError) and e.errno is not None:
        # os.replace(temp, dest) fails with both names: dest (filename2) is the one the user knows.
        name = e.filename2 or e.filename
        where = f" {_short_name(name)}" if name else ""
        if e.errno in (errno.EACCES, errno.EPERM):
            return AuthError(f"permission denied:{where or ' a file leafctl needs'}",
                             "check that file's and its folder's permissions (or run as their owner)")
        if e.errno == errno.EROFS:  # a read-only mount is the same to the user as a folder they may not write
            return AuthError(f"cannot write{where}: the file system is read-only", "write somewhere else")
        if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            # True: every leafctl write goes to a temp file renamed into place, and the temp file is removed.
            return OperationFailed(f"the disk is full{' (writing' + where + ')' if where else ''}",
                                   "free space and run again; nothing was lost")
        if e.errno == errno.ENAMETOOLONG:
            longest = max(str(name or "").split("/"), key=len)
            return UsageError(f"file name too long: a name of {len(longest)} characters in{where}",
                              "use shorter names (at most 255 characters each)")
        if e.errno == errno.ENOENT:
            return NotFound(f"no such file or folder:{where}", "check the path")
        if e.errno in (errno.ENOTDIR, errno.EISDIR):  # a path given or configured that cannot work
            return UsageError(f"cannot use{where}: {e.strerror}", "a file stands where a folder is needed, or the other way round")
        if e.errno == errno.EEXIST:
            return Conflict(f"cannot create{where}: it already exists", "remove it or choose another name")
        return OperationFailed(f"{e.strerror or type(e).__name__}:{where}".rstrip(":"), "check the path and run again")
    if isinstance(e, UnicodeDecodeError):
        return UsageError(f"input is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})",
                          "save the file as UTF-8 and run again")
    if isinstance(e, RecursionError):
        return UsageError("the input is nested too deeply to read", "flatten the file (fewer nested [ or { levels)")
    if isinstance(e, MemoryError):
        return OperationFailed("out of memory", "use a smaller input or a machine with more memory")
    import sqlite3
    import tomllib

    if isinstance(e, tomllib.TOMLDecodeError):
        return UsageError(f"invalid TOML: {e}", "fix the file")
    if isinstance(e, sqlite3.DatabaseError):
        what = f"the registry {registry}" if registry else "the local registry"
        msg = str(e)
        if "locked" in msg or "busy" in msg:
            return OperationFailed(f"{what} is busy: {msg}", "another leafctl is writing it; run again")
        if "disk is full" in msg or "database or disk is full" in msg:
            return OperationFailed(f"the disk is full ({what})", "free space and run again; nothing was lost")
        if "readonly" in msg or "read-only" in msg:
            import os

            shm = f"{registry}-shm"
            if registry and os.path.exists(shm) and not os.access(shm, os.W_OK):  # left by an older read-only open
                return AuthError(f"{what} cannot be written: its shared-memory file {shm} is read-only",
                                 "make it writable, or remove registry.sqlite-shm and -wal while no leafctl runs")
            return AuthError(f"{what} is read-only", "check the permissions of the workspace folder")
        if "unable to open" in msg:
            return OperationFailed(f"cannot open {what}", "check that its folder exists and may be written")
        return OperationFailed(f"{what} is corrupt ({msg})",
                               "restore it from a backup, or move it away to start an empty workspace")
    return None
