"""Helpers shared by every test folder (a plain module: `conftest` names clash across folders)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from dataclasses import dataclass


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self) -> str:  # shows up in assertion messages
        return f"Result(code={self.code}, stdout={self.stdout[-2000:]!r}, stderr={self.stderr[-2000:]!r})"


def assert_error(r: Result, code: int, *fragments: str) -> None:
    """A clean failure: the documented code, one `error:` line on stderr, no traceback."""
    assert r.code == code, r
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert lines, r
    for frag in fragments:
        assert frag.lower() in r.stderr.lower(), (frag, r)


def leafctl_executable() -> str:
    exe = Path(sys.executable).parent / "leafctl"
    return str(exe) if exe.exists() else (shutil.which("leafctl") or "leafctl")


def on_a_terminal(args: list[str], env: dict[str, str], wait: float = 120) -> tuple[int, bytes]:
    """Run leafctl with stdout and stderr on a pseudo-terminal; (exit code, everything it printed)."""
    import os  # noqa: PLC0415
    import pty  # noqa: PLC0415
    import select  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    master, slave = pty.openpty()
    p = subprocess.Popen([leafctl_executable(), *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], wait)
        if not ready:
            p.kill()
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=60), out
