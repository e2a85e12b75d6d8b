"""The front archive: non-dominated prescriptors found in any generation, kept beside the population.

A population of P holds at most P points of the front, and on three objectives that is the limit:
P evenly spread points reach about 0.955 (91 points) to 0.975 (210 points) of the exact front's
hypervolume however good the search (bench/RESULTS.md). The archive keeps up to ``archive`` times
the population (at most ``MAX_MEMBERS``) candidates that nothing seen since entered it dominates,
thinned by closest pairs as survival thins the last front (survival._prune_pairs), and the run
reports the final population together with it. It never feeds back into breeding: the search, and
so the final population, is the same with or without it.

Everything is whole-array work on the population's device; the thinning loop runs once per member
removed (at most one generation's worth, capped as survival caps it).
"""

from __future__ import annotations

from typing import Any, Callable

from leafctl.esp.nsga2 import Constrained, array_module, rank_and_crowding, sort_key

# The archive's size limit whatever the population: thinning holds an m x m distance matrix.
MAX_MEMBERS = 4096


def capacity(config: Any) -> int:
    """Members the run's archive holds at most (0: no archive)."""
    return min(int(config.archive) * int(config.population), MAX_MEMBERS)


def empty(theta: Any, F: Any) -> tuple[Any, Any]:
    """An archive with no members, of the population's dtypes and widths, on its device."""
    return theta[:0], F[:0]


def update(archive: tuple[Any, Any], theta: Any, F: Any, minimise: Callable[[Any], Any],
           cap: int) -> tuple[Any, Any]:
    """The archive (genomes, objectives as the run ranks them) after a generation whose population
    is (theta, F): the first front of both together (constrained domination in a constrained run),
    one member per distinct objective vector (the older member stays), thinned to ``cap`` by
    removing, of the two closest members, the one further behind (an extreme only when both are,
    as ``survival._prune_pairs`` does; the population keeps its own extremes). ``cap`` 0: no archive,
    returned as it is."""
    if cap <= 0:
        return archive
    from leafctl.esp.operators import first_of_each_behaviour  # noqa: PLC0415
    from leafctl.esp.survival import PRUNE_MAX, _prune_pairs  # noqa: PLC0415

    xp = array_module(F)
    T = xp.concatenate([archive[0], theta])
    FF = xp.concatenate([archive[1], F])
    G = minimise(FF)
    rank, crowding = rank_and_crowding(G)
    G = G.G if isinstance(G, Constrained) else G
    first = xp.flatnonzero(rank == 1)
    first = first[first_of_each_behaviour(G[first])]
    n_remove = int(first.shape[0]) - cap
    if n_remove > 0:
        Gf = xp.asarray(G[first], dtype=xp.float64)
        if not bool(xp.all(xp.isfinite(Gf))):  # nothing finite to thin by distance: the most crowded go
            first = first[_most_spread(crowding[first])[:cap]]
        else:
            if n_remove > PRUNE_MAX:  # the most crowded go at once, the last PRUNE_MAX one at a time
                keep = xp.sort(_most_spread(crowding[first])[: cap + PRUNE_MAX])
                first, Gf, n_remove = first[keep], Gf[keep], PRUNE_MAX
            first = first[_prune_pairs(Gf, n_remove)]
    return T[first], FF[first]


def _most_spread(crowding: Any) -> Any:
    """Indices by crowding, largest first (ties in index order)."""
    xp = array_module(crowding)
    return sort_key(xp.zeros(int(crowding.shape[0]), dtype=xp.int64), crowding)


def with_population(archive: tuple[Any, Any], theta: Any, F: Any) -> tuple[Any, Any]:
    """The candidates a run reports: its final population, every row as it is (a warm start takes
    them back), then the archive members that are not one of its genomes (the population's own
    first front is in the archive too)."""
    if int(archive[0].shape[0]) == 0:
        return theta, F
    from leafctl.esp.operators import first_of_each_behaviour  # noqa: PLC0415

    xp = array_module(F)
    T = xp.concatenate([theta, archive[0]])
    new = first_of_each_behaviour(T)
    new[: int(theta.shape[0])] = True
    keep = xp.flatnonzero(new)
    return T[keep], xp.concatenate([F, archive[1]])[keep]
