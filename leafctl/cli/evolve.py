"""`leafctl run evolve`: LEAF-ESP as a run like any other, on the backend the profile names.

Parsing and rendering only: ``leafctl.evolve`` plans the run (config checked in-process, so bad columns
exit 2 before anything is submitted), submits it through the backend, follows its progress and reads its
result. Here the flags become a plan, the progress becomes a bar on stderr and the result a table or JSON.
``--remote`` is a synonym of an azure profile; ``--resume RUN_ID`` starts a new run that continues
RUN_ID's last checkpoint; ``--islands N`` runs N islands over MPI.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from leafctl.cli._common import DryRunOption, NoWaitOption, backend, emit, info, settings, state
from leafctl.cli._complete import complete_compute_names, complete_run_ids
from leafctl.errors import UsageError

RESULT = "result"  # the job's output folder name (leafctl.evolve.RESULT; kept light for the start-up path)
EVOLVE_MODEL_OUTPUT = f"{RESULT}/model"  # what `model register --run` takes from an evolve run


def _complete_samples(ctx: Any, incomplete: str) -> list[str]:
    from leafctl.esp.samples import sample_names  # a dict of names: no numpy

    return [n for n in sample_names() if n.startswith(incomplete)]


def _complete_device(ctx: Any, incomplete: str) -> list[str]:
    return [d for d in ("auto", "cpu", "gpu") if d.startswith(incomplete)]


def _csv_list(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


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
    islands: Annotated[int | None, typer.Option("--islands", help="Evolve N islands over MPI (mpiexec locally, distribution: mpi on Azure ML).")] = None,
    migrate_every: Annotated[int | None, typer.Option("--migrate-every", help="With --islands: generations between migrations (default 10).")] = None,
    migrants: Annotated[int | None, typer.Option("--migrants", help="With --islands: best genomes each island sends (default 2).")] = None,
    instances: Annotated[int | None, typer.Option("--instances", help="With --islands: nodes to spread them over (N divisible by it; default 1).")] = None,
    remote: Annotated[bool, typer.Option("--remote", help="Submit to the profile's Azure ML workspace (what an azure profile does anyway).")] = False,
    no_wait: NoWaitOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Evolve prescriptors toward the Pareto front of the objectives (LEAF-ESP), as a run."""
    from leafctl import evolve as service
    from leafctl.cli._common import parse_kv

    weights: dict[str, Any] | None = None
    if action_cost:
        weights = {}
        for k, v in parse_kv(action_cost, "--action-cost").items():
            try:
                weights[k] = float(v)
            except ValueError:
                raise UsageError(f"--action-cost {k}={v!r}: the weight must be a number", "e.g. --action-cost discount=2") from None
            from leafctl.esp.config import weight_problem

            if problem := weight_problem(weights[k]):  # float() takes "nan" and "inf"
                raise UsageError(f"--action-cost {k}={v}: the weight {problem}", "e.g. --action-cost discount=2")
    flags = {"data": data, "context": _csv_list(context), "actions": _csv_list(actions), "outcomes": _csv_list(outcomes),
             "objectives": list(objective) if objective else None, "action_cost": weights, "population": population,
             "generations": generations, "seed": seed, "device": device, "predictor": predictor}
    st = settings()
    # The profile decides where the run goes, as for `run submit`; --remote says the same of an azure profile.
    if remote and st.backend != "azure" and not dry_run:
        raise UsageError(f"--remote needs a profile with backend = \"azure\" (profile {st.profile!r} is {st.backend})",
                         "pass -p PROFILE or use `leafctl config set backend azure`")
    where: Any = "azure" if (remote and st.backend != "azure") else backend()  # a name: an offline dry run
    if resume and (config or sample):
        raise UsageError("--resume continues a run's own config", "drop CONFIG/--sample; only --generations and --device may change")
    cfg = None if resume else service.config(config, sample, flags)
    plan = service.plan(cfg, where, settings=st, islands=islands, instances=instances or 1, migrate_every=migrate_every,
                        migrants=migrants, compute=compute, experiment=experiment, name=name, resume=resume,
                        resume_flags=flags if resume else None)
    if dry_run:
        if state().output in (None, "table"):
            sys.stdout.write(plan.yaml())  # the az ml command job, loadable by `az ml job create -f`
        else:
            emit(plan.to_dict())
        return
    run = service.submit(plan)
    spread = f", {plan.islands} islands" + (f" on {plan.instances} nodes" if plan.instances > 1 else "") if plan.islands > 1 else ""
    info(f"submitted evolve run {run.id} on {plan.spec.compute} ({plan.device}{spread})")
    if no_wait:
        emit(service.summary(run, plan.device))
        return
    with _Progress(plan.config.generations) as bar:
        run = service.follow(run, plan.backend, on_progress=bar.show, on_log=bar.log)
    summary = service.result(run, plan.backend)
    if state().output in (None, "table") and sys.stdout.isatty() and not state().query:
        hv = summary["hypervolume"]
        hv_text = f"{hv:.4f}" if isinstance(hv, (int, float)) else "n/a"
        where_text = f"{run.outputs_path}/{RESULT}" if run.outputs_path else f"its output {RESULT!r} (leafctl run download {run.id})"
        info(f"run {run.id} completed; outputs in {where_text}; hypervolume {hv_text}; first front:")
        emit([{"id": f["id"], **f["objectives"]} for f in summary["front"]])
    else:
        emit(summary)


class _Progress:
    """The run's progress records as a rich progress bar on stderr (a line per 10% off a terminal)."""

    def __init__(self, generations: int):
        self.generations = generations
        self._bar: Any = None
        self._task: Any = None
        self._printed = -1

    def __enter__(self) -> _Progress:
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

    def log(self, line: str) -> None:
        """The job's other log lines (data, predictor, outputs; the cluster's own) pass through to stderr;
        the per-generation lines are drawn by ``show``."""
        from leafctl.evolve import parse_progress

        if line.strip() and parse_progress(line) is None:
            info(line)

    def show(self, rec: dict[str, Any]) -> None:
        best = "  ".join(f"{k} {v:.4g}" for k, v in rec.get("best", {}).items() if isinstance(v, (int, float)))
        hv = rec.get("hypervolume")
        text = best + (f"  hv {hv:.4f}" if isinstance(hv, (int, float)) else "")
        gen, total = rec.get("generation", 0), rec.get("generations") or self.generations
        if self._bar is not None:
            self._bar.update(self._task, completed=gen, total=total, best=text)
            return
        step = max(1, total // 10)
        if (gen % step == 0 or gen == total) and gen != self._printed:
            info(f"generation {gen}/{total}  {text}")
            self._printed = gen

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()
