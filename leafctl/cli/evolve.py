"""`leafctl run evolve`: LEAF-ESP as a run like any other.

The command resolves and validates the config in-process (bad columns exit 2 before anything is
submitted), then submits a command job that runs ``python -m leafctl.esp.job`` with the data as an
input and the results as the output ``result``. Locally it follows the job's ``progress.jsonl`` to
draw a progress bar on stderr; ``--remote`` submits the same job to an Azure ML GPU cluster.
``--resume RUN_ID`` starts a new run that continues RUN_ID's last checkpoint.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leafctl.cli._common import DryRunOption, NoWaitOption, backend, emit, info, settings, state
from leafctl.cli._complete import complete_compute_names, complete_run_ids
from leafctl.errors import UsageError

if TYPE_CHECKING:
    from leafctl.backends.base import Backend, Run

RESULT = "result"  # the job's output folder name; outputs_path/result holds pareto.csv etc.
EVOLVE_MODEL_OUTPUT = f"{RESULT}/model"  # what `model register --run` takes from an evolve run
# What a resumed run needs from the interrupted one (not its final products).
RESUME_FILES = ("checkpoint.npz", "predictor.npz", "predictor_metrics.json", "progress.jsonl", "config.toml")


def _complete_samples(ctx: Any, incomplete: str) -> list[str]:
    from leafctl.esp.samples import sample_names  # a dict of names: no numpy

    return [n for n in sample_names() if n.startswith(incomplete)]


def _complete_device(ctx: Any, incomplete: str) -> list[str]:
    return [d for d in ("auto", "cpu", "gpu") if d.startswith(incomplete)]


def _csv_list(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


def build_config(config_file: Path | None, sample: str | None, flags: dict[str, Any]) -> Any:
    """File or sample first, then flags; validated, data path absolute."""
    from leafctl.esp.engine import config_from_dict, load_config

    if sample:
        from leafctl.esp.samples import sample_config, sample_names

        if sample not in sample_names():
            raise UsageError(f"unknown sample {sample!r}", f"choose one of: {', '.join(sample_names())}")
        cfg = sample_config(sample)
        if config_file:
            raise UsageError("give a CONFIG file or --sample, not both", "drop one of them")
    else:
        cfg = load_config(config_file) if config_file else None
    overrides = {k: v for k, v in flags.items() if v is not None}
    if cfg is None:
        if not overrides.get("data"):
            raise UsageError("no data to evolve on", "give a CONFIG.toml, --data PATH, or --sample campaign")
        cfg = config_from_dict(overrides)
    elif overrides:
        cfg = config_from_dict(overrides, cfg)
    if cfg.data:
        p = Path(cfg.data).expanduser()
        if not p.is_file():
            raise UsageError(f"data file {cfg.data!r} not found", "check --data or the config's data key")
        cfg.data = str(p.resolve())
    return cfg.validate()


def check_data(cfg: Any) -> None:
    """Every data-dependent check, with the engine's own code, before anything is submitted (exit 2)."""
    from leafctl.esp.engine import check_config

    check_config(cfg)


def resolve_device(device: str) -> str:
    from leafctl.esp.xp import get_xp, is_gpu

    return "gpu" if is_gpu(get_xp(device)) else "cpu"


def stage(cfg: Any, resume_dir: Path | None, tmp: Path) -> Path:
    """The job's code folder: the resolved config, and the checkpoint to continue from."""
    code = tmp / "evolve-job"
    code.mkdir(parents=True)
    d = cfg.to_dict()
    d["data"] = "data.csv"  # replaced at run time by the job's input path (--data PATH)
    import tomli_w

    (code / "config.toml").write_text(tomli_w.dumps(d), encoding="utf-8")
    if resume_dir is not None:
        (code / "resume").mkdir()
        import shutil

        for name in RESUME_FILES:
            if (resume_dir / name).exists():
                shutil.copy2(resume_dir / name, code / "resume" / name)
    return code


def job_argv(python: str, resume: bool) -> list[str]:
    """The evolve job as a program and its arguments: the local backend runs it without a shell, so the
    data path (a user's file name) and the interpreter's path are never read as shell code."""
    argv = [python, "-m", "leafctl.esp.job", "config.toml", f"${{{{outputs.{RESULT}}}}}", "--data", "${{inputs.data}}"]
    if resume:
        # The job seeds its new output folder with the interrupted run's checkpoint, then continues it.
        argv += ["--resume-from", "resume"]
    return argv


def job_command(python: str, resume: bool) -> str:
    """``job_argv`` as one command line (what `run show` and --dry-run display)."""
    return shlex.join(job_argv(python, resume))


def _resume_dir(b: Backend, run_id: str) -> tuple[Path, Any]:
    prior = b.get_run(run_id)
    if prior.kind != "evolve":
        raise UsageError(f"run {run_id} is not an evolve run (kind {prior.kind})", "give the id of a `run evolve` run")
    if prior.status in ("Queued", "Running"):
        raise UsageError(f"run {run_id} is still {prior.status}", f"cancel it first: leafctl run cancel {run_id} --yes")
    if not prior.outputs_path or not (Path(prior.outputs_path) / RESULT / "checkpoint.npz").exists():
        raise UsageError(f"run {run_id} left no checkpoint to resume from", "start a new run instead")
    from leafctl.esp.engine import load_config

    rdir = Path(prior.outputs_path) / RESULT
    return rdir, load_config(rdir / "config.toml")


class _Follower:
    """Draw the run's progress.jsonl as a rich progress bar on stderr (a line per 10% off a terminal)."""

    def __init__(self, path: Path, generations: int):
        self.path, self.generations, self.offset = path, generations, 0
        self.last: dict[str, Any] | None = None
        self._bar = None
        self._task = None
        self._printed = -1

    def __enter__(self) -> _Follower:
        import os

        if sys.stderr.isatty() and not os.environ.get("LEAFCTL_NO_PROGRESS"):
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("generation"), MofNCompleteColumn(), BarColumn(),
                                 TextColumn("{task.fields[best]}"), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=False)
            self._bar.start()
            self._task = self._bar.add_task("evolve", total=self.generations, best="")
        return self

    def poll(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        complete = chunk[: chunk.rfind("\n") + 1]  # a line still being written waits for the next poll
        self.offset += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("generation", 0) < (self.last or {}).get("generation", -1):
                continue
            self.last = rec
            self._show(rec)

    def _show(self, rec: dict[str, Any]) -> None:
        best = "  ".join(f"{k} {v:.4g}" for k, v in rec.get("best", {}).items() if isinstance(v, (int, float)))
        hv = rec.get("hypervolume")
        text = best + (f"  hv {hv:.4f}" if isinstance(hv, (int, float)) else "")
        gen = rec.get("generation", 0)
        if self._bar is not None:
            self._bar.update(self._task, completed=gen, best=text)
        else:
            step = max(1, self.generations // 10)
            if gen % step == 0 or gen == self.generations:
                if gen != self._printed:
                    info(f"generation {gen}/{self.generations}  {text}")
                    self._printed = gen

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()


def front_of(result_dir: Path, objectives: list[tuple[str, str]]) -> list[dict[str, Any]]:
    import csv

    front = []
    with open(result_dir / "pareto.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("rank") == "1":
                front.append({"id": int(row["id"]),
                              "objectives": {n: float(row[n]) for n, _ in objectives if row.get(n) not in (None, "")}})
    # Ordered along the first objective, best first: reads as a walk along the front.
    first, sense = objectives[0]
    front.sort(key=lambda f: f["objectives"].get(first, float("nan")), reverse=(sense == "max"))
    return front


def summarise(run: Run, cfg: Any, device: str) -> dict[str, Any]:
    out: dict[str, Any] = {"run_id": run.id, "status": run.status, "outputs_path": run.outputs_path, "device": device}
    rdir = Path(run.outputs_path or ".") / RESULT
    hv = None
    try:
        lines = (rdir / "progress.jsonl").read_text(encoding="utf-8").splitlines()
        hv = json.loads(lines[-1]).get("hypervolume") if lines else None
    except (OSError, ValueError):
        pass
    out["hypervolume"] = hv
    out["front"] = front_of(rdir, cfg.objectives) if (rdir / "pareto.csv").exists() else []
    return out


def evolve(
    config: Annotated[Path | None, typer.Argument(help="Evolve config (TOML); flags override it.", exists=False)] = None,
    data: Annotated[str | None, typer.Option("--data", help="CSV table of contexts, actions and outcomes.")] = None,
    context: Annotated[str | None, typer.Option("--context", help="Context columns, comma-separated (default: the rest).")] = None,
    actions: Annotated[str | None, typer.Option("--actions", help="Action columns, comma-separated.")] = None,
    outcomes: Annotated[str | None, typer.Option("--outcomes", help="Outcome columns, comma-separated.")] = None,
    objective: Annotated[list[str] | None, typer.Option("--objective", help="NAME:max|min (repeatable); NAME is an outcome or action_cost.")] = None,
    action_cost: Annotated[list[str] | None, typer.Option("--action-cost", help="COL=W: weight of an action in action_cost (default 1).")] = None,
    population: Annotated[int | None, typer.Option("--population", help="Prescriptors per generation (default 100).")] = None,
    generations: Annotated[int | None, typer.Option("--generations", help="Generations (default 100).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (same seed and device: same result).")] = None,
    device: Annotated[str | None, typer.Option("--device", help="auto | cpu | gpu (default: auto).", autocompletion=_complete_device)] = None,
    predictor: Annotated[str | None, typer.Option("--predictor", help="Surrogate: mlp | ridge (default: mlp).")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue an interrupted evolve run from its last checkpoint.", autocompletion=complete_run_ids)] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name of the run.")] = None,
    sample: Annotated[str | None, typer.Option("--sample", help="Use a bundled dataset: campaign.", autocompletion=_complete_samples)] = None,
    compute: Annotated[str | None, typer.Option("--compute", help="Compute to run on (default: the profile's, else local).", autocompletion=complete_compute_names)] = None,
    experiment: Annotated[str | None, typer.Option("--experiment", help="Experiment name (default: the profile's).")] = None,
    remote: Annotated[bool, typer.Option("--remote", help="Submit as a GPU job to the profile's Azure ML workspace.")] = False,
    no_wait: NoWaitOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Evolve prescriptors toward the Pareto front of the objectives (LEAF-ESP), as a run."""
    import tempfile

    from leafctl.backends.base import JobSpec
    from leafctl.cli._common import parse_kv

    weights: dict[str, Any] | None = None
    if action_cost:
        weights = {}
        for k, v in parse_kv(action_cost, "--action-cost").items():
            try:
                weights[k] = float(v)
            except ValueError:
                raise UsageError(f"--action-cost {k}={v!r}: the weight must be a number", "e.g. --action-cost discount=2") from None
            from leafctl.esp.engine import weight_problem

            if problem := weight_problem(weights[k]):  # float() takes "nan" and "inf"
                raise UsageError(f"--action-cost {k}={v}: the weight {problem}", "e.g. --action-cost discount=2")
    flags = {"data": data, "context": _csv_list(context), "actions": _csv_list(actions), "outcomes": _csv_list(outcomes),
             "objectives": list(objective) if objective else None, "action_cost": weights, "population": population,
             "generations": generations, "seed": seed, "device": device, "predictor": predictor}
    b = None if (dry_run and remote) else backend()
    resume_dir = None
    if resume:
        assert b is not None
        resume_dir, prior_cfg = _resume_dir(b, resume)
        if config or sample:
            raise UsageError("--resume continues a run's own config", "drop CONFIG/--sample; only --generations and --device may change")
        changed = {k for k, v in flags.items() if v is not None} - {"generations", "device"}
        if changed:
            raise UsageError(f"--resume cannot change {', '.join(sorted(changed))}", "only --generations and --device may change")
        from leafctl.esp.engine import config_from_dict

        cfg = config_from_dict({k: v for k, v in flags.items() if v is not None}, prior_cfg).validate()
    else:
        cfg = build_config(config, sample, flags)
    check_data(cfg)

    if remote:
        _remote(cfg, compute, experiment, name, no_wait, dry_run)
        return
    cfg.device = resolve_device(cfg.device)
    st = settings()
    with tempfile.TemporaryDirectory(prefix="leafctl-evolve-") as tmp:
        code = stage(cfg, resume_dir, Path(tmp))
        spec = JobSpec(
            command=job_command(sys.executable, resume_dir is not None),
            argv=job_argv(sys.executable, resume_dir is not None),
            code=str(code),
            inputs={"data": cfg.data},
            outputs={RESULT: None},
            compute=compute or st.get("compute") or "local",
            experiment=experiment or st.get("experiment"),
            display_name=name or (f"evolve-resume-{resume}" if resume else "evolve"),
            tags={"leafctl.kind": "evolve", **({"leafctl.resumed_from": resume} if resume else {})},
            kind="evolve",
        )
        if dry_run:
            emit({"config": cfg.to_dict(), "job": {k: v for k, v in spec.__dict__.items() if v not in (None, {}, [])}})
            return
        assert b is not None
        run = b.submit_run(spec)
    info(f"submitted evolve run {run.id} on {spec.compute} ({cfg.device})")
    if no_wait:
        emit(run)
        return
    run = _follow(b, run, cfg)
    emit_result(run, cfg)


def _follow(b: Backend, run: Run, cfg: Any) -> Run:
    progress_file = Path(run.outputs_path or ".") / RESULT / "progress.jsonl"
    try:
        with _Follower(progress_file, cfg.generations) as follower:
            while True:
                follower.poll()
                run = b.get_run(run.id)
                if run.done:
                    follower.poll()
                    return run
                time.sleep(0.2)
    except KeyboardInterrupt:
        # Ctrl-C stops the evolution too; its checkpoint stays for --resume.
        try:
            b.cancel_run(run.id)
        except Exception:
            pass
        from leafctl.errors import Interrupted

        raise Interrupted(f"evolve run {run.id} interrupted and canceled", f"continue it with `leafctl run evolve --resume {run.id}`") from None


def emit_result(run: Run, cfg: Any) -> None:
    from leafctl.errors import OperationFailed

    summary = summarise(run, cfg, cfg.device)
    if run.status != "Completed":
        tail = ""
        try:
            tail = " | ".join(list(backend().run_logs(run.id))[-3:]).strip()
        except Exception:
            pass
        raise OperationFailed(f"evolve run {run.id} {run.status.lower()}" + (f": {tail}" if tail else ""),
                              f"see `leafctl run logs {run.id}`")
    if state().output in (None, "table") and sys.stdout.isatty() and not state().query:
        hv = summary["hypervolume"]
        hv_text = f"{hv:.4f}" if isinstance(hv, (int, float)) else "n/a"
        info(f"run {run.id} completed; outputs in {run.outputs_path}/{RESULT}; hypervolume {hv_text}; first front:")
        emit([{"id": f["id"], **f["objectives"]} for f in summary["front"]])
    else:
        emit(summary)


def _remote(cfg: Any, compute: str | None, experiment: str | None, name: str | None, no_wait: bool, dry_run: bool) -> None:
    from leafctl.backends.azure.remote_evolve import submit_remote_evolve

    st = settings()
    if st.backend != "azure" and not dry_run:
        raise UsageError(f"--remote needs a profile with backend = \"azure\" (profile {st.profile!r} is {st.backend})",
                         "pass -p PROFILE or use `leafctl config set backend azure`")
    result = submit_remote_evolve(cfg, compute=compute or st.get("compute"), experiment=experiment or st.get("experiment"),
                                  display_name=name, settings=st, dry_run=dry_run, wait=not no_wait,
                                  backend=None if dry_run else backend())
    if isinstance(result, str):  # the job YAML of a dry run
        sys.stdout.write(result)
        return
    emit(result)
