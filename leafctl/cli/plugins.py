"""`leafctl plugins`: what is installed and whether it loads."""

from __future__ import annotations

import typer

from leafctl.cli._common import emit

app = typer.Typer(help="Installed leafctl plugins.", no_args_is_help=True)


@app.command("list")
def list_() -> None:
    """List installed plugins, whether they are enabled, and whether they load."""
    from leafctl.plugins import discovered, load_error

    rows = discovered()
    for row in rows:
        err = load_error(row["name"]) if row["enabled"] else None
        row["status"] = "disabled" if not row["enabled"] else ("broken: " + err if err else "ok")
    from leafctl.output import Column

    emit(rows, columns=["name", Column("distribution", drop=1), "version", Column("status", cut=True)])
