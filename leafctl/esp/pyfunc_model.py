"""Self-contained prescriptor loader: copied verbatim into an exported model's ``code/`` folder.

MLflow's python_function flavor imports this module and calls ``_load_pyfunc(data_path)``; the
object's ``predict(df)`` prescribes actions for a table of contexts. Needs only numpy (and pandas for
``predict``): no leafctl, no mlflow, no pickle. The same class serves ``leafctl model prescribe``
through ``prescribe_arrays`` (columns in, action columns out) and ``prescribe_columns`` (plain lists).
Encoding and the forward pass are vectorised and run in blocks of rows, so millions of contexts
prescribe in seconds with bounded memory.

Candidate choice: ``"knee"`` (default) is the first-front candidate nearest the ideal point once each
objective is scaled to [0, 1] across the first front; ``"best:OBJ"`` the best candidate for one
objective; an integer the candidate with that id (its row in pareto.csv); ``"all"`` every candidate.
A model of a constrained run stores its constraints and each candidate's violation ``cv``: knee and
best:OBJ then choose among the feasible candidates (cv == 0) only, or the least violating if none is.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Sequence

import numpy as np

MODEL_JSON = "esp_model.json"
WEIGHTS = "prescriptors.npz"
BLOCK = 1 << 16  # rows per forward pass: (BLOCK, hidden) float32 intermediates, a few MB


def eligible(cv: Any, n: int) -> np.ndarray:
    """Rows a choice may fall on: the feasible ones (cv == 0) when any is, else the least violating;
    every row without constraints (cv None)."""
    if cv is None:
        return np.ones(n, dtype=bool)
    v = np.asarray(cv, dtype=np.float64)
    v = np.where(np.isnan(v), np.inf, v)
    return v == (0.0 if (v == 0).any() else v.min())


def knee_index(G: np.ndarray, rank: np.ndarray, cv: Any = None) -> int:
    """Row of the knee among minimised objectives G (n, k); ties go to the lower row. With the
    candidates' constraint violations ``cv``, only feasible candidates (else the least violating) count."""
    fin = np.all(np.isfinite(G), axis=1) & eligible(cv, G.shape[0])
    ok = (rank == 1) & fin
    if not ok.any() and cv is not None:  # ranks from before constraints: the eligible ones' best front
        ok = fin & (rank == (rank[fin].min() if fin.any() else 1))
    rows = np.nonzero(ok)[0] if ok.any() else np.nonzero(fin if fin.any() else np.all(np.isfinite(G), axis=1))[0]
    if rows.size == 0:
        return 0
    front = G[rows]
    lo, hi = front.min(0), front.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    dist = np.sqrt((((front - lo) / span) ** 2).sum(1))
    return int(rows[int(np.argmin(dist))])


def minimised(F: np.ndarray, objectives: Sequence[Sequence[str]]) -> np.ndarray:
    """Objectives (n, k) in natural units -> all minimised, NaN/inf as +inf (the worst); what the knee
    and best:OBJ are chosen on, here and where pareto.csv marks the knee (outputs.py)."""
    sign = np.array([-1.0 if s == "max" else 1.0 for _, s in objectives])
    G = np.asarray(F, dtype=np.float64) * sign
    return np.where(np.isfinite(G), G, np.inf)


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
        self.F = np.asarray(cands["objectives"], dtype=np.float64).reshape(len(self.ids), len(self.objectives))
        self.G = minimised(self.F, self.objectives)
        # A run with risk K > 0: F (what knee and best:OBJ choose on) is mean -/+ K*std; the means are
        # what a candidate is predicted to achieve.
        means = cands.get("means")
        self.means = self.F if means is None else np.asarray(means, dtype=np.float64).reshape(self.F.shape)
        self.rank = np.asarray(cands["rank"], dtype=np.int64)
        # A constrained run's constraints ("margin>=100") and each candidate's violation (0 = feasible).
        self.constraints = [str(c) for c in self.meta.get("constraints") or []]
        self.cv = np.asarray(cands["cv"], dtype=np.float64) if cands.get("cv") is not None else None

    @property
    def any_feasible(self) -> bool:
        """Whether some candidate meets every constraint (True without constraints)."""
        return self.cv is None or bool((self.cv == 0).any())

    # ------------------------------------------------------------ choosing candidates
    def candidate_rows(self, candidate: Any = "knee") -> list[int]:
        if candidate is None or candidate == "knee":
            return [knee_index(self.G, self.rank, self.cv)]
        if candidate == "all":
            return list(range(len(self.ids)))
        if isinstance(candidate, str) and candidate.startswith("best:"):
            name = candidate[5:]
            names = [n for n, _ in self.objectives]
            if name not in names:
                raise ValueError(f"candidate 'best:{name}' names no objective; objectives are: {', '.join(names)}")
            col = self.G[:, names.index(name)]
            barred = ~eligible(self.cv, col.size)  # best among the feasible candidates only
            return [int(np.lexsort((np.arange(col.size), self.rank, col, barred))[0])]
        try:
            cid = int(candidate)
        except (TypeError, ValueError):
            raise ValueError(f"candidate {candidate!r} is not knee, all, best:OBJECTIVE or an id") from None
        if cid not in self.ids:
            raise ValueError(f"candidate {cid} is not in the model; ids run from {min(self.ids)} to {max(self.ids)}")
        return [self.ids.index(cid)]

    def predicted(self, row: int) -> dict[str, float]:
        """What the surrogate predicted candidate ``row`` achieves, averaged over the training contexts:
        {objective: mean value} in natural units, as in pareto.csv."""
        return {n: float(v) for (n, _), v in zip(self.objectives, self.means[row])}

    # ------------------------------------------------------------ encoding and forward
    def encode(self, columns: dict[str, Sequence[Any]]) -> np.ndarray:
        """Contexts (lists or numpy arrays per column; numbers may be given as text) -> (n, C) float32."""
        missing = [c["name"] for c in self.context if c["name"] not in columns]
        if missing:
            raise ValueError(f"context column {missing[0]!r} is missing from the input")
        blocks = []
        for c in self.context:
            vals = columns[c["name"]]
            if c["kind"] == "categorical":
                cats = c["categories"]
                text = np.char.strip(np.asarray(vals, dtype=object).astype(str))
                order = np.argsort(np.asarray(cats, dtype=str))
                sorted_cats = np.asarray(cats, dtype=str)[order]
                pos = np.clip(np.searchsorted(sorted_cats, text), 0, len(cats) - 1)
                unknown = np.flatnonzero(sorted_cats[pos] != text)
                if unknown.size:
                    r = int(unknown[0])
                    raise ValueError(f"column {c['name']!r}, row {r + 1}: {str(text[r])!r} was not seen in training; "
                                     f"use one of: {', '.join(cats)}")
                blocks.append((order[pos][:, None] == np.arange(len(cats))).astype(np.float32))
            else:
                out = _floats(vals)
                bad = np.flatnonzero(~np.isfinite(out))
                if bad.size:
                    r = int(bad[0])
                    raise ValueError(f"column {c['name']!r}, row {r + 1}: {_at(vals, r)!r} is not a number")
                blocks.append(((out - c["mean"]) / c["std"])[:, None].astype(np.float32))
        return np.concatenate(blocks, axis=1)

    def action_columns(self, row: int, X: np.ndarray) -> list[np.ndarray]:
        """Decoded actions of one candidate for encoded contexts X, one array per action column:
        category names (object), 0/1 or an integer action's whole numbers (int64), or natural units
        (float64). Decoded as the engine decodes (prescriptor.decode): a continuous action squashed into
        [lo, hi], rounded half to even for an integer one; a simplex group's members softmax x total."""
        C, H, n = X.shape[1], self.hidden, X.shape[0]
        A = sum(len(a["categories"]) if a["kind"] == "categorical" else 1 for a in self.actions)
        t = self.theta[row]
        W1 = t[:C * H].reshape(C, H)
        b1 = t[C * H:C * H + H]
        W2 = t[C * H + H:C * H + H + H * A].reshape(H, A)
        b2 = t[C * H + H + H * A:]
        out = [np.empty(n, dtype=np.int64 if a["kind"] != "numeric" or a.get("integer") else np.float64)
               for a in self.actions]
        offsets = np.cumsum([0] + [len(a["categories"]) if a["kind"] == "categorical" else 1 for a in self.actions])
        groups: dict[int, list[int]] = {}
        for j, a in enumerate(self.actions):
            if a.get("simplex", -1) >= 0:
                groups.setdefault(int(a["simplex"]), []).append(j)
        for s in range(0, n, BLOCK):
            raw = np.tanh(X[s:s + BLOCK] @ W1 + b1) @ W2 + b2
            shares = {}
            for members in groups.values():
                block = raw[:, [int(offsets[j]) for j in members]].astype(np.float64)
                e = np.exp(block - block.max(axis=1, keepdims=True))
                v = e * (float(self.actions[members[0]]["total"]) / e.sum(axis=1, keepdims=True))
                shares.update({j: v[:, i] for i, j in enumerate(members)})
            o = 0
            for j, (a, col) in enumerate(zip(self.actions, out)):
                if a["kind"] == "categorical":
                    k = len(a["categories"])
                    col[s:s + BLOCK] = np.argmax(raw[:, o:o + k], axis=1)
                    o += k
                elif a["kind"] == "binary":
                    col[s:s + BLOCK] = raw[:, o] > 0
                    o += 1
                else:
                    v = shares[j] if j in shares else \
                        a["lo"] + (a["hi"] - a["lo"]) / (1.0 + np.exp(-raw[:, o].astype(np.float64)))
                    col[s:s + BLOCK] = np.rint(v) if a.get("integer") else v
                    o += 1
        return [np.asarray(a["categories"], dtype=object)[col] if a["kind"] == "categorical" else col
                for a, col in zip(self.actions, out)]

    def actions_for(self, row: int, X: np.ndarray) -> list[list[Any]]:
        """Decoded actions (natural units, category names) of one candidate for encoded contexts X."""
        return [list(r) for r in zip(*(col.tolist() for col in self.action_columns(row, X)))]

    def prescribe_arrays(self, columns: dict[str, Sequence[Any]], candidate: Any = "knee",
                         ) -> tuple[list[int], list[list[np.ndarray]]]:
        """Contexts as {column: values} -> (ids of the chosen candidates, each one's action columns)."""
        X = self.encode(columns)
        rows = self.candidate_rows(candidate)
        return [self.ids[r] for r in rows], [self.action_columns(r, X) for r in rows]

    def prescribe_columns(self, columns: dict[str, Sequence[Any]], candidate: Any = "knee",
                          ) -> tuple[list[str], list[list[Any]]]:
        """Contexts as {column: values} -> (header, rows): context columns, then action columns;
        with ``candidate="all"`` a leading ``candidate`` column and one row per candidate and context."""
        ids, acts = self.prescribe_arrays(columns, candidate)
        ctx_names = [c["name"] for c in self.context]
        ctx_rows = [list(r) for r in zip(*(list(columns[n]) for n in ctx_names))]
        header = ctx_names + [a["name"] for a in self.actions]
        rows_out: list[list[Any]] = []
        for cid, cols in zip(ids, acts):
            prefix = [cid] if candidate == "all" else []
            rows_out.extend(prefix + c + list(a) for c, a in zip(ctx_rows, zip(*(col.tolist() for col in cols))))
        return (["candidate"] + header if candidate == "all" else header), rows_out

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd  # noqa: PLC0415 - only the MLflow path needs pandas

        df = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        candidate = (params or {}).get("candidate", "knee")
        header, rows = self.prescribe_columns({c: df[c].tolist() for c in df.columns}, candidate)
        return pd.DataFrame(rows, columns=header)


def _floats(vals: Any) -> np.ndarray:
    """A column of numbers (or their text) as float64; NaN where a value is no number."""
    arr = np.asarray(vals)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64)
    try:  # text or objects: numpy parses them all in one call
        return np.asarray(arr, dtype=object).astype(np.float64)
    except (TypeError, ValueError):
        pass
    out = np.empty(len(arr), dtype=np.float64)
    for r, v in enumerate(arr.tolist()):  # some value is no number: find which, one by one
        try:
            out[r] = float(v)
        except (TypeError, ValueError):
            out[r] = math.nan
    return out


def _at(vals: Any, r: int) -> Any:
    v = vals[r]
    return v.item() if isinstance(v, np.generic) else v


def _load_pyfunc(data_path: str) -> LeafEspModel:
    return LeafEspModel(data_path)
