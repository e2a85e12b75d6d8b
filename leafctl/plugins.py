"""Plugins: installed distributions declaring entry points in the group ``leafctl``.

An entry point's name is the command group it adds; its object is a ``typer.Typer`` (or a click
command). ``LEAFCTL_LOAD_PLUGINS`` (comma list; empty = none) restricts which load. A plugin that
fails to import prints one warning and leafctl goes on without it.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache

TYPE_CHECKING = False  # typing costs ~10 ms of every Tab press that lists plugins; annotations only
if TYPE_CHECKING:
    from typing import Any

GROUP = "leafctl"


def _allowed(name: str) -> bool:
    spec = os.environ.get("LEAFCTL_LOAD_PLUGINS")
    if spec is None:
        return True
    return name in {n.strip() for n in spec.split(",") if n.strip()}


class EntryPoint:
    """Just enough of importlib.metadata.EntryPoint, read without importing importlib.metadata
    (~17 ms, paid on every Tab press once any plugin is installed)."""

    def __init__(self, name: str, value: str, dist_name: str, dist_version: str):
        self.name, self.value = name, value
        self.dist_name, self.dist_version = dist_name, dist_version

    def load(self) -> Any:
        import importlib

        module, _, attr = self.value.partition(":")
        obj = importlib.import_module(module.strip())
        for part in filter(None, attr.strip().split(".")):
            obj = getattr(obj, part)
        return obj


def _group_entries(text: str) -> list[tuple[str, str]]:
    """`name = module:attr` lines of the [leafctl] section of an entry_points.txt (an INI file)."""
    out, inside = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            inside = line == f"[{GROUP}]"
        elif inside and "=" in line:
            name, _, value = line.partition("=")
            out.append((name.strip(), value.strip()))
    return out


def _dist_name_version(path: str, folder: str) -> tuple[str, str]:
    name, version = folder.rsplit(".", 1)[0], ""
    if "-" in name:
        name, version = name.split("-", 1)
    try:  # the METADATA header has the display name (leafctl-migrate, not leafctl_migrate)
        with open(os.path.join(path, "METADATA"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("Name:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("Version:"):
                    version = line.split(":", 1)[1].strip()
                elif not line.strip():
                    break
    except OSError:
        pass
    return name, version


@lru_cache(maxsize=1)
def _entry_points() -> tuple[EntryPoint, ...]:
    """Entry points of group ``leafctl``, found by reading each distribution's entry_points.txt.

    The first distribution of a name on sys.path wins, as the import system's does.
    """
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if not folder.endswith((".dist-info", ".egg-info")):
                continue
            project = folder.split("-", 1)[0].lower().replace("_", "-").replace(".", "-")
            if project in seen:
                continue
            seen.add(project)
            path = os.path.join(entry or ".", folder)
            try:
                with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            if f"[{GROUP}]" not in text:
                continue
            dist_name, dist_version = _dist_name_version(path, folder)
            found.extend(EntryPoint(n, v, dist_name, dist_version) for n, v in _group_entries(text))
    return tuple(found)


def discovered() -> list[dict[str, Any]]:
    """Every plugin entry point installed, loaded or not (for `leafctl plugins list`)."""
    rows = []
    for ep in _entry_points():
        rows.append({
            "name": ep.name,
            "distribution": ep.dist_name,
            "version": ep.dist_version,
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
