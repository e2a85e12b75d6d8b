"""`leafctl run`: submit command jobs (flags or an az ml command job YAML), follow, wait, cancel, download.

The same job spec runs on the local backend and on Azure ML. A command is added by defining one more
``@app.command()`` function below; ``follow_or_return`` is the shared tail of every submitting command
(print the id at once, or stream logs to stderr, print the finished run and exit 1 if it did not complete).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leafctl.cli._common import (DryRunOption, FileOption, SetOption, TagOption, YesOption, backend, confirm_destructive,
                                 emit, info, parse_kv, settings)
from leafctl.cli._complete import complete_compute_names, complete_run_ids
from leafctl.errors import Interrupted, OperationFailed, UsageError

if TYPE_CHECKING:
    from leafctl.backends.base import JobSpec, Run

app = typer.Typer(help="Jobs: submit, evolve (LEAF-ESP), follow, download.", no_args_is_help=True)

COLUMNS = ["id", "status", "compute", "experiment", "display_name", "created_at", "exit_code"]
RunIdArg = Annotated[str, typer.Argument(help="Run id (see `leafctl run list`).", autocompletion=complete_run_ids)]
ComputeOption = Annotated[str | None, typer.Option("--compute", "-c", help="Compute target (default: the profile's, else local).",
                                                   autocompletion=complete_compute_names)]
ExperimentOption = Annotated[str | None, typer.Option("--experiment", "-e", help="Experiment name (default: the profile's).")]
WaitOption = Annotated[bool, typer.Option("--wait/--no-wait", help="Stream logs to stderr until the run ends (exit 1 if it fails); "
                                                                   "default: print the run at once.")]


# -- shared helpers (also for `run evolve`) ----------------------------------------------------------

def apply_defaults(spec: JobSpec) -> JobSpec:
    """Fill compute and experiment from the profile, so --dry-run shows what would really be submitted."""
    s = settings()
    spec.compute = spec.compute or s.get("compute") or "local"
    spec.experiment = spec.experiment or s.get("experiment") or "default"
    if spec.environment is None and s.get("environment"):
        spec.environment = s.get("environment")
    return spec


def follow_or_return(run: Run, wait: bool) -> None:
    """Print the submitted run, or follow it to the end; exit 1 (OperationFailed) if it did not complete."""
    if not wait:
        info(f"submitted run {run.id} ({run.status}); follow it with `leafctl run logs {run.id} --follow`")
        emit(run)
        return
    info(f"submitted run {run.id}; streaming its logs (Ctrl-C stops following, not the run)")
    emit(wait_for(run.id, None, logs=True))


def wait_for(run_id: str, timeout: float | None, logs: bool) -> Run:
    try:
        run = backend().wait_run(run_id, timeout=timeout, on_log=(lambda line: typer.echo(line, err=True)) if logs else None)
    except KeyboardInterrupt:
        raise Interrupted(f"stopped waiting; run {run_id} goes on",
                          f"follow it with `leafctl run logs {run_id} --follow`, or `leafctl run cancel {run_id}`") from None
    if run.status != "Completed":
        emit(run)
        detail = f" (exit code {run.exit_code})" if run.exit_code is not None else ""
        hint = f"see `leafctl run logs {run.id}`"
        if _resumable(run):  # the same way on as the interrupt message of `run evolve` gives
            hint = f"continue it with `leafctl run evolve --resume {run.id}`, or {hint}"
        raise OperationFailed(f"run {run.id} {run.status.lower()}{detail}: {run.error or 'no error recorded'}", hint)
    return run


def _resumable(run: Run) -> bool:
    """An evolve run that stopped early (killed, canceled) and left a checkpoint `--resume` can continue."""
    if run.kind != "evolve" or run.status not in ("Failed", "Canceled") or not run.outputs_path:
        return False
    return (Path(run.outputs_path) / "result" / "checkpoint.npz").is_file()


def _local_path(value: str) -> str:
    """A flag's path: made absolute when it exists here; asset references and datastore paths as given."""
    if not value.strip():  # Path("") is the working directory: never read all of it by accident
        raise UsageError("--input has an empty path", "give a local path, a datastore path, or azureml:NAME:VERSION")
    if value.startswith("azureml:") or "://" in value:
        return value
    p = Path(value).expanduser()
    return str(p.resolve()) if p.exists() else value


def output_dest(value: str) -> str:
    """A local folder an output is copied into when the run ends: refused now if it is a file."""
    path = _local_path(value)
    if "://" not in path and Path(path).exists() and not Path(path).is_dir():
        raise UsageError(f"output destination {value!r} is a file", "give a folder, or a path that does not exist yet")
    return path


def _flags_spec(code, command, inputs, outputs, compute, experiment, env_vars, name, tags, environment) -> JobSpec:
    """The job the flags describe (fields left out are empty)."""
    from leafctl.backends.base import JobSpec

    outs: dict[str, str | None] = {}
    for item in outputs or []:
        out_name, sep, dest = item.partition("=")
        if not out_name.strip():
            raise UsageError(f"--output {item!r} has no name", "e.g. --output model or --output model=azureml://datastores/ds/paths/p")
        outs[out_name.strip()] = output_dest(dest) if sep and dest else None
    return JobSpec(command=(command or "").strip(), code=_local_path(code) if code else None,
                   inputs={k: _local_path(v) for k, v in parse_kv(inputs, "--input").items()}, outputs=outs,
                   environment=environment, compute=compute, experiment=experiment, display_name=name,
                   env_vars=parse_kv(env_vars, "--env-var"), tags=parse_kv(tags, "--tag"))


# -- commands ----------------------------------------------------------------------------------------

@app.command()
def submit(
    file: FileOption = None,
    code: Annotated[str | None, typer.Option("--code", help="Folder snapshotted as the job's working directory.")] = None,
    command: Annotated[str | None, typer.Option("--command", help="Shell command; may use ${{inputs.NAME}} and ${{outputs.NAME}}.")] = None,
    input_: Annotated[list[str] | None, typer.Option("--input", "-i", help="NAME=PATH, azureml://... URI or azureml:ASSET:VERSION (repeatable).")] = None,
    output: Annotated[list[str] | None, typer.Option("--output", help="NAME or NAME=DEST: an output folder (repeatable).")] = None,
    compute: ComputeOption = None,
    experiment: ExperimentOption = None,
    env_var: Annotated[list[str] | None, typer.Option("--env-var", help="K=V environment variable; V may be env:NAME (repeatable).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    tag: TagOption = None,
    environment: Annotated[str | None, typer.Option("--environment", help="Environment (azure), e.g. azureml:leaf-esp@latest.")] = None,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
    wait: WaitOption = False,
) -> None:
    """Submit a command job, from flags or an az ml command job YAML (-f), with --set overrides."""
    from leafctl import specs

    spec = _flags_spec(code, command, input_, output, compute, experiment, env_var, name, tag, environment)
    if file or set_:  # read by azure-ai-ml's load_job; flags alone need no azure import
        from leafctl.specs.job import job_from_file

        from leafctl.specs.flags import job_overrides

        spec = job_from_file(file, set_, job_overrides(spec))
    else:
        specs.check_command(spec)
    apply_defaults(spec)
    if dry_run:
        emit(specs.job_to_doc(spec))
        return
    follow_or_return(backend().submit_run(spec), wait)


# `run evolve` (LEAF-ESP) lives in its own module; its heavy imports stay inside the command.
from leafctl.cli.evolve import evolve  # noqa: E402

app.command("evolve")(evolve)


@app.command("list")
def list_(
    experiment: ExperimentOption = None,
    status: Annotated[str | None, typer.Option("--status", "-s", help="Queued | Running | Completed | Failed | Canceled.")] = None,
) -> None:
    """List runs, newest first."""
    from leafctl.backends.base import RUN_STATES

    if status is not None:
        match = [s for s in RUN_STATES if s.lower() == status.lower()]
        if not match:
            raise UsageError(f"invalid --status {status!r}", f"use one of {', '.join(RUN_STATES)}")
        status = match[0]
    emit(backend().list_runs(experiment=experiment, status=status), COLUMNS)


@app.command()
def show(run_id: RunIdArg) -> None:
    """Show a run: status, times, exit code, inputs, outputs and where they are."""
    emit(backend().get_run(run_id))


@app.command()
def logs(
    run_id: RunIdArg,
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing until the run ends.")] = False,
) -> None:
    """Print a run's output (stdout and stderr of its command) on stdout."""
    try:
        for line in backend().run_logs(run_id, follow=follow):
            typer.echo(line)
    except KeyboardInterrupt:
        raise Interrupted(f"stopped following run {run_id}; it goes on", f"`leafctl run wait {run_id}` waits for it") from None


@app.command()
def wait(
    run_id: RunIdArg,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Give up after this many seconds (exit 1).", min=0)] = None,
    logs_: Annotated[bool, typer.Option("--logs", help="Stream the run's logs to stderr while waiting.")] = False,
) -> None:
    """Wait for a run to end and print it; exit 1 if it failed or was canceled."""
    emit(wait_for(run_id, timeout, logs=logs_))


@app.command()
def cancel(run_id: RunIdArg, yes: YesOption = False) -> None:
    """Cancel a queued or running run (its command's processes are stopped)."""
    b = backend()
    b.get_run(run_id)  # NotFound before asking for confirmation
    confirm_destructive(f"cancel run {run_id}", yes)
    emit(b.cancel_run(run_id))


@app.command()
def download(
    run_id: RunIdArg,
    dest: Annotated[Path, typer.Option("--dest", "-d", help="Folder to write the outputs into (one subfolder per output).")] = Path("."),
    output: Annotated[str | None, typer.Option("--output", help="Only this named output.")] = None,
) -> None:
    """Download a run's outputs."""
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"--dest {str(dest)!r} is a file", "give a folder to download into")
    b = backend()
    path = b.download_run(run_id, dest, output=output)
    run = b.get_run(run_id)
    names = [output] if output else sorted(run.outputs)
    emit({"run_id": run_id, "path": str(Path(path).resolve()), "outputs": names})
