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
    F: np.ndarray  # final population objectives, natural units
    rank: np.ndarray
    crowding: np.ndarray
    predictor_metrics: dict[str, Any]


def check_config(config: EvolveConfig) -> tuple[Any, np.ndarray]:
    """Every check that needs the data, without training anything: the table reads and encodes, each
    objective names an outcome or action_cost, action_cost weights name action columns.
    Returns (dataset, cost per prescriptor output unit). Raises UsageError (exit 2)."""
    from leafctl.esp.data import load_dataset  # noqa: PLC0415
    from leafctl.esp.config import ACTION_COST  # noqa: PLC0415
    from leafctl.esp.prescriptor import cost_table  # noqa: PLC0415

    config.validate()
    outcomes = config.resolved_outcomes()
    ds = load_dataset(config.data, config.context, config.actions, outcomes)
    for name, _ in config.objectives:
        if name != ACTION_COST and name not in outcomes:
            raise UsageError(f"objective {name!r} names nothing: it is neither an outcome column nor "
                             f"{ACTION_COST}", f"outcomes are: {', '.join(outcomes)}")
    return ds, cost_table(ds.actions, config.action_cost)


def initial_population(config: EvolveConfig, layout: Any, host: np.random.Generator, xp: Any) -> Any:
    """Generation 0's genomes (P, D) on the device: Glorot-scaled random prescriptors."""
    return xp.asarray(layout.init(host, config.population))


def evolve(config: EvolveConfig, out_dir: str | Path,
           on_generation: Callable[[dict[str, Any]], None] | None = None,
           resume: bool = False, log: Callable[[str], None] | None = None) -> EvolveResult:
    from leafctl.esp import checkpoint, islands, monitors, outputs, surrogate  # noqa: PLC0415
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
    ds, costs = check_config(config)
    names = [n for n, _ in config.objectives]
    senses = [s for _, s in config.objectives]
    layout = Layout(ds.Xc.shape[1], config.hidden, ds.actions)
    s_pred, s_ctx, s_evo = np.random.SeedSequence(config.seed).spawn(3)

    ckpt_path = out / checkpoint.FILE
    data_hash = file_sha256(config.data)
    state = None
    if resume and ckpt_path.exists() and (out / surrogate.FILE).exists():
        state = checkpoint.load(ckpt_path)
        checkpoint.check_same_run(state["meta"], config.to_dict(), data_hash, out, Path(config.data).name)
        say(f"resuming from generation {state['meta']['generation']}")
    elif resume:
        say("nothing to resume: starting from scratch")

    predictor, metrics = surrogate.fit_or_load(config, ds, out, s_pred, reuse=state is not None, say=say)
    dump_config(config, out / "config.toml")
    problem = Problem(layout, predictor, surrogate.contexts(ds, config, s_ctx), config.resolved_outcomes(),
                      list(config.objectives), costs, xp)
    host = np.random.default_rng(s_evo)
    rng = DeviceRandom(xp, host)
    progress = monitors.Progress(out, say, on_generation)

    def record(gen: int, F: np.ndarray, seconds: float) -> dict[str, Any]:
        best, mean = monitors.summary(F, senses, names)
        G = to_numpy(to_minimised(F, senses))
        hv = monitors.normalised_hv(G, np.asarray(hv_ref[0]), np.asarray(hv_ref[1]))
        return {"generation": gen, "generations": config.generations, "best": best, "mean": mean,
                "hypervolume": hv, "seconds": round(seconds, 6)}

    def save(gen: int) -> None:
        meta = {"generation": gen, "rng": host.bit_generator.state, "history": history,
                "hv_ref": hv_ref, "config": config.to_dict(), "data_sha256": data_hash}
        checkpoint.save(ckpt_path, to_numpy(theta), to_numpy(F), meta)

    if state is not None:
        theta, F = xp.asarray(state["theta"]), xp.asarray(state["F"])
        host.bit_generator.state = state["meta"]["rng"]
        history, hv_ref = state["meta"]["history"], state["meta"]["hv_ref"]
        gen = int(state["meta"]["generation"])
        progress.restart(history)
    else:
        t0 = time.perf_counter()
        theta = initial_population(config, layout, host, xp)
        F = problem.evaluate(theta)
        hv_ref = monitors.hv_reference(to_numpy(to_minimised(F, senses)))
        gen = 0
        history = [record(0, to_numpy(F), time.perf_counter() - t0)]
        progress.clear()
        save(0)
        progress.emit(history[-1])

    step = make_step(config, problem.evaluate, senses)
    for g in range(gen + 1, config.generations + 1):
        t0 = time.perf_counter()
        theta, F = step(rng.for_step(), theta, F)
        history.append(record(g, to_numpy(F), time.perf_counter() - t0))
        if g % config.checkpoint_every == 0 or g == config.generations:
            save(g)
        progress.emit(history[-1])
        gen = g

    rank, crowd = rank_and_crowding(to_minimised(F, senses))
    result = EvolveResult(out, gen, list(config.objectives), to_numpy(F), to_numpy(rank), to_numpy(crowd), metrics)
    outputs.write_all(result, config, layout, to_numpy(theta), ds, predictor, costs, history)
    say(f"wrote outputs to {out}")
    return result
