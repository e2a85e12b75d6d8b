"""Shell completion of names, read straight from the local registry.

Every Tab press runs a fresh leafctl, so these use stdlib sqlite3 on a read-only connection: no
backend, no schema creation, no heavy imports. Any problem (no workspace yet, an azure profile, a
locked file) completes nothing rather than printing an error into the user's prompt.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

# click is not imported: the fast Tab path (_fastcomplete) calls these without it. typer reads the
# annotations (eval_str) and assigns `ctx` by its name.
Context = Any  # a click.Context, or a _fastcomplete.FastContext (params, parent, find_root())


def _registry_path(ctx: Context | None) -> Path | None:
    from leafctl.cli import _state
    from leafctl.profiles import data_home, resolve

    try:
        profile = _state.current().profile
        if ctx is not None:  # -p given after the command is only in the parsed params
            root = ctx.find_root()
            profile = root.params.get("profile") or profile
        settings = resolve(profile)
        if settings.backend != "local":
            return None
        path = data_home() / "workspaces" / (settings.workspace or "default") / "registry.sqlite"
    except Exception:
        return None
    return path if path.exists() else None


def _names(ctx: Context | None, sql: str, incomplete: str) -> list[str]:
    path = _registry_path(ctx)
    if path is None:
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            rows = conn.execute(sql).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return []
    return sorted({str(r[0]) for r in rows if r[0] is not None and str(r[0]).startswith(incomplete)})


def complete_compute_names(ctx: Context, incomplete: str) -> list[str]:
    names = _names(ctx, "SELECT name FROM computes", incomplete)
    return sorted(set(names) | ({"local"} if "local".startswith(incomplete) else set()))


def complete_model_names(ctx: Context, incomplete: str) -> list[str]:
    return _names(ctx, "SELECT DISTINCT name FROM models WHERE state = 'ready'", incomplete)


def complete_data_names(ctx: Context, incomplete: str) -> list[str]:
    return _names(ctx, "SELECT DISTINCT name FROM data_assets", incomplete)


def complete_datastore_names(ctx: Context, incomplete: str) -> list[str]:
    names = _names(ctx, "SELECT name FROM datastores", incomplete)
    return sorted(set(names) | ({"workspaceblobstore"} if "workspaceblobstore".startswith(incomplete) else set()))


def complete_env_names(ctx: Context, incomplete: str) -> list[str]:
    return _names(ctx, "SELECT DISTINCT name FROM environments", incomplete)


def complete_run_ids(ctx: Context, incomplete: str) -> list[str]:
    """Newest first is what people want, but shells sort anyway: return the 200 newest ids."""
    return _names(ctx, "SELECT id FROM (SELECT id FROM runs ORDER BY seq DESC LIMIT 200)", incomplete)


def complete_workspace_names(ctx: Context, incomplete: str) -> list[str]:
    from leafctl.profiles import data_home

    root = data_home() / "workspaces"
    try:
        names = {p.name for p in root.iterdir() if (p / "registry.sqlite").exists()}
    except OSError:
        names = set()
    return sorted(n for n in names | {"default"} if n.startswith(incomplete))


def complete_evolve_run_ids(ctx: Context, incomplete: str) -> list[str]:
    """`run evolve --resume <Tab>`: evolve runs that have ended (a queued or running one cannot be resumed)."""
    return _names(ctx, "SELECT id FROM (SELECT id FROM runs WHERE kind = 'evolve' AND status NOT IN ('Queued', 'Running') "
                       "ORDER BY seq DESC LIMIT 200)", incomplete)


def _esp_model(ctx: Context | None, ref: str) -> dict | None:
    """esp_model.json of the registered model NAME[:VERSION] (latest version), read from the local
    registry's files with stdlib json; None when it is not there or not an ESP model."""
    import json

    path = _registry_path(ctx)
    name, _, version = ref.partition(":")
    if path is None or not name:
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            rows = conn.execute("SELECT version, path FROM models WHERE name = ? AND state = 'ready'", (name,)).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    rows = [r for r in rows if not version or str(r[0]) == version]
    if not rows or not rows[-1][1]:
        return None
    latest = max(rows, key=lambda r: (int(r[0]) if str(r[0]).isdigit() else -1, str(r[0])))
    root = Path(latest[1]) if Path(latest[1]).is_absolute() else path.parent / latest[1]
    for pattern in ("data/esp_model.json", "*/data/esp_model.json", "*/*/data/esp_model.json", "*/*/*/data/esp_model.json"):
        for f in root.glob(pattern):
            try:
                return json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
    return None


# `model prescribe`'s options that take a value (its own and the global ones).
_PRESCRIBE_VALUED = {"--input", "-i", "--candidate", "--out", "--profile", "-p", "--output", "-o", "--query", "-q"}


def _typed_argument(command: str, valued: set[str]) -> str | None:
    """The first argument typed after ``command`` on the line being completed. click stops parsing at the
    option whose value is being completed (`--candidate <Tab>`), before it stores the arguments, so they
    are read from the line itself: COMP_WORDS (bash) or _TYPER_COMPLETE_ARGS (zsh, fish, powershell)."""
    import os

    from leafctl.cli._fastcomplete import split_arg_string  # click's, without importing click

    words = split_arg_string(os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS", ""))
    if command not in words:
        return None
    rest = words[words.index(command) + 1:]
    i = 0
    while i < len(rest):
        w = rest[i]
        if w.startswith("-"):
            i += 1 if "=" in w or w not in valued else 2
            continue
        return w
    return None


def complete_candidates(ctx: Context, incomplete: str) -> list[str]:
    """`model prescribe MODEL --candidate <Tab>`: knee, all, best:OBJECTIVE for MODEL's objectives, and
    the ids of its first front (any pareto.csv id is accepted; those are the ones worth choosing)."""
    words = ["knee", "all"]
    ref = (ctx.params.get("model") if ctx is not None else None) or _typed_argument("prescribe", _PRESCRIBE_VALUED)
    model = _esp_model(ctx, str(ref or ""))
    if model is None:
        words.append("best:")
    else:
        words += [f"best:{o[0]}" for o in model.get("objectives") or [] if o]
        cand = model.get("candidates") or {}
        words += [str(i) for i, r in zip(cand.get("id") or [], cand.get("rank") or []) if r == 1]
    return [w for w in words if w.startswith(incomplete)]


# The NotFound messages of the backends that name one resource, and the registry table each lives in.
_NAMED = {"model": "SELECT DISTINCT name FROM models WHERE state = 'ready'", "compute": "SELECT name FROM computes",
          "datastore": "SELECT name FROM datastores", "data asset": "SELECT DISTINCT name FROM data_assets",
          "environment": "SELECT DISTINCT name FROM environments", "endpoint": "SELECT name FROM endpoints",
          "run": "SELECT id FROM (SELECT id FROM runs ORDER BY seq DESC LIMIT 1000)"}


def close_resource_name(message: str) -> str | None:
    """For "model 'chrun' not found": the closest name that is there ('churn'), from the local registry;
    None off the local backend, for another message, or when nothing is close. Never raises."""
    import re
    from difflib import get_close_matches

    m = re.match(r"(model|compute|datastore|data asset|environment|endpoint|run) '?([^' ]+)'? not found", message)
    if m is None:
        return None
    kind, name = m.groups()
    if ":" in name and kind == "model":  # model churn:3 not found: the version is missing, not the name
        return None
    builtin = {"compute": ["local"], "datastore": ["workspaceblobstore"]}.get(kind, [])
    known = [n for n in _names(None, _NAMED[kind], "") + builtin if n != name]
    close = get_close_matches(name, known, n=1, cutoff=0.7)
    return close[0] if close else None


def complete_profile_names(ctx: Context, incomplete: str) -> list[str]:
    """Profile names, as `config list` shows them (stdlib tomllib only)."""
    from leafctl.profiles import profile_names

    return [n for n in profile_names() if n.startswith(incomplete)]


def complete_profile(ctx: Context, param: Any, incomplete: str) -> list[str]:
    """The same, in click's ``shell_complete(ctx, param, incomplete)`` form (the global -p/--profile)."""
    return complete_profile_names(ctx, incomplete)


def complete_endpoint_names(ctx: Context, incomplete: str) -> list[str]:
    return _names(ctx, "SELECT name FROM endpoints", incomplete)


def complete_deployment_names(ctx: Context, incomplete: str) -> list[str]:
    return _names(ctx, "SELECT name FROM batch_deployments", incomplete)


def complete_samples(ctx: Context, incomplete: str) -> list[str]:
    """`run evolve --sample <Tab>`: the bundled datasets."""
    from leafctl.esp.samples import sample_names  # a dict of names: no numpy

    return [n for n in sample_names() if n.startswith(incomplete)]


def complete_devices(ctx: Context, incomplete: str) -> list[str]:
    return [d for d in ("auto", "cpu", "gpu") if d.startswith(incomplete)]


def complete_examples(ctx: Context, incomplete: str) -> list[str]:
    """`example write <Tab>`: the example folders leafctl can write."""
    from leafctl.esp.samples.examples import example_names

    return [n for n in example_names() if n.startswith(incomplete)]


def complete_modes(ctx: Context, incomplete: str) -> list[str]:
    """`run evolve --mode <Tab>`: the search modes."""
    from leafctl.esp.config import MODES  # stdlib only

    return [m for m in MODES if m.startswith(incomplete)]


def complete_predictors(ctx: Context, incomplete: str) -> list[str]:
    """`run evolve --predictor <Tab>`: the surrogate kinds."""
    from leafctl.esp.predictors import REGISTRY  # stdlib only

    return [k for k in REGISTRY if k.startswith(incomplete)]
