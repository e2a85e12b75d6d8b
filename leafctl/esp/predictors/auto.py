"""``auto``: k-fold cross-validation picks the kind. Each candidate is fitted on k-1 folds and scored on
the k-th; the score is the RMSE over the outcome's std (1.0 = no better than the mean), averaged over
outcomes and folds. The simplest candidate (in ``candidates`` order) whose score is within
``tolerance`` of the best wins: a linear response gets ridge, not an MLP that merely matches it.
Kinds whose training needs a package that is not installed are skipped, and the reason says so."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from leafctl.errors import UsageError
from leafctl.esp import predictors
from leafctl.esp.predictors.base import Predictor


class Auto(Predictor):
    kind = "auto"

    @classmethod
    def fit(cls, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, folds: int = 3,
            candidates: list[str] | None = None, tolerance: float = 0.05) -> Predictor:
        """Returns the chosen kind's predictor, fitted on all of X, with ``selection`` (the scores and
        the reason) set on it."""
        usable, skipped = [], []
        for k in candidates or cls.settings["candidates"]:
            req = predictors.spec(k).requires
            if req is not None and importlib.util.find_spec(req[0]) is None:
                skipped.append(f"{k} (needs leafctl[{req[1]}])")
            else:
                usable.append(k)
        if not usable:
            raise UsageError("predictor 'auto' has no candidate it can train" +
                             (f": {', '.join(skipped)}" if skipped else ""), "install the extras named or list other candidates")
        n = X.shape[0]
        k_folds = max(2, min(folds, n))
        fold_of = rng.permutation(n) % k_folds
        scale = np.where(Y.std(0) > 0, Y.std(0), 1.0)
        scores: dict[str, float] = {}
        for kind in usable:
            cand, errs = predictors.get(kind), []
            for f in range(k_folds):
                tr, te = fold_of != f, fold_of == f
                if not tr.any() or not te.any():
                    continue
                model = cand.fit(X[tr], Y[tr], rng, **predictors.resolve_settings(kind, {}))
                rmse = np.sqrt(np.mean((model.predict(X[te]) - Y[te]) ** 2, axis=0))
                errs.append(float(np.mean(rmse / scale)))
            scores[kind] = float(np.mean(errs)) if errs else float("inf")
        best = min(scores.values())
        chosen = next(k for k in usable if scores[k] <= best * (1 + tolerance) + 1e-12)
        table = ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
        why = (f"chose {chosen}: {k_folds}-fold CV error (RMSE/std, lower is better) {table}" +
               (f"; {chosen} is the simplest within {tolerance:.0%} of the best" if scores[chosen] > best else "") +
               (f"; skipped {', '.join(skipped)}" if skipped else ""))
        model = predictors.get(chosen).fit(X, Y, rng, **predictors.resolve_settings(chosen, {}))
        model.selection = {"chosen": chosen, "folds": k_folds, "cv_error": scores, "skipped": skipped, "why": why}
        return model
