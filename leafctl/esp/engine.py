"""The evolution loop: train the surrogate, evolve prescriptors against it, write the outputs.

``evolve(config, out_dir)`` trains the surrogate (surrogate.py), evolves a population of prescriptors
with the step its mode names (steps.py) and writes the outputs listed in ``outputs.py``. After every
generation it atomically replaces ``checkpoint.npz`` (checkpoint.py) and then appends one JSON line to
``progress.jsonl`` (monitors.py). ``resume=True`` continues from the checkpoint; with the same seed and
device the result is byte-identical to an uninterrupted run. ``islands > 1``, or a process started by an
MPI launcher, runs the island model instead (islands.py).

The config (config.py) and the atomic file helpers (files.py) are re-exported here for callers
written against earlier releases.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from leafctl.errors import UsageError
from leafctl.esp.config import (FIELDS, MODES, SENSES, EvolveConfig, config_from_dict,  # noqa: F401  (re-exported)
                                dump_config, load_config, weight_problem)
from leafctl.esp.files import atomic_savez, atomic_write_bytes, atomic_write_text, file_sha256  # noqa: F401


@dataclass
class EvolveResult:
    out_dir: Path
    generation: int
    objectives: list[tuple[str, str]]
    # The final population's objectives, natural units: the mean predictions. With risk K > 0 the
    # evolution ranked on mean -/+ K*std instead; those values are risk_F (None without risk), and
    # rank, crowding and the knee are theirs.
    F: np.ndarray
    rank: np.ndarray
    crowding: np.ndarray
    predictor_metrics: dict[str, Any]
    cv: np.ndarray | None = None  # constraint violation per candidate (a constrained run; 0 = feasible)
    std: dict[str, np.ndarray] | None = None  # predicted std per outcome and candidate (ensemble, forest)
    risk_F: np.ndarray | None = None  # the risk-adjusted objectives the run ranked on (risk > 0)


def reported_objectives(problem: Any, theta: Any, F: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(means, risk-adjusted or None) of the final population, from ``F`` (what the steps ranked on, the
    cv column split off). Without risk F is the means. With risk the means are computed here from the
    genomes, not kept in the checkpoint, so a resumed run's outputs stay byte-identical."""
    from leafctl.esp.xp import to_numpy  # noqa: PLC0415

    if not problem.risk:
        return F, None
    return to_numpy(problem.mean_objectives(theta)), F


def action_specs(config: EvolveConfig, data_actions: list[Any], detect_integers: bool = True) -> tuple[list[Any], np.ndarray]:
    """The run's action specs (the data's own with the config's integer, action_range and simplex
    applied) and the cost per prescriptor output unit. ``detect_integers`` False: a whole-number column
    stays continuous unless the config names it integer (what runs of older releases did)."""
    import dataclasses  # noqa: PLC0415

    from leafctl.esp import actions  # noqa: PLC0415
    from leafctl.esp.prescriptor import cost_table  # noqa: PLC0415

    if not detect_integers:
        data_actions = [dataclasses.replace(s, integer=False) if s.kind == "numeric" else s for s in data_actions]
    specs = actions.apply(data_actions, config.integer, config.action_range, config.simplex)
    return specs, cost_table(specs, config.action_cost)


def check_config(config: EvolveConfig, detect_integers: bool = True,
                 say: Callable[[str], None] | None = None) -> tuple[Any, np.ndarray]:
    """Every check that needs the data, without training anything: the table reads and encodes, each
    objective names an outcome or action_cost, action_cost weights name action columns.
    Returns (dataset, cost per prescriptor output unit); the dataset's ``data_actions`` keeps the
    data's own action specs (``action_specs`` redoes them). Raises UsageError (exit 2). ``say`` gets a
    "note: ..." line per thing the data does not support but the run can still do (actions.data_notes)."""
    from leafctl.esp.data import load_dataset  # noqa: PLC0415
    from leafctl.esp.config import ACTION_COST  # noqa: PLC0415

    config.validate()
    outcomes = config.resolved_outcomes()
    if config.constraints:
        from leafctl.esp.constraints import check_names  # noqa: PLC0415

        check_names(config.constraints, config.data, config.actions, config.outcomes, config.context)  # before a typo becomes an outcome
    ds = load_dataset(config.data, config.context, config.actions, outcomes)
    for name, _ in config.objectives:
        if name != ACTION_COST and name not in outcomes:
            raise UsageError(f"objective {name!r} names nothing: it is neither an outcome column nor "
                             f"{ACTION_COST}", f"outcomes are: {', '.join(outcomes)}")
    from leafctl.esp import constraints  # noqa: PLC0415

    ds.data_actions = ds.actions
    ds.actions, costs = action_specs(config, ds.data_actions, detect_integers)
    if say is not None:
        from leafctl.esp import actions  # noqa: PLC0415

        for line in actions.data_notes(ds.data_actions, ds.actions, ds.Xa):
            say(f"note: {line}")
    constraints.for_run(config, ds, costs)  # refuses what the data cannot honour
    return ds, costs


def initial_population(config: EvolveConfig, layout: Any, host: np.random.Generator, xp: Any, ds: Any = None,
                       island: int = 0, islands: int = 1, say: Callable[[str], None] | None = None) -> Any:
    """Generation 0's genomes (P, D) on the device: seeded from the data ``ds`` (behaviour clones, min/max
    action policies), an earlier front (seed_from) or an earlier population (warm_start) as the config
    says (seeding.py), the rest Glorot-scaled random prescriptors; all random without ``ds``."""
    if ds is None:
        return xp.asarray(layout.init(host, config.population))
    from leafctl.esp import seeding  # noqa: PLC0415

    return xp.asarray(seeding.initial_population(config, layout, host, ds, island, islands, say))


def evolve(config: EvolveConfig, out_dir: str | Path,
           on_generation: Callable[[dict[str, Any]], None] | None = None,
           resume: bool = False, log: Callable[[str], None] | None = None) -> EvolveResult:
    from leafctl.esp import archive as front_archive  # noqa: PLC0415
    from leafctl.esp import checkpoint, constraints, islands, monitors, outputs, seeding, surrogate  # noqa: PLC0415
    from leafctl.esp.evaluate import Problem  # noqa: PLC0415
    from leafctl.esp.nsga2 import rank_and_crowding, to_minimised  # noqa: PLC0415
    from leafctl.esp.prescriptor import Layout  # noqa: PLC0415
    from leafctl.esp.steps import make_step  # noqa: PLC0415
    from leafctl.esp.xp import DeviceRandom, get_xp, to_numpy  # noqa: PLC0415

    config.validate()
    if config.islands > 1 or islands.launched_size() > 1:
        # N islands (sequentially in this process, or one or more per MPI rank): islands.py.
        return islands.evolve_islands(config, out_dir, on_generation=on_generation, resume=resume, log=log)
    say = log or (lambda _m: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    xp = get_xp(config.device)
    ckpt_path = out / checkpoint.FILE
    state = None
    if resume and ckpt_path.exists() and (out / surrogate.FILE).exists():
        state = checkpoint.load(ckpt_path)  # read first: it says how the run detects integer actions
    fixed = checkpoint.started_with(state["meta"] if state is not None else None)
    ds, costs = check_config(config, detect_integers=fixed["integer_detection"], say=say)
    names = [n for n, _ in config.objectives]
    senses = [s for _, s in config.objectives]
    layout = Layout(ds.Xc.shape[1], config.hidden, ds.actions)
    s_pred, s_ctx, s_evo = np.random.SeedSequence(config.seed).spawn(3)

    data_hash = file_sha256(config.data)
    if state is not None:
        checkpoint.as_started(config, state["meta"])
        checkpoint.check_same_run(state["meta"], config.to_dict(), data_hash, out, Path(config.data).name)
        say(f"resuming from generation {state['meta']['generation']}")
    elif resume:
        say("nothing to resume: starting from scratch")

    predictor, metrics = surrogate.fit_or_load(config, ds, out, s_pred, reuse=state is not None, say=say)
    dump_config(config, out / "config.toml")
    seeding.write_baseline(out, predictor, ds, costs, config, say)  # "today": the data's own actions
    problem = Problem.for_run(config, ds, layout, predictor, costs, xp, surrogate.contexts(ds, config, s_ctx))
    fixed["cpu_evaluation"] = problem.keep_cpu_evaluation(fixed["cpu_evaluation"], say)
    # A constrained run's F carries the violation as a last column; the "cv" sense makes the ranking use it.
    rank_senses = senses + [constraints.CV] if problem.constraints is not None else senses
    host = np.random.default_rng(s_evo)
    rng = DeviceRandom(xp, host)
    progress = monitors.Progress(out, say, on_generation)

    def record(gen: int, F: np.ndarray, seconds: float) -> dict[str, Any]:
        F, cv = constraints.split(F, len(names))
        best, mean = monitors.summary(F, senses, names)
        G = to_numpy(to_minimised(F if cv is None else F[cv == 0], senses))  # hypervolume of feasible ones
        hv = monitors.normalised_hv(G, np.asarray(hv_ref[0]), np.asarray(hv_ref[1]))
        return {"generation": gen, "generations": config.generations, "best": best, "mean": mean,
                "hypervolume": hv, "seconds": round(seconds, 6),
                **({} if cv is None else {"feasible": int((cv == 0).sum())}),
                **({"risk": config.risk} if config.risk else {})}  # best/mean are mean -/+ K*std then

    def save(gen: int) -> None:
        meta = {"generation": gen, "rng": host.bit_generator.state, "history": history,
                "hv_ref": hv_ref, "config": config.to_dict(), "data_sha256": data_hash, **fixed}
        checkpoint.save(ckpt_path, to_numpy(theta), to_numpy(F), meta,
                        None if cap == 0 else (to_numpy(archive[0]), to_numpy(archive[1])))

    minimise = lambda F_: to_minimised(F_, rank_senses)  # noqa: E731
    cap = front_archive.capacity(config)
    if state is not None:
        theta, F = xp.asarray(state["theta"]), xp.asarray(state["F"])
        archive = front_archive.empty(theta, F) if state["archive"] is None else tuple(map(xp.asarray, state["archive"]))
        host.bit_generator.state = state["meta"]["rng"]
        history, hv_ref = state["meta"]["history"], state["meta"]["hv_ref"]
        gen = int(state["meta"]["generation"])
        progress.restart(history)
    else:
        t0 = time.perf_counter()
        theta = initial_population(config, layout, host, xp, ds, say=say)
        seeding.write_lineage(out, config)
        F = problem.evaluate(theta)  # a warm start's population too: its old objectives are stale
        archive = front_archive.update(front_archive.empty(theta, F), theta, F, minimise, cap)
        # Fixed by the data, not by this run's generation 0: comparable across runs of the same data.
        hv_ref = monitors.data_reference(config.objectives, config.resolved_outcomes(), ds.Y, layout.actions, costs)
        gen = 0
        history = [record(0, to_numpy(F), time.perf_counter() - t0)]
        progress.clear()
        save(0)
        progress.emit(history[-1])

    step = make_step(config, problem.evaluate, rank_senses, problem)
    for g in range(gen + 1, config.generations + 1):
        t0 = time.perf_counter()
        theta, F = step(rng.for_step(), theta, F)
        archive = front_archive.update(archive, theta, F, minimise, cap)
        history.append(record(g, to_numpy(F), time.perf_counter() - t0))
        if g % config.checkpoint_every == 0 or g == config.generations:
            save(g)
        progress.emit(history[-1])
        gen = g

    theta, F = front_archive.with_population(archive, theta, F)  # the reported candidates
    rank, crowd = rank_and_crowding(minimise(F))
    F, cv = constraints.split(to_numpy(F), len(names))
    if cv is not None and not (cv == 0).any():  # the front is then the least-violating: say so, not "done"
        say(f"warning: no candidate of the final population meets the constraints "
            f"({', '.join(config.constraints)}); the front holds the least-violating ones (smallest cv)")
    F, risk_F = reported_objectives(problem, theta, F)
    result = EvolveResult(out, gen, list(config.objectives), F, to_numpy(rank), to_numpy(crowd), metrics, cv,
                          surrogate.outcome_std(problem, theta), risk_F)
    outputs.write_all(result, config, layout, to_numpy(theta), ds, predictor, costs, history)
    say(f"wrote outputs to {out}")
    return result
