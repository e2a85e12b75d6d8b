"""`leafctl migrate`: bring the Azure ML SDK v1 orchestration scripts' `.env` files (AZML_* variables)
into a leafctl profile."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Migrate settings from other tools into leafctl profiles.", no_args_is_help=True)

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
# Variables that hold secrets: the profile gets a reference to the variable, never its value.
_SECRET_VARS = {"AZML_CLIENT_SECRET": "client_secret", "AZML_SP_PASSWORD": "client_secret"}
_PLAIN_EXTRA = {"AZML_TENANT_ID": "tenant_id", "AZML_CLIENT_ID": "client_id"}


def parse_dotenv(text: str, source: str = ".env") -> dict[str, str]:
    """KEY=VALUE lines; `export`, comments, blank lines and single/double quotes as shells write them."""
    from leafctl.errors import UsageError

    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise UsageError(f"{source}:{n}: not a KEY=VALUE line: {line[:60]!r}", "fix or remove that line")
        key, value = m.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        out[key] = value
    return out


def to_profile(env: dict[str, str]) -> tuple[dict[str, object], list[str]]:
    """Profile keys from AZML_* variables, and the variables that have no profile key."""
    from leafctl.profiles import AZML_VARS, check_value

    profile: dict[str, object] = {"backend": "azure"}
    skipped: list[str] = []
    for var, value in env.items():
        if var in AZML_VARS:
            profile[AZML_VARS[var]] = check_value(AZML_VARS[var], value, var)
        elif var in _PLAIN_EXTRA:
            profile[_PLAIN_EXTRA[var]] = value
        elif var in _SECRET_VARS:
            profile[_SECRET_VARS[var]] = f"env:{var}"
        elif var.startswith("AZML_"):
            skipped.append(var)
    if "client_secret" in profile:
        profile["auth"] = "service-principal"
    return profile, skipped


@app.command()
def dotenv(
    file: Annotated[Path, typer.Argument(help="The .env file (AZML_SUBID, AZML_RESGRP, AZML_WORKSPACE, ...).")],
    profile: Annotated[str, typer.Option("--profile", "-p", help="Profile to write.")] = "azure",
    force: Annotated[bool, typer.Option("--force", help="Replace the profile if it exists.")] = False,
    use: Annotated[bool, typer.Option("--use/--no-use", help="Make it the current profile.")] = False,
) -> None:
    """Write a profile from a .env file of AZML_* variables (the Azure ML SDK v1 orchestration scripts' .env files).

    Secrets (AZML_CLIENT_SECRET, AZML_SP_PASSWORD) become env:NAME references, never copied.

    Examples:

      leafctl migrate dotenv .env --profile prod

      leafctl migrate dotenv ./scripts/.env -p prod --force --use"""
    from leafctl.cli._common import emit, info
    from leafctl.errors import Conflict, NotFound, UsageError
    from leafctl.profiles import ConfigFile, check_profile_name

    check_profile_name(profile)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{file} not found", "pass the path of your .env file") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise UsageError(f"{file} is not a text .env file", "pass the path of your .env file") from None
    values, skipped = to_profile(parse_dotenv(text, str(file)))
    if len(values) == 1:
        raise UsageError(f"{file} holds no AZML_* variables leafctl knows", "expected AZML_SUBID, AZML_RESGRP, AZML_WORKSPACE, ...")
    cf = ConfigFile.load()
    if profile in cf.profiles and not force:
        raise Conflict(f"profile {profile!r} already exists in {cf.path}", "pass --force to replace it")
    cf.profiles[profile] = values
    if use or not cf.current_profile:
        cf.current_profile = profile
    cf.save()
    for var in skipped:
        info(f"warning: {var} has no leafctl profile key; left out")
    emit({"profile": profile, "path": str(cf.path), "keys": values, "skipped": skipped})
