"""Self-contained prescriptor loader: copied verbatim into an exported model's ``code/`` folder.

MLflow's python_function flavor imports this module and calls ``_load_pyfunc(data_path)``; the
object's ``predict(df)`` prescribes actions for a table of contexts. Needs only numpy (and pandas for
``predict``): no leafctl, no mlflow, no pickle. The same class serves ``leafctl model prescribe``
through ``prescribe_columns``, which takes plain lists.

Candidate choice: ``"knee"`` (default) is the first-front candidate nearest the ideal point once each
objective is scaled to [0, 1] across the first front; ``"best:OBJ"`` the best candidate for one
objective; an integer the candidate with that id (its row in pareto.csv); ``"all"`` every candidate.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Sequence

import numpy as np

MODEL_JSON = "esp_model.json"
WEIGHTS = "prescriptors.npz"


def knee_index(G: np.ndarray, rank: np.ndarray) -> int:
    """Row of the knee among minimised objectives G (n, k); ties go to the lower row."""
    ok = (rank == 1) & np.all(np.isfinite(G), axis=1)
    rows = np.nonzero(ok)[0] if ok.any() else np.nonzero(np.all(np.isfinite(G), axis=1))[0]
    if rows.size == 0:
        return 0
    front = G[rows]
    lo, hi = front.min(0), front.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    dist = np.sqrt((((front - lo) / span) ** 2).sum(1))
    return int(rows[int(np.argmin(dist))])


class LeafEspModel:
    def __init__(self, data_path: str):
        with open(os.path.join(data_path, MODEL_JSON), encoding="utf-8") as fh:
            self.meta = json.load(fh)
        with np.load(os.path.join(data_path, WEIGHTS), allow_pickle=False) as z:
            self.theta = z["theta"].astype(np.float32)
        self.context = self.meta["context"]
        self.actions = self.meta["actions"]
        self.hidden = int(self.meta["hidden"])
        cands = self.meta["candidates"]
        self.ids = [int(i) for i in cands["id"]]
        self.objectives = [tuple(o) for o in self.meta["objectives"]]
        F = np.asarray(cands["objectives"], dtype=np.float64).reshape(len(self.ids), len(self.objectives))
        sign = np.array([-1.0 if s == "max" else 1.0 for _, s in self.objectives])
        G = F * sign
        self.G = np.where(np.isfinite(G), G, np.inf)
        self.rank = np.asarray(cands["rank"], dtype=np.int64)

    # ------------------------------------------------------------ choosing candidates
    def candidate_rows(self, candidate: Any = "knee") -> list[int]:
        if candidate is None or candidate == "knee":
            return [knee_index(self.G, self.rank)]
        if candidate == "all":
            return list(range(len(self.ids)))
        if isinstance(candidate, str) and candidate.startswith("best:"):
            name = candidate[5:]
            names = [n for n, _ in self.objectives]
            if name not in names:
                raise ValueError(f"candidate 'best:{name}' names no objective; objectives are: {', '.join(names)}")
            col = self.G[:, names.index(name)]
            return [int(np.lexsort((np.arange(col.size), self.rank, col))[0])]
        try:
            cid = int(candidate)
        except (TypeError, ValueError):
            raise ValueError(f"candidate {candidate!r} is not knee, all, best:OBJECTIVE or an id") from None
        if cid not in self.ids:
            raise ValueError(f"candidate {cid} is not in the model; ids run from {min(self.ids)} to {max(self.ids)}")
        return [self.ids.index(cid)]

    # ------------------------------------------------------------ encoding and forward
    def encode(self, columns: dict[str, Sequence[Any]]) -> np.ndarray:
        missing = [c["name"] for c in self.context if c["name"] not in columns]
        if missing:
            raise ValueError(f"context column {missing[0]!r} is missing from the input")
        blocks = []
        for c in self.context:
            vals = list(columns[c["name"]])
            if c["kind"] == "categorical":
                cats = c["categories"]
                block = np.zeros((len(vals), len(cats)), dtype=np.float32)
                for r, v in enumerate(vals):
                    v = str(v).strip()
                    if v not in cats:
                        raise ValueError(f"column {c['name']!r}, row {r + 1}: {v!r} was not seen in training; "
                                         f"use one of: {', '.join(cats)}")
                    block[r, cats.index(v)] = 1.0
                blocks.append(block)
            else:
                out = np.empty(len(vals), dtype=np.float64)
                for r, v in enumerate(vals):
                    try:
                        out[r] = float(v)
                    except (TypeError, ValueError):
                        out[r] = math.nan
                    if not math.isfinite(out[r]):
                        raise ValueError(f"column {c['name']!r}, row {r + 1}: {v!r} is not a number")
                blocks.append(((out - c["mean"]) / c["std"])[:, None].astype(np.float32))
        return np.concatenate(blocks, axis=1)

    def actions_for(self, row: int, X: np.ndarray) -> list[list[Any]]:
        """Decoded actions (natural units, category names) of one candidate for encoded contexts X."""
        C, H = X.shape[1], self.hidden
        A = sum(len(a["categories"]) if a["kind"] == "categorical" else 1 for a in self.actions)
        t = self.theta[row]
        W1 = t[:C * H].reshape(C, H)
        b1 = t[C * H:C * H + H]
        W2 = t[C * H + H:C * H + H + H * A].reshape(H, A)
        b2 = t[C * H + H + H * A:]
        raw = np.tanh(X @ W1 + b1) @ W2 + b2
        cols, o = [], 0
        for a in self.actions:
            if a["kind"] == "categorical":
                k = len(a["categories"])
                cols.append([a["categories"][i] for i in np.argmax(raw[:, o:o + k], axis=1)])
                o += k
            elif a["kind"] == "binary":
                cols.append([int(v) for v in (raw[:, o] > 0)])
                o += 1
            else:
                v = a["lo"] + (a["hi"] - a["lo"]) / (1.0 + np.exp(-raw[:, o].astype(np.float64)))
                cols.append([float(x) for x in v])
                o += 1
        return [list(r) for r in zip(*cols)]

    def prescribe_columns(self, columns: dict[str, Sequence[Any]], candidate: Any = "knee",
                          ) -> tuple[list[str], list[list[Any]]]:
        """Contexts as {column: values} -> (header, rows): context columns, then action columns;
        with ``candidate="all"`` a leading ``candidate`` column and one row per candidate and context."""
        X = self.encode(columns)
        ctx_names = [c["name"] for c in self.context]
        ctx_rows = [list(r) for r in zip(*(list(columns[n]) for n in ctx_names))]
        header = ctx_names + [a["name"] for a in self.actions]
        rows_out: list[list[Any]] = []
        rows = self.candidate_rows(candidate)
        for row in rows:
            acts = self.actions_for(row, X)
            prefix = [self.ids[row]] if candidate == "all" else []
            rows_out.extend(prefix + c + a for c, a in zip(ctx_rows, acts))
        return (["candidate"] + header if candidate == "all" else header), rows_out

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd  # noqa: PLC0415 - only the MLflow path needs pandas

        df = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        candidate = (params or {}).get("candidate", "knee")
        header, rows = self.prescribe_columns({c: df[c].tolist() for c in df.columns}, candidate)
        return pd.DataFrame(rows, columns=header)


def _load_pyfunc(data_path: str) -> LeafEspModel:
    return LeafEspModel(data_path)
