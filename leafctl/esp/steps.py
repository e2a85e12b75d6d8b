"""One generation of the search, chosen once per run by its mode.

``make_step(config, evaluate, senses)`` returns ``step(rng, theta, F) -> (theta, F)``: rank the current
population, breed, evaluate the children and select the survivors. The loop in engine.py (and each
island in islands.py) only calls it; adding a mode is a function here and a line in ``STEPS``.
"""

from __future__ import annotations

from typing import Any, Callable

from leafctl.esp.xp import DeviceRandom

Step = Callable[[DeviceRandom, Any, Any], tuple[Any, Any]]
Evaluate = Callable[[Any], Any]


def _leaf(config: Any, evaluate: Evaluate, minimise: Callable[[Any], Any]) -> Step:
    """LEAF's generational step: elites kept, the rest children of the top (1 - remove_pct)."""
    from leafctl.esp.nsga2 import rank_and_crowding  # noqa: PLC0415
    from leafctl.esp.operators import leaf_step, leaf_vary  # noqa: PLC0415

    vary = leaf_vary(config.mutation_prob, config.mutation_factor)

    def step(rng: DeviceRandom, theta: Any, F: Any) -> tuple[Any, Any]:
        rank, crowd = rank_and_crowding(minimise(F))
        return leaf_step(rng, theta, F, rank, crowd, evaluate, vary, config.elites, config.remove_pct)
    return step


def _nsga2(config: Any, evaluate: Evaluate, minimise: Callable[[Any], Any]) -> Step:
    """NSGA-II (mu + lambda) survival over parents and children, LEAF's variation."""
    from leafctl.esp.nsga2 import rank_and_crowding  # noqa: PLC0415
    from leafctl.esp.operators import leaf_vary, nsga2_step  # noqa: PLC0415

    vary = leaf_vary(config.mutation_prob, config.mutation_factor)

    def step(rng: DeviceRandom, theta: Any, F: Any) -> tuple[Any, Any]:
        rank, crowd = rank_and_crowding(minimise(F))
        return nsga2_step(rng, theta, F, rank, crowd, evaluate, vary, minimise)
    return step


STEPS: dict[str, Callable[[Any, Evaluate, Callable[[Any], Any]], Step]] = {"leaf": _leaf, "nsga2": _nsga2}


def make_step(config: Any, evaluate: Evaluate, senses: list[str]) -> Step:
    """The step of ``config.mode`` against ``evaluate`` (natural-unit objectives with these senses)."""
    from leafctl.esp.nsga2 import to_minimised  # noqa: PLC0415

    return STEPS[config.mode](config, evaluate, lambda F: to_minimised(F, senses))
