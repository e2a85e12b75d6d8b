"""Shell completion of names, read straight from the local registry.

Every Tab press runs a fresh leafctl, so these use stdlib sqlite3 on a read-only connection: no
backend, no schema creation, no heavy imports. Any problem (no workspace yet, an azure profile, a
locked file) completes nothing rather than printing an error into the user's prompt.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click


def _registry_path(ctx: click.Context | None) -> Path | None:
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


def _names(ctx: click.Context | None, sql: str, incomplete: str) -> list[str]:
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


def complete_compute_names(ctx: click.Context, incomplete: str) -> list[str]:
    names = _names(ctx, "SELECT name FROM computes", incomplete)
    return sorted(set(names) | ({"local"} if "local".startswith(incomplete) else set()))


def complete_model_names(ctx: click.Context, incomplete: str) -> list[str]:
    return _names(ctx, "SELECT DISTINCT name FROM models WHERE state = 'ready'", incomplete)


def complete_data_names(ctx: click.Context, incomplete: str) -> list[str]:
    return _names(ctx, "SELECT DISTINCT name FROM data_assets", incomplete)


def complete_datastore_names(ctx: click.Context, incomplete: str) -> list[str]:
    names = _names(ctx, "SELECT name FROM datastores", incomplete)
    return sorted(set(names) | ({"workspaceblobstore"} if "workspaceblobstore".startswith(incomplete) else set()))


def complete_env_names(ctx: click.Context, incomplete: str) -> list[str]:
    return _names(ctx, "SELECT DISTINCT name FROM environments", incomplete)


def complete_run_ids(ctx: click.Context, incomplete: str) -> list[str]:
    """Newest first is what people want, but shells sort anyway: return the 200 newest ids."""
    return _names(ctx, "SELECT id FROM (SELECT id FROM runs ORDER BY seq DESC LIMIT 200)", incomplete)


def complete_workspace_names(ctx: click.Context, incomplete: str) -> list[str]:
    from leafctl.profiles import data_home

    root = data_home() / "workspaces"
    try:
        names = {p.name for p in root.iterdir() if (p / "registry.sqlite").exists()}
    except OSError:
        names = set()
    return sorted(n for n in names | {"default"} if n.startswith(incomplete))
