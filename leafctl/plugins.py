"""Plugins: installed distributions declaring entry points in the group ``leafctl``.

An entry point's name is the command group it adds; its object is a ``typer.Typer`` (or a click
command). ``LEAFCTL_LOAD_PLUGINS`` (comma list; empty = none) restricts which load. A plugin that
fails to import prints one warning and leafctl goes on without it.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any

GROUP = "leafctl"


def _allowed(name: str) -> bool:
    spec = os.environ.get("LEAFCTL_LOAD_PLUGINS")
    if spec is None:
        return True
    return name in {n.strip() for n in spec.split(",") if n.strip()}


@lru_cache(maxsize=1)
def _entry_points() -> tuple[Any, ...]:
    """Entry points of group ``leafctl``.

    ``importlib.metadata.entry_points()`` parses the metadata of every installed distribution
    (~150 with azure-ai-ml's tree: tens of ms on each Tab press). We look for the group header in
    each ``entry_points.txt`` first and build Distribution objects only for the few that have it.
    """
    found: list[Any] = []
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            project = name.split("-", 1)[0].lower().replace("_", "-")
            if project in seen:
                continue  # the first distribution on sys.path wins, as the import system's does
            seen.add(project)
            path = os.path.join(entry or ".", name)
            try:
                with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as f:
                    if f"[{GROUP}]" not in f.read():
                        continue
            except OSError:
                continue
            from importlib.metadata import Distribution

            found.extend(Distribution.at(path).entry_points.select(group=GROUP))
    return tuple(found)


def discovered() -> list[dict[str, Any]]:
    """Every plugin entry point installed, loaded or not (for `leafctl plugins list`)."""
    rows = []
    for ep in _entry_points():
        dist = getattr(ep, "dist", None)
        rows.append({
            "name": ep.name,
            "distribution": dist.metadata["Name"] if dist else None,
            "version": dist.version if dist else None,
            "object": ep.value,
            "enabled": _allowed(ep.name),
        })
    return rows


def disabled_names() -> list[str]:
    return [ep.name for ep in _entry_points() if not _allowed(ep.name)]


def plugin_names() -> list[str]:
    return [ep.name for ep in _entry_points() if _allowed(ep.name)]


@lru_cache(maxsize=1)
def plugin_groups() -> dict[str, Any]:
    """Load the allowed plugins; a broken one is reported once on stderr and skipped."""
    out: dict[str, Any] = {}
    for ep in _entry_points():
        if not _allowed(ep.name):
            continue
        try:
            out[ep.name] = ep.load()
        except Exception as e:  # any failure inside someone else's package
            print(f"warning: plugin {ep.name!r} ({ep.value}) failed to load: {type(e).__name__}: {e}", file=sys.stderr)
    return out


def load_error(name: str) -> str | None:
    for ep in _entry_points():
        if ep.name == name:
            try:
                ep.load()
            except Exception as e:
                return f"{type(e).__name__}: {e}"
            return None
    return None
