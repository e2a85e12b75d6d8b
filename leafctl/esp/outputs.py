"""Everything a finished run writes into its output folder.

pareto.csv        id, rank, crowding, one column per objective (natural units and sign); every
                  candidate of the final population, best first; id = row in population.npz
history.csv       generation, best_<obj>, mean_<obj> per objective, hypervolume, seconds
population.npz    theta (P, D), F (P, k), rank, crowding, objective names (no pickles)
predictor.npz     surrogate weights;  predictor_metrics.json: held-out RMSE and R^2 per outcome
config.toml       the resolved config;  pareto.svg: the first two objectives, hand-written SVG
model/            MLflow pyfunc model folder (written without mlflow), see write_model
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
from xml.sax.saxutils import escape

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
    rows = [[fmt(int(i)), fmt(int(result.rank[i])), fmt(result.crowding[i])] + [fmt(v) for v in result.F[i]]
            for i in order]
    return ["id", "rank", "crowding"] + names, rows


def history_rows(history: list[dict[str, Any]], names: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    header = ["generation"] + [f"best_{n}" for n in names] + [f"mean_{n}" for n in names] + ["hypervolume", "seconds"]
    # An island run (islands.py) adds each island's hypervolume after the merged columns; a plain run's
    # file keeps its shape.
    n_islands = max((len(h.get("island_hypervolume") or ()) for h in history), default=0)
    header += [f"hypervolume_island_{i}" for i in range(n_islands)]
    rows = []
    for h in history:
        def v(x: Any) -> str:
            return "" if x is None else fmt(x)
        per_island = list(h.get("island_hypervolume") or ())
        per_island += [None] * (n_islands - len(per_island))
        rows.append([str(h["generation"])] + [v(h["best"][n]) for n in names] + [v(h["mean"][n]) for n in names]
                    + [v(h["hypervolume"]), v(h["seconds"])] + [v(x) for x in per_island])
    return header, rows


def pareto_svg(result: EvolveResult, width: int = 640, height: int = 480) -> str:
    """Scatter of the first two objectives: first front in a line and filled dots, the rest grey."""
    names = [f"{n} ({s})" for n, s in result.objectives]
    F = result.F
    if F.shape[1] == 1:
        F = np.concatenate([F, np.zeros_like(F)], axis=1)
        names.append("")
    ok = np.all(np.isfinite(F[:, :2]), axis=1)
    m, pad = 60, 20
    pts = F[ok, :2]
    lo = pts.min(0) if len(pts) else np.zeros(2)
    hi = pts.max(0) if len(pts) else np.ones(2)
    span = np.where(hi > lo, hi - lo, 1.0)

    def xy(p: np.ndarray) -> tuple[float, float]:
        return (m + (p[0] - lo[0]) / span[0] * (width - m - pad),
                height - m - (p[1] - lo[1]) / span[1] * (height - m - pad))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<line x1="{m}" y1="{height - m}" x2="{width - pad}" y2="{height - m}" stroke="black"/>',
           f'<line x1="{m}" y1="{pad}" x2="{m}" y2="{height - m}" stroke="black"/>',
           f'<text x="{(width + m) / 2:.0f}" y="{height - 20}" text-anchor="middle">{escape(names[0])}</text>',
           f'<text x="16" y="{(height - m) / 2:.0f}" text-anchor="middle" '
           f'transform="rotate(-90 16 {(height - m) / 2:.0f})">{escape(names[1])}</text>']
    for i, (a, b) in enumerate([(lo[0], hi[0]), (lo[1], hi[1])]):
        for t in np.linspace(a, b, 5):
            if i == 0:
                x, _ = xy(np.array([t, lo[1]]))
                out.append(f'<text x="{x:.1f}" y="{height - m + 16}" text-anchor="middle">{t:.4g}</text>')
            else:
                _, y = xy(np.array([lo[0], t]))
                out.append(f'<text x="{m - 4}" y="{y + 4:.1f}" text-anchor="end">{t:.4g}</text>')
    front = ok & (result.rank == 1)
    for i in np.nonzero(ok & ~front)[0]:
        x, y = xy(F[i])
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#bbbbbb"/>')
    fpts = sorted(xy(F[i]) for i in np.nonzero(front)[0])
    if len(fpts) > 1:
        out.append('<polyline fill="none" stroke="#1f77b4" points="' +
                   " ".join(f"{x:.1f},{y:.1f}" for x, y in fpts) + '"/>')
    for x, y in fpts:
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#1f77b4"/>')
    out.append(f'<text x="{width - pad}" y="{pad}" text-anchor="end">first front: {len(fpts)} of {len(F)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


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
                       "crowding": result.crowding.tolist(), "objectives": result.F.tolist()},
    }
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
    atomic_savez(out / "population.npz", theta=theta, F=result.F, rank=result.rank,
                 crowding=result.crowding, objectives=np.array(names))
    atomic_write_text(out / "pareto.svg", pareto_svg(result))
    write_model(out / "model", result, config, layout, theta, ds)
