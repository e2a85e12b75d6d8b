"""Test domains whose exact Pareto front is known, and the measure of how near a run gets to it.

Shared by the quality tests (tests/esp/test_quality.py) and the benchmark (bench/esp_quality.py, which
puts tests/esp on sys.path). Three domains:

- ``Continuous()``: contexts x1, x2 (numeric) and seg (categorical a|b|c); actions a1, a2 in [0, 1];
  outcome ``revenue`` = base(c) + w1(c)·(1 - e^{-3 a1}) + w2(c)·(1 - e^{-2 a2}), concave in each action
  with context interactions (w2 depends on x1·x2); ``action_cost`` = a1 + 1.5·a2. The prescriptor acts
  per context and the objectives are means over contexts, so a point of the front of the means is the
  per-context optimum of revenue - λ·cost for one common λ (the Lagrangian sweep); each per-context
  optimum is a 1-D root of a decreasing derivative, found by bisection.
- ``Continuous(three=True)``: adds a second outcome ``loyalty`` = base2(c) + v(c)·(1 - e^{-4 a2})
  - h(c)·a1²/2 (a1 hurts it), so three objectives; the front is swept over weights (α, β, λ) of the
  simplex (every point is supported: each outcome is concave and the cost linear).
- ``Rhea()``: the illustrative binary domain of Cognizant's public ``rhea-demo`` (7 contexts, 10 binary
  actions; a context's utility counts only when the action set matches one of its useful sets exactly;
  cost = the number of actions taken). Its exact front has 11 points from (0, 0) to (13, 31).

``hv_ratio`` is the true hypervolume of a set of prescriptions (their actions evaluated by the domain's
own function, never by a surrogate) over the exact front's hypervolume, both normalised by the exact
front's ideal and nadir with the reference point at 1.1 in every objective.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leafctl.esp import prescriptor as presc
from leafctl.esp.data import load_dataset
from leafctl.esp.nsga2 import hypervolume, nondominated_rank, to_minimised
from leafctl.esp.prescriptor import Layout, cost_table
from leafctl.esp import seeding

SEGMENTS = ("a", "b", "c")


def _u(a: Any, k: float) -> Any:
    return 1.0 - np.exp(-k * a)


def _bisect_root(g: Any, shape: tuple[int, ...], iters: int = 50) -> np.ndarray:
    """argmax on [0, 1] of a concave function whose derivative ``g(a)`` decreases: 0 when g(0) <= 0,
    1 when g(1) >= 0, else the root of g, by bisection (all entries at once)."""
    lo, hi = np.zeros(shape), np.ones(shape)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        up = g(mid) > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    a = 0.5 * (lo + hi)
    return np.where(g(np.zeros(shape)) <= 0, 0.0, np.where(g(np.ones(shape)) >= 0, 1.0, a))


@dataclass
class Domain:
    """What every domain offers (see the module docstring)."""

    name: str
    context: list[str]
    actions: list[str]
    outcomes: list[str]
    objectives: list[str]
    action_cost: dict[str, float]

    # -- to be provided
    def outcome_values(self, A: np.ndarray) -> np.ndarray:  # (..., N, n_actions) -> (..., N, O)
        raise NotImplementedError

    def exact_front(self) -> np.ndarray:  # (M, k) natural units, in objective order
        raise NotImplementedError

    def rows(self, rng: np.random.Generator) -> tuple[list[str], list[list[Any]]]:
        raise NotImplementedError

    # -- shared
    @property
    def senses(self) -> list[str]:
        return [o.partition(":")[2] for o in self.objectives]

    def write_csv(self, path: Path, seed: int = 0) -> Path:
        header, rows = self.rows(np.random.default_rng(seed))
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        return path

    def config(self, csv_path: Path, **kw: Any) -> Any:
        from leafctl.esp.engine import EvolveConfig  # noqa: PLC0415  (it may move after the split)

        return EvolveConfig(data=str(csv_path), context=list(self.context), actions=list(self.actions),
                            outcomes=list(self.outcomes), objectives=list(self.objectives),
                            action_cost=dict(self.action_cost), device="cpu", **kw)

    def objective_values(self, natural: np.ndarray, cost: np.ndarray) -> np.ndarray:
        """(P, N, n_actions) actions and (P, N) costs -> (P, k) mean objectives over contexts."""
        Y = self.outcome_values(natural).mean(axis=-2)
        cols = [Y[..., self.outcomes.index(o.partition(":")[0])] if not o.startswith("action_cost:")
                else cost.mean(axis=-1) for o in self.objectives]
        return np.stack(cols, axis=-1).astype(np.float64)

    def normaliser(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ideal, span, reference) of the exact front in minimised form; reference 1.1 normalised."""
        G = to_minimised(self.exact_front(), self.senses)
        ideal, nadir = G.min(0), G.max(0)
        return ideal, np.where(nadir > ideal, nadir - ideal, 1.0), np.full(G.shape[1], 1.1)

    def exact_hv(self) -> float:
        if not hasattr(self, "_exact_hv"):
            ideal, span, ref = self.normaliser()
            self._exact_hv = hypervolume((to_minimised(self.exact_front(), self.senses) - ideal) / span, ref)
        return self._exact_hv

    def hv_ratio(self, F_true: np.ndarray) -> float:
        """True hypervolume of prescriptions with objectives ``F_true`` (natural units, evaluated by
        this domain's function) over the exact front's."""
        ideal, span, ref = self.normaliser()
        G = (to_minimised(np.asarray(F_true, np.float64), self.senses) - ideal) / span
        G = G[np.all(np.isfinite(G), axis=1)]
        return hypervolume(G, ref) / self.exact_hv() if len(G) else 0.0


class Continuous(Domain):
    def __init__(self, n: int = 300, seed: int = 7, three: bool = False):
        outcomes = ["revenue", "loyalty"] if three else ["revenue"]
        super().__init__(name="continuous3" if three else "continuous", context=["x1", "x2", "seg"],
                         actions=["a1", "a2"], outcomes=outcomes,
                         objectives=[f"{o}:max" for o in outcomes] + ["action_cost:min"],
                         action_cost={"a1": 1.0, "a2": 1.5})
        self.three = three
        r = np.random.default_rng(seed)
        self.x1 = r.uniform(-1, 1, n)
        self.x2 = r.uniform(-1, 1, n)
        self.seg = r.integers(0, 3, n)
        s1, s2 = np.array([0.0, 0.5, -0.3])[self.seg], np.array([0.3, -0.4, 0.0])[self.seg]
        self.base = 2.0 + self.x1 + 0.5 * s1
        self.w1 = np.exp(0.6 * self.x1 + s1)
        self.w2 = np.exp(0.5 * self.x2 - 0.6 * self.x1 * self.x2 + s2)
        self.base2 = 1.0 - 0.5 * self.x2
        self.v = np.exp(-0.4 * self.x2 + np.array([0.2, 0.0, 0.4])[self.seg])
        self.h = 1.0 + 0.5 * (self.x1 + 1.0)
        self.p = np.array([self.action_cost["a1"], self.action_cost["a2"]])

    def outcome_values(self, A: np.ndarray) -> np.ndarray:
        a1, a2 = A[..., 0], A[..., 1]
        rev = self.base + self.w1 * _u(a1, 3.0) + self.w2 * _u(a2, 2.0)
        if not self.three:
            return rev[..., None]
        loy = self.base2 + self.v * _u(a2, 4.0) - self.h * a1 ** 2 / 2
        return np.stack([rev, loy], axis=-1)

    def optimal_actions(self, alpha: np.ndarray, beta: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """(W, N, 2): per weight vector and context, the actions maximising
        α·revenue + β·loyalty - λ·cost (separable: one bisection per action)."""
        al, be, la = (np.asarray(x, np.float64)[:, None] for x in (alpha, beta, lam))
        shape = (al.shape[0], self.x1.size)
        g1 = lambda a: al * self.w1 * 3 * np.exp(-3 * a) - be * self.h * a - la * self.p[0]  # noqa: E731
        g2 = lambda a: (al * self.w2 * 2 * np.exp(-2 * a) + be * self.v * 4 * np.exp(-4 * a)  # noqa: E731
                        - la * self.p[1])
        return np.stack([_bisect_root(g1, shape), _bisect_root(g2, shape)], axis=-1)

    def exact_front(self) -> np.ndarray:
        if hasattr(self, "_front"):
            return self._front
        if not self.three:
            lam_max = max((3 * self.w1 / self.p[0]).max(), (2 * self.w2 / self.p[1]).max())
            lam = lam_max * np.linspace(0.0, 1.0, 3001) ** 2  # denser where the front bends
            W = (np.ones_like(lam), np.zeros_like(lam), lam)
        else:
            k = 90
            grid = [(i, j, k - i - j) for i in range(k + 1) for j in range(k + 1 - i)]
            W = tuple(np.array(c, np.float64) / k for c in zip(*grid))
        A = self.optimal_actions(*W)
        self._front = self.objective_values(A, A @ self.p)
        return self._front

    def rows(self, rng: np.random.Generator) -> tuple[list[str], list[list[Any]]]:
        n = self.x1.size
        A = rng.uniform(0, 1, (n, 2))
        A[0], A[1] = 0.0, 1.0  # the decoded range is the data's: exactly [0, 1]
        Y = self.outcome_values(A) + rng.normal(0, 0.05, (n, len(self.outcomes)))
        header = [*self.context, *self.actions, *self.outcomes]
        rows = [[f"{self.x1[i]:.6f}", f"{self.x2[i]:.6f}", SEGMENTS[self.seg[i]], f"{A[i, 0]:.6f}",
                 f"{A[i, 1]:.6f}", *(f"{y:.6f}" for y in Y[i])] for i in range(n)]
        return header, rows


# The illustrative domain of rhea-demo: for each context, the action sets that are worth something.
RHEA_USEFUL = {
    0: {(): 0, (6, 7, 8, 9): 1, (0, 1): 1, (0, 1, 2, 3, 4): 2, (0, 1, 2, 3, 4, 5): 3},
    1: {(): 0, (6, 7, 8, 9): 1, (2, 3, 4): 1, (0, 1, 2, 3, 4, 5): 4, (0, 1, 2, 3, 5): 5},
    **{c: {(): 0, (6, 7, 8, 9): 1} for c in range(2, 7)},
}
RHEA_CONTEXTS, RHEA_ACTIONS = 7, 10


class Rhea(Domain):
    def __init__(self, rows_per_context: int = 30):
        super().__init__(name="rhea", context=["ctx"], actions=[f"a{i}" for i in range(RHEA_ACTIONS)],
                         outcomes=["utility"], objectives=["utility:max", "action_cost:min"], action_cost={})
        self.rows_per_context = rows_per_context
        # utility[c, mask]: the utility of action set ``mask`` (bit i = action i) in context c
        self.table = np.zeros((RHEA_CONTEXTS, 2 ** RHEA_ACTIONS))
        for c, sets in RHEA_USEFUL.items():
            for s, u in sets.items():
                self.table[c, sum(1 << i for i in s)] = u
        # The contexts the data holds, in row order (rows_per_context rows of each).
        self.ctx = np.repeat(np.arange(RHEA_CONTEXTS), rows_per_context)

    def outcome_values(self, A: np.ndarray) -> np.ndarray:
        mask = (np.rint(A).astype(np.int64) << np.arange(RHEA_ACTIONS)).sum(axis=-1)
        ctx = np.broadcast_to(self.ctx if A.shape[-2] == self.ctx.size else np.arange(A.shape[-2]), mask.shape)
        return self.table[ctx, mask][..., None]

    def exact_front(self) -> np.ndarray:
        """Every combination of one useful set per context (5·5·2⁵ = 800), then the non-dominated
        distinct (utility, cost) points, as means over the 7 contexts."""
        pts = set()
        for choice in itertools.product(*(RHEA_USEFUL[c].items() for c in range(RHEA_CONTEXTS))):
            pts.add((sum(u for _, u in choice), sum(len(s) for s, _ in choice)))
        P = np.array(sorted(pts), np.float64)
        G = np.stack([-P[:, 0], P[:, 1]], 1)
        return P[nondominated_rank(G) == 1] / RHEA_CONTEXTS

    def points_found(self, F_true: np.ndarray) -> int:
        """How many of the exact front's points some prescription reaches exactly."""
        exact = {tuple(p) for p in np.rint(self.exact_front() * RHEA_CONTEXTS).astype(int).tolist()}
        got = {tuple(p) for p in np.rint(np.asarray(F_true) * RHEA_CONTEXTS).astype(int).tolist()}
        return len(exact & got)

    def rows(self, rng: np.random.Generator) -> tuple[list[str], list[list[Any]]]:
        out = []
        for c in self.ctx:
            useful = list(RHEA_USEFUL[int(c)])
            if rng.random() < 0.5:  # half the history took a useful set, half random actions
                s = useful[rng.integers(len(useful))]
                a = np.zeros(RHEA_ACTIONS, int)
                a[list(s)] = 1
            else:
                a = (rng.random(RHEA_ACTIONS) < 0.3).astype(int)
            u = self.table[c, int((a << np.arange(RHEA_ACTIONS)).sum())]
            out.append([f"c{c}", *a.tolist(), f"{u:g}"])
        return ["ctx", *self.actions, "utility"], out


# ------------------------------------------------------------------ the true function as evaluator

class TrueProblem:
    """The engine's ``Problem`` interface (``evaluate(theta) -> (P, k)`` natural units) with the
    domain's own function in place of the surrogate: it separates optimiser loss from surrogate loss,
    and it is how a final population's prescriptions are measured."""

    def __init__(self, domain: Domain, csv_path: Path, hidden: int, contexts: str = "data"):
        ds = load_dataset(csv_path, domain.context, domain.actions, domain.outcomes)
        self.domain = domain
        self.layout = Layout(ds.Xc.shape[1], hidden, ds.actions)
        self.costs = cost_table(ds.actions, domain.action_cost)
        self.X = ds.Xc.astype(np.float32)
        self.history = lambda: seeding.history(self.layout, ds)  # as the engine's Problem has
        if isinstance(domain, Rhea):  # one row per context: the same means, 30x less work
            self.X = self.X[:: domain.rows_per_context]
        self.senses = domain.senses

    def actions(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw = presc.forward(np.asarray(theta, np.float32), self.X, self.layout, np)
        natural, _, cost = presc.decode(raw, self.layout, self.costs, np)
        return natural, cost

    def evaluate(self, theta: np.ndarray) -> np.ndarray:
        natural, cost = self.actions(theta)
        return self.domain.objective_values(natural.astype(np.float64), cost.astype(np.float64))


# ------------------------------------------------------------------ runs

def evolve_true(domain: Domain, csv_path: Path, config: Any, theta0: np.ndarray | None = None,
                archive: bool = False) -> tuple[np.ndarray, np.ndarray, TrueProblem]:
    """Evolve with the domain's true function as the evaluator, through the engine's own step for
    ``config.mode`` (what a run with a perfect surrogate would do), from ``theta0`` or the layout's
    random initial population (no seeding). Returns (theta, F, problem) of the final population, or
    with ``archive`` of what the engine reports: the final population and the front archive of
    ``config.archive`` (leafctl/esp/archive.py)."""
    from leafctl.esp import archive as front_archive  # noqa: PLC0415
    from leafctl.esp.steps import make_step  # noqa: PLC0415
    from leafctl.esp.xp import DeviceRandom  # noqa: PLC0415

    problem = TrueProblem(domain, csv_path, config.hidden)
    host = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(3)[2])
    rng = DeviceRandom(np, host)
    theta = problem.layout.init(host, config.population) if theta0 is None else theta0
    F = problem.evaluate(theta)
    cap = front_archive.capacity(config) if archive else 0
    kept = front_archive.empty(theta, F)
    minimise = lambda F_: to_minimised(F_, problem.senses)  # noqa: E731
    step = make_step(config, problem.evaluate, problem.senses, problem)
    for g in range(config.generations + 1):
        if g:
            theta, F = step(rng.for_step(), theta, F)
        kept = front_archive.update(kept, theta, F, minimise, cap)
    theta, F = front_archive.with_population(kept, theta, F)
    return theta, F, problem


def evolve_surrogate(domain: Domain, csv_path: Path, config: Any, out_dir: Path) -> tuple[np.ndarray, np.ndarray, TrueProblem]:
    """A real ``evolve`` run (surrogate trained on the CSV); returns the final first front's genomes,
    their TRUE objectives and the true problem that measured them."""
    from leafctl.esp.engine import evolve  # noqa: PLC0415

    res = evolve(config, out_dir)
    with np.load(Path(out_dir) / "population.npz", allow_pickle=False) as z:
        theta = z["theta"]
    theta = theta[res.rank == 1]
    problem = TrueProblem(domain, csv_path, config.hidden)
    return theta, problem.evaluate(theta), problem


# The three partial experts of RHEA's illustrative experiment: each knows its own contexts' best set
# and takes no action elsewhere. RHEA's point is that evolution combines them into the whole front.
RHEA_EXPERTS = [{0: (0, 1, 2, 3, 4, 5)}, {1: (0, 1, 2, 3, 5)}, {c: (6, 7, 8, 9) for c in range(2, 7)}]


def rhea_expert_genomes(problem: TrueProblem, host: np.random.Generator) -> np.ndarray:
    """Genomes that act as the RHEA experts: random hidden layers, last layer fitted by least squares
    to raw outputs of +1 (act) / -1 (do not) at each context (exact: 7 contexts, 17 unknowns)."""
    from leafctl.esp.operators import _features, _fit_last_layer, _with_last_layer  # noqa: PLC0415

    theta = problem.layout.init(host, len(RHEA_EXPERTS))
    T = -np.ones((len(RHEA_EXPERTS), RHEA_CONTEXTS, RHEA_ACTIONS), np.float32)
    for e, policy in enumerate(RHEA_EXPERTS):
        for c, s in policy.items():
            T[e, c, list(s)] = 1.0
    L = _fit_last_layer(_features(problem.layout, theta, problem.X), T)
    return _with_last_layer(problem.layout, theta, L)
