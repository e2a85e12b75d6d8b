"""Local model registry: versions, sources (path or run), MLflow check, atomicity, parallel registration."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from leafctl.backends.base import Run
from leafctl.errors import NotFound, UsageError


def _backend():
    from leafctl.backends.local import LocalBackend
    from leafctl.profiles import resolve

    return LocalBackend(resolve(None))


@pytest.fixture
def backend(leaf_env):
    return _backend()


@pytest.fixture
def model_dir(tmp_path) -> Path:
    d = tmp_path / "model"
    (d / "sub").mkdir(parents=True)
    (d / "weights.bin").write_bytes(b"\x00\x01")
    (d / "sub" / "config.json").write_text("{}")
    return d


def test_register_versions_get_list_delete(backend, model_dir, tmp_path):
    m1 = backend.register_model("esp", path=model_dir, tags={"accuracy": "0.9"}, description="first")
    m2 = backend.register_model("esp", path=model_dir / "weights.bin")
    assert (m1.version, m2.version) == ("1", "2")
    assert Path(m1.path, "sub", "config.json").exists() and Path(m2.path, "weights.bin").exists()
    assert backend.get_model("esp").version == "2"
    assert backend.get_model("esp", "1").tags == {"accuracy": "0.9"}
    backend.register_model("other", path=model_dir)
    assert [(m.name, m.version) for m in backend.list_models()] == [("esp", "2"), ("other", "1")]
    assert [m.version for m in backend.list_models("esp")] == ["1", "2"]
    out = backend.download_model("esp", "1", tmp_path / "dl")
    assert (out / "weights.bin").read_bytes() == b"\x00\x01" and (out / "sub" / "config.json").exists()
    backend.delete_model("esp", "1")
    assert not Path(m1.path).exists()
    assert [m.version for m in backend.list_models("esp")] == ["2"]
    assert backend.register_model("esp", path=model_dir).version == "3"
    backend.delete_model("esp")
    assert backend.list_models("esp") == []
    with pytest.raises(NotFound):
        backend.get_model("esp")
    with pytest.raises(NotFound):
        backend.delete_model("esp")
    with pytest.raises(NotFound, match="versions: 1"):
        backend.get_model("other", "9")


def test_register_validation(backend, model_dir, tmp_path):
    with pytest.raises(UsageError, match="exactly one"):
        backend.register_model("m")
    with pytest.raises(UsageError, match="exactly one"):
        backend.register_model("m", path=model_dir, run_id="r1")
    with pytest.raises(NotFound):
        backend.register_model("m", path=tmp_path / "missing")
    with pytest.raises(UsageError, match="model type"):
        backend.register_model("m", path=model_dir, type="onnx")
    with pytest.raises(UsageError, match="MLmodel"):
        backend.register_model("m", path=model_dir, type="mlflow")
    with pytest.raises(UsageError, match="model name"):
        backend.register_model("bad name", path=model_dir)
    (model_dir / "MLmodel").write_text("flavors: {}\n")
    assert backend.register_model("m", path=model_dir, type="mlflow").type == "mlflow"


def test_register_from_run(backend, tmp_path, monkeypatch):
    backend.list_models()  # the workspace and its registry exist before a run writes into runs/
    outputs = backend.ws / "runs" / "done" / "outputs"  # where a run's outputs lie: inside the workspace
    (outputs / "model").mkdir(parents=True)
    (outputs / "model" / "MLmodel").write_text("flavors: {}\n")
    (outputs / "pareto.csv").write_text("a\n")
    runs = {"done": Run(id="done", status="Completed", outputs_path=str(outputs)),
            "busy": Run(id="busy", status="Running", outputs_path=str(outputs))}

    def get_run(run_id):
        if run_id not in runs:
            raise NotFound(f"run {run_id!r} not found")
        return runs[run_id]

    monkeypatch.setattr(backend, "get_run", get_run)
    m = backend.register_model("esp", run_id="done", output="model", type="mlflow")
    assert m.run_id == "done" and sorted(os.listdir(m.path)) == ["MLmodel"]
    whole = backend.register_model("esp", run_id="done")
    assert sorted(os.listdir(whole.path)) == ["model", "pareto.csv"]
    with pytest.raises(UsageError, match="Running"):
        backend.register_model("esp", run_id="busy")
    with pytest.raises(NotFound, match="outputs: model, pareto.csv"):
        backend.register_model("esp", run_id="done", output="nope")
    with pytest.raises(UsageError):
        backend.register_model("esp", run_id="done", output="../..")
    with pytest.raises(UsageError, match="needs --run"):
        backend.register_model("esp", path=outputs, output="model")


def test_failed_copy_leaves_nothing(backend, model_dir, monkeypatch):
    import leafctl.backends.local.models as models

    backend.register_model("esp", path=model_dir)

    def boom(src, dest, *args, **kwargs):
        (dest / "partial").mkdir(parents=True)
        raise OSError("disk full")

    monkeypatch.setattr(models, "_copy_tree", boom)
    with pytest.raises(OSError):
        backend.register_model("esp", path=model_dir)
    monkeypatch.undo()
    assert [m.version for m in backend.list_models("esp")] == ["1"]
    assert sorted(p.name for p in (backend.ws / "models" / "esp").iterdir()) == ["1"]
    assert backend.register_model("esp", path=model_dir).version == "2"


def _register(args):
    home, cfg, model_dir = args
    os.environ["LEAFCTL_HOME"], os.environ["LEAFCTL_CONFIG"] = home, cfg
    return _backend().register_model("par", path=Path(model_dir)).version


def test_parallel_registration_processes(backend, model_dir):
    """8 processes registering one model at once end with versions exactly 1..8."""
    backend.list_models()  # create the workspace first, as a user's first command would
    args = [(os.environ["LEAFCTL_HOME"], os.environ["LEAFCTL_CONFIG"], str(model_dir))] * 8
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        got = pool.map(_register, args)
    assert sorted(got, key=int) == [str(i) for i in range(1, 9)]
    assert [m.version for m in backend.list_models("par")] == [str(i) for i in range(1, 9)]
    for m in backend.list_models("par"):
        assert (Path(m.path) / "weights.bin").exists()


def test_stale_temp_folders_are_swept(backend, model_dir):
    backend.register_model("esp", path=model_dir)
    folder = backend.ws / "models" / "esp"
    old, fresh = folder / ".tmp-9-dead", folder / ".tmp-10-busy"
    old.mkdir()
    fresh.mkdir()
    os.utime(old, (0, 0))
    backend.register_model("esp", path=model_dir)
    assert not old.exists() and fresh.exists()  # a recent one may belong to a registration in progress
