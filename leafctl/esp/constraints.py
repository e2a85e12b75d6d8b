"""Constraints on the prescriptions: ``--constraint "action_cost<=5"``, ``--constraint "margin>=100"``.

A constraint is ``NAME<=BOUND`` or ``NAME>=BOUND`` where NAME is an outcome (its predicted mean over
contexts), an action column (its mean over contexts: the share of contexts given a binary action), or
``action_cost``. Each candidate's violation is

    cv = sum over constraints of max(0, excess) / scale

with excess = value - bound for ``<=`` and bound - value for ``>=``, and scale the quantity's spread
in the data (an outcome's standard deviation, an action's range hi - lo, action_cost's widest possible
span), so constraints in different units add up comparably. cv = 0 is feasible; a NaN value is +inf.
Ranking then uses Deb's constrained domination (``nsga2.constrained_rank``): feasible beats
infeasible, a smaller violation beats a larger one, feasible candidates are Pareto-ranked as without
constraints.

In a constrained run the population's objective array carries cv as one extra, last column (so every
step that selects or concatenates rows carries it along); ``CV`` appended to the senses tells
``nsga2.to_minimised`` to hand it to the ranking.

Parsing is stdlib only (config.validate runs without numpy); ``bind`` resolves names against the data.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Sequence

from leafctl.errors import UsageError

CV = "cv"  # the sense (and pareto.csv column) of the violation column
OPS = ("<=", ">=")
HINT = 'write NAME<=BOUND or NAME>=BOUND, e.g. --constraint "action_cost<=5" or --constraint "margin>=100"'


@dataclass(frozen=True)
class Constraint:
    name: str
    op: str  # "<=" | ">="
    bound: float

    @property
    def text(self) -> str:
        return f"{self.name}{self.op}{self.bound:g}"


def parse(text: Any) -> Constraint:
    """``"NAME<=BOUND"`` / ``"NAME>=BOUND"`` (spaces allowed around the parts); anything else, a
    second operator, ``<``, ``>``, ``=``, ``==`` or a bound that is no finite number, is refused."""
    from leafctl.esp.config import MAX_MAGNITUDE  # noqa: PLC0415 - stdlib-only module

    if not isinstance(text, str):
        raise UsageError(f"constraint {text!r} is not text", HINT)
    found = [(text.find(op), op) for op in OPS if op in text]
    if len(found) != 1 or text.count(found[0][1]) != 1:
        bad = next((op for op in ("==", "!=", "<", ">", "=") if op in text), None)
        what = f"uses {bad!r}" if bad and not found else "needs exactly one <= or >="
        raise UsageError(f"constraint {text!r} {what}", HINT)
    at, op = found[0]
    name, raw = text[:at].strip(), text[at + 2:].strip()
    if not name:
        raise UsageError(f"constraint {text!r} has nothing left of {op}", HINT)
    if any(c in name for c in "<>="):
        raise UsageError(f"constraint {text!r} needs exactly one <= or >=", HINT)
    try:
        bound = float(raw)
    except ValueError:
        raise UsageError(f"constraint {text!r}: {raw!r} is not a number", HINT) from None
    if not math.isfinite(bound) or abs(bound) > MAX_MAGNITUDE:
        raise UsageError(f"constraint {text!r}: the bound must be a finite number up to {MAX_MAGNITUDE:g}", HINT)
    return Constraint(name, op, bound)


def parse_all(items: Sequence[Any]) -> list[Constraint]:
    if isinstance(items, str):
        items = [items]
    out = [parse(t) for t in items]
    seen: set[str] = set()
    for c in out:
        if c.text in seen:
            raise UsageError(f"constraint {c.text!r} is given twice", "give each constraint once")
        seen.add(c.text)
    _refuse_contradictions(out)
    return out


def _refuse_contradictions(cons: Sequence[Constraint]) -> None:
    """Two bounds on one name that no value meets (``discount<=0.2`` and ``discount>=0.3``): every
    candidate would be infeasible and the run would end with nothing to prescribe."""
    for name in dict.fromkeys(c.name for c in cons):
        upper = [c for c in cons if c.name == name and c.op == "<="]
        lower = [c for c in cons if c.name == name and c.op == ">="]
        if upper and lower:
            u, lo = min(upper, key=lambda c: c.bound), max(lower, key=lambda c: c.bound)
            if u.bound < lo.bound:
                raise UsageError(f"constraints {lo.text!r} and {u.text!r} contradict: no value of {name!r} meets both",
                                 f"drop one, or bound {name} to a range that is not empty")


def outcome_names(items: Sequence[Any], actions: Sequence[str]) -> list[str]:
    """The outcomes the constraints name (every name that is neither action_cost nor an action)."""
    from leafctl.esp.config import ACTION_COST  # noqa: PLC0415

    out: list[str] = []
    for c in parse_all(items):
        if c.name != ACTION_COST and c.name not in actions and c.name not in out:
            out.append(c.name)
    return out


@dataclass
class Bound:
    """Constraints resolved against a run: where each quantity is, its bound, sign and scale."""
    constraints: list[Constraint]
    outcome_col: list[int]  # column of the outcome in the (P, O+1) means, -1 action_cost, -2 an action
    action_col: list[int]  # index of the action in layout.actions (or -1)
    sign: list[float]  # +1 for <=, -1 for >=
    bound: list[float]
    scale: list[float]

    @property
    def needs_actions(self) -> bool:
        return any(j >= 0 for j in self.action_col)

    def violation(self, V: Any, xp: Any) -> Any:
        """cv (P,) of the quantities V (P, m), one column per constraint, in natural units."""
        V = xp.asarray(V, dtype=xp.float64)
        sign = xp.asarray(self.sign, dtype=xp.float64)
        excess = (V - xp.asarray(self.bound, dtype=xp.float64)) * sign
        cv = (xp.maximum(excess, 0.0) / xp.asarray(self.scale, dtype=xp.float64)).sum(axis=1)
        return xp.where(xp.isnan(cv), xp.inf, cv)


def cost_span(actions: Sequence[Any], costs: Any) -> float:
    """The widest action_cost any prescription can have minus the smallest (a per-context bound)."""
    lo, hi = cost_ends(actions, costs)
    return hi - lo


def cost_ends(actions: Sequence[Any], costs: Any) -> tuple[float, float]:
    """The smallest and the largest action_cost any prescription can have (per context, so also its mean)."""
    lo = hi = 0.0
    o = 0
    for a in actions:
        w = [float(x) for x in costs[o:o + a.width]]
        if a.kind == "categorical":
            lo, hi = lo + min(w), hi + max(w)
        else:
            ends = (w[0] * a.lo, w[0] * a.hi)
            lo, hi = lo + min(ends), hi + max(ends)
        o += a.width
    return lo, hi


def _refuse_unreachable(c: Constraint, lo: float, hi: float, what: str) -> None:
    """A bound outside the range [lo, hi] the quantity can take: no candidate can meet it."""
    from leafctl.esp.config import ACTION_COST  # noqa: PLC0415

    if (c.op == "<=" and c.bound < lo) or (c.op == ">=" and c.bound > hi):
        raise UsageError(f"constraint {c.text!r} cannot be met: {what} is always between {lo:g} and {hi:g}",
                         f"use a bound inside {lo:g}..{hi:g}" + (f", or widen it with --action-range {c.name}=LO:HI"
                                                                 if c.name != ACTION_COST else ""))


def bind(items: Sequence[Any], outcomes: Sequence[str], outcome_specs: Sequence[Any], actions: Sequence[Any],
         costs: Any) -> Bound | None:
    """The config's constraints resolved against the data (None without constraints). An unknown name
    is refused with a did-you-mean; so is a categorical action (its mean has no meaning)."""
    from leafctl.esp.config import ACTION_COST  # noqa: PLC0415

    cons = parse_all(items)
    if not cons:
        return None
    act_names = [a.name for a in actions]
    known = [ACTION_COST] + list(outcomes) + act_names
    spec_of = {s.name: s for s in outcome_specs}
    b = Bound(cons, [], [], [], [], [])
    for c in cons:
        if c.name == ACTION_COST:
            lo, hi = cost_ends(actions, costs)
            _refuse_unreachable(c, lo, hi, ACTION_COST)
            col, aj, scale = -1, -1, hi - lo
        elif c.name in act_names:
            aj = act_names.index(c.name)
            a = actions[aj]
            if a.kind == "categorical":
                raise UsageError(f"constraint {c.text!r} names categorical action {c.name!r}, which has no mean",
                                 f"constrain action_cost with per-category costs ([action_cost.{c.name}]) instead")
            _refuse_unreachable(c, a.lo, a.hi, f"action {c.name!r}")
            col, scale = -2, a.hi - a.lo
        elif c.name in outcomes:
            col, aj = list(outcomes).index(c.name), -1
            spec = spec_of.get(c.name)
            scale = float(spec.std) if spec is not None else 1.0
        else:
            close = difflib.get_close_matches(c.name, known, n=1, cutoff=0.6)
            raise UsageError(f"constraint {c.text!r} names {c.name!r}, which is no outcome, action or {ACTION_COST}",
                             f"did you mean {close[0]!r}?" if close else f"names are: {', '.join(known)}")
        b.outcome_col.append(col)
        b.action_col.append(aj)
        b.sign.append(1.0 if c.op == "<=" else -1.0)
        b.bound.append(c.bound)
        b.scale.append(scale if scale > 0 and math.isfinite(scale) else 1.0)
    return b


def split(F: Any, k: int) -> tuple[Any, Any]:
    """(objectives (P, k), cv (P,) or None) of a population's objective array."""
    return (F[:, :k], F[:, k]) if F.shape[1] > k else (F, None)


def for_run(config: Any, ds: Any, costs: Any) -> Bound | None:
    """The config's constraints bound to a run's dataset (``engine.check_config``'s) and cost table."""
    return bind(config.constraints, config.resolved_outcomes(), ds.outcomes, ds.actions, costs)


def check_names(items: Sequence[Any], data: Any, actions: Sequence[str], outcomes: Sequence[str] = (),
                context: Sequence[str] = ()) -> None:
    """Refuse a constraint whose name it may not use, with a did-you-mean, before a typo is taken for
    an outcome column (only the header line is read). It may use action_cost, an action and an
    outcome: the ``outcomes`` given, else any column of the data that is not a ``context`` column
    (the constraint makes it an outcome). The hint lists exactly those names."""
    import csv  # noqa: PLC0415

    from leafctl.esp.config import ACTION_COST  # noqa: PLC0415

    try:
        with open(data, encoding="utf-8-sig", newline="") as fh:
            header = [h.strip() for h in next(csv.reader([fh.readline()]), [])]
    except (OSError, UnicodeDecodeError):
        return  # the data reader reports an unreadable file, naming it
    if outcomes:
        usable = list(actions) + list(outcomes)
    else:
        usable = list(actions) + [h for h in header if h not in context and h not in actions]
    known = [ACTION_COST] + usable
    for c in parse_all(items):
        if c.name not in known:
            close = difflib.get_close_matches(c.name, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"names are: {', '.join(known)}"
            what = "a context column" if c.name in header and c.name not in usable else "no column of the data"
            raise UsageError(f"constraint {c.text!r} names {c.name!r}, {what}; a constraint names an outcome, "
                             f"an action or {ACTION_COST}", hint)


def feasible_objectives(F: Any, k: int) -> Any:
    """The objective columns of the feasible rows (every row when F has no violation column)."""
    obj, cv = split(F, k)
    return obj if cv is None else obj[cv == 0]
