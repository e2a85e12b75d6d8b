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
MODES = ("esp", "leaf", "nsga2")
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
    """``"revenue:max"``, ``["revenue", "max"]`` or ``{name = "revenue", sense = "max"}``. Without a
    sense, ``action_cost`` is minimised and an outcome is refused (UsageError: which way is better?)."""
    if isinstance(o, str):
        name, _, sense = o.partition(":")
    elif isinstance(o, Mapping):
        name, sense = str(o.get("name", "")), str(o.get("sense", ""))
    elif isinstance(o, (list, tuple)) and len(o) == 2:
        name, sense = str(o[0]), str(o[1])
    else:
        raise UsageError(f"objective {o!r} is not understood", 'write objectives as "name:max" or "name:min"')
    name, sense = name.strip(), sense.strip().lower()
    if not name:
        raise UsageError(f"objective {o!r} has no name", 'write objectives as "name:max" or "name:min"')
    if not sense:
        # A bare action_cost means what it always should: keep costs down. A bare outcome could mean
        # either (revenue up, churn down): guessing max silently maximised whatever was named.
        if name != ACTION_COST:
            raise UsageError(f"objective {name!r} has no sense", f"give a sense: {name}:max or {name}:min")
        sense = "min"
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
    # predictor
    # The surrogate (leafctl/esp/predictors/): a kind ("mlp", "ridge", "forest", "gbt", "ensemble",
    # "auto" or a plugin's), or a [predictor] table: kind = "forest", trees = 200 (that kind's settings;
    # others are refused by name). validate() leaves the canonical form: the kind's name alone when
    # every setting is its default, else the table of kind and the settings that differ.
    # predictor_hidden: the flat spelling older configs and checkpoints use for the MLP's width.
    # risk K: with a kind that gives a spread (ensemble, forest) the objectives are mean - K*std for
    # maximised outcomes and mean + K*std for minimised ones.
    predictor: Any = "mlp"
    predictor_hidden: int | None = None
    risk: float = 0.0
    seed: int = 0
    device: str = "auto"  # auto | cpu | gpu
    mode: str = "esp"  # esp | leaf (LEAF's exact algorithm) | nsga2
    contexts_sample: int = 0  # 0: every row's context; else a seeded sample of this many rows
    checkpoint_every: int = 1
    # The island model (leafctl/esp/islands.py): `islands` sub-populations of `population` each, which
    # exchange their best `migrants` every `migrate_every` generations. 1 island is the plain run.
    islands: int = 1
    migrate_every: int = 10
    migrants: int = 2
    # optimiser
    # Mode esp (leafctl/esp/steps.py). context_crossover: share of children made by crossing
    # behaviours (parent A's network refitted to act like parent B at a random half of the contexts).
    # decision_prob: share of children given one decision-flip mutation (a binary action flipped, a
    # category made the argmax, a continuous action moved, at one context). flip_prob / reset_prob:
    # per weight, a sign flip / a fresh draw from the initial scale. Duplicates are judged on the
    # decoded actions at behaviour_contexts contexts (0: none removed). history_prob: share of
    # children that take, at one context, the whole action vector of a data row of that context.
    # Context crossover and history mutation act only where the data has at most hidden + 1
    # distinct contexts (their last-layer fit is exact there).
    context_crossover: float = 1.0
    decision_prob: float = 1.0
    flip_prob: float = 0.0
    reset_prob: float = 0.0
    behaviour_contexts: int = 32
    history_prob: float = 0.5
    # The front archive (leafctl/esp/archive.py), in every mode: up to archive x population (at most
    # 4096) non-dominated prescriptors found in any generation, reported with the final population.
    # 0: none (the outputs are the final population alone). It never changes the search.
    archive: int = 4
    # actions and constraints
    # Action types (leafctl/esp/actions.py): integer actions besides those the data shows to be whole
    # numbers; [action_range] COL = [LO, HI] (or "LO:HI") instead of the data's range; [[simplex]]
    # columns = [...], total = T: actions decoded to sum to T. constraints (constraints.py):
    # "NAME<=BOUND" / "NAME>=BOUND" on an outcome, an action's mean or action_cost, handled by
    # constrained domination (feasible first, then smaller violation).
    integer: list[str] = field(default_factory=list)
    action_range: dict[str, Any] = field(default_factory=dict)
    simplex: list[dict[str, Any]] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    # seeding and warm start
    # Generation 0 (leafctl/esp/seeding.py). seed_policies: behaviour clones of the data's own actions
    # plus the min- and max-action policies. seed_from: the first front of an earlier run or model (the
    # service stages it as seed.npz; here a genomes file, a run's output folder or a model folder).
    # warm_start: start from an earlier run's final population (staged as warm.npz), re-evaluated on
    # this run's data and predictor. Paths are relative to the working folder (the job's code folder).
    seed_policies: bool = True
    seed_from: str = ""
    warm_start: str = ""

    def __post_init__(self) -> None:
        self.objectives = [_parse_objective(o) for o in self.objectives]
        # One spelling of the predictor from the start, so configs compare equal however written.
        self.predictor, self.predictor_hidden = canonical_predictor(self.predictor, self.predictor_hidden), None
        for name in ("context", "actions", "outcomes"):
            v = getattr(self, name)
            if isinstance(v, str):
                setattr(self, name, [s.strip() for s in v.split(",") if s.strip()])

    def resolved_outcomes(self) -> list[str]:
        """``outcomes``, else the objectives' outcomes and then those that constraints name."""
        if self.outcomes:
            return list(self.outcomes)
        from leafctl.esp.constraints import outcome_names  # noqa: PLC0415 - stdlib only

        names = [n for n, _ in self.objectives if n != ACTION_COST]
        return names + [n for n in outcome_names(self.constraints, self.actions) if n not in names]

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
        need(self.elites >= 0, f"elites {self.elites} is negative", "elites must be 0 or more, e.g. 10")
        # Only mode leaf keeps elites (steps.py): elsewhere the default 10 must not refuse a small population.
        need(self.mode != "leaf" or self.elites < self.population, f"elites {self.elites} must be below "
             f"population {self.population} in mode leaf", "lower elites or raise population")
        need(0.0 <= self.remove_pct < 1.0, f"remove_pct {self.remove_pct} is outside [0, 1)", "e.g. 0.8")
        need(0.0 <= self.mutation_prob <= 1.0, f"mutation_prob {self.mutation_prob} is outside [0, 1]", "e.g. 0.1")
        need(self.mutation_factor >= 0.0, f"mutation_factor {self.mutation_factor} is negative", "e.g. 0.1")
        need(self.hidden >= 1, f"hidden {self.hidden} must be at least 1", "e.g. 16")
        need(self.mode in MODES, f"unknown mode {self.mode!r}", f"use {', '.join(MODES)}")
        need(self.device in ("auto", "cpu", "gpu"), f"unknown device {self.device!r}", "use auto, cpu or gpu")
        need(self.contexts_sample >= 0, f"contexts_sample {self.contexts_sample} is negative", "0 means all rows")
        need(self.checkpoint_every >= 1, f"checkpoint_every {self.checkpoint_every} must be at least 1", "e.g. 1")
        need(self.seed >= 0, f"seed {self.seed} is negative", "use 0 or more")
        need(self.islands >= 1, f"islands {self.islands} must be at least 1", "e.g. islands = 4")
        need(self.migrate_every >= 1, f"migrate_every {self.migrate_every} must be at least 1", "e.g. 10")
        # Migrants replace an island's worst: at least one of its own must stay (one island: unused).
        need(self.migrants >= 0 and (self.islands == 1 or self.migrants < self.population), f"migrants {self.migrants} must be from 0 to below the "
             f"island population {self.population}", "lower migrants or raise population (it is per island)")
        for name in ("population", "generations", "hidden", "contexts_sample", "checkpoint_every",
                     "islands", "migrate_every"):
            v = getattr(self, name)
            need(v <= _MAX_COUNT, f"{name} {v} is too large", f"use at most {_MAX_COUNT}")
        for col, w in self.action_cost.items():
            # A categorical action's weight is a {category: cost} table: each cost is checked.
            pairs = [(f"{col}.{c}", x) for c, x in w.items()] if isinstance(w, Mapping) else [(col, w)]
            for label, x in pairs:
                problem = weight_problem(x)
                need(problem is None, f"action_cost weight for {label!r} {problem}", f"e.g. action_cost.{col} = 2")
        # validate: predictor
        self.predictor, self.predictor_hidden = canonical_predictor(self.predictor, self.predictor_hidden), None
        need(isinstance(self.risk, (int, float)) and not isinstance(self.risk, bool) and 0 <= self.risk < float("inf"),
             f"risk {self.risk!r} must be a number, 0 or more", "e.g. risk = 1 (mean - 1 std for maximised outcomes)")
        if self.risk > 0:
            from leafctl.esp import predictors as _predictors  # noqa: PLC0415 - stdlib only

            kind, settings = self.predictor_kind, self.predictor_settings
            spread = ([k for k in _predictors.resolve_settings(kind, settings)["candidates"] if _predictors.has_std(k)]
                      if kind == "auto" else [kind] if _predictors.has_std(kind) else [])
            with_std = [k for k in _predictors.REGISTRY if _predictors.has_std(k)]
            need(bool(spread), f"risk {self.risk:g} needs a predictor that gives a spread; {kind!r} "
                 + ("has no such candidate" if kind == "auto" else "gives none"),
                 f"use --predictor {' or '.join(with_std)}, or risk = 0")
        # validate: optimiser
        for key in ("context_crossover", "decision_prob", "flip_prob", "reset_prob", "history_prob"):
            v = getattr(self, key)
            need(0.0 <= v <= 1.0, f"{key} {v} is outside [0, 1]", f"e.g. {key} = {getattr(EvolveConfig, key)}")
        need(isinstance(self.archive, int) and not isinstance(self.archive, bool) and 0 <= self.archive <= 64,
             f"archive {self.archive!r} must be a whole number from 0 to 64 (times the population)",
             "e.g. archive = 2; 0 reports the final population alone")
        need(0 <= self.behaviour_contexts <= _MAX_COUNT, f"behaviour_contexts {self.behaviour_contexts} is outside "
             f"[0, {_MAX_COUNT}]", "e.g. 32; 0 keeps duplicates")
        # validate: actions and constraints
        for key in ("integer", "constraints"):
            need(isinstance(getattr(self, key), list), f"{key} {getattr(self, key)!r} must be a list",
                 'e.g. integer = ["emails"], constraints = ["action_cost<=5"]')
        need(isinstance(self.action_range, Mapping), f"action_range {self.action_range!r} must be a table",
             "e.g. [action_range] emails = [0, 10]")
        from leafctl.esp import actions as _actions, constraints as _constraints  # noqa: PLC0415 - stdlib only

        _actions.check_options(self.integer, self.action_range, self.simplex)
        _constraints.parse_all(self.constraints)
        # validate: seeding and warm start
        need(isinstance(self.seed_policies, bool), f"seed_policies {self.seed_policies!r} must be true or false",
             "e.g. seed_policies = false")
        for key in ("seed_from", "warm_start"):
            need(isinstance(getattr(self, key), str), f"{key} {getattr(self, key)!r} must be a string",
                 f'e.g. {key} = "RUN_ID"')
        need(not (self.seed_from and self.warm_start), "seed_from and warm_start are both set",
             "warm_start already starts from that run's population: drop seed_from")
        return self

    @property
    def predictor_kind(self) -> str:
        return str(self.predictor.get("kind", "mlp")) if isinstance(self.predictor, Mapping) else str(self.predictor)

    @property
    def predictor_settings(self) -> dict[str, Any]:
        """The settings given for the kind (without ``kind``; defaults are the kind's business)."""
        given = {k: v for k, v in self.predictor.items() if k != "kind"} if isinstance(self.predictor, Mapping) else {}
        if self.predictor_hidden is not None and "hidden" not in given:
            given["hidden"] = self.predictor_hidden
        return given

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["objectives"] = [f"{n}:{s}" for n, s in self.objectives]
        if d.get("predictor_hidden") is None:  # folded into the predictor table by validate()
            d.pop("predictor_hidden", None)
        return d

    def to_toml(self) -> str:
        import tomli_w  # noqa: PLC0415

        return tomli_w.dumps(self.to_dict())


FIELDS = {f.name: f for f in dataclasses.fields(EvolveConfig)}


def default_of(key: str) -> Any:
    """The default value of config key ``key``."""
    f = FIELDS[key]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]


def _coerce(key: str, value: Any) -> Any:
    """Type-check one key against the dataclass default's type (ints, floats, strings, lists)."""
    if key not in FIELDS:
        close = difflib.get_close_matches(key, FIELDS, n=1)
        raise UsageError(f"unknown config key {key!r}",
                         f"did you mean {close[0]!r}?" if close else f"keys are: {', '.join(FIELDS)}")
    default = EvolveConfig().__getattribute__(key)
    if key == "predictor":  # a kind's name or a [predictor] table
        if not isinstance(value, (str, Mapping)):
            raise UsageError(f"config key 'predictor' must be a kind or a table, got {value!r}",
                             'e.g. predictor = "forest", or [predictor] kind = "forest"')
        return dict(value) if isinstance(value, Mapping) else value
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
        if k == "predictor" and k in cfg:
            v = merge_predictor(cfg[k], v)
        elif isinstance(v, Mapping) and isinstance(cfg.get(k), Mapping):
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


# ------------------------------------------------------------------ the [predictor] table

def merge_predictor(base: Any, new: Any) -> Any:
    """``new`` over ``base``: a table without ``kind`` (``--set predictor.trees=50``) adds settings to
    the base's kind; a new kind (``--predictor forest``) starts from that kind's own settings."""
    base_kind = base.get("kind", "mlp") if isinstance(base, Mapping) else base
    if isinstance(new, Mapping) and new.get("kind", base_kind) == base_kind:
        return {**(base if isinstance(base, Mapping) else {"kind": base}), **new, "kind": base_kind}
    return new


_LEGACY_HIDDEN = 64  # predictor_hidden's default while it was a flat key (every old config.toml has it)


def canonical_predictor(predictor: Any, legacy_hidden: Any = None) -> Any:
    """The one spelling of a predictor choice: the kind's name when every setting is its default,
    else {"kind": ..., settings that differ}. ``legacy_hidden`` (``predictor_hidden``) is the MLP
    width of configs before the table; kinds without a width accept only its old default (64).
    UsageError for an unknown kind or setting."""
    from leafctl.esp import predictors  # noqa: PLC0415 - stdlib only, as are the settings' checks

    table = dict(predictor) if isinstance(predictor, Mapping) else {"kind": predictor}
    kind = table.pop("kind", predictors.DEFAULT)
    if not isinstance(kind, str) or not kind:
        raise UsageError(f"predictor kind {kind!r} must be a name", f"use one of: {', '.join(predictors.REGISTRY)}")
    spec = predictors.spec(kind)
    if legacy_hidden is not None:
        if isinstance(legacy_hidden, bool) or not isinstance(legacy_hidden, int) or legacy_hidden < 1:
            raise UsageError(f"predictor_hidden {legacy_hidden!r} must be an integer, at least 1",
                             "e.g. [predictor] hidden = 64")
        if "hidden" in spec.settings:
            table.setdefault("hidden", legacy_hidden)
        elif legacy_hidden != _LEGACY_HIDDEN:
            # Configs before the [predictor] table always wrote the default 64, whatever the kind: that
            # one still reads. Any other width was asked for, and a kind without a width cannot honour it.
            with_hidden = "/".join(k for k in predictors.REGISTRY if "hidden" in predictors.REGISTRY[k].settings)
            raise UsageError(f"predictor_hidden {legacy_hidden} applies to {with_hidden}, not predictor {kind!r}",
                             "drop predictor_hidden, or use predictor = \"mlp\"")
    resolved = predictors.resolve_settings(kind, table)
    differ = {k: v for k, v in resolved.items() if v != spec.settings[k]}
    return {"kind": kind, **differ} if differ else kind



def dump_config(config: EvolveConfig, path: str | Path) -> None:
    atomic_write_text(Path(path), config.to_toml())
