"""`leafctl run`: submit command jobs (flags or an az ml command job YAML), follow, wait, cancel, download.

The same job spec runs on the local backend and on Azure ML. A command is added by defining one more
``@app.command()`` function below; ``follow_or_return`` is the shared tail of every submitting command
(print the id at once, or stream logs to stderr, print the finished run and exit 1 if it did not complete).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leafctl.cli._common import (AllOption, DestAliasShort, DryRunOption, FileOption, LimitOption, SetOption, TagOption, YesOption, backend,
                                 confirm_destructive, emit, info, list_limit, note_left_out, parse_kv, settings)
from leafctl.cli._complete import complete_compute_names, complete_run_ids
from leafctl.errors import Conflict, Interrupted, OperationFailed, UsageError
from leafctl.output import Column

if TYPE_CHECKING:
    from leafctl.backends.base import JobSpec, Run

app = typer.Typer(help="Jobs: submit, evolve (LEAF-ESP), follow, download.", no_args_is_help=True)

# On a narrow terminal the display name is cut first, then exit code, compute, experiment and display name
# are left out in that order; id, status and creation time always show whole.
COLUMNS = ["id", "status", Column("compute", drop=3), Column("experiment", drop=2), Column("display_name", drop=1, cut=True),
           "created_at", Column("exit_code", drop=4)]
RunIdArg = Annotated[str, typer.Argument(help="Run id (see `leafctl run list`).", autocompletion=complete_run_ids)]
ComputeOption = Annotated[str | None, typer.Option("--compute", "-c", help="Compute target (default: the profile's, else local).",
                                                   autocompletion=complete_compute_names)]
ExperimentOption = Annotated[str | None, typer.Option("--experiment", "-e", help="Experiment name (default: the profile's).")]
WaitOption = Annotated[bool, typer.Option("--wait/--no-wait", help="Stream logs to stderr until the run ends (exit 1 if it fails); "
                                                                   "default: print the run at once.")]


# -- shared helpers (also for `run evolve`) ----------------------------------------------------------

def apply_defaults(spec: JobSpec) -> JobSpec:
    """Fill compute and experiment from the profile, so --dry-run shows what would really be submitted.
    Where neither the spec nor the profile names them, the backend's own default applies (local: the
    local compute and experiment "default"; Azure: serverless compute), and --dry-run prints none."""
    s = settings()
    spec.compute = spec.compute or s.get("compute") or None
    spec.experiment = spec.experiment or s.get("experiment") or None
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
        detail = f" (exit code {run.exit_code})" if run.exit_code else ""
        hint = f"see `leafctl run logs {run.id}`"
        if run.exit_code == 0:  # the command succeeded and what failed after it (an output copy) is the error
            hint = f"the job itself succeeded; its outputs are kept: `leafctl run download {run.id} --output-path DIR`"
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


def _flags_spec(code, command, inputs, outputs, compute, experiment, env_vars, name, tags, environment,
                extras: dict | None = None) -> JobSpec:
    """The job the flags describe (fields left out are empty). ``--input NAME=VALUE`` is a path or a
    literal by ``specs.flags.is_input_path``; ``extras`` are the az ml fields of --instance-count & co."""
    from leafctl.backends.base import JobSpec
    from leafctl.specs.flags import is_input_path, literal_value

    outs: dict[str, str | None] = {}
    for item in outputs or []:
        out_name, sep, dest = item.partition("=")
        if not out_name.strip():
            raise UsageError(f"--output {item!r} has no name", "e.g. --output model or --output model=azureml://datastores/ds/paths/p")
        outs[out_name.strip()] = output_dest(dest) if sep and dest else None
    given = parse_kv(inputs, "--input")
    return JobSpec(command=(command or "").strip(), code=_local_path(code) if code else None,
                   inputs={k: _local_path(v) for k, v in given.items() if is_input_path(v) or not v.strip()}, outputs=outs,
                   environment=environment, compute=compute, experiment=experiment, display_name=name,
                   env_vars=parse_kv(env_vars, "--env-var"), tags=parse_kv(tags, "--tag"),
                   literals={k: literal_value(v) for k, v in given.items() if v.strip() and not is_input_path(v)},
                   doc=dict(extras or {}))


def _note_local(spec: JobSpec) -> None:
    """Once on stderr, on the local backend: what a local run records but cannot apply."""
    from leafctl.cli._common import note_local
    from leafctl.specs.job import env_label

    doc = spec.doc or {}
    env = doc.get("environment") if isinstance(doc.get("environment"), dict) else spec.environment
    if env and backend().name == "local":
        info(f"note: local runs use the current Python, not environment {env_label(env)} (it is recorded, and used on Azure)")
    names = [k for k in ("services", "identity", "queue_settings") if doc.get(k)]
    res = doc.get("resources") if isinstance(doc.get("resources"), dict) else {}
    names += [f"resources.{k}" for k in res if k != "instance_count" or not doc.get("distribution")]
    for io in ("inputs", "outputs"):
        for k, v in (doc.get(io) or {}).items():
            if isinstance(v, dict) and v.get("mode"):
                names.append(f"{io}.{k}.mode")
    note_local("the job", names, "they are recorded and sent to Azure on the azure backend; locally an input or output is a path")


# -- commands ----------------------------------------------------------------------------------------

@app.command()
def submit(
    file: FileOption = None,
    code: Annotated[str | None, typer.Option("--code", help="Folder snapshotted as the job's working directory.")] = None,
    command: Annotated[str | None, typer.Option("--command", help="Shell command; may use ${{inputs.NAME}} and ${{outputs.NAME}}.")] = None,
    input_: Annotated[list[str] | None, typer.Option("--input", "-i", help="NAME=PATH, azureml://... URI or azureml:ASSET:VERSION, or "
                                                     "NAME=LITERAL (a value that is no existing path, no reference and has no '/': "
                                                     "epochs=10) (repeatable).")] = None,
    output: Annotated[list[str] | None, typer.Option("--output", help="NAME or NAME=DEST: an output folder (repeatable).")] = None,
    compute: ComputeOption = None,
    experiment: ExperimentOption = None,
    env_var: Annotated[list[str] | None, typer.Option("--env-var", help="K=V environment variable; V may be env:NAME (repeatable).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    tag: TagOption = None,
    environment: Annotated[str | None, typer.Option("--environment", help="Environment (azure), e.g. azureml:leaf-esp@latest.")] = None,
    instance_count: Annotated[int | None, typer.Option("--instance-count", min=1, help="Nodes (resources.instance_count).")] = None,
    distribution: Annotated[str | None, typer.Option("--distribution", help="mpi | pytorch | tensorflow: run the command as "
                                                     "instances x processes ranks (locally too).")] = None,
    process_count: Annotated[int | None, typer.Option("--process-count-per-instance", min=1,
                                                      help="Processes per node (distribution.process_count_per_instance; "
                                                           "tensorflow: worker_count = instances x this).")] = None,
    timeout: Annotated[str | None, typer.Option("--timeout", help="Stop the job after SECONDS, or a duration like 90m, 2h, "
                                                "1h30m (limits.timeout; locally the run then fails).")] = None,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
    wait: WaitOption = False,
) -> None:
    """Submit a command job, from flags or an az ml command job YAML (-f), with --set overrides.

    --input NAME=VALUE: VALUE is a path when it is an existing local path, an azureml: / azureml:// /
    https:// reference, or contains '/'; anything else is a literal (epochs=10, lr=0.01, flag=true)."""
    from leafctl import specs
    from leafctl.specs.flags import DISTRIBUTIONS, job_extras, parse_duration

    if distribution is not None and distribution.lower() not in DISTRIBUTIONS:
        raise UsageError(f"invalid --distribution {distribution!r}", f"use one of {', '.join(DISTRIBUTIONS)}")
    if process_count is not None and distribution is None:
        raise UsageError("--process-count-per-instance needs --distribution", "e.g. --distribution mpi --process-count-per-instance 2")
    seconds = None
    if timeout is not None:
        try:
            seconds = parse_duration(timeout)
        except ValueError:
            raise UsageError(f"invalid --timeout {timeout!r}", "give seconds (3600) or a duration (90m, 2h, 1h30m)") from None
    extras = job_extras(instance_count, distribution.lower() if distribution else None, process_count, seconds)
    spec = _flags_spec(code, command, input_, output, compute, experiment, env_var, name, tag, environment, extras)
    if file or set_:  # read by azure-ai-ml's load_job; flags alone need no azure import
        from leafctl.specs.job import job_from_file

        from leafctl.specs.flags import job_overrides

        spec = job_from_file(file, set_, job_overrides(spec), offline=dry_run)
    else:
        specs.check_command(spec)
    apply_defaults(spec)
    if dry_run:
        emit(specs.job_to_doc(spec))
        return
    _note_local(spec)
    follow_or_return(backend().submit_run(spec), wait)


# `run evolve` (LEAF-ESP) lives in its own module; its heavy imports stay inside the command.
from leafctl.cli.evolve import evolve  # noqa: E402

app.command("evolve")(evolve)


@app.command("list")
def list_(
    experiment: ExperimentOption = None,
    status: Annotated[str | None, typer.Option("--status", "-s", help="Queued | Running | Completed | Failed | Canceled.")] = None,
    limit: LimitOption = None,
    all_: AllOption = False,
) -> None:
    """List runs, newest first: the newest 50 unless --limit N or --all.

    A table fits the terminal: long display names are cut with "…", then less useful columns are left out.
    Ids and times are never cut; `run show RUN` has every field."""
    from leafctl.backends.base import RUN_STATES

    n = list_limit(limit, all_)

    if status is not None:
        match = [s for s in RUN_STATES if s.lower() == status.lower()]
        if not match:
            raise UsageError(f"invalid --status {status!r}", f"use one of {', '.join(RUN_STATES)}")
        status = match[0]
    runs = backend().list_runs(experiment=experiment, status=status)  # newest first
    note_left_out(len(runs[:n]), len(runs), "runs")
    emit(runs[:n], COLUMNS)


@app.command()
def show(
    run_id: RunIdArg,
    plot: Annotated[bool, typer.Option("--plot", help="An evolve run: draw pareto.png, pareto.svg and history.png into "
                                       "--output-path and open pareto.png where a display exists (else print the paths).")] = False,
    output_path: Annotated[Path | None, typer.Option("--output-path", help="With --plot: the folder for the plots "
                                                     "(default: ./RUN_ID-plots).")] = None,
) -> None:
    """Show a run: status, times, exit code, inputs, outputs and where they are.

    With --plot (an evolve run, needs `pip install 'leafctl[plot]'`) the record gains `plots`, the files written."""
    b = backend()
    run = b.get_run(run_id)
    if output_path is not None and not plot:
        raise UsageError("--output-path is where --plot writes the plots", f"add --plot: leafctl run show {run_id} --plot")
    if not plot:
        emit(shown(run))
        return
    from leafctl.cli._runplot import plot_run

    emit({**shown(run), "plots": plot_run(run, b, output_path)})


def shown(run: Run) -> dict:
    """A run as `run show` prints it; an evolve run's `command` is the leafctl command it was started
    with (`leafctl run evolve --resume RUN`), its job's own line is `job_command`."""
    if run.kind != "evolve":
        return run.to_dict()
    from leafctl.evolve import record

    return record(run)


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
    run = b.get_run(run_id)  # NotFound, or "already ended", before asking for confirmation
    if run.done:
        raise Conflict(f"run {run_id} already ended ({run.status})", "nothing to cancel")
    confirm_destructive(f"cancel run {run_id}", yes)
    emit(b.cancel_run(run_id))


@app.command()
def download(
    run_id: RunIdArg,
    output_path: Annotated[Path | None, typer.Option("--output-path", metavar="DIR",
                                                     help="Folder to write the outputs into, one subfolder per output "
                                                          "(default: the current folder).")] = None,
    output: Annotated[str | None, typer.Option("--output", help="Only this named output.")] = None,
    dest: DestAliasShort = None,
) -> None:
    """Download a run's outputs."""
    from leafctl.cli._common import output_folder

    dest = output_folder(output_path, dest, Path("."))
    b = backend()
    path = b.download_run(run_id, dest, output=output)
    run = b.get_run(run_id)
    names = [output] if output else sorted(run.outputs)
    emit({"run_id": run_id, "path": str(Path(path).resolve()), "outputs": names})
