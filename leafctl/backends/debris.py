"""Temp files and folders that name the process that owns them, and the sweep that removes those of
processes that are gone.

A killed leafctl (SIGKILL, OOM, a closed laptop) cannot clean up after itself: its half-written
``.NAME.lfPID-START.XXXX.tmp`` files and ``.tmp-…``/``.trash-…`` folders stay behind. Every temp name
therefore carries an owner token, ``lf<pid>-<start>``: the process id plus its start time (clock ticks
since boot, from /proc; 0 where there is no /proc). The next command that writes into the same folder
removes the debris whose owner is no longer running. Because the start time is part of the token, a
recycled pid does not keep debris alive, and a live owner is never mistaken for a dead one: a temp of a
running process is never removed. Names without a token (a user's own ``.notes.tmp``) are never touched.

Only the stdlib is imported: this module is on the CLI's start-up path.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

_TOKEN = r"lf(\d+)-(\d+)"
# ``.NAME.<token>.<random>.tmp``: the temp file beside a file being written (atomic_copy, open_dest).
_FILE = re.compile(rf"^\..+\.{_TOKEN}\.[A-Za-z0-9_]+\.tmp$")
# ``.tmp-[LABEL-]<token>-<hex>`` (a model version being copied) and ``.trash-<token>-<hex>`` (being deleted).
_DIR = re.compile(rf"^\.(?:tmp|trash)-(?:.*-)?{_TOKEN}-[0-9a-f]+$")

_tokens: dict[int, str] = {}
_swept: set[tuple[int, int]] = set()


def _pid_exists(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate it there: assume alive, never sweep
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot; 0 where unknowable; None if it is not running
    (a zombie, killed but not yet reaped by its parent, counts as not running)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        if os.path.exists("/proc/self/stat"):
            return None  # Linux: no such process
        return 0 if _pid_exists(pid) else None
    except OSError:
        return 0 if _pid_exists(pid) else None
    fields = data.rpartition(b")")[2].split()  # the command name may hold spaces and ')'
    if not fields or fields[0] in (b"Z", b"X"):
        return None
    try:
        return int(fields[19])  # field 22 of /proc/PID/stat; fields[0] is field 3
    except (IndexError, ValueError):
        return 0


def owner_token() -> str:
    """This process's token, ``lf<pid>-<start>`` (per pid: a forked child gets its own)."""
    pid = os.getpid()
    if pid not in _tokens:
        _tokens[pid] = f"lf{pid}-{_start_time(pid) or 0}"
    return _tokens[pid]


def token_alive(token: str | None) -> bool | None:
    """Whether the process a token names still runs; None for something that is not a token."""
    m = re.fullmatch(_TOKEN, token or "")
    if not m:
        return None
    pid, start = int(m.group(1)), int(m.group(2))
    if pid == os.getpid():
        return True
    now = _start_time(pid)
    if now is None:
        return False
    return start == 0 or now == 0 or now == start  # a different start time: the pid was recycled


def temp_file_name(name: str) -> str:
    """A temp name to write ``name`` under, in the same folder: ``.NAME.<token>.<random>.tmp``."""
    return f".{name[:180]}.{owner_token()}.{os.urandom(4).hex()}.tmp"


def temp_file_prefix(name: str) -> str:
    """The ``prefix`` for ``tempfile.mkstemp(prefix=..., suffix=".tmp")`` giving the same shape."""
    return f".{name[:180]}.{owner_token()}."


def temp_dir(parent: Path, kind: str, label: str = "") -> Path:
    """``parent/.KIND-[LABEL-]<token>-<hex>`` (not created); ``kind`` is "tmp" or "trash"."""
    return Path(parent) / f".{kind}-{label + '-' if label else ''}{owner_token()}-{uuid.uuid4().hex}"


def _dead(name: str, is_dir: bool) -> bool:
    m = (_DIR if is_dir else _FILE).match(name)
    return bool(m) and token_alive(f"lf{m.group(1)}-{m.group(2)}") is False


def sweep_debris(folder: Path | int) -> int:
    """Remove, directly in ``folder`` (a path, or an open folder descriptor), the temp files and folders
    of leafctl processes that are gone; returns how many. Never raises: cleaning is best effort."""
    removed = 0
    try:
        with os.scandir(folder) as it:
            entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    except OSError:
        return 0
    for name, is_dir in entries:
        if not _dead(name, is_dir):
            continue
        try:
            if is_dir:
                if isinstance(folder, int):
                    shutil.rmtree(name, dir_fd=folder)
                else:
                    shutil.rmtree(Path(folder) / name)
            elif isinstance(folder, int):
                os.unlink(name, dir_fd=folder)
            else:
                os.unlink(Path(folder) / name)
            removed += 1
        except OSError:
            pass  # another sweeper was first, or it is not ours to remove after all
    return removed


def sweep_once(folder: Path | int) -> None:
    """``sweep_debris`` the first time this process writes into ``folder``: a copy of many files into one
    folder lists it once, not once per file."""
    try:
        st = os.fstat(folder) if isinstance(folder, int) else os.stat(folder)
    except OSError:
        return
    key = (st.st_dev, st.st_ino)
    if key not in _swept:
        _swept.add(key)
        sweep_debris(folder)
