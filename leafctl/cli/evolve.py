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
# Completion callbacks live in _complete (stdlib only), so the fast Tab path can call them.
from leafctl.cli._complete import complete_compute_names, complete_evolve_run_ids, complete_run_ids
from leafctl.cli._complete import complete_devices as _complete_device
from leafctl.cli._complete import complete_modes as _complete_mode
from leafctl.cli._complete import complete_predictors as _complete_predictor
from leafctl.cli._complete import complete_samples as _complete_samples
from leafctl.errors import UsageError

RESULT = "result"  # the job's output folder name (leafctl.evolve.RESULT; kept light for the start-up path)
EVOLVE_MODEL_OUTPUT = f"{RESULT}/model"  # what `model register --run` takes from an evolve run


class _BackendWhenNeeded:
    """The profile's backend for a dry run, built (signing in: the profile's secret is read) only when
    the plan reads from it: an earlier run for --resume, --warm-start or --seed-from RUN_ID. Planning
    alone needs its name only, so `run evolve --dry-run` works without the secret, as `run submit
    --dry-run` does."""

    def __init__(self, name: str):
        self.name = name

    def __getattr__(self, attr: str) -> Any:  # anything but .name: the real backend
        if attr.startswith("__"):  # copy/pickle probing for hooks: not a use of the backend
            raise AttributeError(attr)
        return getattr(backend(), attr)


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
    integer: Annotated[list[str] | None, typer.Option("--integer", help="COL: prescribe this numeric action as whole numbers (repeatable; automatic when the data's values all are).")] = None,
    action_range: Annotated[list[str] | None, typer.Option("--action-range", help="COL=LO:HI: the range of a numeric action instead of the data's (repeatable).")] = None,
    constraint: Annotated[list[str] | None, typer.Option("--constraint", help='"NAME<=X" or "NAME>=X" on an outcome, an action\'s mean or action_cost (repeatable); feasible candidates first.')] = None,
    population: Annotated[int | None, typer.Option("--population", help="Prescriptors per generation (default 100).")] = None,
    generations: Annotated[int | None, typer.Option("--generations", help="Generations (default 100).")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="Search: esp (default: NSGA-II survival of distinct behaviours, context crossover, decision-flip mutation) | leaf (LEAF's exact algorithm) | nsga2.", autocompletion=_complete_mode)] = None,
    elites: Annotated[int | None, typer.Option("--elites", help="With --mode leaf: prescriptors kept unchanged each generation (default 10).")] = None,
    hidden: Annotated[int | None, typer.Option("--hidden", help="Hidden units of each prescriptor network (default 16).")] = None,
    archive: Annotated[int | None, typer.Option("--archive", metavar="N", help="Keep the non-dominated prescriptors found in any generation, up to N x population (at most 4096), and report them with the final population; 0: the final population alone (default 4).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (same seed and device: same result).")] = None,
    device: Annotated[str | None, typer.Option("--device", help="auto | cpu | gpu (default: auto).", autocompletion=_complete_device)] = None,
    predictor: Annotated[str | None, typer.Option("--predictor", help="Surrogate: mlp | ridge | forest | gbt | ensemble | auto (cross-validation picks; default: mlp). Settings: a [predictor] table in CONFIG.", autocompletion=_complete_predictor)] = None,
    risk: Annotated[float | None, typer.Option("--risk", metavar="K", help="With ensemble or forest: optimise mean - K*std of maximised outcomes (mean + K*std of minimised); default 0.")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue an interrupted evolve run from its last checkpoint.", autocompletion=complete_evolve_run_ids)] = None,
    seed_policies: Annotated[bool | None, typer.Option("--seed-policies/--no-seed-policies", help="Seed generation 0 with behaviour clones of the data's actions and the min/max action policies (default: on).")] = None,
    seed_from: Annotated[str | None, typer.Option("--seed-from", help="Seed generation 0 with the first front of an evolve run (RUN_ID), a registered model (NAME[:VERSION]) or a local model folder.", autocompletion=complete_run_ids)] = None,
    warm_start: Annotated[str | None, typer.Option("--warm-start", help="Start from the best --population candidates evolve run RUN_ID reported (its final population and front archive), re-evaluated by a predictor retrained on --data (the outer loop; its config unless CONFIG is given).", autocompletion=complete_run_ids)] = None,
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
    """Evolve prescriptors toward the Pareto front of the objectives (LEAF-ESP), as a run.

    The hypervolume (hv) reported per generation is that of the first front, with each objective
    normalised by ranges fixed by the data (an outcome: its column's min..max; action_cost: the
    cheapest..dearest actions in the actions' ranges) and the reference point at 1.1: runs on the same
    data and objectives compare. It can fall between generations (leaf mode keeps only the elites)."""
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
             "generations": generations, "seed": seed, "device": device, "predictor": predictor, "risk": risk}
    flags.update(seed_policies=seed_policies, seed_from=seed_from, warm_start=warm_start)
    flags.update(mode=mode, elites=elites, hidden=hidden, archive=archive)
    flags.update(integer=[c.strip() for v in integer for c in v.split(",") if c.strip()] if integer else None,
                 action_range=parse_kv(action_range, "--action-range") or None,
                 constraints=list(constraint) if constraint else None)
    st = settings()
    # The profile decides where the run goes, as for `run submit`; --remote says the same of an azure profile.
    if remote and st.backend != "azure" and not dry_run:
        raise UsageError(f"--remote needs a profile with backend = \"azure\" (profile {st.profile!r} is {st.backend})",
                         "pass -p PROFILE or use `leafctl config set backend azure`")
    where: Any
    if remote and st.backend != "azure":
        where = "azure"  # a name: an offline dry run
    elif dry_run and st.backend == "azure":
        where = _BackendWhenNeeded(st.backend)  # a dry run signs in (reads the secret) only to read a run
    else:
        where = backend()
    if resume and (config or sample):
        raise UsageError("--resume continues a run's own config", "drop CONFIG/--sample; only --generations and --device may change")
    if resume and warm_start:
        raise UsageError("--resume and --warm-start both name where to start", "--resume continues a run on its own data; "
                         "--warm-start starts a new run on new data from its population: give one")
    # --warm-start RUN_ID without CONFIG/--sample starts from that run's own config (the plan fetches it).
    warm_alone = bool(warm_start) and not (config or sample)
    cfg = None if (resume or warm_alone) else service.config(config, sample, flags)
    plan = service.plan(cfg, where, settings=st, islands=islands, instances=instances or 1, migrate_every=migrate_every,
                        migrants=migrants, compute=compute, experiment=experiment, name=name, resume=resume,
                        resume_flags=flags if resume else None, warm_flags=flags if warm_alone else None)
    if dry_run:
        if state().output in (None, "table"):
            sys.stdout.write(plan.yaml())  # the az ml command job, loadable by `az ml job create -f`
            for role, names in (plan.columns or {}).items():  # the YAML carries no columns: say them here
                info(f"{role}: {', '.join(names)}")
        else:
            emit(plan.to_dict())
        return
    plan.spec.tags[service.COMMAND_TAG] = state().command_line()  # `run show` says what was asked for
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
        from leafctl.cli._front import front_rows, left_out_note

        rows, columns = front_rows(summary["front"], (summary.get("knee") or {}).get("id"))
        emit(rows, columns)
        pareto = f"{run.outputs_path}/{RESULT}/pareto.csv" if run.outputs_path else f"pareto.csv of `leafctl run download {run.id}`"
        if text := left_out_note(len(summary["front"]), len(rows), pareto):
            info(text)
        from leafctl.cli._textplot import front_scatter, knee_line

        for line in front_scatter(summary["front"], plan.config.objectives, summary.get("knee")):
            typer.echo(line)
        if text := knee_line(summary.get("knee")):
            info(text)
        if text := today_line(summary):
            info(text)
        if text := predictor_line(summary):
            info(text)
    else:
        emit(summary)


def predictor_line(summary: dict[str, Any]) -> str | None:
    """"predictor mlp, held-out R²/RMSE: revenue 0.9490/66.30  margin 0.6870/59.39" (None without metrics),
    the figures as the job's log line gives them; past 100 characters, one line per outcome."""
    pred = summary.get("predictor") or {}
    held = pred.get("held_out") or {}
    from leafctl.output import fitted_lines, held_out_parts

    parts = held_out_parts(held) if isinstance(held, dict) else []
    return "\n".join(fitted_lines(f"predictor {pred.get('kind')}, held-out R²/RMSE:", parts)) if parts else None


def today_line(summary: dict[str, Any]) -> str | None:
    """"today: revenue 377.7  margin 82.4 / prescribed (knee): revenue 401.2  margin 179.3": the data's own
    actions as the predictor sees them (baseline.json) beside the knee candidate; None without a baseline."""
    base = (summary.get("baseline") or {}).get("objectives")
    if not base:
        return None
    from leafctl.output import number  # one format on the terminal: progress, front table, this line

    num = lambda d: "  ".join(f"{k} {number(v)}" for k, v in d.items() if isinstance(v, (int, float)))  # noqa: E731
    knee = (summary.get("knee") or {}).get("objectives")
    line = f"today: {num(base)}" + (f" / prescribed (knee): {num(knee)}" if knee else "")
    for key, words in (("warm_started_from", "warm-started from"), ("seeded_from", "seeded from")):
        if summary.get(key):
            line += f"; {words} {summary[key]}"
    return line


# Between the tracebacks of a chained exception (both kept in the run's log, not shown).
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


class _Progress:
    """The run's progress records as a rich progress bar on stderr (a line per 10% off a terminal)."""

    def __init__(self, generations: int):
        self.generations = generations
        self._bar: Any = None
        self._task: Any = None
        self._printed = -1
        self._in_traceback = False

    def __enter__(self) -> _Progress:
        import os

        if sys.stderr.isatty() and not os.environ.get("LEAFCTL_NO_PROGRESS"):
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("generation"), MofNCompleteColumn(), BarColumn(),
                                 TextColumn("{task.fields[best]}"), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=False)
            # The legend: what "hv" on the bar is measured against (the same words as --help).
            info("hv: hypervolume of the first front, objectives normalised by the data's ranges "
                 "(comparable across runs on the same data)")
            self._bar.start()
            self._task = self._bar.add_task("evolve", total=self.generations, best="")
        return self

    def log(self, line: str) -> None:
        """The job's other log lines (data, predictor, outputs; the cluster's own) pass through to stderr;
        the per-generation lines are drawn by ``show``."""
        from leafctl.evolve import parse_progress

        if line.startswith("Traceback (most recent call last)"):
            self._in_traceback = True
        if self._in_traceback:
            # A crash's traceback stays in the run's log; the error (evolve.failure) gives its last line.
            if line.strip() and not line[:1].isspace() and not line.startswith("Traceback"):
                self._in_traceback = False  # the exception's own line ends it (not shown either)
            return
        if line.strip() and parse_progress(line) is None and not line.startswith(_CHAINED):
            info(line)

    def show(self, rec: dict[str, Any]) -> None:
        from leafctl.output import number  # the front table's format: 430.0 beside 430.9, never 430

        best = "  ".join(f"{k} {number(v)}" for k, v in rec.get("best", {}).items() if isinstance(v, (int, float)))
        hv = rec.get("hypervolume")
        text = best + (f"  hv {hv:.4f}" if isinstance(hv, (int, float)) else "")
        if rec.get("risk"):  # a --risk run's best values are mean -/+ K*std; last, so a narrow bar cuts it first
            text += f"  (risk K={rec['risk']:g})"
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
