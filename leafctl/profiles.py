"""TOML profiles: where the file lives, loading, validation, precedence and secret references.

Precedence for every key: command-line flag > ``LEAFCTL_<KEY>`` > seed 004's ``AZML_*`` variables >
the selected profile > defaults. Profile selection: ``--profile`` > ``LEAFCTL_PROFILE`` >
``current_profile`` > ``default``. Only the stdlib (tomllib) is used to read, so shell completion can
read profile names cheaply; tomli_w is imported only when writing.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from leafctl.errors import AuthError, UsageError

BACKENDS = ("local", "azure")
AUTH_MODES = ("default", "cli", "managed-identity", "service-principal")

# Every key a profile may hold, with a one-line description (config/REFERENCE.md mirrors this).
KEYS: dict[str, str] = {
    "backend": "local | azure",
    "workspace": "workspace name (local: a folder under $LEAFCTL_HOME/workspaces)",
    "subscription_id": "Azure subscription id (azure)",
    "resource_group": "Azure resource group (azure)",
    "location": "Azure region, e.g. centralus (azure)",
    "auth": "default | cli | managed-identity | service-principal (azure)",
    "tenant_id": "Microsoft Entra tenant id (service-principal)",
    "client_id": "application (client) id (service-principal, managed-identity)",
    "client_secret": "service principal secret, as a reference: env:NAME",
    "compute": "default compute for runs",
    "experiment": "default experiment for runs",
    "datastore": "default datastore for data upload/download/ls",
    "data_path": "default path in the datastore (AZML_DATAPATH of the SDK v1 scripts' .env files)",
    "model": "default model name (AZML_MODEL of the SDK v1 scripts' .env files)",
    "compute_size": "VM size used when a compute is created without --size",
    "compute_min_nodes": "min nodes used when a cluster is created without --min-nodes",
    "compute_max_nodes": "max nodes used when a cluster is created without --max-nodes",
    "environment": "default environment for runs (azure), e.g. azureml:leaf-esp-gpu@latest",
    "blob_endpoint": "blob service URL overriding the datastore's (azure), e.g. http://127.0.0.1:10000/devstoreaccount1 for Azurite",
}

# Keys whose value is a secret: accepted only as a reference, never as a literal.
SECRET_KEYS = frozenset({"client_secret"})

INT_KEYS = frozenset({"compute_min_nodes", "compute_max_nodes"})

DEFAULTS: dict[str, Any] = {
    "backend": "local",
    "workspace": "default",
    "auth": "default",
    "experiment": "default",
}

# Seed 004's .env variables, mapped to profile keys.
AZML_VARS: dict[str, str] = {
    "AZML_SUBID": "subscription_id",
    "AZML_RESGRP": "resource_group",
    "AZML_WORKSPACE": "workspace",
    "AZML_COMPUTE_NAME": "compute",
    "AZML_EXPERIMENT": "experiment",
    "AZML_MODEL": "model",
    "AZML_DATAPATH": "data_path",
    "AZML_COMPUTE_VMSIZE": "compute_size",
    "AZML_COMPUTE_MIN_NODES": "compute_min_nodes",
    "AZML_COMPUTE_MAX_NODES": "compute_max_nodes",
    "AZML_LOCATION": "location",
}

_REF = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def config_path() -> Path:
    if os.environ.get("LEAFCTL_CONFIG"):
        return Path(os.environ["LEAFCTL_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "leafctl" / "config.toml"


def data_home() -> Path:
    if os.environ.get("LEAFCTL_HOME"):
        return Path(os.environ["LEAFCTL_HOME"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "leafctl"


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and bool(_REF.match(value))


def resolve_secret(value: str | None, key: str = "secret") -> str | None:
    """Turn an ``env:NAME`` reference into the secret, at the moment of use only."""
    if value is None:
        return None
    m = _REF.match(value)
    if not m:
        raise UsageError(f"{key} must be a reference, not a literal", f"use env:NAME, e.g. {key} = \"env:SP_PASSWORD\"")
    name = m.group(1)
    if name not in os.environ:
        raise UsageError(f"{key} refers to ${name}, which is not set", f"export {name} before running leafctl")
    return os.environ[name]


def redact(key: str, value: Any) -> Any:
    if key in SECRET_KEYS and value is not None and not is_reference(value):
        return "<redacted>"
    return value


_WORKSPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")  # as backends.common.check_name


def check_value(key: str, value: Any, where: str = "") -> Any:
    """Validate one key/value; returns the value converted to its type. Raises UsageError."""
    at = f" in {where}" if where else ""
    if key not in KEYS:
        import difflib

        close = difflib.get_close_matches(key, KEYS, n=1)
        hint = f"did you mean {close[0]}?" if close else "see `leafctl config set --help` for the keys"
        raise UsageError(f"unknown profile key {key!r}{at}", hint)
    if key in SECRET_KEYS:
        if not is_reference(value):
            raise UsageError(
                f"{key} must be a reference to an environment variable, not a literal secret{at}",
                f"store the secret in a variable and write {key} = \"env:SP_PASSWORD\"",
            )
        return value
    if key in INT_KEYS:
        n = _integer(key, value, at)
        if n < 0:
            raise UsageError(f"{key} must be 0 or more{at}, got {n}", f"e.g. {key} = 2")
        return n
    if not isinstance(value, str):
        raise UsageError(f"{key} must be a string{at}, got {value!r}", f"quote it: {key} = \"{value}\"")
    if key == "backend" and value not in BACKENDS:
        raise UsageError(f"backend must be one of {', '.join(BACKENDS)}{at}, got {value!r}", "e.g. backend = \"local\"")
    if key == "auth" and value not in AUTH_MODES:
        raise UsageError(f"auth must be one of {', '.join(AUTH_MODES)}{at}, got {value!r}", "e.g. auth = \"default\"")
    if key == "workspace" and not _WORKSPACE.fullmatch(value):  # it becomes a folder name locally
        raise UsageError(f"invalid workspace name {value!r}{at}", "use letters, digits, '-' and '_', starting with a letter or digit")
    return value


def _integer(key: str, value: Any, at: str) -> int:
    """An int from TOML (int only: int() would turn 2.5 into 2 and true into 1) or from a variable or
    flag (ASCII digits only: int() also takes "２" and "1_0")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value)
    shown = str(value).lower() if isinstance(value, bool) else str(value) if isinstance(value, (str, float)) else repr(value)
    raise UsageError(f"{key} must be an integer{at}, got {shown}", f"e.g. {key} = 2")


def valid_profile_name(name: Any) -> bool:
    """Does ``name`` follow the rule ``check_profile_name`` enforces?"""
    return isinstance(name, str) and bool(_NAME.fullmatch(name))


def check_profile_name(name: str, source: str = "") -> str:
    """The one rule for profile names, wherever they come from (``config init``, --profile,
    LEAFCTL_PROFILE, current_profile): a name that is a path, holds spaces, newlines or non-ASCII
    letters is refused (exit 2) before it is looked up or written. ``source`` says where it came from."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        where = f" (from {source})" if source else ""
        raise UsageError(f"invalid profile name {name!r}{where}", "use letters, digits, '-', '_' or '.', starting with a letter or digit")
    return name


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``.<name>.lock`` beside the config file (none where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass
class ConfigFile:
    """The parsed file. ``profiles`` maps name -> dict of keys."""

    path: Path
    current_profile: str | None = None
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    exists: bool = False
    # What was read, so save() writes only this process's changes over what others wrote since.
    _read: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def load(cls, path: Path | None = None) -> ConfigFile:
        cf = cls._parse(path or config_path())
        cf._read = cf._snapshot()
        return cf

    def _snapshot(self) -> dict[str, Any]:
        import copy

        return {"current_profile": self.current_profile, "profiles": copy.deepcopy(self.profiles)}

    def _merge_onto_latest(self) -> None:
        """Apply this instance's changes (against what it read) to the file as it is now, key by key."""
        if self._read is None:
            return
        latest = ConfigFile._parse(self.path)
        before = self._read["profiles"]
        for name in set(before) | set(self.profiles):
            mine, old = self.profiles.get(name), before.get(name)
            if mine == old:
                continue
            if mine is None:
                latest.profiles.pop(name, None)
                continue
            target = latest.profiles.setdefault(name, {})
            for key in set(old or {}) - set(mine):
                target.pop(key, None)
            target.update({k: v for k, v in mine.items() if (old or {}).get(k, object()) != v})
        if self.current_profile != self._read["current_profile"]:
            latest.current_profile = self.current_profile
        self.current_profile, self.profiles = latest.current_profile, latest.profiles

    @classmethod
    def _parse(cls, path: Path) -> ConfigFile:
        import tomllib

        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path=path)
        except IsADirectoryError:
            raise UsageError(f"config file {path} is a directory", "point LEAFCTL_CONFIG at a file") from None
        except PermissionError:  # the file, or a folder above it, may not be read by this user
            raise AuthError(f"cannot read config file {path}: permission denied",
                            "check the permissions of the file and its folder, or point LEAFCTL_CONFIG at another file") from None
        except OSError as e:  # a name too long, a file where a folder should be, ...
            raise UsageError(f"cannot read config file {path}: {e.strerror or e}", "point LEAFCTL_CONFIG at a readable file") from None
        try:
            doc = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not UTF-8 text", "fix or remove the file") from None
        except RecursionError:  # tomllib recurses once per nested [ or {
            raise UsageError(f"{path}: invalid TOML: nested too deeply", "fix the file, or move it away and run `leafctl config init`") from None
        except tomllib.TOMLDecodeError as e:
            msg = str(e)
            if "at end of document" in msg:
                last_line = raw.count(b"\n") + 1
                msg = msg.replace("at end of document", f"at end of document, line {last_line}")
            raise UsageError(f"{path}: invalid TOML: {msg}", "fix that line, or move the file away and run `leafctl config init`") from None
        cf = cls(path=path, exists=True)
        for key, value in doc.items():
            if key == "current_profile":
                if not isinstance(value, str):
                    raise UsageError(f"{path}: current_profile must be a string", "e.g. current_profile = \"dev\"")
                cf.current_profile = value
            elif key == "profiles":
                if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                    raise UsageError(f"{path}: [profiles] must hold tables such as [profiles.dev]", "see config/REFERENCE.md")
                cf.profiles = {k: dict(v) for k, v in value.items()}
            else:
                raise UsageError(f"{path}: unknown top-level key {key!r}", "only current_profile and [profiles.NAME] are allowed")
        return cf

    def problems(self) -> list[str]:
        """Every validation problem, as one line each (for `config validate`)."""
        out: list[str] = []
        for name, keys in self.profiles.items():
            try:
                check_profile_name(name)
            except UsageError as e:
                out.append(e.what)
            for k, v in keys.items():
                try:
                    check_value(k, v, f"profile {name!r}")
                except UsageError as e:
                    out.append(f"{e.what} ({e.hint})" if e.hint else e.what)
            out += [f"profile {name!r} uses the azure backend but has no {req}" for req in azure_missing(keys)]
            out += [f"profile {name!r} uses service-principal auth but has no {req}" for req in sp_missing(keys)]
        if self.current_profile and not _NAME.fullmatch(self.current_profile):
            out.append(f"invalid profile name {self.current_profile!r} (current_profile)")
        elif self.current_profile and self.current_profile not in self.profiles and self.current_profile != "default":
            out.append(f"current_profile {self.current_profile!r} names no profile")
        return out

    def save(self) -> None:
        """Atomic write, mode 0600: a crash leaves the old file or the new one, never half of one."""
        import tomli_w

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path):  # parallel leafctl processes (CI jobs) must not lose each other's changes
            self._merge_onto_latest()
            doc: dict[str, Any] = {}
            if self.current_profile:
                doc["current_profile"] = self.current_profile
            doc["profiles"] = self.profiles
            import tempfile  # here: ~20 ms that reading a profile (every Tab press) does not need

            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".config.", suffix=".tmp")
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "wb") as f:
                    tomli_w.dump(doc, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                raise
        self.exists = True
        self._read = self._snapshot()


@dataclass
class Settings:
    """The resolved settings of one invocation, with where each value came from."""

    profile: str
    values: dict[str, Any]
    sources: dict[str, str]
    config: ConfigFile

    def __getattr__(self, key: str) -> Any:
        if key in KEYS:
            return self.values.get(key)
        raise AttributeError(key)

    def get(self, key: str, default: Any = None) -> Any:
        v = self.values.get(key)
        return default if v is None else v

    def secret(self, key: str) -> str | None:
        """The secret behind a reference key, resolved now (never store the result)."""
        return resolve_secret(self.values.get(key), key)

    def redacted(self) -> dict[str, Any]:
        return {k: redact(k, v) for k, v in self.values.items()}


def select_profile(flag: str | None, cf: ConfigFile) -> str:
    """--profile > LEAFCTL_PROFILE > current_profile > "default", checked by the same name rule as
    `config init`, whichever source it came from."""
    if flag is not None:
        return check_profile_name(flag, "--profile")
    if os.environ.get("LEAFCTL_PROFILE"):
        return check_profile_name(os.environ["LEAFCTL_PROFILE"], "LEAFCTL_PROFILE")
    if cf.current_profile:
        return check_profile_name(cf.current_profile, f"current_profile in {cf.path}")
    return "default"


def unknown_profile(name: str, cf: ConfigFile) -> UsageError:
    """A profile that is not in the file is invalid input (exit 2, as a bad flag value), not a missing
    resource: the exit-code table puts profiles under usage. Says the close one, else the known ones."""
    from difflib import get_close_matches

    known = sorted(set(cf.profiles) | {"default"})
    close = get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return UsageError(f"profile {name!r} not found in {cf.path} (profiles: {', '.join(known)})",
                      hint + "create it with `leafctl config init --profile NAME`")


def resolve(profile_flag: str | None = None, overrides: dict[str, Any] | None = None, config: ConfigFile | None = None) -> Settings:
    cf = config or ConfigFile.load()
    name = select_profile(profile_flag, cf)
    if name not in cf.profiles and name != "default":
        raise unknown_profile(name, cf)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def put(key: str, value: Any, source: str) -> None:
        values[key] = check_value(key, value, source)
        sources[key] = source

    for k, v in DEFAULTS.items():
        values[k], sources[k] = v, "default"
    for k, v in cf.profiles.get(name, {}).items():
        put(k, v, f"profile {name!r}")
    for var, key in AZML_VARS.items():
        if os.environ.get(var):
            put(key, os.environ[var], var)
    for key in KEYS:
        var = "LEAFCTL_" + key.upper()
        if os.environ.get(var):
            put(key, os.environ[var], var)
    for k, v in (overrides or {}).items():
        if v is not None:
            put(k, v, "flag")
    return Settings(profile=name, values=values, sources=sources, config=cf)


AZURE_REQUIRED = ("subscription_id", "resource_group", "workspace")
SP_REQUIRED = ("tenant_id", "client_id", "client_secret")


def azure_missing(values: dict[str, Any]) -> list[str]:
    """The keys an azure profile needs and lacks (none for a local profile)."""
    if values.get("backend") != "azure":
        return []
    return [k for k in AZURE_REQUIRED if not values.get(k)]


def sp_missing(values: dict[str, Any]) -> list[str]:
    """The keys service-principal sign-in needs and the profile lacks (none for another auth mode)."""
    if values.get("backend") != "azure" or values.get("auth") != "service-principal":
        return []
    return [k for k in SP_REQUIRED if not values.get(k)]


def azure_warnings(values: dict[str, Any], name: str) -> list[str]:
    """What `config init`/`config set` warn about: what every command on this profile would refuse."""
    out = []
    missing = azure_missing(values)
    if missing:
        out.append(f"profile {name!r} uses the azure backend but has no {', '.join(missing)} yet; commands refuse it "
                   f"until you run `leafctl config set {missing[0]} ... --profile {name}`")
    missing = sp_missing(values)
    if missing:
        out.append(f"profile {name!r} uses service-principal auth but has no {', '.join(missing)} yet "
                   f"(`leafctl config set {missing[0]} ... --profile {name}`; client_secret as env:NAME)")
    return out


def check_azure_ready(settings: Settings) -> None:
    """Refuse (exit 2) an azure profile that cannot sign in, before anything imports azure-ai-ml (seconds):
    a missing subscription/resource group/workspace, missing service-principal keys, or a client_secret
    reference to an unset variable. The secret is read to check it is there and dropped at once."""
    values, name = settings.values, settings.profile
    if values.get("backend") != "azure":
        return
    missing = azure_missing(values)
    if missing:
        raise UsageError(f"profile {name!r} uses the azure backend but has no {', '.join(missing)}",
                         f"leafctl config set {missing[0]} ... --profile {name}")
    missing = sp_missing(values)
    if missing:
        raise UsageError(f"auth = \"service-principal\" needs {', '.join(missing)} in profile {name!r}",
                         f"leafctl config set {missing[0]} ...  (client_secret as env:NAME)")
    if values.get("auth") == "service-principal":
        settings.secret("client_secret")


def profile_names() -> list[str]:
    """Cheap, for shell completion: stdlib tomllib only, errors swallowed."""
    try:
        cf = ConfigFile.load()
    except Exception:
        return []
    names = {n for n in cf.profiles if valid_profile_name(n)}  # an invalid name would only be refused
    names.add("default")
    return sorted(names)
