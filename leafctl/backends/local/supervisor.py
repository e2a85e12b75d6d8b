"""The detached process that supervises one local run: ``python -m leafctl.backends.local.supervisor WS RUN_ID``.

Life: hold the run's lock (inherited from the submitter, see ``runstate``) -> wait for a free slot on
the run's compute -> mark Running -> run the command in the snapshot (leafctl's own jobs as an argv,
without a shell; a user's command with ``bash -c``), output to ``logs/std_log.txt`` -> record exit code
and Completed | Failed | Canceled. SIGTERM (``run cancel``) stops the command's whole process group.
Slots are claimed inside one write transaction that counts the compute's Running runs, so concurrent
supervisors never exceed ``max_nodes``; Queued runs start in submission order.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from leafctl.backends.local import runstate

GRACE = 10.0  # seconds between SIGTERM and SIGKILL on cancel
POLL = 0.1


def _backend(ws: Path):
    """A LocalBackend for the workspace folder, without reading any profile (the submitter already did)."""
    from leafctl.backends.local import LocalBackend
    from leafctl.profiles import ConfigFile, Settings

    settings = Settings(profile="supervisor", values={"backend": "local", "workspace": ws.name}, sources={},
                        config=ConfigFile(path=ws / "none.toml"))
    b = LocalBackend(settings)
    b.home = ws.parent.parent
    return b


def _slots(backend, name: str) -> int | None:
    """Free-slot capacity of a compute, or None while it cannot run anything (stopped, creating)."""
    c = backend.get_compute(name)
    if c.type == "local":
        return os.cpu_count() or 1
    if c.state not in ("Succeeded", "Running"):
        return None
    return max(int(c.max_nodes or 0), 0)


def _secs(value) -> str:
    v = float(value)
    return f"{int(v)} s" if v.is_integer() else f"{v} s"


class Supervisor:
    def __init__(self, ws: Path, run_id: str):
        self.ws, self.run_id = ws, run_id
        self.backend = _backend(ws)
        self.reg = runstate.ensure(self.backend.registry)
        self.rdir = runstate.run_dir(ws, run_id)
        self.child: subprocess.Popen | None = None
        self.cancel = False
        self.timed_out = False  # limits.timeout passed: the command was stopped

    def row(self):
        return self.reg.one("SELECT * FROM runs WHERE id=?", (self.run_id,))

    def on_term(self, signum, frame) -> None:
        self.cancel = True
        self._stop_child(signal.SIGTERM)

    def _stop_child(self, sig: int) -> None:
        if self.child is not None and self.child.poll() is None:
            try:
                os.killpg(self.child.pid, sig)
            except OSError:
                pass

    def finish(self, status: str, exit_code: int | None = None, error: str | None = None) -> None:
        with self.reg.tx() as conn:
            conn.execute("UPDATE runs SET status=?, exit_code=?, error=?, ended_at=? WHERE id=? AND status IN ('Queued','Running')",
                         (status, exit_code, error, runstate.now(), self.run_id))

    # -- waiting for a slot --------------------------------------------------------------------------

    def claim(self, compute: str) -> str:
        """Try to take a slot. Returns 'claimed', 'wait', or 'gone' (the run is no longer Queued)."""
        # Runs whose supervisors died must not hold slots or block the queue (only those can affect us:
        # the Running ones and the Queued ones ahead).
        for other in self.reg.query("SELECT * FROM runs WHERE compute=? AND (status='Running' OR (status='Queued' AND seq <"
                                    " (SELECT seq FROM runs WHERE id=?)))", (compute, self.run_id)):
            runstate.reap(self.reg, self.ws, other)
        slots = _slots(self.backend, compute)
        with self.reg.tx() as conn:
            me = conn.execute("SELECT seq, status FROM runs WHERE id=?", (self.run_id,)).fetchone()
            if me is None or me["status"] != "Queued":
                return "gone"
            if slots is None:
                return "wait"
            running = conn.execute("SELECT COUNT(*) FROM runs WHERE compute=? AND status='Running'", (compute,)).fetchone()[0]
            ahead = conn.execute("SELECT COUNT(*) FROM runs WHERE compute=? AND status='Queued' AND seq<?",
                                 (compute, me["seq"])).fetchone()[0]
            if running + ahead >= slots:
                return "wait"
            conn.execute("UPDATE runs SET status='Running', pid=?, started_at=? WHERE id=?",
                         (os.getpid(), runstate.now(), self.run_id))
            return "claimed"

    def wait_for_slot(self, compute: str) -> bool:
        from leafctl.errors import NotFound

        delay = POLL
        while not self.cancel:
            try:
                state = self.claim(compute)
            except NotFound:
                self.finish("Failed", error=f"compute {compute!r} no longer exists")
                return False
            if state == "claimed":
                return True
            if state == "gone":
                return False
            time.sleep(delay)
            delay = min(delay * 1.2, 1.0)  # many queued supervisors should not hammer SQLite
        self.finish("Canceled", error="canceled by user")
        return False

    # -- running -------------------------------------------------------------------------------------

    def environ(self, row, spec: dict) -> dict[str, str]:
        env = dict(os.environ)
        # Locally the job's environment is leafctl's own interpreter: put it first on PATH for `python ...`.
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        for k, v in spec.get("env_vars", {}).items():
            # env:NAME values are references, resolved only here so the secret is never written anywhere.
            env[k] = os.environ.get(v[4:], "") if v.startswith("env:") else v
        outputs = self.rdir / "outputs"
        env.update({
            "AZUREML_RUN_ID": self.run_id,
            "AZUREML_EXPERIMENT_NAME": row["experiment"] or "",
            "AZUREML_COMPUTE": row["compute"],
            "AZUREML_CR_EXECUTION_WORKING_DIR_PATH": str(self.rdir / "snapshot"),
            "LEAFCTL_RUN_ID": self.run_id,
            "LEAFCTL_OUTPUTS": str(outputs),
        })
        for name, path in spec.get("resolved_inputs", {}).items():
            env[f"AZURE_ML_INPUT_{name}"] = path
        for name, path in spec.get("outputs", {}).items():
            env[f"AZURE_ML_OUTPUT_{name}"] = path
        return env

    def execute(self) -> None:
        row = self.row()
        spec = json.loads(row["spec"] or "{}")
        if self.cancel:  # SIGTERM arrived while we claimed the slot: never start the command
            self.finish("Canceled", error="canceled by user")
            return
        with open(self.rdir / "logs" / "std_log.txt", "ab", buffering=0) as log:
            try:
                # leafctl's own jobs carry an argv and need no shell; a user's command is bash -c, with
                # every substituted value already quoted (runs from before argv existed have none).
                argv = spec.get("argv") or ["bash", "-c", row["command"]]
                self.child = subprocess.Popen(
                    argv, cwd=str(self.rdir / "snapshot"), env=self.environ(row, spec),
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, so cancel reaches every descendant
                )
            except OSError as e:
                self.finish("Failed", error=f"could not start the command: {e}")
                return
            with self.reg.tx() as conn:
                conn.execute("UPDATE runs SET child_pid=? WHERE id=?", (self.child.pid, self.run_id))
            if self.cancel:  # SIGTERM arrived between the claim and the start
                self._stop_child(signal.SIGTERM)
            rc = self._wait_child(spec.get("timeout"))
        if self.timed_out:
            self.finish("Failed", exit_code=rc, error=f"the run exceeded its limits.timeout of {_secs(spec['timeout'])} and was stopped")
        elif self.cancel:
            self.finish("Canceled", exit_code=rc, error="canceled by user")
        elif rc == 0:
            err = self._copy_destinations(spec)
            self.finish("Failed" if err else "Completed", exit_code=0, error=err)
        else:
            self.finish("Failed", exit_code=rc, error=f"the command exited with code {rc}")

    def _wait_child(self, timeout: float | None = None) -> int:
        assert self.child is not None
        term_at = None
        deadline = time.monotonic() + float(timeout) if timeout else None
        while True:
            if deadline is not None and not self.timed_out and time.monotonic() >= deadline:
                self.timed_out = self.cancel = True  # limits.timeout: stopped like a cancel, recorded as Failed
                self._stop_child(signal.SIGTERM)
            try:
                rc = self.child.wait(timeout=0.5 if deadline is None else max(0.01, min(0.5, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                pass
            # A cancel flagged in the registry counts even if our SIGTERM was lost.
            if not self.cancel and self.row()["cancel_requested"]:
                self.on_term(signal.SIGTERM, None)
            if self.cancel:
                term_at = term_at or time.monotonic()
                if time.monotonic() - term_at > GRACE:
                    self._stop_child(signal.SIGKILL)
        # A negative code is a signal: report it as a shell would (128 + n).
        return rc if rc >= 0 else 128 - rc

    def _copy_destinations(self, spec: dict) -> str | None:
        # The same destination rule as every download: nothing is written through a symlink that sits
        # in DEST, and nothing lands outside it.
        from leafctl.backends.common import copy_tree_into
        from leafctl.errors import LeafctlError

        for name, dest in spec.get("destinations", {}).items():
            try:
                copy_tree_into(Path(spec["outputs"][name]), Path(dest))
            except (OSError, LeafctlError) as e:
                return f"could not copy output {name!r} to {dest}: {getattr(e, 'what', e)}"
        return None

    def main(self) -> int:
        signal.signal(signal.SIGTERM, self.on_term)
        row = self.row()
        if row is None:
            return 1
        if self.wait_for_slot(row["compute"]):
            self.execute()
        return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="leafctl-supervisor")
    ap.add_argument("ws", type=Path)
    ap.add_argument("run_id")
    ap.add_argument("--lock-fd", type=int, default=None)
    a = ap.parse_args(argv)
    if a.lock_fd is not None:
        fd = a.lock_fd  # already locked by the submitter; we keep it open (and locked) until we exit
        os.set_inheritable(fd, False)
    else:  # started by hand: take the lock ourselves, or leave if another supervisor has it
        fd = os.open(runstate.lock_path(a.ws, a.run_id), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print(f"run {a.run_id} already has a supervisor", file=sys.stderr)
            return 1
    sup = Supervisor(a.ws.resolve(), a.run_id)
    try:
        return sup.main()
    except Exception as e:  # record why, rather than leaving the run for a reader to call "supervisor died"
        import traceback

        traceback.print_exc()
        try:
            sup._stop_child(signal.SIGKILL)
            sup.finish("Failed", error=f"supervisor error: {type(e).__name__}: {e}")
        except Exception:
            pass
        return 1


if __name__ == "__main__":
    sys.exit(main())
