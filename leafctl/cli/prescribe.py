"""`leafctl model prescribe`: actions for new contexts from a registered ESP model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from leafctl.cli._common import backend, emit, info, state
from leafctl.cli._complete import complete_candidates, complete_model_names
from leafctl.errors import UsageError


def prescribe(
    model: Annotated[str, typer.Argument(help="NAME or NAME:VERSION of a model registered from an evolve run.",
                                         autocompletion=complete_model_names)],
    input: Annotated[str, typer.Option("--input", "-i", click_type=click.Path(path_type=str),
                                       help="CSV of contexts (the model's context columns).")],
    candidate: Annotated[str, typer.Option("--candidate", help="knee | all | best:OBJECTIVE | a candidate id.",
                                           autocompletion=complete_candidates)] = "knee",
    # A str, not a Path: Path("") is ".", and an empty --out must be refused as what it is.
    out: Annotated[str | None, typer.Option("--out", metavar="FILE", click_type=click.Path(path_type=str),
                                            help="Write the CSV to FILE (stdout then gets a summary in the -o "
                                                 "format) instead of to stdout; - is stdout.")] = None,
) -> None:
    """Write the input rows with the prescribed action columns (with `all`: one row per candidate and context).

    On stdout the rows are CSV, or with -o json|yaml|tsv|table the same rows in that format."""
    import tempfile

    from leafctl.esp.prescribe import prescribe as prescribe_rows
    from leafctl.esp.prescribe import prescribe_csv

    if not input.strip():
        raise UsageError(f"--input is empty ({input!r})", "pass --input contexts.csv, a CSV file")
    contexts = Path(input)
    if not contexts.is_file():
        if contexts.exists():  # a folder, /dev/null, a pipe: there, but not a CSV file to read
            kind = "a folder" if contexts.is_dir() else "not a regular file"
            raise UsageError(f"contexts file {input!r} is {kind}", "pass --input contexts.csv, a CSV file")
        raise UsageError(f"contexts file {input!r} not found", "pass --input contexts.csv")
    out_path = _out_path(out)
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
        # Rows for -o (and --query) on stdout; else the CSV, built column-wise (fast for millions of rows).
        as_rows = out_path is None and out != "-" and (state().output is not None or state().query is not None)
        if as_rows:
            header, rows = prescribe_rows(model_dir, contexts, candidate, label=f"{m.name}:{m.version}")
        else:
            text, n_rows = prescribe_csv(model_dir, contexts, candidate, label=f"{m.name}:{m.version}")
        from leafctl.esp.prescribe import candidate_note, chosen_candidates

        # Which candidate the actions come from (knee, the default, is otherwise invisible), on stderr.
        info(candidate_note(candidate, chosen_candidates(model_dir, candidate, label=f"{m.name}:{m.version}")))
    if as_rows:
        emit([dict(zip(header, row)) for row in rows], header)
        return
    if out_path is None:
        raw = getattr(sys.stdout, "buffer", None)  # the CSV is UTF-8 bytes already: no re-encoding
        if raw is None:
            sys.stdout.write(text.decode("utf-8"))
        else:
            sys.stdout.flush()
            raw.write(text)
            raw.flush()
        return
    from leafctl.backends.common import atomic_write

    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out_path, text)
    info(f"wrote {n_rows} row{'' if n_rows == 1 else 's'} to {out}")
    emit({"model": f"{m.name}:{m.version}", "candidate": candidate, "rows": n_rows, "output": out})


def _out_path(out: str | None) -> Path | None:
    """The file --out names; None for stdout (no --out, or ``-``). Refused as typed: an empty value, a
    folder, and ``-`` beside -o/--query (both would be written to stdout)."""
    if out is None:
        return None
    if out == "-":
        if state().output not in (None, "none") or state().query is not None:
            raise UsageError("--out - writes the CSV to stdout, where -o/--query would write too",
                             "drop -o/--query, or write the CSV to a file: --out actions.csv")
        return None
    if not out.strip():
        raise UsageError(f"--out is empty ({out!r})", "give the path of the CSV file to write, e.g. --out actions.csv, "
                         "or --out - for stdout")
    path = Path(out)
    if path.is_dir():
        raise UsageError(f"--out {out!r} is a folder", "give the path of the CSV file to write, e.g. --out actions.csv")
    return path
