"""The exported MLflow pyfunc folder: pure-python load of its loader, prescribe, and (when an
interpreter with mlflow is available) mlflow.pyfunc.load_model."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from leafctl.errors import UsageError
from leafctl.esp import prescriptor as presc
from leafctl.esp.data import encode_contexts, read_table
from leafctl.esp.engine import evolve
from leafctl.esp.prescribe import prescribe
from leafctl.esp.pyfunc_model import knee_index

from .conftest import write_csv


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    from leafctl.esp.engine import EvolveConfig
    import csv
    from leafctl.esp.samples import sample_data_path

    d = tmp_path_factory.mktemp("model")
    with open(sample_data_path("campaign"), newline="") as fh:
        rows = list(csv.reader(fh))
    data = write_csv(d / "data.csv", rows[0], rows[1:301])
    write_csv(d / "contexts.csv", rows[0][:6], [r[:6] for r in rows[301:311]])
    cfg = EvolveConfig(data=str(data), context=rows[0][:6], actions=["discount", "emails"],
                       outcomes=["revenue", "margin"], objectives=["revenue:max", "margin:max"],
                       population=16, generations=3, elites=2, hidden=6, predictor_hidden=12,
                       seed=5, device="cpu", contexts_sample=50)
    evolve(cfg, d / "out")
    return d


def _import_loader(model: Path):
    spec = importlib.util.spec_from_file_location("leaf_esp_model_copy", model / "code" / "leaf_esp_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mlmodel_declares_python_function_flavor(run_dir):
    text = (run_dir / "out/model/MLmodel").read_text()
    import yaml

    flavor = yaml.safe_load(text)["flavors"]["python_function"]
    assert flavor["loader_module"] == "leaf_esp_model"
    assert flavor["code"] == "code" and flavor["data"] == "data"
    assert flavor["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert "numpy==" in (run_dir / "out/model/requirements.txt").read_text()


def test_loader_module_alone_prescribes_what_the_engine_would(run_dir):
    model = run_dir / "out/model"
    loader = _import_loader(model)
    m = loader._load_pyfunc(str(model / "data"))
    table = read_table(run_dir / "contexts.csv")
    cols = {h: table.column(h) for h in table.header}
    header, rows = m.prescribe_columns(cols, 0)
    assert header == table.header + ["discount", "emails"]
    assert len(rows) == 10
    # Same numbers as the engine's own prescriptor code for candidate 0.
    pop = np.load(run_dir / "out/population.npz", allow_pickle=False)
    from leafctl.esp.data import ColumnSpec
    import json

    meta = json.loads((model / "data/esp_model.json").read_text())
    ctx = [ColumnSpec.from_dict(c) for c in meta["context"]]
    acts = [ColumnSpec.from_dict(a) for a in meta["actions"]]
    X = encode_contexts(ctx, table).astype(np.float32)
    layout = presc.Layout(X.shape[1], meta["hidden"], acts)
    raw = presc.forward(pop["theta"][:1], X, layout)
    nat, _, _ = presc.decode(raw, layout, presc.cost_table(acts, {}))
    got = np.array([r[-2:] for r in rows], dtype=float)
    np.testing.assert_allclose(got, nat[0], rtol=1e-5)
    assert np.all((got[:, 0] >= 0) & (got[:, 0] <= 0.5)) and np.all((got[:, 1] >= 0) & (got[:, 1] <= 10))


def test_prescribe_candidates(run_dir):
    out, ctx = run_dir / "out", run_dir / "contexts.csv"
    h, knee = prescribe(out, ctx)
    assert h[-2:] == ["discount", "emails"] and len(knee) == 10
    h, rows = prescribe(out / "model", ctx, "all")
    assert h[0] == "candidate" and len(rows) == 16 * 10
    assert sorted({r[0] for r in rows}) == list(range(16))
    _, best = prescribe(out, ctx, "best:revenue")
    _, by_id = prescribe(out, ctx, "3")
    assert len(best) == len(by_id) == 10


def test_prescribe_errors(run_dir, tmp_path):
    out, ctx = run_dir / "out", run_dir / "contexts.csv"
    with pytest.raises(UsageError, match="best:profit"):
        prescribe(out, ctx, "best:profit")
    with pytest.raises(UsageError, match="candidate 99"):
        prescribe(out, ctx, 99)
    with pytest.raises(UsageError, match="not understood"):
        prescribe(out, ctx, "kneee")
    with pytest.raises(UsageError, match="no ESP model"):
        prescribe(tmp_path, ctx)
    bad = write_csv(tmp_path / "c.csv", ["age", "income", "past_spend", "visits", "region", "channel"],
                    [[30, 50, 100, 2, "north", "web"], [30, 50, 100, 2, "mars", "web"]])
    with pytest.raises(UsageError, match=r"'region', row 2: 'mars'"):
        prescribe(out, bad)
    miss = write_csv(tmp_path / "m.csv", ["age", "incme"], [[1, 2]])
    with pytest.raises(UsageError) as ei:
        prescribe(out, miss)
    assert "'income'" in ei.value.line() and "did you mean 'incme'" in ei.value.line()


def test_knee_is_nearest_the_ideal_on_the_first_front():
    G = np.array([[0.0, 1.0], [0.45, 0.45], [1.0, 0.0], [0.5, 0.6], [np.inf, -5.0]])
    rank = np.array([1, 1, 1, 2, 3])
    assert knee_index(G, rank) == 1


def test_predict_dataframe(run_dir):
    """The loader module alone (no mlflow) with a pandas DataFrame, as mlflow hands it one.

    pandas is not a leafctl dependency, so where this interpreter lacks it the check runs in the
    python that the mlflow test uses (.ci/run makes one with pandas and mlflow-skinny)."""
    model = run_dir / "out/model"
    script = textwrap.dedent(f"""
        import importlib.util, pandas as pd
        spec = importlib.util.spec_from_file_location("leaf_esp_model", {str(model / 'code' / 'leaf_esp_model.py')!r})
        loader = importlib.util.module_from_spec(spec); spec.loader.exec_module(loader)
        m = loader._load_pyfunc({str(model / 'data')!r})
        df = pd.read_csv({str(run_dir / 'contexts.csv')!r})
        out = m.predict(df)
        assert list(out.columns)[-2:] == ["discount", "emails"] and len(out) == 10, out.columns
        assert len(m.predict(df, params={{"candidate": "all"}})) == 160
        print("ok")
    """)
    try:
        import pandas  # noqa: F401
        python = sys.executable
    except ImportError:
        python = _mlflow_python()
        if python is None:
            pytest.skip("pandas not installed here (set LEAFCTL_TEST_MLFLOW_PYTHON to a python that has it)")
    p = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=240, cwd=str(run_dir))
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr[-3000:]


def _mlflow_python() -> str | None:
    try:
        import mlflow  # noqa: F401
        import sys
        return sys.executable
    except ImportError:
        return os.environ.get("LEAFCTL_TEST_MLFLOW_PYTHON")


@pytest.mark.skipif(_mlflow_python() is None,
                    reason="mlflow not installed (set LEAFCTL_TEST_MLFLOW_PYTHON to a python that has it)")
def test_mlflow_pyfunc_load_model(run_dir):
    script = textwrap.dedent(f"""
        import mlflow.pyfunc, pandas as pd
        m = mlflow.pyfunc.load_model({str(run_dir / 'out/model')!r})
        df = pd.read_csv({str(run_dir / 'contexts.csv')!r})
        out = m.predict(df)
        assert list(out.columns)[-2:] == ["discount", "emails"], out.columns
        assert len(out) == 10
        assert len(m.predict(df, params={{"candidate": "all"}})) == 160
        print("ok")
    """)
    p = subprocess.run([_mlflow_python(), "-c", script], capture_output=True, text=True, timeout=240,
                       cwd=str(run_dir))
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr[-3000:]


def test_prescribe_finds_a_nested_model_folder(run_dir, tmp_path):
    import shutil

    shutil.copytree(run_dir / "out/model", tmp_path / "dl" / "esp" / "model")
    _, rows = prescribe(tmp_path / "dl", run_dir / "contexts.csv")
    assert len(rows) == 10
