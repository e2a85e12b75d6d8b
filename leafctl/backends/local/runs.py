"""Runs on the local backend, with Azure ML command-job semantics.

``submit_run`` snapshots the code, resolves inputs to local folders, creates output folders, substitutes
``${{inputs.x}}``/``${{outputs.y}}``, records the run (Queued) and starts a detached supervisor
(``leafctl.backends.local.supervisor``) that waits for a compute slot and runs the command. Every read
of a Queued/Running run checks the supervisor's lock (see ``runstate``), so a run whose supervisor died
reads as Failed, never as Running forever.

Choices (documented for users): the environment is ignored locally (the command runs with leafctl's own
interpreter first on PATH); inputs are passed as paths to the original folders, not copies; cancelling
a run that already ended is a Conflict (exit 5).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from leafctl import specs
from leafctl.specs.command import literal_text
from leafctl.backends.base import RUN_TERMINAL, JobSpec, Run
from leafctl.backends.common import clean_store_path, parse_uri, safe_join
from leafctl.backends.local import runstate
from leafctl.errors import Conflict, NotFound, UsageError

SNAPSHOT_IGNORE = (".git", "__pycache__", ".venv", "node_modules", ".mypy_cache", ".pytest_cache")
POLL = 0.1  # seconds between status polls: local SQLite reads are cheap, and tests wait on them


class RunOps:
    # -- submit ------------------------------------------------------------------------------------

    def submit_run(self, spec: JobSpec) -> Run:
        specs.check_command(spec)
        reg = runstate.ensure(self.registry)  # NotFound for a missing workspace before any file is written
        for key, value in spec.env_vars.items():
            # env:NAME is resolved by the supervisor (it inherits our environment); check it exists now.
            if value.startswith("env:") and value[4:] not in os.environ:
                raise UsageError(f"environment variable {key} refers to ${value[4:]}, which is not set",
                                 f"export {value[4:]} before submitting")
        compute = spec.compute or self.settings.get("compute") or "local"
        self.get_compute(compute)  # NotFound (exit 3) before anything is written
        experiment = spec.experiment or self.settings.get("experiment") or "default"
        inputs = {name: self._resolve_input(name, value) for name, value in spec.inputs.items()}
        dests = {name: self._resolve_dest(name, d) for name, d in spec.outputs.items() if d}
        code = Path(spec.code).expanduser() if spec.code else None
        if code is not None and not code.exists():
            raise NotFound(f"code path {spec.code} not found", "give --code an existing folder")

        launch = self._launcher(spec)  # before anything is written: a missing mpiexec is exit 2
        run_id = self._run_name(spec) or self._new_run_id(experiment)
        ws = self.ws.resolve()  # absolute: the command and the supervisor run in other folders
        rdir = runstate.run_dir(ws, run_id)
        outputs = {name: str(rdir / "outputs" / name) for name in spec.outputs}
        values = {f"inputs.{k}": v for k, v in inputs.items()} | {f"outputs.{k}": v for k, v in outputs.items()}
        # Literal inputs as Azure ML substitutes them (str(value)), quoted like every other value.
        values |= {f"inputs.{k}": literal_text(v) for k, v in spec.literals.items()}
        if spec.argv:  # leafctl's own job: run without a shell, shown quoted
            argv = specs.substitute_argv(spec.argv, values)
            command = shlex.join(argv)
        else:  # the user's command, for bash -c: every value quoted for where it stands
            argv = None
            command = specs.substitute(spec.command, values)
        if launch:  # distribution: N ranks of the command, under mpiexec or leafctl's launcher
            argv = launch + (argv or ["bash", "-c", command])
        from leafctl.specs.job import timeout_seconds

        timeout = timeout_seconds(spec)

        try:
            (rdir / "logs").mkdir(parents=True)
            (rdir / "outputs").mkdir()
            for folder in outputs.values():
                Path(folder).mkdir(parents=True)
            self._snapshot(code, rdir / "snapshot")
        except BaseException:
            shutil.rmtree(rdir, ignore_errors=True)  # no half-made run folder without a registry row
            raise

        record = {"inputs": dict(spec.inputs), "resolved_inputs": inputs, "outputs": outputs, "destinations": dests,
                  "tags": dict(spec.tags), "env_vars": dict(spec.env_vars), "environment": spec.environment,
                  "command_template": spec.command, **({"argv": argv} if argv else {}),
                  "literals": dict(spec.literals), "doc": spec.doc or {}, **({"timeout": timeout} if timeout else {})}
        # Take the supervisor lock before the row exists and hand the open file to the supervisor: at no
        # moment can a reader see a Queued run without a lock holder and call it dead.
        lock_fd = os.open(runstate.lock_path(ws, run_id), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            with reg.tx() as conn:
                conn.execute(
                    "INSERT INTO runs (id, status, compute, experiment, display_name, kind, command, created_at, spec)"
                    " VALUES (?, 'Queued', ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, compute, experiment, spec.display_name or run_id, spec.kind, command, runstate.now(),
                     json.dumps(record)),
                )
            pid = self._start_supervisor(ws, run_id, lock_fd)
        except BaseException as e:
            self._fail_submit(run_id, f"could not start the supervisor: {e}")
            raise
        finally:
            os.close(lock_fd)
        with reg.tx() as conn:
            conn.execute("UPDATE runs SET pid=? WHERE id=? AND pid IS NULL", (pid, run_id))
        return self.get_run(run_id)

    def _launcher(self, spec: JobSpec) -> list[str] | None:
        """The argv prefix that runs a distributed job's N ranks here, or None for one process."""
        from leafctl.backends.local import launch
        from leafctl.specs.job import distribution

        kind, count, per = distribution(spec)
        if kind is None:
            return None
        n = count * per
        if kind == "mpi":
            mpiexec = launch.find_mpiexec()
            if mpiexec is None:
                raise UsageError("distribution: mpi needs mpiexec, which is not installed", launch.MPI_HINT)
            return launch.mpiexec_argv(mpiexec, n, [])
        if kind in ("pytorch", "tensorflow"):
            return [sys.executable, "-m", "leafctl.backends.local.launch", kind, str(n), str(per), "--"]
        raise UsageError(f"distribution type {kind!r} is not supported", "use mpi, pytorch or tensorflow")

    def _run_name(self, spec: JobSpec) -> str | None:
        """The job's ``name:`` as its run id (as on Azure): a name already taken is a Conflict (exit 5)."""
        name = (spec.doc or {}).get("name")
        if not name:
            return None
        name = str(name)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}", name):
            raise UsageError(f"invalid job name {name!r}", "use letters, digits, '-' and '_' (leave name out for a generated one)")
        if runstate.ensure(self.registry).one("SELECT id FROM runs WHERE id=?", (name,)) is not None:
            raise Conflict(f"a run named {name!r} already exists", "give the job another name, or leave name out")
        return name

    def _new_run_id(self, experiment: str) -> str:
        safe = re.sub(r"[^A-Za-z0-9_-]+", "-", experiment).strip("-")[:40] or "run"
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
        return f"{safe}_{stamp}_{secrets.token_hex(3)}"

    def _start_supervisor(self, ws: Path, run_id: str, lock_fd: int) -> int:
        logs = runstate.run_dir(ws, run_id) / "logs"
        with open(logs / "supervisor.txt", "ab") as out:
            p = subprocess.Popen(
                [sys.executable, "-m", "leafctl.backends.local.supervisor", str(ws), run_id, "--lock-fd", str(lock_fd)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # detached: survives the CLI, and a terminal's Ctrl-C does not reach it
                pass_fds=(lock_fd,), cwd=str(ws),
            )
        return p.pid

    def _fail_submit(self, run_id: str, error: str) -> None:
        try:
            with runstate.ensure(self.registry).tx() as conn:
                conn.execute("UPDATE runs SET status='Failed', error=?, ended_at=? WHERE id=? AND status='Queued'",
                             (error, runstate.now(), run_id))
        except Exception:
            pass

    def _snapshot(self, code: Path | None, dest: Path) -> None:
        if code is None:
            dest.mkdir()
        elif code.is_file():
            dest.mkdir()
            shutil.copy2(code, dest / code.name)
        else:
            shutil.copytree(code, dest, ignore=shutil.ignore_patterns(*SNAPSHOT_IGNORE), symlinks=True)

    def _resolve_input(self, name: str, value: str) -> str:
        """A local path, ``azureml://datastores/<ds>/paths/<p>``, ``azureml:NAME:VERSION``/``NAME@latest``,
        or a path in the default datastore -> an absolute local path."""
        if value.startswith("azureml:") and not value.startswith("azureml://"):
            asset_name, version = specs.parse_model_ref(value)
            asset = self.get_data_asset(asset_name, version)
            return self._resolve_input(name, asset.path)
        parsed = parse_uri(value)
        if parsed:
            rel = clean_store_path(parsed[1])
            p = safe_join(self._datastore_folder(parsed[0]), rel) if rel else self._datastore_folder(parsed[0])
            if not p.exists():
                raise NotFound(f"input {name!r}: {value} not found", f"upload it with `leafctl data upload SRC {rel}`")
            return str(p)
        if "://" in value:
            raise UsageError(f"input {name!r}: {value} is not a path this backend can read",
                             "use a local path, azureml://datastores/<ds>/paths/<path> or azureml:NAME:VERSION")
        local = Path(value).expanduser()
        if local.exists():
            return str(local.resolve())
        if not local.is_absolute() and ".." not in Path(value).parts:
            p = self._datastore_folder(None) / clean_store_path(value)
            if p.exists():
                return str(p)
        raise NotFound(f"input {name!r}: {value} not found (neither a local path nor in the default datastore)",
                       "check the path, or upload it with `leafctl data upload`")

    def _resolve_dest(self, name: str, dest: str) -> str:
        """Where an output is also copied when the run completes (Azure's upload-mode output path)."""
        parsed = parse_uri(dest)
        if parsed:
            return str(self._datastore_folder(parsed[0]) / clean_store_path(parsed[1]))
        if "://" in dest or dest.startswith("azureml:"):
            raise UsageError(f"output {name!r}: {dest} is not a destination this backend can write",
                             "use a local folder or azureml://datastores/<ds>/paths/<path>")
        return str(Path(dest).expanduser().resolve())

    def _datastore_folder(self, name: str | None) -> Path:
        ds = self.get_datastore(name)
        if not ds.path:
            raise UsageError(f"datastore {ds.name!r} is not a local folder", "local runs read local datastores only")
        return Path(ds.path).resolve()

    # -- read ----------------------------------------------------------------------------------------

    def _row(self, run_id: str):
        reg = runstate.ensure(self.registry)
        row = reg.one("SELECT * FROM runs WHERE id=?", (run_id,))
        if row is None:
            raise NotFound(f"run {run_id!r} not found in workspace {self.workspace_name!r}", "see `leafctl run list`")
        if runstate.reap(reg, self.ws, row):
            row = reg.one("SELECT * FROM runs WHERE id=?", (run_id,))
        return row

    def get_run(self, run_id: str) -> Run:
        return runstate.to_run(self.ws, self._row(run_id))

    def list_runs(self, experiment: str | None = None, status: str | None = None) -> list[Run]:
        reg = runstate.ensure(self.registry)
        rows = reg.query("SELECT * FROM runs ORDER BY seq DESC")
        out = []
        for row in rows:
            if runstate.reap(reg, self.ws, row):
                row = reg.one("SELECT * FROM runs WHERE id=?", (row["id"],))
            if experiment and row["experiment"] != experiment:
                continue
            if status and row["status"].lower() != status.lower():
                continue
            out.append(runstate.to_run(self.ws, row))
        return out

    def run_logs(self, run_id: str, follow: bool = False) -> Iterator[str]:
        return self._read_logs(run_id, follow, None)

    def _read_logs(self, run_id: str, follow: bool, deadline: float | None) -> Iterator[str]:
        """Log lines; with ``follow`` until the run ends or ``deadline`` (time.monotonic) passes."""
        self._row(run_id)
        path = runstate.run_dir(self.ws, run_id) / "logs" / "std_log.txt"
        pending = b""
        pos = 0
        while True:
            # Read the status before the file: a run seen terminal here has written all its output.
            done = not follow or self.get_run(run_id).done or (deadline is not None and time.monotonic() >= deadline)
            try:
                with open(path, "rb") as f:
                    f.seek(pos)
                    chunk = f.read()
            except FileNotFoundError:
                chunk = b""
            pos += len(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace")
            if done:
                if pending:
                    yield pending.decode("utf-8", "replace")
                return
            if not chunk:
                time.sleep(POLL)

    def wait_run(self, run_id: str, timeout: float | None = None, on_log: Callable[[str], None] | None = None) -> Run:
        from leafctl.backends.common import wait_for_run

        return wait_for_run(self, run_id, timeout, on_log, POLL, self._read_logs)

    # -- cancel / download -----------------------------------------------------------------------

    def cancel_run(self, run_id: str) -> Run:
        row = self._row(run_id)
        if row["status"] in RUN_TERMINAL:
            raise Conflict(f"run {run_id} already ended ({row['status']})", "nothing to cancel")
        reg = runstate.ensure(self.registry)
        with reg.tx() as conn:
            # A Queued run is cancelled right here: its supervisor sees the status and exits without
            # running anything. A Running one is flagged and its supervisor signalled to stop the command.
            conn.execute("UPDATE runs SET status='Canceled', ended_at=?, error='canceled by user' WHERE id=? AND status='Queued'",
                         (runstate.now(), run_id))
            conn.execute("UPDATE runs SET cancel_requested=1 WHERE id=? AND status='Running'", (run_id,))
        row = self._row(run_id)
        if row["status"] == "Running" and row["pid"] and runstate.supervisor_alive(self.ws, run_id):
            try:
                os.kill(row["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        while not (run := self.get_run(run_id)).done and time.monotonic() < deadline:
            time.sleep(POLL)
        return run

    def download_run(self, run_id: str, dest: Path, output: str | None = None) -> Path:
        from leafctl.backends.common import copy_into, dest_file, inside, plan_tree

        run = self.get_run(run_id)
        names = sorted(run.outputs) if output is None else [output]
        if output is not None and output not in run.outputs:
            raise NotFound(f"run {run_id} has no output {output!r}", f"its outputs: {', '.join(sorted(run.outputs)) or 'none'}")
        # Paths read back from the registry are checked before use (exit 1 for a corrupt or edited row): the
        # outputs folder lies in the workspace, and an output name (a key of the stored spec) inside it.
        root = inside(run.outputs_path or "", self.ws, f"the outputs of run {run_id}")
        srcs = {name: inside(root / name, root, f"output {name!r} of run {run_id}") for name in names}
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        # Every file of every output is checked before the first is written: never through a symlink in dest.
        plans = {name: plan_tree(src, dest, name, within=self.ws) for name, src in srcs.items() if src.is_dir()}
        for name, plan in plans.items():
            if not plan:
                dest_file(dest, name).mkdir(parents=True, exist_ok=True)  # an empty output is an empty folder
            for rel, p in plan:
                copy_into(p, dest, rel)
        return dest
