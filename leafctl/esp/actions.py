"""Action types beyond the data's own: integer actions, overridden ranges, simplex groups.

The data decides each action's kind (``data._spec``: 0/1 -> binary, numbers -> continuous, and
integer when every value is a whole number; strings -> categorical). The config may then add:

- ``integer = ["emails"]`` (``--integer COL``): the action is prescribed as a whole number. Its
  decoded value lo + (hi - lo) * sigmoid(out) is rounded to the nearest integer (half to even, as
  NumPy's ``rint`` and CUDA's ``rintf`` do); lo and hi are then whole numbers (a range is narrowed to
  the whole numbers inside it), so the rounded value stays in range.
- ``[action_range] emails = [0, 10]`` or ``"0:10"`` (``--action-range COL=LO:HI``): the range the
  action is squashed into, instead of the [min, max] seen in the data. The predictor's encoding
  (the data's mean and std) is unchanged: it is what the predictor was trained on.
- ``[[simplex]] columns = ["a", "b", "c"], total = 1.0``: actions that always sum to ``total`` (shares
  of a budget, of land use): their outputs are decoded together as softmax x total.

Stdlib only: the config checks (``check_options``) run before numpy is imported; ``apply`` rewrites
the data's ``ColumnSpec`` list once the table is read, refusing (exit 2, by name) what cannot be
honoured. Decoding itself is in ``prescriptor.decode``, ``pyfunc_model`` and the CUDA kernel.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any, Mapping, Sequence

from leafctl.errors import UsageError

SIMPLEX_KEYS = ("columns", "total")
_RANGE_HINT = "write COL=LO:HI, e.g. --action-range emails=0:10 (config: [action_range] emails = [0, 10])"


def _number(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str):
        try:
            return float(x.strip())
        except ValueError:
            return None
    return None


def parse_range(col: str, value: Any) -> tuple[float, float]:
    """``[lo, hi]`` or ``"lo:hi"`` -> (lo, hi): finite numbers with lo < hi (UsageError otherwise)."""
    from leafctl.esp.config import MAX_MAGNITUDE  # noqa: PLC0415 - stdlib-only module

    if isinstance(value, str):
        parts = value.split(":")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = []
    nums = [_number(p) for p in parts]
    if len(nums) != 2 or any(n is None for n in nums):
        raise UsageError(f"action range for {col!r} is {value!r}, not LO:HI", _RANGE_HINT)
    lo, hi = nums
    for n in (lo, hi):
        if not math.isfinite(n) or abs(n) > MAX_MAGNITUDE:
            raise UsageError(f"action range for {col!r} holds {n:g}, not a finite number up to {MAX_MAGNITUDE:g}",
                             _RANGE_HINT)
    if lo >= hi:
        raise UsageError(f"action range for {col!r} is {lo:g}:{hi:g}: LO must be below HI", _RANGE_HINT)
    return lo, hi


def parse_simplex(groups: Any) -> list[tuple[list[str], float]]:
    """``[[simplex]]`` tables -> [(columns, total)], checked: two or more distinct columns per group,
    no column in two groups, total a positive finite number (default 1)."""
    if not isinstance(groups, (list, tuple)):
        raise UsageError(f"simplex must be a list of tables, got {groups!r}",
                         'write [[simplex]] with columns = ["a", "b"] and total = 1.0')
    out: list[tuple[list[str], float]] = []
    owner: dict[str, int] = {}
    for i, g in enumerate(groups):
        if not isinstance(g, Mapping):
            raise UsageError(f"simplex group {i + 1} is {g!r}, not a table",
                             'write [[simplex]] with columns = ["a", "b"] and total = 1.0')
        for k in g:
            if k not in SIMPLEX_KEYS:
                close = difflib.get_close_matches(str(k), SIMPLEX_KEYS, n=1)
                raise UsageError(f"simplex group {i + 1} has unknown key {k!r}",
                                 f"did you mean {close[0]!r}?" if close else "keys are: columns, total")
        cols = g.get("columns")
        if isinstance(cols, str):
            cols = [s.strip() for s in cols.split(",") if s.strip()]
        if not isinstance(cols, (list, tuple)) or not all(isinstance(c, str) for c in cols) or len(cols) < 2:
            raise UsageError(f"simplex group {i + 1} needs columns = [two or more action columns], got {cols!r}",
                             'e.g. columns = ["crops", "pasture", "forest"]')
        if len(set(cols)) != len(cols):
            raise UsageError(f"simplex group {i + 1} names a column twice", "name each column once")
        total = _number(g.get("total", 1.0))
        if total is None or not math.isfinite(total) or total <= 0:
            raise UsageError(f"simplex group {i + 1} has total {g.get('total')!r}, not a positive number",
                             "e.g. total = 1.0")
        for c in cols:
            if c in owner:
                raise UsageError(f"column {c!r} is in simplex groups {owner[c] + 1} and {i + 1}",
                                 "put each action in at most one simplex group")
            owner[c] = i
        out.append((list(cols), total))
    return out


def check_options(integer: Sequence[str], action_range: Mapping[str, Any], simplex: Any) -> None:
    """Every check that needs no data (config.validate): the shapes and numbers of the options."""
    for c in integer:
        if not isinstance(c, str) or not c.strip():
            raise UsageError(f"integer names {c!r}, not an action column", 'e.g. integer = ["emails"]')
    for col, value in action_range.items():
        parse_range(col, value)
    members = {c for cols, _ in parse_simplex(simplex) for c in cols}
    clashes = ((integer, "is declared integer", "a simplex group's shares are continuous: drop it from integer"),
               (action_range, "has an action_range",
                "a simplex member's range is 0 to the group's total: drop its action_range"))
    for names, what, hint in clashes:
        for c in names:
            if c in members:
                raise UsageError(f"action {c!r} {what} and is in a simplex group", hint)


def _action(specs: Sequence[Any], name: str, what: str) -> Any:
    """The numeric action spec named ``name``; UsageError (did you mean ...) for anything else."""
    by_name = {s.name: s for s in specs}
    if name not in by_name:
        close = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.6)
        raise UsageError(f"{what} names {name!r}, which is not an action column",
                         f"did you mean {close[0]!r}?" if close else f"actions are: {', '.join(by_name)}")
    s = by_name[name]
    if s.kind != "numeric":
        raise UsageError(f"{what} names {name!r}, a {s.kind} action; it applies to numeric actions only",
                         f"drop {name!r} from {what}")
    return s


def _whole_range(name: str, lo: float, hi: float) -> tuple[float, float]:
    wlo, whi = float(math.ceil(lo)), float(math.floor(hi))
    if wlo >= whi:
        raise UsageError(f"integer action {name!r} has range {lo:g}:{hi:g}, which holds fewer than two whole numbers",
                         f"widen it, e.g. --action-range {name}={math.floor(lo):g}:{math.floor(lo) + 1:g}")
    return wlo, whi


def apply(specs: Sequence[Any], integer: Sequence[str] = (), action_range: Mapping[str, Any] | None = None,
          simplex: Any = ()) -> list[Any]:
    """The action specs with the config's integer, action_range and simplex options applied (new
    objects; the data's own are left alone). Refuses (UsageError, exit 2) a name that is not a
    numeric action, and a range that is empty."""
    check_options(integer, action_range or {}, simplex)
    out = {s.name: s for s in specs}
    for g, (cols, total) in enumerate(parse_simplex(simplex)):
        for c in cols:
            s = _action(specs, c, f"simplex group {g + 1}")
            # The data may hold whole-number shares (percentages): as a group they are continuous.
            out[c] = dataclasses.replace(s, integer=False, simplex=g, total=total, lo=0.0, hi=total)
    for c in integer:
        s = _action(specs, c, "integer")
        out[c] = dataclasses.replace(out[c], integer=True)
    for c, value in (action_range or {}).items():
        _action(specs, c, "action_range")
        lo, hi = parse_range(c, value)
        out[c] = dataclasses.replace(out[c], lo=lo, hi=hi)
    for c, s in out.items():
        if s.kind == "numeric" and s.integer:
            lo, hi = _whole_range(c, s.lo, s.hi)
            out[c] = dataclasses.replace(s, lo=lo, hi=hi)
    return [out[s.name] for s in specs]


def simplex_groups(actions: Sequence[Any]) -> list[tuple[float, list[int]]]:
    """[(total, indices of its member actions in ``actions``)] per simplex group, in group order."""
    groups: dict[int, tuple[float, list[int]]] = {}
    for j, a in enumerate(actions):
        g = _get(a, "simplex", -1)
        if g is not None and g >= 0:
            groups.setdefault(g, (float(_get(a, "total", 0.0)), []))[1].append(j)
    return [groups[g] for g in sorted(groups)]


def _get(a: Any, key: str, default: Any) -> Any:
    """A field of a ColumnSpec or of its dict form (model files)."""
    return a.get(key, default) if isinstance(a, Mapping) else getattr(a, key, default)


GAP = 0.05  # a simplex group whose data rows miss its total by more than this (median, relative) is noted


def data_notes(before: Sequence[Any], after: Sequence[Any], Xa: Any) -> list[str]:
    """What the config asks of the actions that the data does not support, in words (one note each):
    an action_range reaching past the data's own range (the surrogate extrapolates there), a simplex
    member the data shows as whole numbers (a share is continuous), a simplex group whose data rows sum
    far from its total. ``before``/``after`` are the action specs before and after ``apply``; ``Xa`` the
    encoded actions (``data.load_dataset``)."""
    import numpy as np  # noqa: PLC0415 - called with a loaded dataset only

    notes: list[str] = []
    offset, at = 0, {}
    for b in before:
        at[b.name] = offset
        offset += b.width
    for b, a in zip(before, after):
        if b.kind != "numeric" or a.simplex >= 0 or (a.lo >= b.lo and a.hi <= b.hi):
            continue
        notes.append(f"action {a.name!r} ranges {a.lo:g}:{a.hi:g} but the data's values are {b.lo:g}..{b.hi:g}: "
                     f"the surrogate extrapolates beyond them (it never saw such actions)")
    for total, members in simplex_groups(after):
        cols = [after[j] for j in members]
        names = ", ".join(c.name for c in cols)
        for j in members:
            if before[j].integer:
                notes.append(f"simplex member {before[j].name!r} holds whole numbers in the data; as a share "
                             f"of its group ({names}) it is prescribed as a continuous value")
        X = np.asarray(Xa, dtype=np.float64)
        sums = sum(X[:, at[c.name]] * c.std + c.mean for c in cols)
        median = float(np.median(sums)) if len(X) else total
        if abs(median - total) > GAP * total:
            notes.append(f"simplex group ({names}) sums to {median:g} in the data (median), not its total {total:g}: "
                         f"the surrogate extrapolates to shares it never saw; set total = {median:g} if that is the "
                         "budget")
    return notes
