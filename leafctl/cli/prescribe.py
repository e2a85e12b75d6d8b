"""`leafctl model prescribe`: actions for new contexts from a registered ESP model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from leafctl.cli._common import backend, emit, info
from leafctl.errors import UsageError


def prescribe(
    model: Annotated[str, typer.Argument(help="NAME or NAME:VERSION of a model registered from an evolve run.")],
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV of contexts (the model's context columns).")],
    candidate: Annotated[str, typer.Option("--candidate", help="knee | all | best:OBJECTIVE | a candidate id.")] = "knee",
    output: Annotated[Path | None, typer.Option("--output", help="Write the CSV here instead of stdout.")] = None,
) -> None:
    """Write the input rows with the prescribed action columns (with `all`: one row per candidate and context)."""
    import tempfile

    from leafctl.esp.prescribe import prescribe_csv

    if not input.is_file():
        if input.exists():  # a folder, /dev/null, a pipe: there, but not a CSV file to read
            kind = "a folder" if input.is_dir() else "not a regular file"
            raise UsageError(f"contexts file {str(input)!r} is {kind}", "pass --input contexts.csv, a CSV file")
        raise UsageError(f"contexts file {str(input)!r} not found", "pass --input contexts.csv")
    if output is not None and output.is_dir():
        raise UsageError(f"--output {str(output)!r} is a folder", "give the path of the CSV file to write, e.g. --output actions.csv")
    from leafctl.backends.common import split_name_version

    name, version = split_name_version(model)
    b = backend()
    m = b.get_model(name, version)
    with tempfile.TemporaryDirectory(prefix="leafctl-prescribe-") as tmp:
        model_dir = b.download_model(m.name, m.version, Path(tmp))
        from leafctl.esp.prescribe import _model_root

        try:
            _model_root(model_dir)
        except UsageError:  # it would name our temporary folder
            raise UsageError(f"model {m.name}:{m.version} is not an ESP model (no MLmodel from `run evolve`)",
                             "register an evolve run's model: leafctl model register NAME --run RUN_ID") from None
        text, n_rows = prescribe_csv(model_dir, input, candidate, label=f"{m.name}:{m.version}")
    if output is None:
        raw = getattr(sys.stdout, "buffer", None)  # the CSV is UTF-8 bytes already: no re-encoding
        if raw is None:
            sys.stdout.write(text.decode("utf-8"))
        else:
            sys.stdout.flush()
            raw.write(text)
            raw.flush()
        return
    from leafctl.backends.common import atomic_write

    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(output, text)
    info(f"wrote {n_rows} row{'' if n_rows == 1 else 's'} to {output}")
    emit({"model": f"{m.name}:{m.version}", "candidate": candidate, "rows": n_rows, "output": str(output)})
