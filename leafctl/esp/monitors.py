"""What a run reports per generation: the record (best, mean, hypervolume, seconds), the line in the
job's log, the line in ``progress.jsonl`` and the caller's callback — kept out of the loop itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np


def summary(F: np.ndarray, senses: Sequence[str], names: Sequence[str]) -> tuple[dict, dict]:
    """Best and mean of each objective over the finite values of F (natural units)."""
    best, mean = {}, {}
    for j, (n, s) in enumerate(zip(names, senses)):
        col = F[:, j]
        col = col[np.isfinite(col)]
        best[n] = (float(col.max()) if s == "max" else float(col.min())) if col.size else None
        mean[n] = float(col.mean()) if col.size else None
    return best, mean


def normalised_hv(G: np.ndarray, ideal: np.ndarray, nadir: np.ndarray) -> float | None:
    """Hypervolume of the first front in objective space normalised by ``ideal`` and ``nadir`` (a run's
    ``hv_ref``: ``data_reference`` since mode esp; generation 0's population in older checkpoints),
    reference point 1.1 in every objective. None for 4+ objectives with a large front (exact HV cost)."""
    from leafctl.esp.nsga2 import hypervolume, nondominated_rank  # noqa: PLC0415

    front = G[nondominated_rank(G) == 1]
    if G.shape[1] > 3 and len(front) > 200:
        return None
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    return hypervolume((front - ideal) / span, [1.1] * G.shape[1])


def data_reference(objectives: Sequence[tuple[str, str]], outcomes: Sequence[str], Y: np.ndarray,
                   actions: Sequence[Any], costs: np.ndarray) -> list[list[float]]:
    """[ideal, nadir] (minimised form) taken from the data alone, so the hypervolume of a run on the
    same data (and objectives) is comparable across runs, seeds, modes and predictors: an outcome
    spans the range of its column in the data; action_cost spans the cheapest to the dearest
    actions within the actions' ranges (per action: weight x its lowest or highest value; a
    categorical action: its cheapest or dearest category)."""
    from leafctl.esp.config import ACTION_COST  # noqa: PLC0415

    lo_cost = hi_cost = 0.0
    u = 0
    for a in actions:
        w = np.asarray(costs[u:u + a.width], dtype=np.float64)
        ends = w if a.kind == "categorical" else np.array([w[0] * a.lo, w[0] * a.hi])
        lo_cost, hi_cost = lo_cost + float(ends.min()), hi_cost + float(ends.max())
        u += a.width
    ideal, nadir = [], []
    for name, sense in objectives:
        if name == ACTION_COST:
            lo, hi = lo_cost, hi_cost
        else:
            col = np.asarray(Y, dtype=np.float64)[:, list(outcomes).index(name)]
            col = col[np.isfinite(col)]
            lo, hi = (float(col.min()), float(col.max())) if col.size else (0.0, 0.0)
        ideal.append(-hi if sense == "max" else lo)
        nadir.append(-lo if sense == "max" else hi)
    return [ideal, nadir]


def progress_line(rec: dict[str, Any]) -> str:
    """``generation 3/20  revenue 418.4  margin 154.2  hv 0.4200`` (``generation 3/20  risk-adjusted
    K=1  revenue ...`` in a --risk run): what `run logs` shows and ``leafctl.evolve.parse_progress``
    reads back."""
    num = lambda v, f: format(v, f) if isinstance(v, (int, float)) else str(v)  # noqa: E731
    best = "  ".join(f"{k} {num(v, '.4g')}" for k, v in rec["best"].items())
    # A --risk run ranks on mean -/+ K*std: its best values are those, and the line says so.
    risk = f"  risk-adjusted K={rec['risk']:g}" if rec.get("risk") else ""
    return (f"generation {rec['generation']}/{rec['generations']}{risk}  {best}  "
            f"hv {num(rec['hypervolume'], '.4f')}")


class Progress:
    """Appends each generation's record to ``progress.jsonl``, logs its line and calls ``on_generation``."""

    def __init__(self, out: Path, say: Callable[[str], None],
                 on_generation: Callable[[dict[str, Any]], None] | None = None):
        self.path = Path(out) / "progress.jsonl"
        self.say = say
        self.on_generation = on_generation

    def restart(self, history: list[dict[str, Any]]) -> None:
        """The log from a checkpoint's history (the file may lag the checkpoint or run past it)."""
        from leafctl.esp.files import atomic_write_text  # noqa: PLC0415

        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in history))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def emit(self, rec: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        self.say(progress_line(rec))
        if self.on_generation is not None:
            self.on_generation(rec)
