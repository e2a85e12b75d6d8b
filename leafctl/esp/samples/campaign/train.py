"""Train a revenue model on the campaign table: the example job of the README tour.

    python train.py --data DATA --out MODEL_DIR

DATA is the campaign CSV or a folder holding it (``campaign.csv``); MODEL_DIR receives ``model.json``
(a ridge regression of next quarter's revenue on the customer and the campaign actions: coefficients
over standardised features) and ``metrics.json`` (held-out R^2 and RMSE). Needs numpy only, so it runs
with leafctl's own Python on the local backend and on any Azure ML image with numpy.
"""

from __future__ import annotations

import argparse
import csv
import json
import os

import numpy as np

NUMERIC = ["age", "income", "past_spend", "visits", "discount", "emails"]
CATEGORICAL = ["region", "channel"]
TARGET = "revenue"


def read(path: str) -> list[dict[str, str]]:
    if os.path.isdir(path):
        path = os.path.join(path, "campaign.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def features(rows: list[dict[str, str]], levels: dict[str, list[str]]) -> tuple[np.ndarray, list[str]]:
    cols = [np.array([float(r[c]) for r in rows]) for c in NUMERIC]
    names = list(NUMERIC)
    for c in CATEGORICAL:  # one-hot, the first level left out (it is the intercept's)
        for level in levels[c][1:]:
            cols.append(np.array([r[c] == level for r in rows], dtype=float))
            names.append(f"{c}={level}")
    return np.stack(cols, axis=1), names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the campaign CSV, or a folder holding campaign.csv")
    ap.add_argument("--out", required=True, help="folder to write model.json and metrics.json into")
    ap.add_argument("--alpha", type=float, default=1.0, help="ridge penalty (default 1.0)")
    args = ap.parse_args()

    rows = read(args.data)
    levels = {c: sorted({r[c] for r in rows}) for c in CATEGORICAL}
    X, names = features(rows, levels)
    y = np.array([float(r[TARGET]) for r in rows])
    test = np.random.default_rng(0).random(len(y)) < 0.2  # a fixed 20% held out
    mu, sd = X[~test].mean(0), X[~test].std(0) + 1e-12
    Z = (X - mu) / sd
    A = np.c_[np.ones(len(y)), Z]
    penalty = args.alpha * np.eye(A.shape[1])
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    coef = np.linalg.solve(A[~test].T @ A[~test] + penalty, A[~test].T @ y[~test])
    pred = A[test] @ coef
    rmse = float(np.sqrt(np.mean((pred - y[test]) ** 2)))
    r2 = float(1.0 - np.sum((pred - y[test]) ** 2) / np.sum((y[test] - y[test].mean()) ** 2))

    os.makedirs(args.out, exist_ok=True)
    model = {"target": TARGET, "features": names, "levels": levels, "mean": mu.tolist(), "std": sd.tolist(),
             "intercept": float(coef[0]), "coef": coef[1:].tolist()}
    with open(os.path.join(args.out, "model.json"), "w", encoding="utf-8") as fh:
        json.dump(model, fh, indent=2)
    with open(os.path.join(args.out, "metrics.json"), "w", encoding="utf-8") as fh:
        json.dump({"r2": r2, "rmse": rmse, "rows": len(y), "held_out": int(test.sum())}, fh, indent=2)
    print(f"trained on {int((~test).sum())} rows; held-out r2={r2:.3f} rmse={rmse:.2f}")


if __name__ == "__main__":
    main()
