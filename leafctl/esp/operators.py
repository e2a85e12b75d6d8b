"""Variation and selection as small whole-population operators (no per-individual Python loops).

Each takes a ``DeviceRandom`` and arrays from one module (numpy or cupy). Genomes are rows of X (P, D).
"""

from __future__ import annotations

from typing import Any, Callable

from leafctl.esp.nsga2 import array_module, rank_and_crowding, sort_key
from leafctl.esp.xp import DeviceRandom


def binary_tournament(rng: DeviceRandom, rank: Any, crowding: Any, pool: Any, n: int) -> Any:
    """Indices of ``n`` winners; each is the better of two random members of ``pool`` (lower rank,
    then larger crowding; a full tie goes to the first drawn)."""
    xp = array_module(rank)
    pick = pool[rng.integers(int(pool.size), (2, n))]
    a, b = pick[0], pick[1]
    ra, rb = rank[a], rank[b]
    a_wins = (ra < rb) | ((ra == rb) & (crowding[a] >= crowding[b]))
    return xp.where(a_wins, a, b)


def uniform_crossover(rng: DeviceRandom, A: Any, B: Any) -> Any:
    """Each gene from either parent with probability 1/2."""
    xp = array_module(A)
    return xp.where(rng.random(A.shape) < 0.5, A, B)


def gaussian_percentage_mutation(rng: DeviceRandom, X: Any, prob: float, factor: float) -> Any:
    """LEAF's mutation: with probability ``prob`` a weight w becomes w + w * N(0, factor).

    Multiplicative, so the step scales with the weight (a zero weight stays zero; genomes are never
    initialised to exact zeros)."""
    xp = array_module(X)
    hit = rng.random(X.shape) < prob
    step = X * (rng.normal(X.shape) * factor).astype(X.dtype)
    return xp.where(hit, X + step, X)


def sbx_crossover(rng: DeviceRandom, A: Any, B: Any, xl: Any, xu: Any,
                  eta: float = 15.0, prob_var: float = 0.5) -> Any:
    """Simulated binary crossover (Deb & Agrawal), bounded form; returns one child per pair.

    Each variable crosses with probability ``prob_var`` when the parents differ; the child takes the
    first or second offspring value at random, as pymoo does when it keeps one child per mating."""
    xp = array_module(A)
    shape = A.shape
    lo = xp.minimum(A, B)
    hi = xp.maximum(A, B)
    delta = xp.maximum(hi - lo, 1e-14)
    u = rng.random(shape).astype(A.dtype)

    def child(beta_bound: Any) -> Any:
        alpha = 2.0 - xp.power(beta_bound, -(eta + 1.0))
        small = u <= 1.0 / alpha
        betaq = xp.where(small, xp.power(xp.maximum(u * alpha, 0.0), 1.0 / (eta + 1.0)),
                         xp.power(xp.maximum(1.0 / (2.0 - u * alpha), 0.0), 1.0 / (eta + 1.0)))
        return betaq

    b1 = 1.0 + 2.0 * (lo - xl) / delta
    b2 = 1.0 + 2.0 * (xu - hi) / delta
    c1 = 0.5 * ((lo + hi) - child(b1) * delta)
    c2 = 0.5 * ((lo + hi) + child(b2) * delta)
    c1 = xp.clip(c1, xl, xu)
    c2 = xp.clip(c2, xl, xu)
    pick_first = rng.random(shape) < 0.5
    c = xp.where(pick_first, c1, c2)
    cross = (rng.random(shape) < prob_var) & (xp.abs(A - B) > 1e-14)
    return xp.where(cross, c, A)


def polynomial_mutation(rng: DeviceRandom, X: Any, xl: Any, xu: Any,
                        eta: float = 20.0, prob: float | None = None) -> Any:
    """Bounded polynomial mutation (Deb), per-variable probability ``prob`` (default 1/D)."""
    xp = array_module(X)
    prob = 1.0 / X.shape[1] if prob is None else prob
    span = xu - xl
    d1 = (X - xl) / span
    d2 = (xu - X) / span
    u = rng.random(X.shape).astype(X.dtype)
    mpow = 1.0 / (eta + 1.0)
    left = u < 0.5
    v1 = 2.0 * u + (1.0 - 2.0 * u) * xp.power(1.0 - d1, eta + 1.0)
    v2 = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * xp.power(1.0 - d2, eta + 1.0)
    dq = xp.where(left, xp.power(xp.maximum(v1, 0.0), mpow) - 1.0,
                  1.0 - xp.power(xp.maximum(v2, 0.0), mpow))
    Y = xp.clip(X + dq * span, xl, xu)
    return xp.where(rng.random(X.shape) < prob, Y, X)


# ------------------------------------------------------------------ one generation

Vary = Callable[[DeviceRandom, Any, Any], Any]  # (rng, parent A rows, parent B rows) -> children


def leaf_vary(mutation_prob: float, mutation_factor: float) -> Vary:
    def vary(rng: DeviceRandom, A: Any, B: Any) -> Any:
        return gaussian_percentage_mutation(rng, uniform_crossover(rng, A, B),
                                            mutation_prob, mutation_factor)
    return vary


def real_vary(xl: Any, xu: Any, eta_c: float = 15.0, eta_m: float = 20.0) -> Vary:
    def vary(rng: DeviceRandom, A: Any, B: Any) -> Any:
        return polynomial_mutation(rng, sbx_crossover(rng, A, B, xl, xu, eta_c), xl, xu, eta_m)
    return vary


def leaf_step(rng: DeviceRandom, X: Any, G: Any, rank: Any, crowd: Any, evaluate: Callable[[Any], Any],
              vary: Vary, elites: int, remove_pct: float) -> tuple[Any, Any]:
    """LEAF generational step. Sort by (rank, crowding desc); keep ``elites`` unchanged (not
    re-evaluated: the surrogate is deterministic); the rest are children of binary-tournament parents
    drawn from the top round(P * (1 - remove_pct)). Returns the new (X, G); G is whatever
    ``evaluate`` returns (natural units in the engine), ``rank``/``crowd`` come from its minimised form."""
    xp = array_module(X)
    P = X.shape[0]
    order = sort_key(rank, crowd)
    n_par = min(P, max(2, int(round(P * (1.0 - remove_pct)))))
    pool = order[:n_par]
    n_child = P - elites
    pa = binary_tournament(rng, rank, crowd, pool, n_child)
    pb = binary_tournament(rng, rank, crowd, pool, n_child)
    kids = vary(rng, X[pa], X[pb])
    keep = order[:elites]
    return xp.concatenate([X[keep], kids]), xp.concatenate([G[keep], evaluate(kids)])


def nsga2_step(rng: DeviceRandom, X: Any, G: Any, rank: Any, crowd: Any, evaluate: Callable[[Any], Any],
               vary: Vary, to_min: Callable[[Any], Any] = lambda G: G) -> tuple[Any, Any]:
    """NSGA-II (mu + lambda): P children from binary tournaments over everyone, then parents and
    children together are truncated to P by (rank, crowding desc). ``G`` may be in natural units
    when ``to_min`` converts it for ranking (it is returned as given)."""
    xp = array_module(X)
    P = X.shape[0]
    pool = xp.arange(P)
    pa = binary_tournament(rng, rank, crowd, pool, P)
    pb = binary_tournament(rng, rank, crowd, pool, P)
    kids = vary(rng, X[pa], X[pb])
    X2 = xp.concatenate([X, kids])
    G2 = xp.concatenate([G, evaluate(kids)])
    r2, c2 = rank_and_crowding(to_min(G2))
    keep = sort_key(r2, c2)[:P]
    return X2[keep], G2[keep]
