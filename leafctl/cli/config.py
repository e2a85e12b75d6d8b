"""`leafctl config`: the TOML profile file."""

from __future__ import annotations

from typing import Annotated

import typer

from leafctl.cli._common import emit, info, parse_kv, state
from leafctl.errors import Conflict, NotFound, UsageError

app = typer.Typer(help="Profiles: create, show, select and validate them.", no_args_is_help=True)

ProfileArg = Annotated[str | None, typer.Argument(help="Profile name (default: the selected profile).",
                                                  autocompletion=lambda: __import__("leafctl.profiles").profiles.profile_names())]


def _load():
    from leafctl.profiles import ConfigFile

    return ConfigFile.load()


def _target(cf, name: str | None) -> str:
    from leafctl.profiles import check_profile_name, select_profile

    return check_profile_name(name) if name is not None else select_profile(state().profile, cf)


@app.command()
def init(
    profile: Annotated[str, typer.Option("--profile", "-p", help="Name of the profile to create.")] = "default",
    backend: Annotated[str, typer.Option("--backend", help="local | azure")] = "local",
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=value for the new profile (repeatable).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the profile if it exists.")] = False,
    use: Annotated[bool, typer.Option("--use/--no-use", help="Make it the current profile.")] = True,
) -> None:
    """Create a profile (and the config file, mode 0600, if needed)."""
    from leafctl.profiles import check_profile_name, check_value

    cf = _load()
    check_profile_name(profile)
    if profile in cf.profiles and not force:
        raise Conflict(f"profile {profile!r} already exists in {cf.path}", "pass --force to replace it, or `config set` to change keys")
    values = {"backend": check_value("backend", backend)}
    for k, v in parse_kv(set_, "--set").items():
        values[k] = check_value(k, v)
    if values["backend"] == "local":
        values.setdefault("workspace", "default")
    cf.profiles[profile] = values
    if use or not cf.current_profile:
        cf.current_profile = profile
    cf.save()
    info(f"wrote profile {profile!r} to {cf.path}")
    emit({"name": profile, "path": str(cf.path), "current": cf.current_profile == profile, **_redacted(values)})


def _redacted(values: dict) -> dict:
    from leafctl.profiles import redact

    return {k: redact(k, v) for k, v in values.items()}


@app.command("list")
def list_() -> None:
    """List the profiles in the config file."""
    from leafctl.profiles import select_profile

    cf = _load()
    current = select_profile(state().profile, cf)
    names = sorted(set(cf.profiles) | {"default"}) if not cf.profiles else sorted(cf.profiles)
    rows = [{"name": n, "backend": cf.profiles.get(n, {}).get("backend", "local"),
             "workspace": cf.profiles.get(n, {}).get("workspace", "default"), "current": n == current} for n in names]
    emit(rows)


@app.command()
def show(name: ProfileArg = None) -> None:
    """Show a profile's resolved settings (flags, environment, profile, defaults) with secrets redacted."""
    from leafctl.profiles import resolve

    cf = _load()
    s = resolve(_target(cf, name), state().overrides, config=cf)
    out = {"name": s.profile, **s.redacted()}
    if state().verbose:
        out["sources"] = s.sources
    emit(out)


@app.command()
def use(profile: Annotated[str, typer.Argument(help="Profile to make current.",
                                               autocompletion=lambda: __import__("leafctl.profiles").profiles.profile_names())]) -> None:
    """Make a profile the current one."""
    from leafctl.profiles import check_profile_name

    cf = _load()
    check_profile_name(profile)
    if profile not in cf.profiles and profile != "default":
        raise NotFound(f"profile {profile!r} not found in {cf.path}", "see `leafctl config list`")
    cf.current_profile = profile
    cf.save()
    emit({"current_profile": profile, "path": str(cf.path)})


@app.command("set")
def set_(
    key: Annotated[str, typer.Argument(help="Profile key (see config/REFERENCE.md).")],
    value: Annotated[str, typer.Argument(help="Value; secrets only as env:NAME.")],
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Profile to change (default: the selected one).")] = None,
) -> None:
    """Set one key in a profile (the profile is created if missing)."""
    from leafctl.profiles import check_profile_name, check_value

    cf = _load()
    name = _target(cf, profile)
    check_profile_name(name)
    cf.profiles.setdefault(name, {})[key] = check_value(key, value)
    if not cf.current_profile:
        cf.current_profile = name
    cf.save()
    emit({"profile": name, **_redacted({key: cf.profiles[name][key]})})


@app.command()
def unset(
    key: Annotated[str, typer.Argument(help="Profile key to remove.")],
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Profile to change (default: the selected one).")] = None,
) -> None:
    """Remove one key from a profile."""
    cf = _load()
    name = _target(cf, profile)
    if name not in cf.profiles:
        raise NotFound(f"profile {name!r} not found in {cf.path}", "see `leafctl config list`")
    if key not in cf.profiles[name]:
        raise NotFound(f"profile {name!r} has no key {key!r}", f"see `leafctl config show {name}`")
    del cf.profiles[name][key]
    cf.save()
    emit({"profile": name, "unset": key})


@app.command()
def path() -> None:
    """Print the config file's path (whether or not it exists)."""
    from leafctl.profiles import config_path

    p = config_path()
    if state().output in (None, "table", "tsv"):
        typer.echo(str(p))
    else:
        emit({"path": str(p), "exists": p.exists()})


@app.command()
def validate() -> None:
    """Check the config file: syntax, keys, values, literal secrets, required Azure keys."""
    cf = _load()
    problems = cf.problems()
    if problems:
        for p in problems[1:]:
            typer.echo(f"error: {p}", err=True)
        raise UsageError(problems[0], f"{len(problems)} problem(s) in {cf.path}; fix them with `leafctl config set/unset`")
    emit({"path": str(cf.path), "exists": cf.exists, "profiles": sorted(cf.profiles), "valid": True})
