"""The evolution loop: config, checkpoints, resume, per-generation progress.

``evolve(config, out_dir)`` trains the surrogate, evolves a population of prescriptors against it and
writes the outputs listed in ``outputs.py``. After every generation it atomically replaces
``checkpoint.npz`` (population, objectives, host RNG bit-generator state as JSON, generation, history)
and then appends one JSON line to ``progress.jsonl``. ``resume=True`` continues from the checkpoint; with
the same seed and device the result is byte-identical to an uninterrupted run.
``islands > 1``, or a process started by an MPI launcher, runs the island model instead (islands.py).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from leafctl.errors import UsageError

MODES = ("leaf", "nsga2")
_MAX_COUNT = 2**31 - 1  # sizes index arrays; larger numbers cannot run (and overflow NumPy past 2**63)
SENSES = ("max", "min")


def weight_problem(w: Any) -> str | None:
    """What is wrong with an action_cost weight, or None. NaN, ±inf or a huge weight makes every
    action_cost NaN or inf, and the run would "complete" with hypervolume 0."""
    from leafctl.esp.data import MAX_MAGNITUDE  # noqa: PLC0415

    if isinstance(w, bool) or not isinstance(w, (int, float)):
        return None  # not a number at all: cost_table says so, naming the column
    if w != w or w in (float("inf"), float("-inf")):
        return f"must be a finite number, got {w}"
    if abs(w) > MAX_MAGNITUDE:
        return f"is too large ({w:g}; at most {MAX_MAGNITUDE:g})"
    return None


def _parse_objective(o: Any) -> tuple[str, str]:
    """``"revenue:max"``, ``["revenue", "max"]`` or ``{name = "revenue", sense = "max"}``."""
    if isinstance(o, str):
        name, _, sense = o.partition(":")
    elif isinstance(o, Mapping):
        name, sense = str(o.get("name", "")), str(o.get("sense", ""))
    elif isinstance(o, (list, tuple)) and len(o) == 2:
        name, sense = str(o[0]), str(o[1])
    else:
        raise UsageError(f"objective {o!r} is not understood", 'write objectives as "name:max" or "name:min"')
    name, sense = name.strip(), (sense.strip() or "max").lower()
    if not name:
        raise UsageError(f"objective {o!r} has no name", 'write objectives as "name:max" or "name:min"')
    if sense not in SENSES:
        raise UsageError(f"objective {name!r} has sense {sense!r}", "use max or min")
    return name, sense


@dataclass
class EvolveConfig:
    data: str = ""
    context: list[str] = field(default_factory=list)  # empty: every column not an action or outcome
    actions: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)  # empty: the non-action_cost objectives
    objectives: list[tuple[str, str]] = field(default_factory=list)
    action_cost: dict[str, Any] = field(default_factory=dict)  # column -> weight (categorical: {cat: cost})
    population: int = 100
    generations: int = 100
    elites: int = 10
    remove_pct: float = 0.8
    mutation_prob: float = 0.1
    mutation_factor: float = 0.1
    hidden: int = 16
    predictor: str = "mlp"  # mlp | ridge
    predictor_hidden: int = 64
    seed: int = 0
    device: str = "auto"  # auto | cpu | gpu
    mode: str = "leaf"  # leaf | nsga2
    contexts_sample: int = 0  # 0: every row's context; else a seeded sample of this many rows
    checkpoint_every: int = 1
    # The island model (leafctl/esp/islands.py): `islands` sub-populations of `population` each, which
    # exchange their best `migrants` every `migrate_every` generations. 1 island is the plain run.
    islands: int = 1
    migrate_every: int = 10
    migrants: int = 2

    def __post_init__(self) -> None:
        self.objectives = [_parse_objective(o) for o in self.objectives]
        for name in ("context", "actions", "outcomes"):
            v = getattr(self, name)
            if isinstance(v, str):
                setattr(self, name, [s.strip() for s in v.split(",") if s.strip()])

    def resolved_outcomes(self) -> list[str]:
        from leafctl.esp.evaluate import ACTION_COST  # noqa: PLC0415

        return list(self.outcomes) or [n for n, _ in self.objectives if n != ACTION_COST]

    def validate(self) -> "EvolveConfig":
        def need(ok: bool, what: str, hint: str) -> None:
            if not ok:
                raise UsageError(what, hint)

        need(bool(self.data), "no data file given", "set data = \"path/to/table.csv\"")
        need(bool(self.actions), "no action columns given", "set actions = [\"col\", ...]")
        need(bool(self.objectives), "no objectives given", 'set objectives = ["outcome:max", "action_cost:min"]')
        names = [n for n, _ in self.objectives]
        need(len(set(names)) == len(names), "an objective is named twice", "name each objective once")
        need(self.population >= 2, f"population {self.population} is too small", "use a population of at least 2")
        need(self.generations >= 0, f"generations {self.generations} is negative", "use 0 or more")
        need(0 <= self.elites < self.population, f"elites {self.elites} must be below population "
             f"{self.population}", "lower elites or raise population")
        need(0.0 <= self.remove_pct < 1.0, f"remove_pct {self.remove_pct} is outside [0, 1)", "e.g. 0.8")
        need(0.0 <= self.mutation_prob <= 1.0, f"mutation_prob {self.mutation_prob} is outside [0, 1]", "e.g. 0.1")
        need(self.mutation_factor >= 0.0, f"mutation_factor {self.mutation_factor} is negative", "e.g. 0.1")
        need(self.hidden >= 1, f"hidden {self.hidden} must be at least 1", "e.g. 16")
        need(self.predictor_hidden >= 1, f"predictor_hidden {self.predictor_hidden} must be at least 1", "e.g. 64")
        need(self.predictor in ("mlp", "ridge"), f"unknown predictor {self.predictor!r}", "use mlp or ridge")
        need(self.mode in MODES, f"unknown mode {self.mode!r}", "use leaf or nsga2")
        need(self.device in ("auto", "cpu", "gpu"), f"unknown device {self.device!r}", "use auto, cpu or gpu")
        need(self.contexts_sample >= 0, f"contexts_sample {self.contexts_sample} is negative", "0 means all rows")
        need(self.checkpoint_every >= 1, f"checkpoint_every {self.checkpoint_every} must be at least 1", "e.g. 1")
        need(self.seed >= 0, f"seed {self.seed} is negative", "use 0 or more")
        need(self.islands >= 1, f"islands {self.islands} must be at least 1", "e.g. islands = 4")
        need(self.migrate_every >= 1, f"migrate_every {self.migrate_every} must be at least 1", "e.g. 10")
        # Migrants replace an island's worst: at least one of its own must stay (one island: unused).
        need(self.migrants >= 0 and (self.islands == 1 or self.migrants < self.population), f"migrants {self.migrants} must be from 0 to below the "
             f"island population {self.population}", "lower migrants or raise population (it is per island)")
        for name in ("population", "generations", "hidden", "predictor_hidden", "contexts_sample", "checkpoint_every",
                     "islands", "migrate_every"):
            v = getattr(self, name)
            need(v <= _MAX_COUNT, f"{name} {v} is too large", f"use at most {_MAX_COUNT}")
        for col, w in self.action_cost.items():
            # A categorical action's weight is a {category: cost} table: each cost is checked.
            pairs = [(f"{col}.{c}", x) for c, x in w.items()] if isinstance(w, Mapping) else [(col, w)]
            for label, x in pairs:
                problem = weight_problem(x)
                need(problem is None, f"action_cost weight for {label!r} {problem}", f"e.g. action_cost.{col} = 2")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["objectives"] = [f"{n}:{s}" for n, s in self.objectives]
        return d

    def to_toml(self) -> str:
        import tomli_w  # noqa: PLC0415

        return tomli_w.dumps(self.to_dict())


FIELDS = {f.name: f for f in dataclasses.fields(EvolveConfig)}


def _coerce(key: str, value: Any) -> Any:
    """Type-check one key against the dataclass default's type (ints, floats, strings, lists)."""
    if key not in FIELDS:
        close = difflib.get_close_matches(key, FIELDS, n=1)
        raise UsageError(f"unknown config key {key!r}",
                         f"did you mean {close[0]!r}?" if close else f"keys are: {', '.join(FIELDS)}")
    default = EvolveConfig().__getattribute__(key)
    if isinstance(default, bool) or default is None:
        return value
    if isinstance(default, int) and not isinstance(value, bool):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise UsageError(f"config key {key!r} must be an integer, got {value!r}", f"e.g. {key} = {default}")
    elif isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UsageError(f"config key {key!r} must be a number, got {value!r}", f"e.g. {key} = {default}")
        value = float(value)
    elif isinstance(default, str) and not isinstance(value, str):
        raise UsageError(f"config key {key!r} must be a string, got {value!r}", f'e.g. {key} = "..."')
    elif isinstance(default, list) and isinstance(value, str):
        value = [s.strip() for s in value.split(",") if s.strip()]
    elif isinstance(default, dict) and not isinstance(value, Mapping):
        raise UsageError(f"config key {key!r} must be a table, got {value!r}", f"e.g. [{key}]")
    return value


def _parse_override(text: str) -> tuple[str, Any]:
    """``key=value``; the value is read as a TOML value when it parses, else as a plain string."""
    key, eq, raw = text.partition("=")
    if not eq:
        raise UsageError(f"override {text!r} has no '='", "write key=value, e.g. population=200")
    key = key.strip()
    if "." in key:  # action_cost.discount=2
        top, _, sub = key.partition(".")
        return top, {sub: _parse_override(f"x={raw}")[1]}
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def config_from_dict(d: Mapping[str, Any], base: EvolveConfig | None = None) -> EvolveConfig:
    cfg = dataclasses.asdict(base) if base is not None else {}
    for k, v in d.items():
        v = _coerce(k, v)
        if isinstance(v, Mapping) and isinstance(cfg.get(k), Mapping):
            v = {**cfg[k], **v}
        cfg[k] = v
    return EvolveConfig(**cfg)


def load_config(path: str | Path | None = None,
                overrides: Mapping[str, Any] | Iterable[str] | None = None) -> EvolveConfig:
    """Read a TOML config (keys are EvolveConfig's fields; an optional [evolve] table is accepted) and
    apply overrides, either a mapping or ``key=value`` strings. A relative ``data`` path is taken
    relative to the config file when the file is there. Returns a validated config."""
    base: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UsageError(f"config file {str(p)!r} not found", "check the path")
        try:
            base = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise UsageError(f"config file {p.name} is not valid TOML: {e}", "fix the file") from None
        except UnicodeDecodeError as e:
            raise UsageError(f"config file {p.name} is not UTF-8 (byte 0x{e.object[e.start]:02x} at offset {e.start})",
                             "save it as UTF-8 and run again") from None
        except RecursionError:  # tomllib recurses once per nested [ or {
            raise UsageError(f"config file {p.name} is not valid TOML: nested too deeply", "fix the file") from None
        except PermissionError:
            from leafctl.errors import AuthError

            raise AuthError(f"cannot read config file {str(p)!r}: permission denied", "check the file's permissions") from None
        base = dict(base.get("evolve", base))
        data = base.get("data")
        if isinstance(data, str) and data and not Path(data).is_absolute() and (p.parent / data).exists():
            base["data"] = str((p.parent / data).resolve())
    cfg = config_from_dict(base)
    if overrides:
        items = overrides.items() if isinstance(overrides, Mapping) else (_parse_override(o) for o in overrides)
        cfg = config_from_dict(dict(items), cfg)
    return cfg.validate()


def dump_config(config: EvolveConfig, path: str | Path) -> None:
    atomic_write_text(Path(path), config.to_toml())


# ------------------------------------------------------------------ files

def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk: the old file stays, and no half-written temp is left behind
        _drop(tmp)
        raise


def _drop(tmp: Path) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_savez(path: Path, **arrays: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _drop(tmp)
        raise


# ------------------------------------------------------------------ evolve

@dataclass
class EvolveResult:
    out_dir: Path
    generation: int
    objectives: list[tuple[str, str]]
    F: np.ndarray  # final population objectives, natural units
    rank: np.ndarray
    crowding: np.ndarray
    predictor_metrics: dict[str, Any]


def _summary(F: np.ndarray, senses: list[str], names: list[str]) -> tuple[dict, dict]:
    best, mean = {}, {}
    for j, (n, s) in enumerate(zip(names, senses)):
        col = F[:, j]
        col = col[np.isfinite(col)]
        best[n] = (float(col.max()) if s == "max" else float(col.min())) if col.size else None
        mean[n] = float(col.mean()) if col.size else None
    return best, mean


def _normalised_hv(G: np.ndarray, ideal: np.ndarray, nadir: np.ndarray) -> float | None:
    """Hypervolume of the first front in objective space normalised by generation 0's ideal and nadir,
    reference point 1.1 in every objective. None for 3+ objectives with a large front (exact HV cost)."""
    from leafctl.esp.nsga2 import hypervolume, nondominated_rank  # noqa: PLC0415

    front = G[nondominated_rank(G) == 1]
    if G.shape[1] > 2 and len(front) > 200:
        return None
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    return hypervolume((front - ideal) / span, [1.1] * G.shape[1])


def _comparable(d: dict[str, Any]) -> dict[str, Any]:
    # A resumed run may extend the generation count or move device; everything else must match.
    # The data is compared by content (data_sha256), not path: a job's input mount moves between runs.
    # A checkpoint from before the island keys existed was a one-island run with their defaults.
    d = {"islands": 1, "migrate_every": 10, "migrants": 2, **d}
    return {k: v for k, v in d.items() if k not in ("generations", "device", "checkpoint_every", "data")}


def file_sha256(path: str | Path) -> str:
    import hashlib  # noqa: PLC0415

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_config(config: EvolveConfig) -> tuple[Any, np.ndarray]:
    """Every check that needs the data, without training anything: the table reads and encodes, each
    objective names an outcome or action_cost, action_cost weights name action columns.
    Returns (dataset, cost per prescriptor output unit). Raises UsageError (exit 2)."""
    from leafctl.esp.data import load_dataset  # noqa: PLC0415
    from leafctl.esp.evaluate import ACTION_COST  # noqa: PLC0415
    from leafctl.esp.prescriptor import cost_table  # noqa: PLC0415

    config.validate()
    outcomes = config.resolved_outcomes()
    ds = load_dataset(config.data, config.context, config.actions, outcomes)
    for name, _ in config.objectives:
        if name != ACTION_COST and name not in outcomes:
            raise UsageError(f"objective {name!r} names nothing: it is neither an outcome column nor "
                             f"{ACTION_COST}", f"outcomes are: {', '.join(outcomes)}")
    return ds, cost_table(ds.actions, config.action_cost)


def evolve(config: EvolveConfig, out_dir: str | Path,
           on_generation: Callable[[dict[str, Any]], None] | None = None,
           resume: bool = False, log: Callable[[str], None] | None = None) -> EvolveResult:
    from leafctl.esp import outputs  # noqa: PLC0415
    from leafctl.esp.evaluate import Problem  # noqa: PLC0415
    from leafctl.esp.nsga2 import rank_and_crowding, to_minimised  # noqa: PLC0415
    from leafctl.esp.operators import leaf_step, leaf_vary, nsga2_step  # noqa: PLC0415
    from leafctl.esp.predictor import Predictor, train  # noqa: PLC0415
    from leafctl.esp.prescriptor import Layout  # noqa: PLC0415
    from leafctl.esp.xp import DeviceRandom, get_xp, to_numpy  # noqa: PLC0415

    from leafctl.esp import islands  # noqa: PLC0415

    config.validate()
    if config.islands > 1 or islands.launched_size() > 1:
        # N islands (sequentially in this process, or one or more per MPI rank): islands.py.
        return islands.evolve_islands(config, out_dir, on_generation=on_generation, resume=resume, log=log)
    say = log or (lambda _m: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    xp = get_xp(config.device)
    outcomes = config.resolved_outcomes()
    ds, costs = check_config(config)
    names = [n for n, _ in config.objectives]
    senses = [s for _, s in config.objectives]
    layout = Layout(ds.Xc.shape[1], config.hidden, ds.actions)
    s_pred, s_ctx, s_evo = np.random.SeedSequence(config.seed).spawn(3)

    ckpt_path = out / "checkpoint.npz"
    data_hash = file_sha256(config.data)
    state = None
    if resume and ckpt_path.exists() and (out / "predictor.npz").exists():
        with np.load(ckpt_path, allow_pickle=False) as z:
            state = {"theta": z["theta"], "F": z["F"], "meta": json.loads(str(z["meta"]))}
        if _comparable(state["meta"]["config"]) != _comparable(config.to_dict()):
            raise UsageError(f"{out} holds a run with a different config",
                             "resume with the same config (only generations and device may change) "
                             "or use a new output folder")
        if state["meta"].get("data_sha256") not in (None, data_hash):
            raise UsageError(f"{out} holds a run on different data than {Path(config.data).name}",
                             "resume with the same data file or use a new output folder")
        say(f"resuming from generation {state['meta']['generation']}")
    elif resume:
        say("nothing to resume: starting from scratch")

    if state is not None:
        predictor = Predictor.load(out / "predictor.npz")
        mpath = out / "predictor_metrics.json"
        metrics = json.loads(mpath.read_text()) if mpath.exists() else {}
    else:
        t0 = time.perf_counter()
        X = np.concatenate([ds.Xc, ds.Xa], axis=1)
        predictor, metrics = train(X, ds.Y, outcomes, config.predictor, s_pred, config.predictor_hidden)
        predictor.save(out / ".predictor.tmp.npz")
        os.replace(out / ".predictor.tmp.npz", out / "predictor.npz")
        atomic_write_text(out / "predictor_metrics.json", json.dumps(metrics, indent=2) + "\n")
        say(f"predictor {config.predictor} trained in {time.perf_counter() - t0:.2f}s: " +
            ", ".join(f"{k} rmse={v['rmse']:.4g} r2={v['r2']:.3f}" for k, v in metrics["held_out"].items()))
    dump_config(config, out / "config.toml")

    Xc = ds.Xc
    if 0 < config.contexts_sample < ds.n:
        idx = np.sort(np.random.default_rng(s_ctx).choice(ds.n, config.contexts_sample, replace=False))
        Xc = Xc[idx]
    problem = Problem(layout, predictor, Xc, outcomes, list(config.objectives), costs, xp)
    host = np.random.default_rng(s_evo)
    rng = DeviceRandom(xp, host)

    def record(gen: int, F: np.ndarray, seconds: float) -> dict[str, Any]:
        best, mean = _summary(F, senses, names)
        G = to_numpy(to_minimised(F, senses))
        hv = _normalised_hv(G, np.asarray(hv_ref[0]), np.asarray(hv_ref[1]))
        return {"generation": gen, "generations": config.generations, "best": best, "mean": mean,
                "hypervolume": hv, "seconds": round(seconds, 6)}

    def checkpoint(gen: int) -> None:
        meta = {"generation": gen, "rng": host.bit_generator.state, "history": history,
                "hv_ref": hv_ref, "config": config.to_dict(), "data_sha256": data_hash}
        atomic_savez(ckpt_path, theta=to_numpy(theta), F=to_numpy(F), meta=np.array(json.dumps(meta)))

    def emit(rec: dict[str, Any]) -> None:
        with open(out / "progress.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        # Words for `run logs`, as the progress line shows them (the record itself is in progress.jsonl).
        num = lambda v, f: format(v, f) if isinstance(v, (int, float)) else str(v)  # noqa: E731
        best = "  ".join(f"{k} {num(v, '.4g')}" for k, v in rec["best"].items())
        say(f"generation {rec['generation']}/{rec['generations']}  {best}  hv {num(rec['hypervolume'], '.4f')}")
        if on_generation is not None:
            on_generation(rec)

    if state is not None:
        theta = xp.asarray(state["theta"])
        F = xp.asarray(state["F"])
        host.bit_generator.state = state["meta"]["rng"]
        history = state["meta"]["history"]
        hv_ref = state["meta"]["hv_ref"]
        gen = int(state["meta"]["generation"])
        # The log may lag the checkpoint or run past it; rewrite it from the checkpoint's history.
        atomic_write_text(out / "progress.jsonl", "".join(json.dumps(r) + "\n" for r in history))
    else:
        t0 = time.perf_counter()
        theta = xp.asarray(layout.init(host, config.population))
        F = problem.evaluate(theta)
        G0 = to_numpy(to_minimised(F, senses))
        fin = G0[np.all(np.isfinite(G0), axis=1)]
        hv_ref = [fin.min(0).tolist(), fin.max(0).tolist()] if len(fin) else [[0.0] * len(names)] * 2
        gen = 0
        history = [record(0, to_numpy(F), time.perf_counter() - t0)]
        (out / "progress.jsonl").unlink(missing_ok=True)
        checkpoint(0)
        emit(history[-1])

    vary = leaf_vary(config.mutation_prob, config.mutation_factor)
    minimise = lambda F_: to_minimised(F_, senses)  # noqa: E731
    for g in range(gen + 1, config.generations + 1):
        t0 = time.perf_counter()
        rank, crowd = rank_and_crowding(minimise(F))
        step_rng = rng.for_step()
        if config.mode == "leaf":
            theta, F = leaf_step(step_rng, theta, F, rank, crowd, problem.evaluate, vary,
                                 config.elites, config.remove_pct)
        else:
            theta, F = nsga2_step(step_rng, theta, F, rank, crowd, problem.evaluate, vary, minimise)
        history.append(record(g, to_numpy(F), time.perf_counter() - t0))
        if g % config.checkpoint_every == 0 or g == config.generations:
            checkpoint(g)
        emit(history[-1])
        gen = g

    rank, crowd = rank_and_crowding(minimise(F))
    result = EvolveResult(out, gen, list(config.objectives), to_numpy(F), to_numpy(rank), to_numpy(crowd), metrics)
    outputs.write_all(result, config, layout, to_numpy(theta), ds, predictor, costs, history)
    say(f"wrote outputs to {out}")
    return result
