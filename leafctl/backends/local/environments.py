"""Local environments: versioned (image, conda file) records. Local runs use the current Python, so
these are bookkeeping that keeps one run spec valid on both backends."""

from __future__ import annotations

import json
from typing import Any

from leafctl.backends.base import Environment
from leafctl.backends.common import check_name, check_version, next_version, now_iso, version_key
from leafctl.backends.local.registry import Registry
from leafctl.errors import Conflict, NotFound, UsageError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS environments (
    name TEXT NOT NULL, version TEXT NOT NULL, image TEXT, conda_file TEXT, description TEXT, created_at TEXT,
    PRIMARY KEY (name, version)
)
"""


def _row(r: Any) -> Environment:
    extra = r["extra"] if "extra" in r.keys() else None
    return Environment(name=r["name"], version=r["version"], image=r["image"], conda_file=r["conda_file"],
                       description=r["description"], created_at=r["created_at"], extra=json.loads(extra) if extra else {})


class EnvOps:
    registry: Registry

    def _envs(self) -> Registry:
        self.registry.ensure_schema("environments", _SCHEMA)
        self.registry.ensure_column("environments", "extra", "TEXT")  # build, inference_config, tags ... as given
        return self.registry

    def create_environment(self, env: Environment) -> Environment:
        """An empty version means "the next one"; an existing version is returned if identical, else Conflict."""
        check_name("environment", env.name)
        if env.version:  # empty: the next one
            check_version("environment", str(env.version))
        if not env.image and not env.conda_file and not (env.extra or {}).get("build"):
            raise UsageError(f"environment {env.name!r} needs an image or a conda file", "pass --image, e.g. mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04")
        new = Environment(**env.to_dict())
        with self._envs().tx() as conn:
            rows = {r["version"]: _row(r) for r in conn.execute("SELECT * FROM environments WHERE name = ?", (env.name,))}
            if new.version and new.version in rows:
                old = rows[new.version]
                if (old.image, old.conda_file, old.description, old.extra) == (new.image, new.conda_file, new.description, new.extra):
                    return old
                raise Conflict(f"environment {env.name}:{env.version} exists with a different spec", "leave --version out to create the next version")
            new.version = str(new.version or next_version(rows))
            new.created_at = now_iso()
            conn.execute("INSERT INTO environments (name, version, image, conda_file, description, created_at, extra) "
                         "VALUES (?,?,?,?,?,?,?)",
                         (new.name, new.version, new.image, new.conda_file, new.description, new.created_at,
                          json.dumps(new.extra, sort_keys=True)))
        return new

    def _env_versions(self, name: str) -> list[Environment]:
        rows = self._envs().query("SELECT * FROM environments WHERE name = ?", (name,))
        return sorted((_row(r) for r in rows), key=lambda e: version_key(e.version))

    def get_environment(self, name: str, version: str | None = None) -> Environment:
        versions = self._env_versions(name)
        if not versions:
            raise NotFound(f"environment {name!r} not found", "see `leafctl env list`")
        if version is None:
            return versions[-1]
        for e in versions:
            if e.version == str(version):
                return e
        raise NotFound(f"environment {name}:{version} not found (versions: {', '.join(e.version for e in versions)})",
                       f"see `leafctl env list {name}`")

    def list_environments(self, name: str | None = None) -> list[Environment]:
        """Without a name: the latest version of each environment; with one: all its versions."""
        if name is not None:
            return self._env_versions(name)
        names = [r["name"] for r in self._envs().query("SELECT DISTINCT name FROM environments ORDER BY name")]
        return [self._env_versions(n)[-1] for n in names]
