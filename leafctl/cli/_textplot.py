"""A small text scatter of a Pareto front, and the knee in words: what `run evolve` shows on a terminal.

Plain Python (the CLI imports no numpy) and plain ASCII (any terminal, any encoding). The first two
objectives are drawn: front points as ``o``, the knee as ``*``; each axis names its objective and sense
and shows the range the points span.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

WIDTH, HEIGHT = 48, 12  # plotting cells; the whole block stays under 80 columns


def knee_line(knee: dict[str, Any] | None) -> str | None:
    """``knee (the default --candidate of model prescribe): id 12, revenue 404.8, margin 143.9``."""
    if not knee:
        return None
    from leafctl.output import number  # the front table's and the progress lines' format

    values = ", ".join(f"{n} {number(v)}" for n, v in knee["objectives"].items())
    return f"knee (the default --candidate of `model prescribe`): id {knee['id']}, predicted {values}"


def front_scatter(front: Sequence[dict[str, Any]], objectives: Sequence[tuple[str, str]],
                  knee: dict[str, Any] | None = None, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
    """Lines of a text scatter of ``front`` ({id, objectives} dicts, as in `run evolve -o json`) over the
    first two objectives; [] with fewer than two objectives or no finite point."""
    if len(objectives) < 2:
        return []
    (nx, sx), (ny, sy) = objectives[0], objectives[1]
    pts = [(f["objectives"].get(nx), f["objectives"].get(ny), f.get("id")) for f in front]
    pts = [(x, y, i) for x, y, i in pts if isinstance(x, (int, float)) and isinstance(y, (int, float))
           and math.isfinite(x) and math.isfinite(y)]
    if not pts:
        return []
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)

    def cell(v: float, lo: float, hi: float, n: int) -> int:
        return 0 if hi <= lo else min(n - 1, int(round((v - lo) / (hi - lo) * (n - 1))))

    grid = [[" "] * width for _ in range(height)]
    knee_id = knee.get("id") if knee else None
    for x, y, i in pts:
        r, c = height - 1 - cell(y, y0, y1, height), cell(x, x0, x1, width)
        if grid[r][c] != "*":
            grid[r][c] = "*" if i == knee_id else "o"
    from leafctl.output import number  # the front table's and the progress lines' format

    top, bottom = number(y1), number(y0)
    pad = max(len(top), len(bottom))
    ylabel = f"{ny} ({sy})"
    lines = [ylabel]
    for r, row in enumerate(grid):
        tick = top if r == 0 else bottom if r == height - 1 else ""
        lines.append(f"{tick:>{pad}} |{''.join(row).rstrip()}")
    lines.append(" " * pad + " +" + "-" * width)
    left, right = number(x0), number(x1)
    xlabel = f"{nx} ({sx})"
    middle = max(1, width - len(left) - len(right))
    lines.append(" " * (pad + 2) + left + xlabel.center(middle) + right)
    legend = "o first front" + ("   * knee" if knee_id is not None else "")
    lines.append(" " * (pad + 2) + legend)
    return lines
