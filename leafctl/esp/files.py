"""Atomic writes for the engine's files: a reader (or a resumed run) sees the old file or the new one,
never half of one; a full disk leaves the old file and no temporary behind. Only stdlib at import time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _drop(tmp: Path) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _drop(tmp)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic(Path(path), lambda fh: fh.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_savez(path: Path, **arrays: Any) -> None:
    import numpy as np  # noqa: PLC0415

    _atomic(Path(path), lambda fh: np.savez(fh, **arrays))


def file_sha256(path: str | Path) -> str:
    import hashlib  # noqa: PLC0415

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
