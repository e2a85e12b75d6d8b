"""`leafctl config`: the TOML profile file."""

from __future__ import annotations

from typing import Annotated

import typer

from leafctl.cli._complete import complete_profile_names
from leafctl.cli._common import emit, info, parse_kv, state
from leafctl.errors import Conflict, NotFound, UsageError

app = typer.Typer(help="Profiles: create, show, select and validate them.", no_args_is_help=True)

ProfileArg = Annotated[str | None, typer.Argument(help="Profile name (default: the selected profile).",
                                                  autocompletion=complete_profile_names)]


def _load():
    from leafctl.profiles import ConfigFile

    return ConfigFile.load()


def _target(cf, name: str | None) -> str:
    from leafctl.profiles import check_profile_name, select_profile

    return check_profile_name(name) if name is not None else select_profile(state().profile, cf)


@app.command()
def init(
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Name of the profile to create "
                                                "(default: the global -p before the group, else default).")] = None,
    backend: Annotated[str, typer.Option("--backend", help="local | azure")] = "local",
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=value for the new profile (repeatable).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the profile if it exists.")] = False,
    use: Annotated[bool, typer.Option("--use/--no-use", help="Make it the current profile.")] = True,
) -> None:
    """Create a profile (and the config file, mode 0600, if needed)."""
    from leafctl.profiles import check_profile_name, check_value

    cf = _load()
    # `leafctl -p prod config init` names the profile as `leafctl config init -p prod` does: the root's -p
    # is on the state (this command's own -p takes the name, so no global copy is injected here).
    profile = check_profile_name(profile if profile is not None else (state().profile or "default"))
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
    _warn_unusable(values, profile)
    emit({"name": profile, "path": str(cf.path), "current": cf.current_profile == profile, **_redacted(values)})


def _warn_unusable(values: dict, name: str) -> None:
    """On stderr: an azure profile every command would refuse as it stands (keys still to set)."""
    from leafctl.profiles import azure_warnings

    for line in azure_warnings(values, name):
        info(f"warning: {line}")


def _redacted(values: dict) -> dict:
    from leafctl.profiles import redact

    return {k: redact(k, v) for k, v in values.items()}


@app.command("list")
def list_() -> None:
    """List the profiles in the config file."""
    from leafctl.profiles import select_profile

    from leafctl.profiles import valid_profile_name

    cf = _load()
    current = select_profile(state().profile, cf)
    # `default` is always selectable (resolve() falls back to it), so it is listed, as `-p <Tab>` offers it.
    names = sorted(set(cf.profiles) | {"default"})
    for n in names:  # a hand-written [profiles."café"]: listed, as it is in the file, but no command takes it
        if not valid_profile_name(n):
            info(f"warning: profile {n!r} in {cf.path} has an invalid name: every command refuses it (use letters, "
                 f"digits, '-', '_' or '.', starting with a letter or digit; rename it in the file)")
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
                                               autocompletion=complete_profile_names)]) -> None:
    """Make a profile the current one."""
    from leafctl.profiles import check_profile_name

    cf = _load()
    check_profile_name(profile)
    if profile not in cf.profiles and profile != "default":
        from leafctl.profiles import unknown_profile

        raise unknown_profile(profile, cf)
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
    value = check_value(key, value)
    if name not in cf.profiles:  # a typo in -p must not pass unnoticed
        info(_created_note(name, cf))
    cf.profiles.setdefault(name, {})[key] = value
    if not cf.current_profile:
        cf.current_profile = name
    cf.save()
    _warn_unusable(cf.profiles[name], name)
    emit({"profile": name, **_redacted({key: cf.profiles[name][key]})})


def _created_note(name: str, cf) -> str:
    """The stderr note for `config set` on a profile not in the file: it is created, and the existing
    one the name is close to, if any (`-p prdo` for prod)."""
    from difflib import get_close_matches

    close = get_close_matches(name, sorted(set(cf.profiles) - {name}), n=1)
    note = f"note: created profile {name!r} in {cf.path}"
    return note + (f"; did you mean {close[0]!r}?" if close else "")


@app.command()
def unset(
    key: Annotated[str, typer.Argument(help="Profile key to remove.")],
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Profile to change (default: the selected one).")] = None,
) -> None:
    """Remove one key from a profile."""
    cf = _load()
    name = _target(cf, profile)
    if name not in cf.profiles:
        from leafctl.profiles import unknown_profile

        raise unknown_profile(name, cf)
    if key not in cf.profiles[name]:
        raise NotFound(f"profile {name!r} has no key {key!r}", f"see `leafctl config show {name}`")
    del cf.profiles[name][key]
    cf.save()
    _warn_unusable(cf.profiles[name], name)
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
