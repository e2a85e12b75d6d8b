"""Local distributed launch: ``python -m leafctl.backends.local.launch KIND N PER -- PROGRAM ARGS...``.

A command job with ``distribution: pytorch`` or ``tensorflow`` runs as N = instance_count x
process_count_per_instance processes of the same command on this machine (tensorflow: N = worker_count),
each with the environment Azure ML gives a rank:

- pytorch: MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, NODE_RANK (and LOCAL_WORLD_SIZE),
  what ``torch.distributed.init_process_group("env://")`` reads;
- tensorflow: TF_CONFIG with N workers on local ports, ``task.index`` = the rank.

(``distribution: mpi`` runs under ``mpiexec -n N`` instead, see ``mpiexec_argv``.) The supervisor runs this
launcher as the run's one child, in its own process group, so cancel and ``limits.timeout`` reach every
rank. The exit code is the first non-zero exit code of a rank, else 0.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys

MPI_HINT = "pip install 'leafctl[mpi]' (mpi4py and the MPICH wheel), or put an MPI's mpiexec on PATH"


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def rank_env(kind: str, rank: int, n: int, per: int, ports: list[int]) -> dict[str, str]:
    if kind == "pytorch":
        return {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(ports[0]), "WORLD_SIZE": str(n), "RANK": str(rank),
                "LOCAL_RANK": str(rank % per), "NODE_RANK": str(rank // per), "LOCAL_WORLD_SIZE": str(per),
                "GROUP_RANK": str(rank // per)}
    if kind == "tensorflow":
        cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
        return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": rank}})}
    raise ValueError(kind)


def find_mpiexec(path: str | None = None) -> str | None:
    """mpiexec on PATH (with this interpreter's bin folder first, where the mpich wheel puts it)."""
    bindir = os.path.dirname(sys.executable)
    return shutil.which("mpiexec", path=bindir + os.pathsep + (path if path is not None else os.environ.get("PATH", "")))


def mpiexec_argv(mpiexec: str, n: int, program: list[str]) -> list[str]:
    """``mpiexec -n N PROGRAM``: MPICH's hydra runs as root without extra flags; Open MPI needs two."""
    argv = [mpiexec, "-n", str(n)]
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    if "Open MPI" in out or "OpenRTE" in out:
        argv += ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    return argv + program


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    kind, n, per = args[0], int(args[1]), int(args[2])
    program = args[args.index("--") + 1:]
    ports = free_ports(n)
    children: list[subprocess.Popen] = []

    def stop(signum, frame):
        for c in children:
            if c.poll() is None:
                c.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    for rank in range(n):
        children.append(subprocess.Popen(program, env={**os.environ, **rank_env(kind, rank, n, per, ports)}))
    rc = 0
    for c in children:
        code = c.wait()
        code = code if code >= 0 else 128 - code
        rc = rc or code
    return rc


if __name__ == "__main__":
    sys.exit(main())
