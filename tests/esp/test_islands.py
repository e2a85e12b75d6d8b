"""The island model (leafctl/esp/islands.py): one process without MPI, and real ``mpiexec`` worlds of
2 and 4 ranks on loopback (MPICH from the ``leafctl[mpi]`` extra, oversubscribed on a small machine).

Migration, determinism across runs and world sizes, resume after SIGKILL of one rank, and the merged
outputs through the model loader. The NumPy path throughout."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from leafctl.errors import UsageError
from leafctl.esp.engine import dump_config, load_config
from leafctl.esp.samples import sample_config, sample_data_path

PY = sys.executable
MPIEXEC = str(Path(PY).parent / "mpiexec")  # the mpich wheel's, installed with leafctl[mpi]


def _config(path: Path, **kw) -> Path:
    base = dict(population=20, generations=6, elites=2, hidden=8, predictor_hidden=16, device="cpu",
                seed=5, contexts_sample=100, islands=2, migrate_every=3, migrants=2)
    dump_config(sample_config("campaign", **{**base, **kw}), path)
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "MPI_LOCAL"))}
    return {**env, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **extra}


def _job(cfg: Path, out: Path, *extra: str, n: int = 0, **popen) -> subprocess.Popen:
    """``python -m leafctl.esp.job``; under ``mpiexec -n n`` when n > 0."""
    argv = [PY, "-m", "leafctl.esp.job", str(cfg), str(out), *extra]
    if n:
        argv = [MPIEXEC, "-n", str(n), *argv]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=popen.pop("env", _env()), **popen)


def _run(cfg: Path, out: Path, *extra: str, n: int = 0) -> subprocess.CompletedProcess:
    p = _job(cfg, out, *extra, n=n)
    stdout, stderr = p.communicate(timeout=120)
    return subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)


def _ok(cfg: Path, out: Path, *extra: str, n: int = 0) -> subprocess.CompletedProcess:
    r = _run(cfg, out, *extra, n=n)
    assert r.returncode == 0, r.stderr
    return r


def _ckpt(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {"theta": z["theta"], "F": z["F"], "meta": json.loads(str(z["meta"]))}


def _shared_rows(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    return [(i, j) for i in range(len(a)) for j in range(len(b)) if np.array_equal(a[i], b[j])]


def test_one_process_runs_every_island_without_mpi(tmp_path):
    """World size 1: the islands run in turn and mpi4py is never imported."""
    cfg = _config(tmp_path / "c.toml", islands=3)
    code = ("import sys; from leafctl.esp.engine import evolve, load_config; "
            f"r = evolve(load_config({str(cfg)!r}), {str(tmp_path / 'out')!r}); "
            "print(len(r.F), 'mpi4py' in sys.modules)")
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    merged, mpi = r.stdout.split()
    # 3 islands x 20, merged without the migrants' copies (islands.distinct_rows); no MPI.
    assert 40 < int(merged) <= 60 and mpi == "False"
    out = tmp_path / "out"
    for name in ("pareto.csv", "history.csv", "population.npz", "model/MLmodel", "progress.jsonl",
                 "checkpoint.npz", "checkpoint-island-1.npz", "checkpoint-island-2.npz"):
        assert (out / name).is_file(), name


def test_config_validates_the_island_keys(tmp_path):
    cfg = _config(tmp_path / "c.toml")
    for override, fragment in (("islands=0", "islands 0 must be at least 1"),
                               ("migrate_every=0", "migrate_every 0 must be at least 1"),
                               ("migrants=20", "migrants 20 must be from 0 to below the island population 20"),
                               ("migrants=-1", "migrants -1")):
        with pytest.raises(UsageError, match=fragment):
            load_config(cfg, [override])
    # One island never migrates: the default migrants must not refuse a tiny plain population.
    assert load_config(cfg, ["islands=1", "population=2", "elites=0"]).migrants == 2


def test_more_ranks_than_islands_is_one_error_line(tmp_path):
    cfg = _config(tmp_path / "c.toml", islands=2)
    r = _run(cfg, tmp_path / "out", n=3)
    assert r.returncode == 2
    lines = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert lines == ["error: 3 processes were started for 2 island(s) — start at most 2 (mpiexec -n 2) "
                     "or set islands = 3"]


def test_migration_moves_genomes_between_islands_and_outputs_merge(tmp_path):
    """First migration at generation 6: before it the islands share no genome, after it each holds
    the other's migrants, with the objective values they had at home. The merged outputs load."""
    cfg = _config(tmp_path / "c.toml", generations=6, migrate_every=6, migrants=2)
    out = tmp_path / "out"
    _ok(cfg, out, n=2)
    now0, now1 = _ckpt(out / "checkpoint.npz"), _ckpt(out / "checkpoint-island-1.npz")
    before0, before1 = _ckpt(out / "checkpoint.prev.npz"), _ckpt(out / "checkpoint-island-1.prev.npz")
    assert [c["meta"]["generation"] for c in (now0, now1, before0, before1)] == [6, 6, 5, 5]
    assert _shared_rows(before0["theta"], before1["theta"]) == []
    shared = _shared_rows(now0["theta"], now1["theta"])
    assert len(shared) >= 4, shared  # 2 migrants each way
    for i, j in shared:
        assert np.array_equal(now0["F"][i], now1["F"][j])
    progress = [json.loads(x) for x in (out / "progress.jsonl").read_text().splitlines()]
    assert [r["generation"] for r in progress] == list(range(7))
    assert [r["migration_seconds"] is not None for r in progress] == [False] * 6 + [True]
    assert all(len(r["island_hypervolume"]) == 2 for r in progress)

    # The merged result: both islands' 20 less the migrants' copies, re-ranked, in the single-run files.
    with open(out / "pareto.csv", newline="") as fh:
        assert len(list(csv.reader(fh))) == 1 + 40 - len(shared)
    with np.load(out / "population.npz") as z:
        assert z["theta"].shape[0] == 40 - len(shared)
    with open(out / "history.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert header[-3:] == ["seconds", "hypervolume_island_0", "hypervolume_island_1"]
    assert "hypervolume" in header

    from leafctl.esp.prescribe import load_model, prescribe
    load_model(out)
    contexts = tmp_path / "contexts.csv"
    with open(sample_data_path("campaign"), newline="") as fh:
        rows = list(csv.reader(fh))[:11]
    with open(contexts, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    header, got = prescribe(out, contexts)
    assert header[-2:] == ["discount", "emails"] and len(got) == 10


def test_same_bytes_across_runs_and_world_sizes(tmp_path):
    """Seed and N fixed: two 4-rank runs, a 2-rank run (two islands per rank) and one process agree."""
    cfg = _config(tmp_path / "c.toml", islands=4, generations=8, migrate_every=2)
    for name, n in (("a", 4), ("b", 4), ("two", 2), ("one", 0)):
        _ok(cfg, tmp_path / name, n=n)
    ref = (tmp_path / "a/pareto.csv").read_bytes()
    for name in ("b", "two", "one"):
        assert (tmp_path / name / "pareto.csv").read_bytes() == ref, name
    other = _config(tmp_path / "d.toml", islands=4, generations=8, migrate_every=2, seed=6)
    _ok(other, tmp_path / "seed6")
    assert (tmp_path / "seed6/pareto.csv").read_bytes() != ref


def _lines(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except FileNotFoundError:
        return 0


def _rank_pid(tag: str, rank: int) -> int | None:
    """The pid of MPI rank ``rank`` of the job whose environment carries ``tag``."""
    want = {f"LEAFCTL_TEST_TAG={tag}".encode(), f"PMI_RANK={rank}".encode()}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            env = set((d / "environ").read_bytes().split(b"\0"))
        except OSError:
            continue
        if want <= env:
            return int(d.name)
    return None


def test_resume_after_sigkill_of_one_rank_is_byte_identical(tmp_path):
    cfg = _config(tmp_path / "c.toml", population=40, generations=120, elites=4, contexts_sample=200,
                  migrate_every=5)
    _ok(cfg, tmp_path / "ref")  # uninterrupted (one process: same bytes as any world size)

    out = tmp_path / "killed"
    for stop_at, victim in ((20, 1), (70, 0)):  # kill a worker rank, then rank 0, at other moments
        tag = f"{tmp_path.name}-{stop_at}"
        p = _job(cfg, out, "--resume", n=2, env=_env(LEAFCTL_TEST_TAG=tag), start_new_session=True)
        deadline = time.time() + 60
        while _lines(out / "progress.jsonl") < stop_at and p.poll() is None and time.time() < deadline:
            time.sleep(0.002)
        pid = _rank_pid(tag, victim)
        assert pid is not None, "rank not found"
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        os.killpg(p.pid, signal.SIGKILL)  # then the whole mpiexec, as a scheduler would
        p.communicate(timeout=30)
        assert not (out / "pareto.csv").exists(), "the run finished before it could be killed"
    r = _ok(cfg, out, "--resume", n=2)
    assert "resuming 2 islands from generation" in r.stdout
    assert (out / "pareto.csv").read_bytes() == (tmp_path / "ref/pareto.csv").read_bytes()
    gens = [json.loads(x)["generation"] for x in (out / "progress.jsonl").read_text().splitlines()]
    assert gens == list(range(121))


def test_resume_refuses_another_island_count(tmp_path):
    cfg = _config(tmp_path / "c.toml", generations=2)
    _ok(cfg, tmp_path / "out", n=2)
    r = _run(cfg, tmp_path / "out", "--resume", "--islands", "3")
    assert r.returncode == 2 and "holds a run with a different config" in r.stderr
