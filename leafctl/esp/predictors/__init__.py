"""Predictors (surrogates) behind one protocol (base.py) and a registry.

Adding a predictor is one module and one line in ``REGISTRY``. Installed distributions can add more
through the entry-point group ``leafctl.predictors`` (name = kind, object = a ``base.Predictor``
subclass); the group is read only when a kind not built in is asked for.

Stdlib only, and so are the checks of a kind's settings (the registry line holds them): a config is
read and checked without numpy (config.py). A kind's module (numpy, and scikit-learn to train trees)
is imported when the kind is used.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from leafctl.errors import UsageError

GROUP = "leafctl.predictors"


@dataclass(frozen=True)
class Kind:
    """A registry line: where the class is, every setting ``fit`` takes with its default (anything else
    in ``[predictor]`` is refused by name), whether it gives a spread (``--risk``), the import and pip
    extra its training needs, and (low, high] bounds of settings beyond "above 0"."""
    ref: str
    settings: Mapping[str, Any]
    has_std: bool = False
    requires: tuple[str, str] | None = None
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None


def _auto_candidates(s: dict[str, Any]) -> None:
    if not s["candidates"]:  # Auto.fit would fall back to the default list: the setting did nothing
        raise UsageError("predictor 'auto' has no candidates to choose from",
                         'list two or more kinds, e.g. [predictor] candidates = ["ridge", "forest"]')
    for k in s["candidates"]:
        if k == "auto":
            raise UsageError("predictor 'auto' cannot be its own candidate", "list concrete kinds")
        spec(k)  # an unknown kind: UsageError with a did-you-mean


def _ensemble_members(s: dict[str, Any]) -> None:
    if s["members"] < 2:  # one member has std 0 everywhere: --risk and the reported spread would be void
        raise UsageError(f"predictor 'ensemble' setting 'members' is {s['members']}: a spread needs at least 2 members",
                         "e.g. [predictor] members = 5, or use predictor = \"mlp\" for a single network")


_MLP = {"hidden": 64, "epochs": 300, "batch": 64, "lr": 3e-3, "patience": 20, "weight_decay": 1e-4}
REGISTRY: dict[str, Kind] = {
    "mlp": Kind("leafctl.esp.predictors.mlp:MLP", _MLP),
    "ridge": Kind("leafctl.esp.predictors.ridge:Ridge", {"alpha": 1.0}),
    "forest": Kind("leafctl.esp.predictors.forest:Forest",
                   {"trees": 50, "max_depth": 12, "min_samples_leaf": 2, "max_features": 1.0},
                   has_std=True, requires=("sklearn", "trees"), bounds={"max_features": (0.0, 1.0)}),
    "gbt": Kind("leafctl.esp.predictors.gbt:GBT",
                {"stages": 100, "learning_rate": 0.1, "max_depth": 3, "subsample": 1.0},
                requires=("sklearn", "trees"), bounds={"subsample": (0.0, 1.0)}),
    "ensemble": Kind("leafctl.esp.predictors.ensemble:Ensemble", {"members": 5, **_MLP}, has_std=True,
                     check=_ensemble_members),
    "auto": Kind("leafctl.esp.predictors.auto:Auto",
                 {"folds": 3, "candidates": ["ridge", "mlp", "forest", "gbt"], "tolerance": 0.05},
                 bounds={"folds": (1.0, float("inf"))}, check=_auto_candidates),
}
DEFAULT = "mlp"
_PROTOCOL = ("fit", "predict", "to_arrays", "from_arrays", "settings")


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def plugin_kinds() -> dict[str, Any]:
    """Entry points of the ``leafctl.predictors`` group, by name."""
    from importlib.metadata import entry_points  # noqa: PLC0415

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def kinds() -> list[str]:
    """Every kind: built in, then plugins (reads the installed distributions)."""
    return list(REGISTRY) + [k for k in plugin_kinds() if k not in REGISTRY]


def spec(kind: str) -> Kind:
    """The registry line of ``kind`` (a plugin's is read from its class, which this imports)."""
    if kind in REGISTRY:
        return REGISTRY[kind]
    cls = _plugin(kind)
    return Kind(f"{cls.__module__}:{cls.__qualname__}", dict(cls.settings), bool(getattr(cls, "has_std", False)),
                getattr(cls, "requires", None), check=getattr(cls, "check_settings", None))


def get(kind: str) -> Any:
    """The class of ``kind``; UsageError (exit 2) with a did-you-mean for a kind nobody provides."""
    return _load(REGISTRY[kind].ref) if kind in REGISTRY else _plugin(kind)


def _plugin(kind: str) -> Any:
    plugins = plugin_kinds()
    if kind not in plugins:
        close = difflib.get_close_matches(kind, list(REGISTRY) + list(plugins), n=1)
        raise UsageError(f"unknown predictor {kind!r}",
                         f"did you mean {close[0]!r}?" if close else f"use one of: {', '.join(kinds())}")
    try:
        cls = plugins[kind].load()
    except Exception as e:  # a broken plugin: say whose, in one line
        raise UsageError(f"predictor plugin {kind!r} ({plugins[kind].value}) failed to load: {e}",
                         "fix or uninstall the plugin") from None
    missing = [m for m in _PROTOCOL if not hasattr(cls, m)]
    if missing:
        raise UsageError(f"predictor plugin {kind!r} ({plugins[kind].value}) lacks {', '.join(missing)}",
                         "a predictor subclasses leafctl.esp.predictors.base.Predictor")
    if getattr(cls, "kind", kind) != kind:
        raise UsageError(f"predictor plugin {kind!r} says its kind is {cls.kind!r}",
                         "name the entry point after the class's kind")
    return cls


def _typed(kind: str, key: str, value: Any, default: Any) -> Any:
    def bad(what: str) -> UsageError:
        return UsageError(f"predictor {kind!r} setting {key!r} must be {what}, got {value!r}",
                          f"e.g. [predictor] {key} = {default!r}".replace("'", '"'))

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
    elif isinstance(default, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise bad("a number")
        value = float(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise bad("a string")
    elif isinstance(default, (list, tuple)):
        if isinstance(value, str):
            value = [s.strip() for s in value.split(",") if s.strip()]
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        value = list(value)
    return value


def resolve_settings(kind: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The kind's settings: its defaults overridden by ``given``. A key the kind does not take is
    refused by name (with a did-you-mean); a wrong type or an out-of-range value names the key.
    Numbers must be above 0 (or at least 0 where 0 means "none": ``_MAY_BE_ZERO``)."""
    k = spec(kind)
    out = dict(k.settings)
    for key, value in given.items():
        if key not in k.settings:
            close = difflib.get_close_matches(key, list(k.settings), n=1)
            takes = ", ".join(k.settings) or "no settings"
            raise UsageError(f"predictor {kind!r} has no setting {key!r}",
                             f"did you mean {close[0]!r}?" if close else f"{kind} takes: {takes}")
        out[key] = _typed(kind, key, value, k.settings[key])
    for key, value in out.items():
        default = k.settings[key]
        if not isinstance(default, (int, float)) or isinstance(default, bool):
            continue
        lo, hi = k.bounds.get(key, (0.0, float("inf")))
        ok = (lo <= value if key in _MAY_BE_ZERO else lo < value) and value <= hi and value != float("inf")
        if not ok:
            span = (f"in ({lo:g}, {hi:g}]" if hi != float("inf") else
                    f"{lo:g} or more" if key in _MAY_BE_ZERO else f"above {lo:g}")
            raise UsageError(f"predictor {kind!r} setting {key!r} must be {span}, got {value!r}",
                             f"e.g. [predictor] {key} = {default!r}")
    if k.check is not None:
        k.check(out)
    return out


# Settings where 0 means something (no depth limit, no penalty) rather than nothing.
_MAY_BE_ZERO = {"max_depth", "alpha", "weight_decay", "tolerance"}


def has_std(kind: str) -> bool:
    return spec(kind).has_std


def from_arrays(kind: str, arrays: Mapping[str, Any]) -> Any:
    """A predictor from its plain arrays (what ``to_arrays`` gave, what an island run broadcasts)."""
    return get(kind).from_arrays(arrays)


def load(path: str | Path) -> Any:
    """Read a ``predictor.npz`` (this layout, or the one leafctl wrote before the registry)."""
    import numpy as np  # noqa: PLC0415

    with np.load(path, allow_pickle=False) as z:
        kind = str(z["kind"])
        arrays = {k: z[k] for k in z.files if k != "kind"}
    return from_arrays(kind, arrays)
