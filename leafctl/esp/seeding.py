"""Generation 0 from known policies, and the historical policy's baseline.

ESP starts from random prescriptors unless told better. This module makes the better start:

- **Behaviour clones** (``clone_policies``): prescriptors fitted to imitate the data's own actions (given a
  row's context, output the action taken there). Each clone keeps a random tanh hidden layer and fits its
  output layer by ridge least squares against the *raw* outputs that decode to the historical actions
  (``action_targets`` inverts ``prescriptor.decode``). Several clones, each from its own hidden layer and
  bootstrap rows, are solved at once as one batched linear system: no loop per clone or per row.
- **Extreme policies** (``extreme_policies``): every action at its lo, or every action at its hi; a
  categorical action takes each of its categories in turn.
- **Genomes of an earlier run** (``Genomes``): a run's final population (``population.npz``) or a model's
  prescriptors (``prescriptors.npz``), with the encoding they were evolved for, so ``--seed-from`` and
  ``--warm-start`` can refuse a layout that differs and carry the context standardisation over exactly
  (``Genomes.for_layout``).
- **The baseline** (``baseline``): the surrogate's mean prediction on the data's own (context, action)
  rows and the action cost of the historical actions: "today", next to the prescribed front.

Random draws come from a stream of their own (``seeding_rng``), so adding seeds never changes the random
members of generation 0 or the evolution's own stream.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from leafctl.errors import UsageError

# Raw-output targets: a continuous action's share of its range is clipped to [EPS, 1 - EPS] before the
# logit (a value at lo or hi has an infinite logit); binary and categorical targets are +-MARGIN.
EPS = 0.01
MARGIN = 2.0
# History mutation's targets (operators.history_mutation) must decode back to the row's own actions,
# bounds included: an integer action of range 100 at a 0.01 clip would come back one unit in.
DONOR_EPS = 1e-6
# What the extreme policies put in their output biases: sigmoid(8) = 0.99966 of the range.
SATURATE = 8.0
# The extreme policies' output weights are this fraction of the random init: never exact zeros (the
# percentage mutation could not move them), small enough that every context gets the extreme.
SMALL = 0.01
RIDGE = 1e-3  # ridge penalty per row of the clones' least squares
MAX_ROWS = 20_000  # rows each clone is fitted on (a bootstrap sample of this many from larger tables)
MAX_ELEMS = 8_000_000  # about 64 MB of float64 per intermediate of the clones' fit
SEED_SHARE = 0.5  # at most this share of generation 0 is seeded; the rest stays random (diversity)
SEEDS_FILE = "seed.npz"  # staged into the job's code folder for --seed-from
WARM_FILE = "warm.npz"  # staged into the job's code folder for --warm-start
BASELINE_FILE = "baseline.json"  # in the run's outputs: the historical policy's predicted objectives
LINEAGE_FILE = "lineage.json"  # in the run's outputs: warm_started_from / seeded_from


def seeding_rng(seed: int, island: int = 0) -> np.random.Generator:
    """The seeding stream: child 3 of the run's seed (children 0-2 are the predictor, contexts and
    evolution streams of the engine), so it is independent of all three; one grandchild per island,
    so islands start from different clones."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(3, island)))


# ------------------------------------------------------------------ behaviour cloning

def action_targets(actions: Sequence[Any], Xa: np.ndarray, eps: float = EPS) -> np.ndarray:
    """The raw prescriptor outputs (n, n_out) that decode to the actions in ``Xa`` (the predictor's action
    encoding, as ``data.load_dataset`` makes it): continuous -> logit of the share of [lo, hi] (clipped),
    binary -> +-MARGIN, categorical -> +MARGIN for the category taken and -MARGIN for the others."""
    Xa = np.asarray(Xa, dtype=np.float64)
    out, o = [], 0
    for a in actions:
        block = Xa[:, o:o + a.width]
        if a.kind == "categorical":
            out.append(MARGIN * (2.0 * block - 1.0))
        elif a.kind == "binary":
            out.append(MARGIN * (2.0 * block - 1.0))
        elif getattr(a, "simplex", -1) >= 0:
            # A simplex group decodes as softmax(outputs) x total: log-shares invert it (softmax ignores
            # the constant the logs are off by).
            v = block * a.std + a.mean
            out.append(np.log(np.clip(v / a.total, eps, None)))
        else:
            v = block * a.std + a.mean  # the encoding standardised the natural value
            u = np.clip((v - a.lo) / (a.hi - a.lo), eps, 1.0 - eps)
            out.append(np.log(u / (1.0 - u)))
        o += a.width
    return np.concatenate(out, axis=1)


def history(layout: Any, ds: Any) -> tuple[np.ndarray, np.ndarray]:
    """(contexts, raw outputs) of every data row: what history mutation draws its donors from."""
    return ds.Xc, action_targets(layout.actions, ds.Xa, DONOR_EPS)


def clone_policies(layout: Any, Xc: np.ndarray, Xa: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` prescriptors (k, D) fitted to output the historical actions of rows (Xc, Xa).

    Clone 0 is fitted on the rows themselves (a sample of MAX_ROWS from a larger table), the others on
    bootstrap samples; each has its own random hidden layer (the engine's Glorot init). The output layer
    solves min ||[tanh(X W1 + b1), 1] w - T||^2 + RIDGE n ||w||^2 for every clone in one batched solve."""
    if k <= 0:
        return np.zeros((0, layout.D), dtype=np.float32)
    n = Xc.shape[0]
    # Rows per clone: all of a small table, MAX_ROWS of a large one, fewer for a wide layout, so the
    # (k, m, C + H + 1) float64 intermediates stay near MAX_ELEMS.
    m = min(n, MAX_ROWS, max(1000, MAX_ELEMS // (k * (layout.n_in + layout.hidden + 1))))
    rows = np.empty((k, m), dtype=np.int64)
    rows[0] = np.arange(n) if m == n else np.sort(rng.choice(n, m, replace=False))
    rows[1:] = rng.integers(0, n, size=(k - 1, m))
    theta = layout.init(rng, k).astype(np.float64)
    W1, b1, W2, b2 = layout.unpack(theta)  # views: writing W2, b2 fills theta
    X = np.asarray(Xc, dtype=np.float64)[rows]  # (k, m, C)
    Hd = np.tanh(X @ W1 + b1[:, None, :])  # (k, m, H): one batched GEMM
    Phi = np.concatenate([Hd, np.ones((k, m, 1))], axis=2)  # (k, m, H+1)
    PhiT = Phi.transpose(0, 2, 1)
    gram = PhiT @ Phi + RIDGE * m * np.eye(Phi.shape[2])
    T = action_targets(layout.actions, np.asarray(Xa)[rows.ravel()]).reshape(k, m, -1)  # only the rows used
    rhs = PhiT @ T
    w = np.linalg.solve(gram, rhs)  # (k, H+1, A)
    W2[...] = w[:, :-1, :]
    b2[...] = w[:, -1, :]
    return theta.astype(np.float32)


def extreme_policies(layout: Any, rng: np.random.Generator) -> np.ndarray:
    """Every numeric and binary action at its lo (then at its hi), for every context. With categorical
    actions there is one such pair per category index (a categorical action with fewer categories takes
    its last one for the higher indices), so each category is prescribed by some policy."""
    widths = [a.width for a in layout.actions if a.kind == "categorical"]
    n_cat = max(widths, default=1)
    levels = np.repeat([-SATURATE, SATURATE], n_cat)  # (S,): lo x each category, then hi x each category
    cat = np.tile(np.arange(n_cat), 2)
    S = len(levels)
    theta = layout.init(rng, S)
    W1, b1, W2, b2 = layout.unpack(theta)
    W2 *= SMALL
    o = 0
    for a in layout.actions:
        if a.kind == "categorical":
            chosen = np.minimum(cat, a.width - 1)
            b2[:, o:o + a.width] = np.where(np.arange(a.width) == chosen[:, None], SATURATE, -SATURATE)
        else:
            b2[:, o] = levels
        o += a.width
    return theta.astype(np.float32)


def policy_seeds(layout: Any, Xc: np.ndarray, Xa: np.ndarray, budget: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``budget`` seed prescriptors, in order of worth: a clone, the min and max policies, more
    clones (one per five of the budget, at least one and at most 8 in all), the other category policies."""
    if budget <= 0:
        return np.zeros((0, layout.D), dtype=np.float32)
    n_clones = max(1, min(8, budget // 5))
    clones = clone_policies(layout, Xc, Xa, n_clones, rng)
    ext = extreme_policies(layout, rng)
    half = len(ext) // 2
    lo_hi = ext[[0, half]]
    rest = np.delete(ext, [0, half], axis=0)
    ordered = np.concatenate([clones[:1], lo_hi, clones[1:], rest])
    return ordered[:budget]


def seed_budget(population: int) -> int:
    """How many members of generation 0 may be seeded: at most SEED_SHARE of it (at least one)."""
    return max(1, int(population * SEED_SHARE))


def generation_zero(layout: Any, population: int, host: np.random.Generator, seeds: Sequence[np.ndarray]) -> np.ndarray:
    """(population, D): the seed blocks in order (cut to the population), then random members from
    ``host``. The random members are the first rows ``layout.init(host, population)`` would give."""
    blocks = [np.asarray(s, dtype=np.float32).reshape(-1, layout.D) for s in seeds if len(s)]
    seeded = np.concatenate(blocks)[:population] if blocks else np.zeros((0, layout.D), dtype=np.float32)
    fresh = layout.init(host, population - len(seeded))
    return np.concatenate([seeded, fresh]).astype(np.float32)


# ------------------------------------------------------------------ genomes of an earlier run

def _layout_words(specs: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(s["name"], s["kind"], tuple(s.get("categories") or ())) for s in specs]


@dataclass
class Genomes:
    """Prescriptor genomes with the encoding they were evolved for, best first.

    ``theta`` (S, D) float32; ``rank`` (S,) the NSGA-II rank (1 = first front) each had; ``context`` and
    ``actions`` the ColumnSpec dicts of the data they were evolved on; ``hidden`` their hidden width;
    ``source`` what they came from in words (``run RUN_ID``, ``model NAME:VERSION``, a path)."""

    theta: np.ndarray
    rank: np.ndarray
    context: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    hidden: int
    source: str
    extra: dict[str, Any] = field(default_factory=dict)

    # --- reading and writing

    def save(self, path: str | Path) -> None:
        from leafctl.esp.files import atomic_savez  # noqa: PLC0415

        meta = {"context": self.context, "actions": self.actions, "hidden": self.hidden, "source": self.source,
                **self.extra}
        atomic_savez(Path(path), theta=self.theta.astype(np.float32), rank=self.rank.astype(np.int64),
                     meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: str | Path, source: str | None = None) -> "Genomes":
        """A staged genomes file (``seed.npz``/``warm.npz``), a run's output folder (its population.npz and
        model/), or a model folder (MLmodel, data/prescriptors.npz)."""
        p = Path(path)
        label = source or str(p)
        if p.is_file() and not zipfile.is_zipfile(p):
            # np.load would take it for a pickle and say so ("allow_pickle=False"): say what was expected.
            raise UsageError(f"{label} is not a genomes or model file (expected a genomes .npz that leafctl wrote)",
                             "give an evolve run's id, a model registered from one, or their output/model folder")
        try:
            if p.is_file():
                with np.load(p, allow_pickle=False) as z:
                    meta = json.loads(str(z["meta"]))
                    g = cls(z["theta"], z["rank"], meta["context"], meta["actions"], int(meta["hidden"]),
                            source or meta.get("source") or str(p))
                    g.extra = {k: v for k, v in meta.items() if k not in ("context", "actions", "hidden", "source")}
                    return g
            if (p / "population.npz").is_file() and (p / "model").is_dir():
                return cls._from_run_folder(p, label)
            return cls._from_model_folder(p, label)
        except UsageError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise UsageError(f"{label} holds no readable prescriptor genomes ({type(e).__name__}: {e})",
                             "give an evolve run's id, a model registered from one, or their folder") from None

    @classmethod
    def _from_run_folder(cls, p: Path, label: str) -> "Genomes":
        from leafctl.esp.nsga2 import sort_key  # noqa: PLC0415
        from leafctl.esp.pyfunc_model import MODEL_JSON  # noqa: PLC0415

        meta = json.loads((p / "model" / "data" / MODEL_JSON).read_text(encoding="utf-8"))
        with np.load(p / "population.npz", allow_pickle=False) as z:
            theta, rank, crowding = z["theta"], z["rank"], z["crowding"]
        order = np.asarray(sort_key(rank, crowding))  # best first: rank, then crowding (descending)
        return cls(theta[order], rank[order], meta["context"], meta["actions"], int(meta["hidden"]), label)

    @classmethod
    def _from_model_folder(cls, p: Path, label: str) -> "Genomes":
        from leafctl.esp.nsga2 import sort_key  # noqa: PLC0415
        from leafctl.esp.prescribe import _model_root  # noqa: PLC0415
        from leafctl.esp.pyfunc_model import MODEL_JSON, WEIGHTS  # noqa: PLC0415

        data = _model_root(p) / "data"
        meta = json.loads((data / MODEL_JSON).read_text(encoding="utf-8"))
        with np.load(data / WEIGHTS, allow_pickle=False) as z:
            theta = z["theta"]
        cands = meta["candidates"]
        rank = np.asarray(cands["rank"], dtype=np.int64)
        crowding = np.asarray(cands["crowding"], dtype=np.float64)
        order = np.asarray(sort_key(rank, crowding))
        return cls(theta[order], rank[order], meta["context"], meta["actions"], int(meta["hidden"]), label)

    # --- using them on new data

    def front(self) -> "Genomes":
        """The first-front members only (what --seed-from takes)."""
        keep = self.rank == 1 if (self.rank == 1).any() else np.ones(len(self.rank), dtype=bool)
        return Genomes(self.theta[keep], self.rank[keep], self.context, self.actions, self.hidden, self.source,
                       dict(self.extra))

    def in_context_order(self, names: Sequence[str]) -> "Genomes":
        """These genomes with their context columns in the order ``names`` gives (the same columns, in
        another order: a CSV written with its columns rearranged). The first layer's input rows move
        with their columns (a categorical column's one-hot rows as a block), so each genome computes
        exactly what it did. Themselves when the names are no rearrangement of theirs."""
        mine = [c["name"] for c in self.context]
        if list(names) == mine or sorted(names) != sorted(mine) or len(set(mine)) != len(mine):
            return self
        width = [len(c.get("categories") or ()) if c["kind"] == "categorical" else 1 for c in self.context]
        start = np.concatenate([[0], np.cumsum(width)])
        at = {n: i for i, n in enumerate(mine)}
        rows = np.concatenate([np.arange(start[at[n]], start[at[n] + 1]) for n in names])
        n_in, theta = int(start[-1]), np.array(self.theta)
        if theta.ndim != 2 or self.hidden <= 0 or theta.shape[1] < n_in * self.hidden:
            return self  # layout_problem names the mismatch
        P = theta.shape[0]
        W1 = theta[:, :n_in * self.hidden].reshape(P, n_in, self.hidden)
        theta[:, :n_in * self.hidden] = W1[:, rows, :].reshape(P, -1)
        return Genomes(theta, self.rank, [self.context[at[n]] for n in names], self.actions, self.hidden,
                       self.source, dict(self.extra))

    def layout_problem(self, layout: Any, context: Sequence[Any]) -> str | None:
        """What differs between these genomes' layout and this run's (``layout`` and its ``context``
        ColumnSpecs), in words; None if they fit: the same context and action columns (context columns
        matched by name, in any order), kinds and categories, and hidden width."""
        g = self.in_context_order([c.name for c in context])  # the same columns in another order still fit
        mine_c, mine_a = _layout_words(g.context), _layout_words(g.actions)
        new_c = _layout_words([c.to_dict() for c in context])
        new_a = _layout_words([a.to_dict() for a in layout.actions])
        for role, mine, new in (("context", mine_c, new_c), ("action", mine_a, new_a)):
            if [n for n, _, _ in mine] != [n for n, _, _ in new]:
                return (f"its {role} columns are {', '.join(n for n, _, _ in mine)}; here they are "
                        f"{', '.join(n for n, _, _ in new)}")
            for (name, k1, c1), (_, k2, c2) in zip(mine, new):
                if k1 != k2:
                    return f"{role} column {name!r} is {k1} there and {k2} here"
                if c1 != c2:
                    return (f"{role} column {name!r} has categories {', '.join(c1)} there and "
                            f"{', '.join(c2)} here")
        if g.hidden != layout.hidden:
            return f"its prescriptors have hidden = {g.hidden}; this run has hidden = {layout.hidden}"
        if g.theta.ndim != 2 or g.theta.shape[1] != layout.D:
            return f"its genomes have {g.theta.shape[-1]} weights; this layout has {layout.D}"
        return None

    def for_layout(self, layout: Any, context: Sequence[Any], flag: str) -> np.ndarray:
        """The genomes as prescriptors of this run: refused (exit 2, naming what differs) unless the layout
        is the same; the context standardisation of the new data is folded into the first layer, so each
        prescribes what it did for the same raw context (actions decode into the new data's ranges)."""
        problem = self.layout_problem(layout, context)
        if problem is not None:
            raise UsageError(f"{flag} {self.source}: the layout differs: {problem}",
                             "use the same context and action columns and --hidden, or start without " + flag)
        g = self.in_context_order([c.name for c in context])
        return reencode_contexts(g.theta, layout, g.context, [c.to_dict() for c in context])


def reencode_contexts(theta: np.ndarray, layout: Any, old: Sequence[Mapping[str, Any]],
                      new: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Genomes evolved on contexts standardised with ``old`` means/stds, rewritten for ``new`` ones.
    A numeric context c entered as (x - m_old) / s_old; the new input is (x - m_new) / s_new, so the first
    layer's weights scale by s_new / s_old and its bias gains W1[c] (m_new - m_old) / s_old. One-hot
    columns are unchanged. Exact up to float32 rounding."""
    theta = np.array(theta, dtype=np.float64)  # a copy: the caller's genomes stay as they were
    W1, b1, _, _ = layout.unpack(theta)
    scale = np.ones(layout.n_in)
    shift = np.zeros(layout.n_in)
    o = 0
    for a, b in zip(old, new):
        width = len(b.get("categories") or ()) if b["kind"] == "categorical" else 1
        if b["kind"] != "categorical":
            scale[o] = b["std"] / a["std"]
            shift[o] = (b["mean"] - a["mean"]) / a["std"]
        o += width
    b1 += np.einsum("c,pch->ph", shift, W1)  # before W1 is scaled: the shift is in old units
    W1 *= scale[None, :, None]
    return theta.astype(np.float32)


# ------------------------------------------------------------------ the baseline

def _predict_mean(predictor: Any, X: np.ndarray) -> np.ndarray:
    """The predictor's mean prediction (natural units) for rows X (predictors.base.Predictor.predict)."""
    return np.asarray(predictor.predict(X), dtype=np.float64)


def historical_actions(actions: Sequence[Any], Xa: np.ndarray) -> np.ndarray:
    """(n, n_out) the data's actions as the prescriptor decodes its outputs (numeric in natural units,
    binary 0/1, categorical one-hot): what action_cost's per-unit costs multiply."""
    Xa = np.asarray(Xa, dtype=np.float64)
    out, o = [], 0
    for a in actions:
        block = Xa[:, o:o + a.width]
        out.append(block * a.std + a.mean if a.kind not in ("categorical", "binary") else block)
        o += a.width
    return np.concatenate(out, axis=1)


def baseline(predictor: Any, Xc: np.ndarray, Xa: np.ndarray, Y: np.ndarray, actions: Sequence[Any],
             costs: np.ndarray, objectives: Sequence[tuple[str, str]], outcomes: Sequence[str],
             chunk: int = 65_536) -> dict[str, Any]:
    """The historical policy's predicted objectives: the surrogate's mean prediction on the rows' own
    (context, action) pairs, and the mean action cost of the actions taken; plus the observed mean of
    each outcome (the data's own, for reading the surrogate's bias beside it)."""
    from leafctl.esp.config import ACTION_COST  # noqa: PLC0415

    n = Xc.shape[0]
    total = np.zeros(len(outcomes))
    for s in range(0, n, chunk):  # bounded memory for million-row tables
        X = np.concatenate([Xc[s:s + chunk], Xa[s:s + chunk]], axis=1).astype(np.float32)
        total += _predict_mean(predictor, X).sum(axis=0)
    predicted = total / n
    cost = float((historical_actions(actions, Xa) @ np.asarray(costs, dtype=np.float64)).mean())
    values = {name: (cost if name == ACTION_COST else float(predicted[list(outcomes).index(name)]))
              for name, _ in objectives}
    return {"objectives": values, "observed": {o: float(v) for o, v in zip(outcomes, np.asarray(Y).mean(axis=0))},
            "rows": int(n)}


def write_baseline(out: Path, predictor: Any, ds: Any, costs: Any, config: Any,
                   say: Any = None) -> dict[str, Any]:
    """``baseline.json`` in ``out`` (see ``baseline``), and one log line: "today" in the run's log."""
    from leafctl.esp.files import atomic_write_text  # noqa: PLC0415

    base = baseline(predictor, ds.Xc, ds.Xa, ds.Y, ds.actions, costs, list(config.objectives),
                    config.resolved_outcomes())
    atomic_write_text(Path(out) / BASELINE_FILE, json.dumps(base, indent=2) + "\n")
    if say is not None:
        say("today (the data's own actions, as the predictor sees them): " +
            "  ".join(f"{k} {v:.4g}" for k, v in base["objectives"].items()))
    return base


# ------------------------------------------------------------------ generation 0


def _genomes(path: str, key: str) -> Genomes:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{key} {path!r} not found",
                         f"give the genomes of an earlier run: its output folder, a model folder or {SEEDS_FILE}")
    return Genomes.load(p)


def initial_population(config: Any, layout: Any, host: np.random.Generator, ds: Any, island: int = 0,
                       islands: int = 1, say: Any = None) -> np.ndarray:
    """Generation 0 (population, D) of one island (of ``islands``; a plain run is island 0 of 1).

    - ``warm_start``: the earlier run's reported candidates (its final population and front archive),
      best first (an island takes every
      ``islands``-th of it), topped up with random members when it is smaller than the population;
    - else up to ``seed_budget`` seeds: with ``seed_policies`` a behaviour clone and the min and max
      policies first, then ``seed_from``'s first front, then more clones; the rest random.
    Every seed is refused (exit 2, naming what differs) unless its layout is this run's."""
    P = config.population
    tell = say or (lambda _m: None)
    if config.warm_start:
        g = _genomes(config.warm_start, "warm_start")
        theta = g.for_layout(layout, ds.context, "--warm-start")[island::islands][:P]
        tell(f"generation 0: {len(theta)} prescriptors of {g.source}" +
             (f" and {P - len(theta)} random" if len(theta) < P else ""))
        return generation_zero(layout, P, host, [theta])
    budget = seed_budget(P)
    rng = seeding_rng(config.seed, island)
    policies = policy_seeds(layout, ds.Xc, ds.Xa, budget, rng) if config.seed_policies else np.zeros((0, layout.D))
    first = policies[:3]  # a clone, the min and the max policy
    front = np.zeros((0, layout.D), dtype=np.float32)
    source = None
    if config.seed_from:
        g = _genomes(config.seed_from, "seed_from").front()
        front = g.for_layout(layout, ds.context, "--seed-from")[:budget - len(first)]
        source = g.source
    more = policies[3:3 + budget - len(first) - len(front)]
    seeds = [first, front, more]
    n = sum(len(s) for s in seeds)
    words = []
    if len(first):
        words.append(f"{len(first) + len(more)} from the data's actions: behaviour clones, min/max action policies")
    if source:
        words.append(f"{len(front)} of the first front of {source}")
    tell(f"generation 0: {n} seeded ({'; '.join(words)}) and {P - n} random" if n else
         f"generation 0: {P} random prescriptors")
    return generation_zero(layout, P, host, seeds)


def lineage(config: Any) -> dict[str, str]:
    """Where generation 0 came from: ``warm_started_from`` / ``seeded_from`` (the run id or model the
    service resolved, as recorded in the staged file; else the path given)."""
    out = {}
    for key, word in (("warm_start", "warm_started_from"), ("seed_from", "seeded_from")):
        value = getattr(config, key)
        if value:
            g = _genomes(value, key)
            out[word] = str(g.extra.get("ref") or g.source)
    return out


def write_lineage(out: Path, config: Any) -> None:
    from leafctl.esp.files import atomic_write_text  # noqa: PLC0415

    found = lineage(config)
    if found:
        atomic_write_text(Path(out) / LINEAGE_FILE, json.dumps(found, indent=2) + "\n")
    else:  # an output folder used again: no lineage of an earlier run in it may stay
        (Path(out) / LINEAGE_FILE).unlink(missing_ok=True)
