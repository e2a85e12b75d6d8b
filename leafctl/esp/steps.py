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


def _leaf(config: Any, evaluate: Evaluate, minimise: Callable[[Any], Any], problem: Any = None) -> Step:
    """LEAF's generational step: elites kept, the rest children of the top (1 - remove_pct)."""
    from leafctl.esp.nsga2 import rank_and_crowding  # noqa: PLC0415
    from leafctl.esp.operators import leaf_step, leaf_vary  # noqa: PLC0415

    vary = leaf_vary(config.mutation_prob, config.mutation_factor)

    def step(rng: DeviceRandom, theta: Any, F: Any) -> tuple[Any, Any]:
        rank, crowd = rank_and_crowding(minimise(F))
        return leaf_step(rng, theta, F, rank, crowd, evaluate, vary, config.elites, config.remove_pct)
    return step


def _nsga2(config: Any, evaluate: Evaluate, minimise: Callable[[Any], Any], problem: Any = None) -> Step:
    """NSGA-II (mu + lambda) survival over parents and children, LEAF's variation."""
    from leafctl.esp.nsga2 import rank_and_crowding  # noqa: PLC0415
    from leafctl.esp.operators import leaf_vary, nsga2_step  # noqa: PLC0415

    vary = leaf_vary(config.mutation_prob, config.mutation_factor)

    def step(rng: DeviceRandom, theta: Any, F: Any) -> tuple[Any, Any]:
        rank, crowd = rank_and_crowding(minimise(F))
        return nsga2_step(rng, theta, F, rank, crowd, evaluate, vary, minimise)
    return step


def _esp(config: Any, evaluate: Evaluate, minimise: Callable[[Any], Any], problem: Any = None) -> Step:
    """The default: NSGA-II (mu + lambda) survival without behaviour-level duplicates; variation that
    works on behaviour as well as weights (decision-flip mutation on the decoded actions, context
    crossover; sign-flip and reset mutation if asked) besides LEAF's. ``problem`` gives the
    prescriptor layout and the contexts behaviour is read on (a fixed sample of distinct contexts)."""
    from leafctl.esp.nsga2 import rank_and_crowding  # noqa: PLC0415
    from leafctl.esp.operators import (context_sample, decoded_behaviour, esp_step, esp_vary,  # noqa: PLC0415
                                       history_donors)

    if problem is None:  # genomes that are not prescriptors (benchmarks): NSGA-II without duplicates
        vary = esp_vary(config.mutation_prob, config.mutation_factor, config.flip_prob, config.reset_prob)
        behaviour = (lambda T: T) if config.behaviour_contexts else None
    else:
        layout = problem.layout
        sample, every_context = context_sample(problem.X, config.behaviour_contexts or 32)
        # Context crossover and the local decision flip refit the last layer to every sampled context:
        # exact only for at most hidden + 1 distinct contexts (a categorical context). With more, the
        # fit would swing the actions at the contexts outside the sample (measured: 3-objective domain
        # 0.913 -> 0.844), so the flip moves the last layer along the context's activations instead.
        exact = every_context and int(sample.shape[0]) <= layout.hidden + 1
        # The data's rows (an N x A copy) are read only when history mutation will run.
        history = getattr(problem, "history", None) if exact and config.history_prob > 0 else None
        donors = history_donors(sample, *history()) if history is not None else None
        vary = esp_vary(config.mutation_prob, config.mutation_factor, config.flip_prob, config.reset_prob,
                        layout.init_scale(), config.decision_prob, layout, sample, local=exact,
                        context_prob=config.context_crossover if exact else 0.0,
                        history=donors, history_prob=config.history_prob if donors is not None else 0.0)
        behaviour = decoded_behaviour(layout, sample) if config.behaviour_contexts else None

    def step(rng: DeviceRandom, theta: Any, F: Any) -> tuple[Any, Any]:
        rank, crowd = rank_and_crowding(minimise(F))
        return esp_step(rng, theta, F, rank, crowd, evaluate, vary, minimise, behaviour)
    return step


STEPS: dict[str, Callable[..., Step]] = {"leaf": _leaf, "nsga2": _nsga2, "esp": _esp}


def make_step(config: Any, evaluate: Evaluate, senses: list[str], problem: Any = None) -> Step:
    """The step of ``config.mode`` against ``evaluate`` (natural-unit objectives with these senses);
    ``problem`` (with ``layout`` and the contexts ``X``) lets a mode read the decoded actions."""
    from leafctl.esp.nsga2 import to_minimised  # noqa: PLC0415

    return STEPS[config.mode](config, evaluate, lambda F: to_minimised(F, senses), problem)
