"""Variation and selection as small whole-population operators (no per-individual Python loops).

Each takes a ``DeviceRandom`` and arrays from one module (numpy or cupy). Genomes are rows of X (P, D).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from leafctl.esp.nsga2 import array_module, rank_and_crowding, sort_key
from leafctl.esp.survival import permutation_tournament, pruned_truncation
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


def blend_crossover(rng: DeviceRandom, A: Any, B: Any, alpha: float = 0.25) -> Any:
    """BLX-alpha (Eshelman & Schaffer 1993): each gene uniform on [a - alpha*d, b + alpha*d] for the
    parents' values a <= b, d = b - a. Where uniform crossover only reshuffles the parents' values,
    this also moves between and just past them, which is what fine convergence of a policy network
    over many contexts needs (measured: 3-objective domain 0.943 -> 0.951, bench/RESULTS.md)."""
    u = rng.random(A.shape).astype(A.dtype) * (1.0 + 2.0 * alpha) - alpha
    return A + u * (B - A)


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


def parents_and_children(rng: DeviceRandom, X: Any, G: Any, pick: Callable[[int], Any], vary: Vary,
                         evaluate: Callable[[Any], Any]) -> tuple[Any, Any]:
    """The (mu + lambda) pool: parents X (objectives G), then P children of parent pairs drawn by
    ``pick(P)`` twice (first parents, then second ones, then the variation: the draws' order is
    part of a seed's result), with their objectives."""
    xp = array_module(X)
    P = int(X.shape[0])
    kids = vary(rng, X[pick(P)], X[pick(P)])
    return xp.concatenate([X, kids]), xp.concatenate([G, evaluate(kids)])


def nsga2_step(rng: DeviceRandom, X: Any, G: Any, rank: Any, crowd: Any, evaluate: Callable[[Any], Any],
               vary: Vary, to_min: Callable[[Any], Any] = lambda G: G) -> tuple[Any, Any]:
    """NSGA-II (mu + lambda): P children from binary tournaments over everyone, then parents and
    children together are truncated to P by (rank, crowding desc). ``G`` may be in natural units
    when ``to_min`` converts it for ranking (it is returned as given)."""
    xp = array_module(X)
    P = X.shape[0]
    pool = xp.arange(P)
    X2, G2 = parents_and_children(rng, X, G, lambda n: binary_tournament(rng, rank, crowd, pool, n), vary, evaluate)
    r2, c2 = rank_and_crowding(to_min(G2))
    keep = sort_key(r2, c2)[:P]
    return X2[keep], G2[keep]


# ------------------------------------------------------------------ decisions that can jump

def sign_flip_mutation(rng: DeviceRandom, X: Any, prob: float) -> Any:
    """With probability ``prob`` a weight changes sign. Percentage mutation (w += w·N(0, f)) almost
    never crosses zero, so a thresholded output (a binary action, an argmax) that sits on the wrong
    side of its threshold for some context stays there; a flipped weight moves it across."""
    xp = array_module(X)
    return xp.where(rng.random(X.shape) < prob, -X, X)


def reset_mutation(rng: DeviceRandom, X: Any, prob: float, scale: Any) -> Any:
    """With probability ``prob`` a weight is drawn afresh from its initial distribution N(0, scale)
    (``scale`` per gene, as ``Layout.init_scale`` gives): a jump of any size, which also revives a
    weight that percentage mutation has shrunk towards zero."""
    xp = array_module(X)
    fresh = (rng.normal(X.shape) * xp.asarray(scale, dtype=X.dtype)).astype(X.dtype)
    return xp.where(rng.random(X.shape) < prob, fresh, X)


def esp_vary(mutation_prob: float, mutation_factor: float, flip_prob: float = 0.0, reset_prob: float = 0.0,
             scale: Any = None, decision_prob: float = 0.0, layout: Any = None, contexts: Any = None,
             local: bool = True, context_prob: float = 0.0, history: Any = None,
             history_prob: float = 0.0) -> Vary:
    """Mode esp's variation: blend crossover (BLX-0.25) of the weights, or with probability
    ``context_prob`` context crossover; LEAF's percentage mutation; then sign-flip, reset and decision-flip mutation, and
    history mutation with ``history`` = (donors, counts) of ``history_donors`` (each off at
    probability 0; the last three need the prescriptor ``layout`` and a sample of ``contexts``)."""
    def vary(rng: DeviceRandom, A: Any, B: Any) -> Any:
        X = blend_crossover(rng, A, B)
        if context_prob > 0:
            X = choose_rows(rng, context_prob, context_crossover(rng, A, B, layout, contexts, 1.0), X)
        X = gaussian_percentage_mutation(rng, X, mutation_prob, mutation_factor)
        if flip_prob > 0:
            X = sign_flip_mutation(rng, X, flip_prob)
        if reset_prob > 0:
            X = reset_mutation(rng, X, reset_prob, scale)
        if decision_prob > 0:
            X = decision_flip_mutation(rng, X, layout, contexts, decision_prob, local=local)
        if history_prob > 0 and history is not None:
            X = history_mutation(rng, X, layout, contexts, history[0], history[1], history_prob)
        return X
    return vary


def choose_rows(rng: DeviceRandom, prob: float, X: Any, Y: Any) -> Any:
    """Row i of X with probability ``prob``, else row i of Y."""
    xp = array_module(X)
    return xp.where((rng.random((int(X.shape[0]),)) < prob)[:, None], X, Y)


# ------------------------------------------------------------------ behaviour-level duplicates

Behaviour = Callable[[Any], Any]  # genomes (n, D) -> behaviour rows (n, m); equal rows: same behaviour


def first_of_each_behaviour(B: Any) -> Any:
    """Boolean mask (n,): True for the first row of every distinct row of B (exact equality; earlier
    rows win, so a parent is kept over a child that behaves the same). Whole-array: one sort."""
    xp = array_module(B)
    n = int(B.shape[0])
    if n <= 1 or B.shape[1] == 0:
        return xp.arange(n) < (1 if B.shape[1] == 0 else n)
    if xp is np:
        # Rows as opaque byte strings: one sort of n items instead of a lexsort over every column
        # (4x faster at 2000 x 128). "+ 0.0" makes -0.0 and 0.0 the same bytes.
        R = np.ascontiguousarray(B + 0.0)
        _, first = np.unique(R.view(np.dtype((np.void, R.dtype.itemsize * R.shape[1]))).ravel(), return_index=True)
        keep = np.zeros(n, dtype=bool)
        keep[first] = True
        return keep
    keys = xp.concatenate([xp.arange(n, dtype=B.dtype)[None, :], B.T[::-1]], axis=0)
    order = xp.lexsort(keys)  # by the behaviour's columns, then row: the first of a group is its earliest
    Bs = B[order]
    new = xp.ones(n, dtype=bool)
    new[1:] = xp.any(Bs[1:] != Bs[:-1], axis=1)
    keep = xp.zeros(n, dtype=bool)
    keep[order] = new
    return keep


def esp_step(rng: DeviceRandom, X: Any, G: Any, rank: Any, crowd: Any, evaluate: Callable[[Any], Any],
             vary: Vary, to_min: Callable[[Any], Any] = lambda G: G, behaviour: Behaviour | None = None
             ) -> tuple[Any, Any]:
    """NSGA-II (mu + lambda) with behaviour-level duplicate removal: parents are drawn by tournaments
    over permutations (``survival.permutation_tournament``), parents and P children are pooled,
    candidates whose ``behaviour`` (decoded actions on a sample of contexts) equals an earlier one's are
    set aside, the rest are ranked and truncated to P by whole fronts and a pruned last front
    (``survival.pruned_truncation``); set-aside duplicates only fill places the distinct ones cannot.
    Without ``behaviour`` nothing is set aside."""
    xp = array_module(X)
    P = X.shape[0]
    X2, G2 = parents_and_children(rng, X, G, lambda n: permutation_tournament(rng, rank, crowd, n), vary, evaluate)
    first = xp.ones(int(X2.shape[0]), dtype=bool) if behaviour is None else first_of_each_behaviour(behaviour(X2))
    keep = xp.zeros(0, dtype=xp.int64)
    for tier in (first, ~first):  # twins only fill places the distinct behaviours cannot
        need = P - int(keep.shape[0])
        idx = xp.flatnonzero(tier)
        if need <= 0 or int(idx.shape[0]) == 0:
            continue
        M = to_min(G2[idx])
        r, c = rank_and_crowding(M)
        keep = xp.concatenate([keep, idx[pruned_truncation(M, r, c, need)]])
    return X2[keep], G2[keep]


def context_sample(X: Any, k: int) -> tuple[Any, bool]:
    """Up to ``k`` distinct rows of contexts X, spread over it (fixed: no randomness), and whether
    they are all of X's distinct rows. Distinct rows come from a strided subset of at most ~64·k rows,
    so a table of millions stays cheap; only when that subset holds at most k distinct rows (a table
    of few contexts, where every one of them matters) is the whole of X read (0.04 s at 200k rows)."""
    n = int(X.shape[0])
    stride = max(1, n // (64 * k))
    cand = X[::stride]
    cand = cand[first_of_each_behaviour(cand)]
    m = int(cand.shape[0])
    if stride > 1 and m <= k:
        cand = X[first_of_each_behaviour(X)]
        m, stride = int(cand.shape[0]), 1
    return cand[:: max(1, m // k)][:k], stride == 1 and m <= k


def decoded_behaviour(layout: Any, X: Any, resolution: float = 1e-3) -> Behaviour:
    """Behaviour of prescriptors = their decoded actions on contexts ``X`` (a small sample): binary and
    categorical decisions as they are, continuous actions on a grid of ``resolution`` of their range
    (closer than that is the same behaviour)."""
    from leafctl.esp import prescriptor as presc  # noqa: PLC0415

    xp = array_module(X)
    lo = xp.asarray([a.lo if a.kind == "numeric" else 0.0 for a in layout.actions], dtype=xp.float32)
    span = xp.asarray([(a.hi - a.lo) * resolution if a.kind == "numeric" and a.hi > a.lo else 1.0
                       for a in layout.actions], dtype=xp.float32)
    zero_cost = xp.zeros(layout.n_out, dtype=xp.float32)

    def behaviour(theta: Any) -> Any:
        natural, _, _ = presc.decode(presc.forward(theta, X, layout, xp), layout, zero_cost, xp)
        return xp.rint((natural - lo) / span).reshape(int(theta.shape[0]), -1)
    return behaviour


def decision_flip_mutation(rng: DeviceRandom, X: Any, layout: Any, contexts: Any, prob: float,
                           step: float = 1.0, margin: float = 0.1, local: bool = False) -> Any:
    """Mutation on the decoded actions: with probability ``prob`` a genome gets one random context of
    ``contexts`` and one random output unit, and its last layer (W2's column and b2 of that unit) moves
    by the smallest change that does this at that context: a binary action flips (its raw output goes
    to -o, past the threshold by ``margin``), a category becomes the argmax of its block, a continuous
    action's raw output moves by N(0, ``step``). ``local``: the change is fitted so the other
    ``contexts`` keep their outputs (exact for at most hidden + 1 distinct contexts); otherwise it runs
    along the context's hidden activations, and other contexts move in proportion to how alike their
    activations are (the change generalises to similar contexts). One batched pass."""
    xp = array_module(X)
    P, n_out = int(X.shape[0]), layout.n_out
    hit = rng.random((P,)) < prob
    c = rng.integers(int(contexts.shape[0]), (P,))
    j = rng.integers(n_out, (P,))
    noise = rng.normal((P,))
    W1, b1, W2, b2 = layout.unpack(X)
    h = xp.tanh(xp.einsum("pc,pch->ph", contexts[c].astype(X.dtype), W1) + b1)  # (P, H)
    out = xp.einsum("ph,pha->pa", h, W2) + b2  # (P, A) raw outputs at each genome's context
    rows = xp.arange(P)
    o = out[rows, j]
    delta = xp.zeros(P, dtype=X.dtype)
    u = 0
    for a in layout.actions:  # per action column (a handful), never per genome
        in_block = (j >= u) & (j < u + a.width)
        if a.kind == "binary":
            d = -2.0 * o - margin * xp.sign(o)
        elif a.kind == "categorical":
            d = out[:, u:u + a.width].max(axis=1) - o + margin
        else:
            d = noise * step
        delta = xp.where(in_block, d.astype(X.dtype), delta)
        u += a.width
    delta = xp.where(hit, delta, 0.0).astype(X.dtype)
    if local:
        # The change of (W2[:, j], b2[j]) that best makes the output move by delta at context c and
        # by nothing at the other contexts: a ridge least-squares fit over every context's features
        # (h, 1), one small (H+1)-square system per genome, solved as one batch.
        t = xp.where(xp.arange(int(contexts.shape[0]))[None, :] == c[:, None], delta[:, None], 0.0)
        w = _fit_last_layer(_features(layout, X, contexts), t[:, :, None])[:, :, 0]  # (P, H+1)
        dW, db = w[:, :-1], w[:, -1]
    else:
        # Minimal-norm change of (W2[:, j], b2[j]) for a change delta at this context: along (h, 1).
        g = delta / (xp.sum(h * h, axis=1) + 1.0)
        dW, db = g[:, None] * h, g
    onehot = (xp.arange(n_out)[None, :] == j[:, None]).astype(X.dtype)  # (P, A)
    dL = xp.concatenate([dW, db[:, None]], axis=1)[:, :, None] * onehot[:, None, :]  # (P, H+1, A)
    return _with_last_layer(layout, X, _last_layer(layout, X) + dL)


def _last_layer(layout: Any, X: Any) -> Any:
    """(P, H+1, A): W2's rows then b2, which is exactly the genome's tail (W2 row-major, then b2)."""
    tail = layout.n_in * layout.hidden + layout.hidden
    return X[:, tail:].reshape(int(X.shape[0]), layout.hidden + 1, layout.n_out)


def _with_last_layer(layout: Any, X: Any, L: Any) -> Any:
    """A copy of genomes X with the last layer (P, H+1, A) replaced (plain column slices: no reliance
    on reshaped views being writable, on either device)."""
    xp = array_module(X)
    tail = layout.n_in * layout.hidden + layout.hidden
    return xp.concatenate([X[:, :tail], L.reshape(int(X.shape[0]), -1).astype(X.dtype)], axis=1)


def _features(layout: Any, X: Any, contexts: Any) -> Any:
    """(P, K, H+1): each genome's hidden activations at each context, plus the bias input 1."""
    xp = array_module(X)
    W1, b1, _, _ = layout.unpack(X)
    Hs = xp.tanh(xp.einsum("kc,pch->pkh", contexts.astype(X.dtype), W1) + b1[:, None, :])
    return xp.concatenate([Hs, xp.ones(Hs.shape[:2] + (1,), dtype=X.dtype)], axis=2)


def _fit_last_layer(Hs: Any, T: Any, ridge: float = 1e-9) -> Any:
    """(P, H+1, A): per genome, the last layer (W2 rows, then b2) whose outputs on features ``Hs``
    (P, K, H+1) best match targets ``T`` (P, K, A), ridge least squares, one batched solve. The ridge
    is relative to the Gram matrix's mean diagonal: just enough to solve it when K < H+1, and small
    enough that the fit is exact where it can be (an absolute 1e-3 missed kept decisions in 97% of
    genomes with 17 contexts and H = 16)."""
    xp = array_module(Hs)
    Hd = Hs.astype(xp.float64)
    G = xp.einsum("pkh,pkg->phg", Hd, Hd)
    scale = xp.trace(G, axis1=1, axis2=2) / Hd.shape[2]
    A = G + (ridge * scale)[:, None, None] * xp.eye(Hd.shape[2])
    return xp.linalg.solve(A, xp.einsum("pkh,pka->pha", Hd, T.astype(xp.float64))).astype(Hs.dtype)


def context_crossover(rng: DeviceRandom, A: Any, B: Any, layout: Any, contexts: Any, prob: float) -> Any:
    """Crossover of behaviours, not genes: with probability ``prob`` a child keeps parent A's hidden
    layer and gets the last layer that makes it act like A at a random half of ``contexts`` and like
    B at the other half (a least-squares fit to the parents' raw outputs); otherwise it is A. Where
    uniform crossover of two networks' weights mixes neither parent's policy, this combines what each
    parent does well in different contexts (as RHEA combines rules)."""
    xp = array_module(A)
    P, K = int(A.shape[0]), int(contexts.shape[0])
    hit = rng.random((P,)) < prob
    from_b = rng.random((P, K)) < 0.5
    Ha, Hb = _features(layout, A, contexts), _features(layout, B, contexts)
    La, Lb = _last_layer(layout, A), _last_layer(layout, B)
    T = xp.where(from_b[:, :, None], xp.einsum("pkh,pha->pka", Hb, Lb), xp.einsum("pkh,pha->pka", Ha, La))
    return _with_last_layer(layout, A, xp.where(hit[:, None, None], _fit_last_layer(Ha, T), La))


def history_donors(contexts: Any, Xc: Any, T: Any, per_context: int = 64) -> tuple[Any, Any]:
    """The data's actions at each of ``contexts`` (K, C): ``donors`` (K, R, A), the raw outputs
    (``seeding.action_targets``) of up to ``per_context`` historical rows (Xc, T) whose context equals
    that row exactly, and ``counts`` (K,) how many each has (the rest of its R slots repeat them)."""
    xp = array_module(contexts)
    K, A = int(contexts.shape[0]), int(T.shape[1])
    # "+ 0.0": -0.0 and 0.0 are the same context (as first_of_each_behaviour has it), not two.
    S = np.ascontiguousarray(np.asarray(_host(contexts), dtype=np.float32) + 0.0)
    R = np.ascontiguousarray(np.asarray(_host(Xc), dtype=np.float32) + 0.0)
    key = np.dtype((np.void, S.dtype.itemsize * S.shape[1]))
    both = np.concatenate([S, R]).view(key).ravel()
    _, inv = np.unique(both, return_inverse=True)
    inv = inv.ravel()
    slot = np.full(int(inv.max()) + 1, -1, dtype=np.int64)
    slot[inv[:K][::-1]] = np.arange(K)[::-1]  # a repeated context row: its first place
    which = slot[inv[K:]]  # each data row's place in ``contexts``, or -1
    Th = np.asarray(_host(T), dtype=np.float32)
    counts = np.zeros(K, dtype=np.int64)
    donors = np.zeros((K, per_context, A), dtype=np.float32)
    for k in range(K):  # per distinct context (at most hidden + 1 of them), never per row
        rows = np.flatnonzero(which == k)[:per_context]
        counts[k] = rows.size
        if rows.size:
            donors[k] = Th[rows[np.arange(per_context) % rows.size]]
    return xp.asarray(donors), xp.asarray(counts)


def _host(a: Any) -> Any:
    from leafctl.esp.xp import to_numpy  # noqa: PLC0415

    return to_numpy(a)


def history_mutation(rng: DeviceRandom, X: Any, layout: Any, contexts: Any, donors: Any, counts: Any,
                     prob: float, margin: float = 0.1) -> Any:
    """Mutation on the decoded actions towards the data: with probability ``prob`` a genome takes, at one
    random context of ``contexts``, the whole action vector of a random historical row of that context
    (``history_donors``), and keeps its outputs at the other contexts: its last layer is refitted to
    those targets (exact for at most hidden + 1 distinct contexts). Where a decision flip changes one
    action, this jumps to a combination that was actually tried, however many actions it differs in:
    a useful set of four actions whose partial sets earn nothing is one step, not four through
    dominated states. Contexts without history are never chosen."""
    xp = array_module(X)
    P, K = int(X.shape[0]), int(contexts.shape[0])
    have = xp.flatnonzero(counts > 0)
    if int(have.shape[0]) == 0 or prob <= 0:
        return X
    hit = rng.random((P,)) < prob
    c = have[rng.integers(int(have.shape[0]), (P,))]
    r = rng.integers(int(donors.shape[1]), (P,))
    Hs = _features(layout, X, contexts)  # (P, K, H+1)
    L = _last_layer(layout, X)
    T = xp.einsum("pkh,pha->pka", Hs, L)
    # A binary decision within a hair of its threshold at a kept context could tip over in the ridge
    # fit (measured: 4% of random genomes): its target is pushed out to +-margin, same side.
    binary = xp.asarray(np.concatenate([np.full(a.width, a.kind == "binary") for a in layout.actions]))
    T = xp.where(binary & (xp.abs(T) < margin), xp.where(T < 0, -margin, margin), T)
    at_c = (xp.arange(K)[None, :] == c[:, None])[:, :, None]
    T = xp.where(at_c, donors[c, r][:, None, :].astype(T.dtype), T)
    return _with_last_layer(layout, X, xp.where(hit[:, None, None], _fit_last_layer(Hs, T), L))
