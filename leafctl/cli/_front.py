"""The first front as `run evolve` prints it on a terminal: a few rows spread along it, in one number format.

A front of 44 candidates would push the run id and the summary off the screen, so the terminal gets at
most ``TERMINAL_ROWS`` of them: both ends, the knee, and the rest evenly spaced along the front (it is
ordered along the first objective). A line on stderr says how many there are and where all of them are
(pareto.csv, `-o json`). Values are shown as the progress lines show them (``leafctl.output.number``).
"""

from __future__ import annotations

from typing import Any, Sequence

TERMINAL_ROWS = 10


def spread(n: int, k: int, keep: Sequence[int] = ()) -> list[int]:
    """``k`` indices of ``range(n)`` evenly spread, both ends and ``keep`` included, in order."""
    if n <= k:
        return list(range(n))
    chosen = {0, n - 1, *(i for i in keep if 0 <= i < n)}
    step = (n - 1) / max(1, k - 1)
    for j in range(k):
        if len(chosen) >= k:
            break
        chosen.add(round(j * step))
    i = 0
    while len(chosen) < k:  # rounding landed on taken rows: fill from the start
        chosen.add(i)
        i += 1
    return sorted(chosen)


def front_rows(front: Sequence[dict[str, Any]], knee_id: Any = None,
               limit: int = TERMINAL_ROWS) -> tuple[list[dict[str, str]], list[str]]:
    """(rows for the table, column names): ``id`` then each objective, values as text right-aligned per column
    with their decimal points lined up (416.0 over 88.31)."""
    from leafctl.output import aligned_numbers

    keep = [i for i, f in enumerate(front) if knee_id is not None and f.get("id") == knee_id]
    picked = [front[i] for i in spread(len(front), limit, keep)]
    names = list(dict.fromkeys(k for f in picked for k in f.get("objectives", {})))
    by_column = [aligned_numbers([f["objectives"].get(n) for f in picked]) for n in names]
    cells = [[str(f.get("id"))] + [col[j] if n in f["objectives"] else "" for n, col in zip(names, by_column)]
             for j, f in enumerate(picked)]
    columns = ["id", *names]
    # The header too: rich left-aligns it, so a value padded to the header's width ends under its last letter.
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    rows = [{c: r[i].rjust(widths[i]) if i else r[i] for i, c in enumerate(columns)} for r in cells]
    return rows, columns


def left_out_note(total: int, shown: int, where: str) -> str | None:
    """Where the rest of the front is, when the terminal table shows only part of it."""
    if shown >= total:
        return None
    return (f"showing {shown} of the {total} candidates on the first front, spread along it; "
            f"all of them: {where}, or `-o json`")
