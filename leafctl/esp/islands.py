"""The island model: N sub-populations evolving apart, exchanging their best every K generations.

``config.islands`` = N islands of ``config.population`` prescriptors EACH (the population is per island,
so an island's work and memory on its rank or GPU is what a one-population run of that size costs, and
adding islands scales out instead of shrinking every island; the total is N x population).

Where the islands run. The world (rank, size) is read from the launcher's environment: PMI_RANK/PMI_SIZE
(MPICH's hydra), OMPI_COMM_WORLD_RANK/SIZE (Open MPI, as Azure ML's ``distribution: mpi`` starts it).
mpi4py is imported only when that size is above 1, so a one-process run needs no MPI installed. Rank r
evolves the islands i with i % size == r: ``mpiexec -n N`` gives one island per rank, and one process
(world size 1) runs all N in turn. That also makes the result independent of the world size: the same
seed and N give the same bytes with 1, 2 or N processes (the tests and the benchmark rely on it).

Randomness. The surrogate and the context sample come from the same seed streams as a one-island run;
island i draws from ``SeedSequence(seed).spawn(3)[2].spawn(N)[i]``. Rank 0 trains (or on resume loads)
the predictor and broadcasts it, so every island evaluates against the very same weights, whatever each
node's BLAS would have rounded, and a migrant's objective values stay valid on any island.

Migration, every ``migrate_every`` generations (M = ``migrants``, 0 = islands never meet): each island's
best M by (NSGA-II rank, crowding desc) are allgathered as host NumPy arrays (genomes and objective
values; no CUDA-aware MPI needed) and island i replaces its worst M with the migrants of island
(i - 1) mod N: a ring, the classic topology, which spreads good genomes in N - 1 steps while the
islands keep apart long enough to stay diverse. Migrants keep their objective values (no
re-evaluation: the surrogate is the same everywhere). The source keeps its copies, so the merged final
population may hold a genome twice; ranking treats duplicates as ties.

Every generation the islands' objective values are allgathered: rank 0 needs them for the merged
history, and being a collective it also keeps any two ranks within one generation of each other,
which is what makes the checkpoints below line up.

Outputs. Rank 0 writes what a one-island run writes (pareto.csv and population.npz of the merged and
re-ranked population together with every island's front archive, archive.py; history.csv with the merged hypervolume plus ``hypervolume_island_<i>`` columns,
model/, progress.jsonl, predictor files, config.toml). Checkpoints: island i writes its own file after
every checkpointed generation, keeping the one before it: island 0 ``checkpoint.npz`` (it also holds the
run's history, so it is the run's checkpoint too), island i ``checkpoint-island-<i>.npz``, each with a
``.prev.npz``. Resume takes the newest generation that every island has (current or previous file);
since ranks are never more than one checkpoint apart, such a generation always exists once all
islands wrote their first.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from leafctl import errors
from leafctl.errors import LeafctlError, UsageError

# (rank, size) and (local rank, local size) variables, MPICH/hydra first, then Open MPI.
_WORLD_VARS = (("PMI_RANK", "PMI_SIZE"), ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"))
_LOCAL_VARS = (("MPI_LOCALRANKID", "MPI_LOCALNRANKS"), ("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"))
# Every file an island run may resume from (`run evolve --resume` must carry all of them).
CHECKPOINT_GLOBS = ("checkpoint.npz", "checkpoint.prev.npz", "checkpoint-island-*.npz")
MPI_HINT = "install the MPI extra: pip install 'leafctl[mpi]'"


def _pair(env: Any, names: Sequence[tuple[str, str]]) -> tuple[int, int] | None:
    for r, s in names:
        try:
            return int(env[r]), int(env[s])
        except (KeyError, ValueError):
            continue
    return None


def launched_size(env: Any = None) -> int:
    """How many processes the MPI launcher started (1 without a launcher)."""
    got = _pair(os.environ if env is None else env, _WORLD_VARS)
    return max(1, got[1]) if got else 1


@dataclass
class World:
    """The processes of one run. ``comm`` is an mpi4py communicator, or None for a single process."""
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    comm: Any = None

    def allgather(self, obj: Any) -> list[Any]:
        if self.comm is None:
            return [obj]
        self._wait_for_all()
        return self.comm.allgather(obj)

    def gather(self, obj: Any) -> list[Any] | None:
        if self.comm is None:
            return [obj]
        self._wait_for_all()
        return self.comm.gather(obj, root=0)

    def bcast(self, obj: Any) -> Any:
        if self.comm is None:
            return obj
        self._wait_for_all()
        return self.comm.bcast(obj, root=0)

    def _wait_for_all(self) -> None:
        """Wait for the slowest rank by polling a non-blocking barrier with short sleeps: MPI's own
        blocking wait spins, and a rank spinning for seconds (while rank 0 trains the surrogate, or
        on a machine with fewer free cores than ranks) takes a core from the ranks still working."""
        req = self.comm.Ibarrier()
        pause = 1e-5
        while not req.Test():
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)

    def barrier(self) -> None:
        if self.comm is not None:
            self.comm.Barrier()

    def abort(self, code: int) -> None:
        """End every rank now (one failed alone: the others would wait for it forever)."""
        if self.comm is not None:
            self.comm.Abort(code)


_WORLD: World | None = None


def get_world() -> World:
    """This process's world, created once (MPI is initialised at most once per process)."""
    global _WORLD
    if _WORLD is not None:
        return _WORLD
    got = _pair(os.environ, _WORLD_VARS)
    if got is None or got[1] <= 1:
        _WORLD = World()
        return _WORLD
    try:
        from mpi4py import MPI  # noqa: PLC0415 - only a multi-process run needs MPI
    except ImportError:
        raise UsageError(f"this process is rank {got[0]} of {got[1]} but mpi4py is not installed", MPI_HINT) from None
    comm = MPI.COMM_WORLD
    if comm.Get_size() != got[1]:
        # mpi4py linked against another MPI than the launcher's: each process is alone in its world.
        raise UsageError(f"the launcher started {got[1]} processes but MPI sees {comm.Get_size()}",
                         "launch with the mpiexec of the MPI that mpi4py uses (the leafctl[mpi] extra's)")
    local = _pair(os.environ, _LOCAL_VARS) or (0, 1)
    _WORLD = World(comm.Get_rank(), comm.Get_size(), local[0], max(1, local[1]), comm)
    # Ranks on one machine share its cores: split the evaluation threads between them
    # (an explicit LEAFCTL_ESP_THREADS wins).
    os.environ.setdefault("LEAFCTL_ESP_THREADS", str(max(1, (os.cpu_count() or 1) // _WORLD.local_size)))
    return _WORLD


def everyone(e: LeafctlError) -> LeafctlError:
    """Mark an error that every rank raises alike: only rank 0 reports it, and no rank needs aborting."""
    e.everyone = True  # type: ignore[attr-defined]
    return e


def _agree(w: World, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on every rank; if it raised a LeafctlError on any, raise the lowest rank's on all."""
    value, mine = None, None
    try:
        value = fn()
    except LeafctlError as e:
        mine = e
    report = None if mine is None else (type(mine).__name__, mine.what, mine.hint)
    for got in w.allgather(report):
        if got is not None:
            if mine is not None:
                raise everyone(mine)
            cls = getattr(errors, got[0], errors.OperationFailed)
            raise everyone(cls(got[1], got[2]))
    return value


def use_device(xp: Any, w: World) -> None:
    """With several ranks on a machine, rank r computes on GPU local_rank % device_count."""
    from leafctl.esp.xp import is_gpu  # noqa: PLC0415

    if is_gpu(xp) and w.size > 1:
        xp.cuda.Device(w.local_rank % xp.cuda.runtime.getDeviceCount()).use()


# ------------------------------------------------------------------ checkpoints

def checkpoint_paths(out: Path, island: int) -> tuple[Path, Path]:
    """(current, previous) checkpoint files of one island."""
    base = "checkpoint" if island == 0 else f"checkpoint-island-{island}"
    return out / f"{base}.npz", out / f"{base}.prev.npz"


def _write_checkpoint(out: Path, island: int, theta: np.ndarray, F: np.ndarray, meta: dict[str, Any],
                      archive: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    from leafctl.esp.checkpoint import archive_arrays  # noqa: PLC0415
    from leafctl.esp.files import atomic_savez  # noqa: PLC0415

    cur, prev = checkpoint_paths(out, island)
    staged = out / f".{cur.name}.next"
    atomic_savez(staged, theta=theta, F=F, meta=np.array(json.dumps(meta)), **archive_arrays(archive))
    # The current file becomes the previous one, then the staged one the current: killed in between,
    # the island still has the previous generation, which every other island has too.
    if cur.exists():
        os.replace(cur, prev)
    os.replace(staged, cur)


def _read_checkpoint(path: Path) -> dict[str, Any] | None:
    import zipfile  # noqa: PLC0415

    from leafctl.esp.checkpoint import read_archive  # noqa: PLC0415

    try:
        with np.load(path, allow_pickle=False) as z:
            return {"theta": z["theta"], "F": z["F"], "meta": json.loads(str(z["meta"])), "archive": read_archive(z)}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None  # cut short or damaged: as if absent (the other file may still serve)


# ------------------------------------------------------------------ the run

@dataclass
class _Island:
    id: int
    host: np.random.Generator
    rng: Any  # DeviceRandom over host
    theta: Any = None
    F: Any = None
    archive: Any = None  # (genomes, objectives) of the island's front archive (archive.py)


def evolve_islands(config: Any, out_dir: str | Path, on_generation: Callable[[dict[str, Any]], None] | None = None,
                   resume: bool = False, log: Callable[[str], None] | None = None,
                   world: World | None = None) -> Any:
    """``engine.evolve`` for ``config.islands`` islands; see the module docstring. Returns the merged
    EvolveResult on every rank."""
    from leafctl.esp import archive as front_archive  # noqa: PLC0415
    from leafctl.esp import checkpoint as ckpt  # noqa: PLC0415
    from leafctl.esp import constraints, monitors, outputs, surrogate  # noqa: PLC0415
    from leafctl.esp.engine import (EvolveResult, action_specs, check_config, dump_config, file_sha256,  # noqa: PLC0415
                                    initial_population, reported_objectives)
    from leafctl.esp.evaluate import Problem  # noqa: PLC0415
    from leafctl.esp.nsga2 import rank_and_crowding, sort_key, to_minimised  # noqa: PLC0415
    from leafctl.esp.prescriptor import Layout  # noqa: PLC0415
    from leafctl.esp.steps import make_step  # noqa: PLC0415
    from leafctl.esp.xp import DeviceRandom, get_xp, to_numpy  # noqa: PLC0415

    w = world or get_world()
    N, K, M = config.islands, config.migrate_every, config.migrants
    out = Path(out_dir)
    lead = w.rank == 0
    say = (log or (lambda _m: None)) if lead else (lambda _m: None)
    names = [n for n, _ in config.objectives]
    senses = [s for _, s in config.objectives]
    mine = [i for i in range(N) if i % w.size == w.rank]

    def setup() -> tuple[Any, ...]:
        config.validate()
        if w.size > N:
            raise UsageError(f"{w.size} processes were started for {N} island(s)",
                             f"start at most {N} (mpiexec -n {N}) or set islands = {w.size}")
        out.mkdir(parents=True, exist_ok=True)
        xp = get_xp(config.device)
        use_device(xp, w)
        ds, costs = check_config(config, say=say)
        data_hash = file_sha256(config.data)
        return xp, ds, costs, data_hash, (_scan(data_hash) if resume else {i: {} for i in mine})

    def _scan(data_hash: str) -> dict[int, dict[int, Path]]:
        """The generations this rank's islands can resume from: {island: {generation: file}}."""
        have: dict[int, dict[int, Path]] = {}
        for i in mine:
            have[i] = {}
            for path in checkpoint_paths(out, i):
                st = _read_checkpoint(path) if path.exists() else None
                if st is None:
                    continue
                meta = st["meta"]
                ckpt.as_started(config, meta)
                ckpt.check_same_run(meta, config.to_dict(), data_hash, out, Path(config.data).name)
                have[i][int(meta["generation"])] = path
        if 0 in have and not (out / surrogate.FILE).exists():
            have[0] = {}  # no surrogate to continue with: start over
        return have

    xp, ds, costs, data_hash, have = _agree(w, setup)
    layout = Layout(ds.Xc.shape[1], config.hidden, ds.actions)
    s_pred, s_ctx, s_evo = np.random.SeedSequence(config.seed).spawn(3)
    island_seeds = s_evo.spawn(N)

    # The newest generation every island can return to (None: start from scratch).
    gens_by_island: dict[int, set[int]] = {}
    for part in w.allgather({i: sorted(g) for i, g in have.items()}):
        gens_by_island.update({i: set(g) for i, g in part.items()})
    common = set.intersection(*(gens_by_island.get(i, set()) for i in range(N)))
    start = max(common) if common else None
    if resume:
        say(f"resuming {N} islands from generation {start}" if start is not None
            else "nothing to resume: starting from scratch")
    # A resumed run continues as it started (checkpoint.started_with): an older release's run detected
    # no integer actions and evaluated with NumPy on CPU.
    fixed = ckpt.started_with(_read_checkpoint(have[mine[0]][start])["meta"] if start is not None else None)
    if not fixed["integer_detection"]:
        ds.actions, costs = action_specs(config, ds.data_actions, detect_integers=False)
        layout = Layout(ds.Xc.shape[1], config.hidden, ds.actions)

    # The surrogate: trained (or reloaded) once, on rank 0, and broadcast.
    lead_fit = (lambda: surrogate.fit_or_load(config, ds, out, s_pred, reuse=start is not None, say=say))
    predictor, metrics = surrogate.from_wire(w.bcast(surrogate.to_wire(*lead_fit()) if lead else None))
    if lead:
        dump_config(config, out / "config.toml")
        from leafctl.esp import seeding  # noqa: PLC0415

        seeding.write_baseline(out, predictor, ds, costs, config, say)  # "today": the data's own actions

    problem = Problem.for_run(config, ds, layout, predictor, costs, xp, surrogate.contexts(ds, config, s_ctx))
    fixed["cpu_evaluation"] = problem.keep_cpu_evaluation(fixed["cpu_evaluation"], say)
    # A constrained run's F carries the violation as a last column; the "cv" sense ranks by it.
    rank_senses = senses + [constraints.CV] if problem.constraints is not None else senses
    isles = []
    for i in mine:
        host = np.random.default_rng(island_seeds[i])
        isles.append(_Island(i, host, DeviceRandom(xp, host)))

    minimise = lambda F_: to_minimised(F_, rank_senses)  # noqa: E731
    cap = front_archive.capacity(config)  # each island keeps a front archive of its own
    # Hypervolume is of the feasible candidates' objectives.
    hv_points = lambda F_: to_numpy(to_minimised(constraints.feasible_objectives(F_, len(names)), senses))  # noqa: E731
    history: list[dict[str, Any]] = []
    hv_ref: list[Any] = []

    def all_F() -> list[np.ndarray]:
        """Every island's objective values, in island order (a collective: see the module docstring)."""
        got: dict[int, np.ndarray] = {}
        for part in w.allgather([(isl.id, to_numpy(isl.F)) for isl in isles]):
            got.update(part)
        return [got[i] for i in range(N)]

    def record(gen: int, Fs: list[np.ndarray], seconds: float, migration: float | None) -> dict[str, Any]:
        ideal, nadir = np.asarray(hv_ref[0]), np.asarray(hv_ref[1])
        F_all = np.concatenate(Fs)
        best, mean = monitors.summary(F_all, senses, names)
        return {"generation": gen, "generations": config.generations, "best": best, "mean": mean,
                "hypervolume": monitors.normalised_hv(hv_points(F_all), ideal, nadir),
                "seconds": round(seconds, 6),
                "island_hypervolume": [monitors.normalised_hv(hv_points(F), ideal, nadir) for F in Fs],
                "migration_seconds": None if migration is None else round(migration, 6),
                **({"risk": config.risk} if config.risk else {})}  # best/mean are mean -/+ K*std then

    def checkpoint(gen: int) -> None:
        for isl in isles:
            meta = {"generation": gen, "island": isl.id, "islands": N, "rng": isl.host.bit_generator.state,
                    "config": config.to_dict(), "data_sha256": data_hash, **fixed}
            if isl.id == 0:  # island 0's file is the run's checkpoint: it carries the run's history
                meta.update(history=history, hv_ref=hv_ref)
            _write_checkpoint(out, isl.id, to_numpy(isl.theta), to_numpy(isl.F), meta,
                              None if cap == 0 else tuple(map(to_numpy, isl.archive)))

    progress = monitors.Progress(out, say, on_generation)

    def emit(rec: dict[str, Any]) -> None:
        if lead:
            progress.emit(rec)

    def drop_checkpoints(newer_than: int) -> None:
        # Files past the generation we continue from would otherwise pair up with the new run's files
        # at the next resume.
        for i, gens in have.items():
            for g, path in gens.items():
                if g > newer_than:
                    path.unlink(missing_ok=True)

    if start is not None:
        for isl in isles:
            st = _read_checkpoint(have[isl.id][start])
            isl.theta, isl.F = xp.asarray(st["theta"]), xp.asarray(st["F"])
            isl.archive = (front_archive.empty(isl.theta, isl.F) if st["archive"] is None
                           else tuple(map(xp.asarray, st["archive"])))
            isl.host.bit_generator.state = st["meta"]["rng"]
            if isl.id == 0:
                history, hv_ref = st["meta"]["history"], st["meta"]["hv_ref"]
        drop_checkpoints(start)
        gen = start
        if lead:  # the log may lag the checkpoint or run past it: rewrite it from the history
            progress.restart(history)
    else:
        for i in mine:  # a fresh start: no file of an earlier run in this folder may pair up with ours
            for path in checkpoint_paths(out, i):
                path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        for isl in isles:
            # Each island its own share of a warm start's population and its own behaviour clones.
            isl.theta = initial_population(config, layout, isl.host, xp, ds, isl.id, N, say if isl.id == 0 else None)
            isl.F = problem.evaluate(isl.theta)
            isl.archive = front_archive.update(front_archive.empty(isl.theta, isl.F), isl.theta, isl.F, minimise, cap)
        if lead:
            from leafctl.esp import seeding  # noqa: PLC0415

            seeding.write_lineage(out, config)
        Fs = all_F()
        # Hypervolume is normalised by ranges fixed by the data (monitors.data_reference), so the merged
        # and per-island columns share one scale, and runs on the same data compare.
        hv_ref = monitors.data_reference(config.objectives, config.resolved_outcomes(), ds.Y, layout.actions, costs)
        gen = 0
        if lead:
            history.append(record(0, Fs, time.perf_counter() - t0, None))
            progress.clear()
        checkpoint(0)
        emit(history[-1] if lead else {})

    step = make_step(config, problem.evaluate, rank_senses, problem)
    for g in range(gen + 1, config.generations + 1):
        t0 = time.perf_counter()
        for isl in isles:
            isl.theta, isl.F = step(isl.rng.for_step(), isl.theta, isl.F)
            isl.archive = front_archive.update(isl.archive, isl.theta, isl.F, minimise, cap)
        migration = None
        if M > 0 and g % K == 0:
            t1 = time.perf_counter()
            _migrate(w, isles, N, M, xp, minimise, rank_and_crowding, sort_key, to_numpy)
            migration = time.perf_counter() - t1
        Fs = all_F()
        if lead:
            history.append(record(g, Fs, time.perf_counter() - t0, migration))
        if g % config.checkpoint_every == 0 or g == config.generations:
            checkpoint(g)
        emit(history[-1] if lead else {})
        gen = g

    # Merge: every island's population on every rank, re-ranked as one.
    Fs = all_F()
    F_all = np.concatenate(Fs)
    by_id = {i: th for part in w.allgather([(isl.id, to_numpy(isl.theta)) for isl in isles]) for i, th in part}
    theta_all = np.concatenate([by_id[i] for i in range(N)])
    if cap:  # then every island's front archive (what is not already in a population)
        kept = {i: a for part in w.allgather([(isl.id, tuple(map(to_numpy, isl.archive))) for isl in isles])
                for i, a in part}
        theta_all = np.concatenate([theta_all] + [kept[i][0] for i in range(N)])
        F_all = np.concatenate([F_all] + [kept[i][1] for i in range(N)])
    # Migrants are copies: without this the merged front would list a migrated genome once per island
    # holding it. One of each, the first in island order; pareto.csv's ids index the rows kept.
    keep = distinct_rows(theta_all)
    theta_all, F_all = theta_all[keep], F_all[keep]
    rank, crowd = rank_and_crowding(minimise(F_all))
    F_all, cv = constraints.split(F_all, len(names))
    # Migrants carry their adjusted F; the means are recomputed from the merged genomes (risk > 0).
    F_all, risk_F = reported_objectives(problem, theta_all, F_all)
    result = EvolveResult(out, gen, list(config.objectives), F_all, to_numpy(rank), to_numpy(crowd), metrics, cv,
                          risk_F=risk_F)
    if lead:
        result.std = surrogate.outcome_std(problem, theta_all)
        outputs.write_all(result, config, layout, theta_all, ds, predictor, costs, history)
        say(f"wrote outputs of {N} islands to {out}")
    return result


def distinct_rows(theta: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row of ``theta``, in row order."""
    _, first = np.unique(np.ascontiguousarray(theta), axis=0, return_index=True)
    return np.sort(first)


def _migrate(w: World, isles: list[_Island], N: int, M: int, xp: Any, minimise: Callable[[Any], Any],
             rank_and_crowding: Callable, sort_key: Callable, to_numpy: Callable) -> None:
    """Island i's worst M become island (i - 1) mod N's best M (genomes with their objective values)."""
    outgoing, worst = [], {}
    for isl in isles:
        rank, crowd = rank_and_crowding(minimise(isl.F))
        order = sort_key(rank, crowd)
        best = order[:M]
        outgoing.append((isl.id, to_numpy(isl.theta[best]), to_numpy(isl.F[best])))
        worst[isl.id] = order[order.shape[0] - M:]
    arrived: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for part in w.allgather(outgoing):
        arrived.update({i: (th, F) for i, th, F in part})
    for isl in isles:
        th, F = arrived[(isl.id - 1) % N]
        isl.theta, isl.F = isl.theta.copy(), isl.F.copy()
        isl.theta[worst[isl.id]] = xp.asarray(th, dtype=isl.theta.dtype)
        isl.F[worst[isl.id]] = xp.asarray(F, dtype=isl.F.dtype)
