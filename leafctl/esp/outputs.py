"""Everything a finished run writes into its output folder.

pareto.csv        id, rank, crowding, one column per objective (natural units and sign), cv (a constrained
                  run: constraint violation, 0 = feasible), is_knee, std_<outcome> (a predictor with
                  members: ensemble, forest), risk_<objective> (risk K > 0: mean -/+ K*std, what the run
                  ranked on; the objective columns stay the mean predictions); every candidate the
                  run reports, best first: the final population, then the front archive's members
                  (archive.py; none with archive = 0); id = row in population.npz
history.csv       generation, best_<obj>, mean_<obj> per objective, hypervolume, seconds (and risk:
                  K, in a --risk run, whose best_/mean_ are mean -/+ K*std)
population.npz    theta (n, D), F (n, k: the means), risk_F (risk > 0), rank, crowding, objective names
                  (no pickles), of the same n candidates as pareto.csv: the first P rows are the final
                  population
predictor.npz     the surrogate's kind and plain arrays (no pickles; leafctl.esp.predictors.load);
                  predictor_metrics.json: held-out RMSE and R^2 per outcome, warnings, auto's choice
config.toml       the resolved config
pareto.png/.svg   the front, knee marked; history.png: hypervolume and best/mean per generation (plots.py;
                  without matplotlib a one-line note on stderr, and the run still succeeds)
model/            MLflow pyfunc model folder (written without mlflow), see write_model
baseline.json     the historical policy's predicted objectives ("today"), written at the start (seeding.py);
                  lineage.json: warm_started_from / seeded_from, when generation 0 came from another run
checkpoint.npz, progress.jsonl  (written during the run by engine.py; an island run also keeps
                  checkpoint.prev.npz and checkpoint-island-<i>[.prev].npz, see islands.py)
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from leafctl.esp import pyfunc_model
from leafctl.esp.config import EvolveConfig
from leafctl.esp.files import atomic_savez, atomic_write_text
from leafctl.esp.nsga2 import sort_key

if TYPE_CHECKING:  # engine imports outputs at run time: no cycle
    from leafctl.esp.engine import EvolveResult

LOADER_MODULE = "leaf_esp_model"


def fmt(x: Any) -> str:
    """Deterministic text for a number: repr of the float (shortest round-trip), ints as ints."""
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return repr(float(x))


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def pareto_rows(result: EvolveResult) -> tuple[list[str], list[list[str]]]:
    names = [n for n, _ in result.objectives]
    order = sort_key(result.rank, result.crowding)
    knee = knee_row(result)
    # A constrained run adds cv, each candidate's constraint violation (0 = feasible), after the objectives.
    cv = [] if result.cv is None else [[fmt(float(v))] for v in result.cv]
    # A predictor with members (ensemble, forest) adds std_<outcome>: each candidate's predicted spread.
    std = result.std or {}
    # risk K > 0 adds risk_<objective>: mean -/+ K*std, the values the run ranked on (and the knee is theirs).
    risk = [] if result.risk_F is None else result.risk_F
    rows = [[fmt(int(i)), fmt(int(result.rank[i])), fmt(result.crowding[i])] + [fmt(v) for v in result.F[i]]
            + (cv[i] if cv else []) + ["true" if i == knee else "false"] + [fmt(float(s[i])) for s in std.values()]
            + ([fmt(v) for v in risk[i]] if len(risk) else [])
            for i in order]
    return (["id", "rank", "crowding"] + names + (["cv"] if cv else []) + ["is_knee"] + [f"std_{n}" for n in std]
            + ([f"risk_{n}" for n in names] if len(risk) else [])), rows


def knee_row(result: EvolveResult) -> int:
    """The candidate ``--candidate knee`` prescribes with: the exported model's own choice, on the same
    numbers (is_knee in pareto.csv, the knee of ``run evolve -o json`` and of the plots): the values the
    run ranked on, risk-adjusted with risk > 0."""
    return pyfunc_model.knee_index(pyfunc_model.minimised(ranked_objectives(result), result.objectives),
                                   np.asarray(result.rank), result.cv)


def ranked_objectives(result: EvolveResult) -> np.ndarray:
    """The objective values the evolution ranked on: risk-adjusted with risk > 0, else the means."""
    return result.F if result.risk_F is None else result.risk_F


def history_rows(history: list[dict[str, Any]], names: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    header = ["generation"] + [f"best_{n}" for n in names] + [f"mean_{n}" for n in names] + ["hypervolume", "seconds"]
    # An island run (islands.py) adds each island's hypervolume after the merged columns; a plain run's
    # file keeps its shape.
    n_islands = max((len(h.get("island_hypervolume") or ()) for h in history), default=0)
    header += [f"hypervolume_island_{i}" for i in range(n_islands)]
    # A --risk run's best_/mean_ columns are mean -/+ K*std (what it ranked on): a last column says K.
    risk = any(h.get("risk") for h in history)
    header += ["risk"] if risk else []
    rows = []
    for h in history:
        def v(x: Any) -> str:
            return "" if x is None else fmt(x)
        per_island = list(h.get("island_hypervolume") or ())
        per_island += [None] * (n_islands - len(per_island))
        rows.append([str(h["generation"])] + [v(h["best"][n]) for n in names] + [v(h["mean"][n]) for n in names]
                    + [v(h["hypervolume"]), v(h["seconds"])] + [v(x) for x in per_island]
                    + ([v(h.get("risk"))] if risk else []))
    return header, rows


def write_model(model_dir: Path, result: EvolveResult, config: EvolveConfig, layout: Any,
                theta: np.ndarray, ds: Any) -> None:
    """An MLflow ``python_function`` model folder, written by hand (mlflow need not be installed).

    MLmodel names ``loader_module`` (imported from ``code/``, which MLflow puts on sys.path) and
    ``data`` (the folder handed to ``_load_pyfunc``). Prediction needs numpy and pandas only.
    """
    if model_dir.exists():
        shutil.rmtree(model_dir)
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "data").mkdir()
    shutil.copyfile(pyfunc_model.__file__, model_dir / "code" / f"{LOADER_MODULE}.py")
    meta = {
        "format": 1,
        "context": [c.to_dict() for c in ds.context],
        "actions": [a.to_dict() for a in ds.actions],
        "hidden": layout.hidden,
        "objectives": [[n, s] for n, s in result.objectives],
        "candidates": {"id": list(range(len(result.F))), "rank": result.rank.tolist(),
                       "crowding": result.crowding.tolist(), "objectives": ranked_objectives(result).tolist()},
    }
    if result.risk_F is not None:
        # knee and best:OBJ choose on "objectives" (risk-adjusted, as the run ranked); "means" is what
        # model prescribe reports as predicted.
        meta["risk"] = float(config.risk)
        meta["candidates"]["means"] = result.F.tolist()
    if result.cv is not None:  # model prescribe chooses among the feasible candidates (pyfunc_model)
        meta["constraints"] = list(config.constraints)
        meta["candidates"]["cv"] = result.cv.tolist()
    (model_dir / "data" / pyfunc_model.MODEL_JSON).write_text(json.dumps(meta), encoding="utf-8")
    np.savez(model_dir / "data" / pyfunc_model.WEIGHTS, theta=theta.astype(np.float32))
    py = platform.python_version()
    np_req = f"numpy=={np.__version__}"
    (model_dir / "MLmodel").write_text(
        "flavors:\n"
        "  python_function:\n"
        "    code: code\n"
        "    data: data\n"
        "    env:\n"
        "      conda: conda.yaml\n"
        "      virtualenv: python_env.yaml\n"
        f"    loader_module: {LOADER_MODULE}\n"
        f"    python_version: {py}\n"
        f"model_uuid: {uuid.uuid4().hex}\n"
        # A params schema is what lets MLflow pass predict(..., params={"candidate": ...}) through.
        "signature:\n"
        "  inputs: null\n"
        "  outputs: null\n"
        "  params: '[{\"name\": \"candidate\", \"type\": \"string\", \"default\": \"knee\", \"shape\": null}]'\n"
        f"utc_time_created: '{dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f')}'\n",
        encoding="utf-8")
    (model_dir / "requirements.txt").write_text(f"mlflow\n{np_req}\npandas\n", encoding="utf-8")
    (model_dir / "conda.yaml").write_text(
        "channels:\n- conda-forge\ndependencies:\n"
        f"- python={py}\n- pip\n- pip:\n  - mlflow\n  - {np_req}\n  - pandas\nname: leaf-esp-env\n",
        encoding="utf-8")
    (model_dir / "python_env.yaml").write_text(
        f"python: {py}\nbuild_dependencies:\n- pip\ndependencies:\n- -r requirements.txt\n", encoding="utf-8")


def write_all(result: EvolveResult, config: EvolveConfig, layout: Any, theta: np.ndarray, ds: Any,
              predictor: Any, costs: Any, history: list[dict[str, Any]]) -> None:
    out = result.out_dir
    names = [n for n, _ in result.objectives]
    atomic_write_text(out / "pareto.csv", _csv(*pareto_rows(result)))
    atomic_write_text(out / "history.csv", _csv(*history_rows(history, names)))
    risk = {} if result.risk_F is None else {"risk_F": result.risk_F}
    atomic_savez(out / "population.npz", theta=theta, F=result.F, rank=result.rank,
                 crowding=result.crowding, objectives=np.array(names), **risk)
    write_plots(out)
    write_model(out / "model", result, config, layout, theta, ds)


def write_plots(out: Path) -> None:
    """pareto.png/.svg and history.png, titled with the run's id where a job runs (both backends set
    AZUREML_RUN_ID). No matplotlib: one line on stderr (the job's log, which `run evolve` shows).
    LEAFCTL_NO_PLOTS=1: none (a CI pipeline that never looks at them saves 1-4 s a run; `run show
    --plot` draws them later from the same files)."""
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415

    if os.environ.get("LEAFCTL_NO_PLOTS", "").strip().lower() not in ("", "0", "false", "no", "off"):
        return

    from leafctl.esp import plots  # noqa: PLC0415

    run_id = os.environ.get("AZUREML_RUN_ID")
    try:
        plots.write_plots(out, f"LEAF-ESP run {run_id}" if run_id else f"LEAF-ESP {out.name}")
    except plots.PlotsUnavailable as e:
        print(f"note: no plots written; {e}", file=sys.stderr, flush=True)
