"""The evolve config: ``EvolveConfig`` (every key of an evolve TOML file), its parsing and checks.

Stdlib only at import time (no numpy): the CLI, the service and ``--dry-run`` read and check configs
without loading the engine. ``load_config`` reads a TOML file (an optional ``[evolve]`` table is
accepted) and applies ``key=value`` overrides; ``validate`` raises UsageError (exit 2) naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from leafctl.errors import UsageError
from leafctl.esp.files import atomic_write_text

ACTION_COST = "action_cost"  # the reserved objective: the mean cost of the prescribed actions
MAX_MAGNITUDE = 1e30  # larger numbers overflow float32 sums (data columns and weights alike)
MODES = ("leaf", "nsga2")
_MAX_COUNT = 2**31 - 1  # sizes index arrays; larger numbers cannot run (and overflow NumPy past 2**63)
SENSES = ("max", "min")


def weight_problem(w: Any) -> str | None:
    """What is wrong with an action_cost weight, or None. NaN, ±inf or a huge weight makes every
    action_cost NaN or inf, and the run would "complete" with hypervolume 0."""
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
    # --- predictor (helper A)
    predictor: str = "mlp"  # mlp | ridge
    predictor_hidden: int = 64
    # --- end predictor
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
    # --- optimiser (helper D)
    # --- end optimiser
    # --- actions and constraints (helper B)
    # --- end actions and constraints
    # --- seeding and warm start (helper C)
    # --- end seeding and warm start

    def __post_init__(self) -> None:
        self.objectives = [_parse_objective(o) for o in self.objectives]
        for name in ("context", "actions", "outcomes"):
            v = getattr(self, name)
            if isinstance(v, str):
                setattr(self, name, [s.strip() for s in v.split(",") if s.strip()])

    def resolved_outcomes(self) -> list[str]:
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
        # --- validate: predictor (helper A)
        # --- validate: optimiser (helper D)
        # --- validate: actions and constraints (helper B)
        # --- validate: seeding and warm start (helper C)
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
