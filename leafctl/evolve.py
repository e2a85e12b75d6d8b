"""`run evolve` as a service: plan -> submit -> follow -> result, the same on every backend.

A notebook user can call it as the CLI does::

    from leafctl import evolve
    from leafctl.profiles import resolve
    from leafctl.backends import get_backend

    b = get_backend(resolve())
    p = evolve.plan(evolve.config(sample="campaign", flags={"generations": 20}), b, islands=2)
    run = evolve.submit(p)
    run = evolve.follow(run, b, on_progress=print)
    summary = evolve.result(run, b)       # {"id": ..., "hypervolume": ..., "front": [...], ...}

- ``plan`` resolves and checks the config in-process (bad columns are exit 2 before anything is
  submitted), stages the job's code folder (content-addressed under ``$LEAFCTL_HOME/cache/evolve/``) and
  builds one ``JobSpec`` plus its az ml command-job document (what ``--dry-run`` prints). Where the job
  runs is the backend's business: the differences are data in ``TARGETS`` (the interpreter, whether the
  code snapshot carries leafctl, the data upload, the CUDA environment, the device), never a second path.
- ``submit`` uploads the data first where the target says so, then calls the backend's ``submit_run``.
- ``follow`` waits through the backend's ``wait_run``, reading the progress lines the job logs.
- ``result`` reads ``pareto.csv`` and ``progress.jsonl`` through the backend's ``download_run``.

Islands: ``islands = N > 1`` makes the job a ``distribution: mpi`` job of N processes (each an island,
rank 0 writes the outputs). Locally the backend runs it under ``mpiexec -n N`` (from the ``mpi`` extra);
on Azure ML the cluster's own ``mpirun`` starts ``N / instances`` processes on each of ``instances`` nodes.

The JSON shape (``summary``) is the run record plus ``run_id`` (an alias of ``id``, kept for scripts
written against leafctl 0.x), ``device`` and, once waited for, ``hypervolume``, ``front`` and ``knee``.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from leafctl.backends.base import JobSpec
from leafctl.errors import Interrupted, OperationFailed, UsageError

if TYPE_CHECKING:
    from leafctl.backends.base import Backend, Run

RESULT = "result"  # the job's output folder name; it holds pareto.csv, history.csv, model/ ...
MODEL_OUTPUT = f"{RESULT}/model"  # what `model register --run` takes from an evolve run
# What a resumed run needs from the interrupted one (not its final products).
RESUME_FILES = ("checkpoint.npz", "checkpoint.prev.npz", "checkpoint-island-*.npz", "predictor.npz",
                "predictor_metrics.json", "progress.jsonl", "config.toml", "lineage.json")
MIGRATE_EVERY, MIGRANTS = 10, 2  # island defaults: exchange the best 2 every 10 generations

# One CuPy package everywhere leafctl names one (the `gpu` extra, the --device gpu hint, the cluster's
# conda file), paired with a CUDA 12 image: Azure ML's Open MPI 5 + CUDA 12.4 base image (AzureML-Containers).
CUPY_PACKAGE = "cupy-cuda12x"
IMAGE = "mcr.microsoft.com/azureml/openmpi5.0-cuda12.4-ubuntu22.04:latest"
PIP = ["numpy>=1.26", CUPY_PACKAGE, "typer>=0.24.1,<0.25", "click>=8.2.1", "rich>=13", "tomli-w>=1.0",
       "pyyaml>=6", "jmespath>=1.0", "pyarrow>=14",  # pyarrow: the job reads the table
       "scikit-learn>=1.4",  # trains the forest and gbt predictors (the trees extra)
       "matplotlib>=3.7"]  # the run's plots (pareto.png/.svg, history.png), as on a local run
MPI_PIP = ["mpi4py>=4"]  # an island job talks over the image's Open MPI
MPI_HINT = "install the MPI extra: pip install 'leafctl[mpi]'"
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", "*.egg-info")
# What the engine logs once per generation: "generation 3/20  revenue 418.4  margin 154.2  hv 0.4200"
# (objectives separated by two spaces; older runs logged "best {'revenue': 1.5}" instead).
_PROGRESS = re.compile(r"generation (?P<gen>\d+)/(?P<total>\d+)(?P<rest>.*?)(?:\s+hv (?P<hv>\S+))?\s*$")


def conda_file(mpi: bool) -> dict[str, Any]:
    return {"name": "leafctl-esp-gpu", "channels": ["conda-forge"],
            "dependencies": ["python=3.11", "pip", {"pip": PIP + (MPI_PIP if mpi else [])}]}


@dataclass(frozen=True)
class Target:
    """How a backend runs the evolve job, as data (the only place the backends differ)."""

    python: str | None  # the interpreter in the job's command (None: this one, sys.executable)
    argv: bool  # run as a program and its arguments, without a shell (local), else a command line
    ships_leafctl: bool  # the code snapshot carries leafctl's own source (the cluster has no leafctl)
    upload_data: bool  # the data goes up once, content-addressed, to the datastore before submitting
    inline_environment: bool  # a CUDA image + conda file with CuPy, unless the profile names an environment
    device: str | None  # the device the job is told to use (None: resolved here, on this machine)
    needs_compute: bool  # a cluster must be named (no serverless GPU)
    default_experiment: str | None
    mpiexec_here: bool  # islands: this machine's mpiexec starts the ranks (else the service's own mpirun)


TARGETS = {
    "local": Target(python=None, argv=True, ships_leafctl=False, upload_data=False,
                    inline_environment=False, device=None, needs_compute=False, default_experiment=None,
                    mpiexec_here=True),
    "azure": Target(python="python", argv=False, ships_leafctl=True, upload_data=True, inline_environment=True,
                    device="gpu", needs_compute=True, default_experiment="leaf-esp", mpiexec_here=False),
}


def job_args(target: Target, resume: bool, islands: int = 1, migrate_every: int = MIGRATE_EVERY,
             migrants: int = MIGRANTS) -> list[str]:
    """The job's program and arguments. Only placeholders and fixed words: the data path (a user's file
    name) is never pasted in, so it cannot become shell code wherever the line is run."""
    args = [target.python or sys.executable, "-m", "leafctl.esp.job", "config.toml", f"${{{{outputs.{RESULT}}}}}",
            "--data", "${{inputs.data}}"]
    if target.device:
        args += ["--set", f"device={target.device}"]
    if resume:
        # The job seeds its new output folder with the interrupted run's checkpoint, then continues it.
        args += ["--resume-from", "resume"]
    if islands > 1:
        args += ["--islands", str(islands), "--migrate-every", str(migrate_every), "--migrants", str(migrants)]
    return args


# Azure ML pastes the mounted paths into this line and runs it with a shell; nothing of the user's is in it.
COMMAND = " ".join(job_args(TARGETS["azure"], False))


@dataclass
class Plan:
    """A resolved evolve run, not yet submitted: what ``submit`` sends and ``--dry-run`` prints."""

    config: Any  # the validated EvolveConfig
    target: str  # backend name: local | azure
    spec: JobSpec
    code: Path  # the staged code folder
    data: str  # the data input: a local file (uploaded first where data_dest is set) or a URI
    data_dest: str | None  # datastore path the data goes up to before submitting
    device: str
    argv: list[str]  # what runs, launcher included (mpiexec -n N ... locally)
    islands: int = 1
    instances: int = 1
    migrate_every: int = MIGRATE_EVERY
    migrants: int = MIGRANTS
    resumed_from: str | None = None
    backend: Any = field(default=None, repr=False)
    # The columns the run will use, as the engine resolves them from the data (context [] = "the rest",
    # outcomes [] = "the objectives'"): what --dry-run shows. None where the data is not here to read.
    columns: dict[str, list[str]] | None = None

    def document(self) -> dict[str, Any]:
        """The az ml command job document (``$schema``, command, code, inputs, outputs, environment,
        distribution, resources, ...), as ``az ml job create -f`` would take it."""
        from leafctl.specs.command import job_to_doc

        return job_to_doc(self.spec)

    def yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.document(), sort_keys=False, width=1000)

    def to_dict(self) -> dict[str, Any]:
        config = {**self.config.to_dict(), **(self.columns or {})}
        return {"config": config, "job": self.document(), "argv": list(self.argv),
                "backend": self.target, "device": self.device, "islands": self.islands, "instances": self.instances}


# --- config ------------------------------------------------------------------------------------------

def config(file: str | Path | None = None, sample: str | None = None, flags: dict[str, Any] | None = None) -> Any:
    """An EvolveConfig from a TOML file or a bundled sample, then flags (None values ignored);
    validated, the data path absolute. UsageError (exit 2) for anything wrong."""
    from leafctl.esp.config import config_from_dict, load_config

    if sample:
        from leafctl.esp.samples import sample_config, sample_names

        if sample not in sample_names():
            raise UsageError(f"unknown sample {sample!r}", f"choose one of: {', '.join(sample_names())}")
        if file:
            raise UsageError("give a CONFIG file or --sample, not both", "drop one of them")
        cfg = sample_config(sample)
    else:
        cfg = load_config(file) if file else None
    overrides = {k: v for k, v in (flags or {}).items() if v is not None}
    if cfg is None:
        if not overrides.get("data"):
            raise UsageError("no data to evolve on", "give a CONFIG.toml, --data PATH, or --sample campaign")
        cfg = config_from_dict(overrides)
    elif overrides:
        cfg = config_from_dict(overrides, cfg)
    if cfg.data and _is_local(cfg.data):
        p = Path(cfg.data).expanduser()
        if not p.is_file():
            raise UsageError(f"data file {cfg.data!r} not found", "check --data or the config's data key")
        cfg.data = str(p.resolve())
    return cfg.validate()


def _as_config(cfg: Any) -> Any:
    from leafctl.esp.config import EvolveConfig, config_from_dict, load_config

    if isinstance(cfg, EvolveConfig):
        return cfg
    if isinstance(cfg, dict):
        return config_from_dict(cfg).validate()
    return load_config(cfg)


def _is_local(data: str) -> bool:
    return "://" not in data and not data.startswith("azureml:")


def _resolve_device(device: str) -> str:
    from leafctl.esp.xp import get_xp, is_gpu

    return "gpu" if is_gpu(get_xp(device)) else "cpu"


# --- plan --------------------------------------------------------------------------------------------

def _backend_name(backend: Any) -> str:
    name = backend if isinstance(backend, str) else getattr(backend, "name", None)
    if name not in TARGETS:
        raise UsageError(f"run evolve does not know the backend {name!r}", f"use one of: {', '.join(TARGETS)}")
    return name


def _check_islands(islands: int, instances: int, migrate_every: int | None, migrants: int | None) -> None:
    if islands < 1:
        raise UsageError(f"--islands {islands} must be at least 1", "e.g. --islands 4")
    if instances < 1:
        raise UsageError(f"--instances {instances} must be at least 1", "e.g. --instances 2")
    if islands % instances:
        raise UsageError(f"--islands {islands} does not divide over --instances {instances}",
                         "give a number of islands that is a multiple of the number of instances, e.g. --islands 4 --instances 2")
    for flag, v in (("--migrate-every", migrate_every), ("--migrants", migrants)):
        if v is not None and islands == 1:
            raise UsageError(f"{flag} needs --islands N with N > 1", f"e.g. --islands 4 {flag} {v}")
    if migrate_every is not None and migrate_every < 1:
        raise UsageError(f"--migrate-every {migrate_every} must be at least 1", "e.g. --migrate-every 10")
    if migrants is not None and migrants < 0:
        raise UsageError(f"--migrants {migrants} is negative", "e.g. --migrants 2 (0: the islands never meet)")


def _stage(cfg_text: str, ships_leafctl: bool, resume_dir: Path | None, starts: list[Any] = ()) -> Path:
    """The job's code folder, content-addressed under $LEAFCTL_HOME/cache/evolve/ (built once per content,
    so a plan stays valid after this call and an unchanged snapshot is not uploaded twice)."""
    import leafctl
    from leafctl.backends.azure.jobs import tree_hash  # stdlib-only module: no azure import
    from leafctl.profiles import data_home

    with tempfile.TemporaryDirectory(prefix="leafctl-evolve-") as tmp:
        staged = Path(tmp) / "snap"
        staged.mkdir()
        if ships_leafctl:
            shutil.copytree(Path(leafctl.__file__).parent, staged / "leafctl", ignore=_SKIP)
        (staged / "config.toml").write_text(cfg_text, encoding="utf-8")
        if resume_dir is not None:
            (staged / "resume").mkdir()
            for pattern in RESUME_FILES:  # an island run checkpoints every island (and the one before)
                for f in sorted(resume_dir.glob(pattern)):
                    shutil.copy2(f, staged / "resume" / f.name)
        if starts:  # --seed-from / --warm-start genomes (seed.npz, warm.npz): see evolve_start.py
            from leafctl import evolve_start

            evolve_start.stage(list(starts), staged)
        final = data_home() / "cache" / "evolve" / tree_hash(staged)
        if not final.is_dir():
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.move(str(staged), str(final))
            except OSError:
                if not final.is_dir():  # a parallel plan of the same content got there first
                    raise
    return final


def _data_dest(data: str) -> str:
    """``leafctl/evolve/<sha256>/<name>``: the upload is skipped when the same bytes are there already.
    The cluster pastes the mounted path (ending in this name) into the command raw, so a name with any
    shell character goes up as ``data.csv``."""
    p = Path(data)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()[:32]
    name = p.name if _PLAIN_NAME.match(p.name) else "data.csv"
    return f"leafctl/evolve/{digest}/{name}"


def _prior(backend: Any, run_id: str, tmp: Path) -> tuple[Path, Any, Any]:
    """(result folder, config, run) of the evolve run ``run_id``, fetched through the backend."""
    from leafctl.errors import NotFound
    from leafctl.esp.config import load_config

    prior = backend.get_run(run_id)
    if prior.kind != "evolve":
        raise UsageError(f"run {run_id} is not an evolve run (kind {prior.kind})", "give the id of a `run evolve` run")
    if prior.status in ("Queued", "Running"):
        raise UsageError(f"run {run_id} is still {prior.status}", f"cancel it first: leafctl run cancel {run_id} --yes")
    try:
        backend.download_run(run_id, tmp, output=RESULT)
    except NotFound:
        pass
    rdir = tmp / RESULT
    if not (rdir / "checkpoint.npz").exists() or not (rdir / "config.toml").exists():
        raise UsageError(f"run {run_id} left no checkpoint to resume from", "start a new run instead")
    return rdir, load_config(rdir / "config.toml"), prior


_LINEAGE_TAGS = ("leafctl.seeded_from", "leafctl.warm_started_from")  # evolve_start.TAG's values


def _warm_config(b: Any, flags: dict[str, Any], tmp: Path) -> tuple[Any, Any]:
    """(config, start) of ``--warm-start RUN_ID`` without a CONFIG: that run's own config with ``flags``
    applied (any key may change; the layout is checked later), on its own data unless --data is given."""
    from leafctl import evolve_start
    from leafctl.esp.config import config_from_dict

    warm = evolve_start.resolve(b, "warm_start", str(flags["warm_start"]), tmp)
    if warm.config is None:
        raise UsageError(f"--warm-start {warm.ref} names no evolve run's config to start from",
                         "give a CONFIG (or --sample) with --warm-start, or the id of an evolve run")
    # That run's own seed_from / warm_start named files staged for its job: not this one's.
    base = config_from_dict({"seed_from": "", "warm_start": ""}, warm.config)
    cfg = config_from_dict({k: v for k, v in flags.items() if v is not None}, base)
    if not flags.get("data") and not (_is_local(cfg.data) and Path(cfg.data).is_file()) and warm.run is not None \
            and warm.run.inputs.get("data"):
        cfg.data = warm.run.inputs["data"]  # that run's own input: on a cluster, a datastore URI
    return cfg.validate(), warm


def _starts(b: Any, cfg: Any, tmp: Path, warm: Any) -> list[Any]:
    """The genomes the config's ``warm_start`` / ``seed_from`` name, fetched (evolve_start.resolve)."""
    from leafctl import evolve_start

    out = []
    for key in ("warm_start", "seed_from"):
        ref = getattr(cfg, key, "")
        if ref:
            out.append(warm if key == "warm_start" and warm is not None else evolve_start.resolve(b, key, ref, tmp))
    return out


def _start_tags(starts: list[Any]) -> dict[str, str]:
    if not starts:
        return {}
    from leafctl import evolve_start

    return evolve_start.tags(starts)


def plan(cfg: Any, backend: Any, *, settings: Any = None, islands: int | None = None, instances: int = 1,
         migrate_every: int | None = None, migrants: int | None = None, compute: str | None = None,
         experiment: str | None = None, name: str | None = None, resume: str | None = None,
         resume_flags: dict[str, Any] | None = None, warm_flags: dict[str, Any] | None = None) -> Plan:
    """Resolve an evolve run for ``backend`` (a Backend, or its name for an offline dry run).

    ``cfg``: an EvolveConfig, a dict of its keys, or a TOML path (ignored with ``resume``, which continues
    run ``resume``'s own config; ``resume_flags`` may change only generations and device). ``cfg`` None
    with ``warm_flags`` naming ``warm_start``: that run's own config, changed by ``warm_flags``."""
    target_name = _backend_name(backend)
    target = TARGETS[target_name]
    b = None if isinstance(backend, str) else backend
    settings = settings if settings is not None else getattr(b, "settings", None)
    get = (lambda k: settings.get(k)) if settings is not None else (lambda k: None)

    with tempfile.TemporaryDirectory(prefix="leafctl-resume-") as tmp:
        resume_dir, warm = None, None
        if resume:
            if b is None:
                raise UsageError("--resume needs the backend the run lives on", "drop --dry-run or --resume")
            resume_dir, prior_cfg, prior = _prior(b, resume, Path(tmp))
            changed = {k for k, v in (resume_flags or {}).items() if v is not None} - {"generations", "device"}
            if changed:
                raise UsageError(f"--resume cannot change {', '.join(sorted(changed))}", "only --generations and --device may change")
            from leafctl.esp.config import config_from_dict

            cfg = config_from_dict({k: v for k, v in (resume_flags or {}).items() if v is not None}, prior_cfg)
            if not (_is_local(cfg.data) and Path(cfg.data).is_file()) and prior.inputs.get("data"):
                cfg.data = prior.inputs["data"]  # the run's own input: on a cluster, a datastore URI
            cfg = cfg.validate()
            before = (getattr(prior_cfg, "islands", 1), getattr(prior_cfg, "migrate_every", MIGRATE_EVERY),
                      getattr(prior_cfg, "migrants", MIGRANTS))
            for flag, given, was in zip(("--islands", "--migrate-every", "--migrants"), (islands, migrate_every, migrants), before):
                if given is not None and given != was:  # the checkpoints hold that many islands
                    raise UsageError(f"--resume cannot change {flag} (run {resume} used {was})", f"drop {flag}")
            if prior.status == "Completed" and cfg.generations <= prior_cfg.generations:
                # Its checkpoint is its last generation: a "resumed" run would only copy it.
                raise UsageError(f"run {resume} completed all its {prior_cfg.generations} generations: nothing to resume",
                                 f"pass --generations N (more than {prior_cfg.generations}) to evolve it further, or start a new run")
        elif cfg is None and (warm_flags or {}).get("warm_start"):
            cfg, warm = _warm_config(b, warm_flags or {}, Path(tmp))
        else:
            cfg = _as_config(cfg)
        starts = [] if resume else _starts(b, cfg, Path(tmp), warm)
        # Lineage: what generation 0 came from (a resumed run carries its predecessor's).
        lineage = ({k: v for k, v in prior.tags.items() if k in _LINEAGE_TAGS} if resume else
                   _start_tags(starts))
        # Flags first, then the config's own keys (a config file may ask for islands itself).
        explicit = islands is not None
        islands = int(islands if explicit else getattr(cfg, "islands", 1))
        _check_islands(islands, instances, migrate_every, migrants)
        k = int(migrate_every if migrate_every is not None else getattr(cfg, "migrate_every", MIGRATE_EVERY))
        m = int(migrants if migrants is not None else getattr(cfg, "migrants", MIGRANTS))
        if hasattr(cfg, "islands"):
            # The engine knows islands: its own validation sees them before anything is submitted
            # (migrants below the island population, ...), and the run's config.toml records them.
            from leafctl.esp.config import config_from_dict

            cfg = config_from_dict({"islands": islands, "migrate_every": k, "migrants": m}, cfg).validate()
        columns = None
        if _is_local(cfg.data):
            from leafctl.esp.engine import check_config

            ds, _ = check_config(cfg)  # every data-dependent check, with the engine's own code (exit 2)
            columns = {"context": [c.name for c in ds.context], "actions": [a.name for a in ds.actions],
                       "outcomes": cfg.resolved_outcomes()}
            if starts:
                from leafctl import evolve_start

                evolve_start.check_layout(starts, ds, cfg.hidden)  # a layout that differs: exit 2 here

        compute = compute or get("compute")
        if target.needs_compute and compute in (None, "local"):
            raise UsageError("an evolve run on Azure ML needs a GPU compute",
                             "pass --compute NAME or `leafctl config set compute NAME`")
        device = target.device or _resolve_device(cfg.device)
        cfg.device = device

        import tomli_w

        d = cfg.to_dict()
        d["data"] = "data.csv"  # the job passes the real path: --data ${{inputs.data}}
        for s in starts:
            d[s.key] = s.file  # the job reads the staged genomes from its code folder
        code = _stage(tomli_w.dumps(d), target.ships_leafctl, resume_dir, starts)

    args = job_args(target, resume is not None, islands, k, m)
    doc: dict[str, Any] = {"inputs": {"data": {"type": "uri_file"}},
                           "outputs": {RESULT: {"type": "uri_folder", "mode": "rw_mount"}}}
    env_ref = get("environment")
    if target.inline_environment and not env_ref:
        doc["environment"] = {"image": IMAGE, "conda_file": conda_file(mpi=islands > 1)}
    env_vars: dict[str, str] = {}
    launch = list(args)
    if islands > 1:
        # One command job of N processes; Azure ML starts them with its own mpirun, N / K per node.
        doc["distribution"] = {"type": "mpi", "process_count_per_instance": islands // instances}
        doc["resources"] = {"instance_count": instances}
        if target.mpiexec_here:
            launch = _mpiexec_line(islands, args)
            if "--oversubscribe" in launch:  # Open MPI (MPICH needs neither) refuses root without these
                env_vars = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    data = cfg.data
    tags = {"leafctl.kind": "evolve", **({"leafctl.resumed_from": resume} if resume else {}),
            **({"leafctl.islands": str(islands)} if islands > 1 else {}), **lineage}
    spec = JobSpec(
        command=shlex.join(args) if target.argv else " ".join(args),
        argv=args if target.argv else None,
        code=str(code), inputs={"data": data}, outputs={RESULT: None},
        environment=env_ref if target.inline_environment else None,
        compute=compute or ("local" if not target.needs_compute else None),
        experiment=experiment or get("experiment") or target.default_experiment,
        display_name=name or (f"evolve-resume-{resume}" if resume else "evolve"),
        env_vars=env_vars, tags=tags, kind="evolve", doc=doc,
    )
    return Plan(config=cfg, target=target_name, spec=spec, code=code, data=data,
                data_dest=_data_dest(data) if target.upload_data and _is_local(data) else None,
                device=device, argv=launch, islands=islands, instances=instances, migrate_every=k, migrants=m,
                resumed_from=resume, backend=b, columns=columns)


def _mpiexec_line(n: int, args: list[str]) -> list[str]:
    """``mpiexec -n N <job>`` as the local backend will run it; the mpi extra's mpiexec (next to this
    interpreter) or one on PATH. Missing: exit 2 saying what to install."""
    from leafctl.backends.local import launch

    mpiexec = launch.find_mpiexec()
    if mpiexec is None:
        raise UsageError(f"--islands {n} runs {n} processes under mpiexec, which is not installed", MPI_HINT)
    return launch.mpiexec_argv(mpiexec, n, list(args))


# --- submit, follow, result ---------------------------------------------------------------------------

def submit(p: Plan, backend: Backend | None = None) -> Run:
    """Submit the plan through the backend's ``submit_run`` (the data uploaded first where planned)."""
    b = backend or p.backend
    if b is None:
        raise UsageError("this plan was made without a backend (a dry run)", "plan it again with a backend to submit it")
    spec = copy.deepcopy(p.spec)
    if p.data_dest:
        spec.inputs = {"data": b.upload(Path(p.data), p.data_dest).uri}
    return b.submit_run(spec)


def parse_progress(line: str) -> dict[str, Any] | None:
    """A progress record (generation, generations, best, hypervolume) from one of the job's log lines."""
    m = _PROGRESS.search(line)
    if not m:
        return None
    rec: dict[str, Any] = {"generation": int(m["gen"]), "generations": int(m["total"]), "best": {}, "hypervolume": None}
    rest = (m["rest"] or "").strip()
    if rest.startswith("best {"):
        try:
            best = ast.literal_eval(rest[len("best "):])  # a dict of floats, as older engines printed it; never eval
            rec["best"] = best if isinstance(best, dict) else {}
        except (ValueError, SyntaxError):
            pass
    else:
        for item in filter(None, (p.strip() for p in rest.split("  "))):
            name, _, value = item.rpartition(" ")
            if name == "risk-adjusted" and value.startswith("K="):  # a --risk run's best values
                try:
                    rec["risk"] = float(value[2:])
                except ValueError:
                    pass
                continue
            try:
                rec["best"][name] = float(value)
            except ValueError:
                continue
    try:
        rec["hypervolume"] = float(m["hv"]) if m["hv"] else None
    except ValueError:
        pass
    return rec


def follow(run: Run, backend: Backend, on_progress: Callable[[dict[str, Any]], None] | None = None,
           on_log: Callable[[str], None] | None = None) -> Run:
    """Wait for the run through the backend, handing each log line to ``on_log`` and each generation's
    progress to ``on_progress``. Ctrl-C cancels the run (its checkpoint stays for --resume): Interrupted."""
    last = -1

    def line(text: str) -> None:
        nonlocal last
        if on_log is not None:
            on_log(text)
        rec = parse_progress(text)
        if rec is not None and rec["generation"] >= last and on_progress is not None:
            last = rec["generation"]  # islands log too: never step backwards
            on_progress(rec)

    try:
        return backend.wait_run(run.id, on_log=line)
    except KeyboardInterrupt:
        try:
            backend.cancel_run(run.id)
        except Exception:
            pass
        raise Interrupted(f"evolve run {run.id} interrupted and canceled",
                          f"continue it with `leafctl run evolve --resume {run.id}`") from None


COMMAND_TAG = "leafctl.command"  # the leafctl command line a run was started with (`run evolve` sets it)


def record(run: Run) -> dict[str, Any]:
    """An evolve run's record as leafctl shows it (`run show`, `run evolve -o json`): ``command`` is what
    the user asked for (``leafctl run evolve --resume RUN``), ``job_command`` the job's own line, which
    is leafctl's business (``python -m leafctl.esp.job ... --resume-from resume``)."""
    out = run.to_dict()
    tags = run.tags or {}
    asked = tags.get(COMMAND_TAG)
    if not asked and tags.get("leafctl.resumed_from"):  # a run started before the tag was kept
        asked = f"leafctl run evolve --resume {tags['leafctl.resumed_from']}"
    if asked:  # the job's line stays beside it, under its own name
        shown: dict[str, Any] = {}
        for k, v in out.items():
            shown.update({"command": asked, "job_command": v} if k == "command" else {k: v})
        out = shown
    return out


def summary(run: Run, device: str | None = None) -> dict[str, Any]:
    """The run as `run evolve` prints it before the result is in: the record, ``run_id`` and ``device``."""
    out = record(run)
    out["run_id"] = run.id  # alias of id, for scripts written when a waited-for run printed only run_id
    out["device"] = device
    return out


def _front(result_dir: Path, objectives: list[tuple[str, str]]) -> list[dict[str, Any]]:
    import csv

    front = []
    with open(result_dir / "pareto.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("rank") == "1":
                front.append({"id": int(row["id"]),
                              "objectives": {n: float(row[n]) for n, _ in objectives if row.get(n) not in (None, "")},
                              # a constrained run: the constraint violation (0 = feasible)
                              **({"cv": float(row["cv"])} if row.get("cv") not in (None, "") else {}),
                              **_risk_adjusted(row, objectives)})
    # Ordered along the first objective, best first: reads as a walk along the front.
    first, sense = objectives[0]
    front.sort(key=lambda f: f["objectives"].get(first, float("nan")), reverse=(sense == "max"))
    return front


def _knee(result_dir: Path, objectives: list[tuple[str, str]]) -> dict[str, Any] | None:
    """The candidate `--candidate knee` (the default of `model prescribe`) uses: pareto.csv's is_knee row,
    as {id, objectives}; None for a run written before pareto.csv marked it."""
    import csv

    with open(result_dir / "pareto.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("is_knee") == "true":
                return {"id": int(row["id"]),
                        "objectives": {n: float(row[n]) for n, _ in objectives if row.get(n) not in (None, "")},
                        **_risk_adjusted(row, objectives)}
    return None


def _risk_adjusted(row: dict[str, str], objectives: list[tuple[str, str]]) -> dict[str, Any]:
    """{"risk_adjusted": {objective: mean -/+ K*std}} of a pareto.csv row of a run with risk K > 0 (its
    risk_<objective> columns: what the run ranked on; "objectives" stays the means); {} without."""
    vals = {n: float(row[f"risk_{n}"]) for n, _ in objectives if row.get(f"risk_{n}") not in (None, "")}
    return {"risk_adjusted": vals} if vals else {}


def _feasible(result_dir: Path) -> int | None:
    """How many candidates of pareto.csv (the final population and the front archive) meet the constraints (cv = 0); None for
    a run without constraints (no cv column) or without pareto.csv."""
    import csv

    try:
        with open(result_dir / "pareto.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return None
    if not rows or "cv" not in rows[0]:
        return None
    return sum(1 for r in rows if r.get("cv") not in (None, "") and float(r["cv"]) == 0.0)


# A process killed by a signal: Popen's -N, a shell's or container's 128 + N (137 = SIGKILL), or an MPI
# launcher's "Killed (signal 9)" in the log.
_SIGNAL_IN_LOG = re.compile(r"\(signal (\d+)\)|killed by signal (\d+)", re.IGNORECASE)


def _signal_of(exit_code: int | None, lines: list[str]) -> int | None:
    if isinstance(exit_code, int) and exit_code < 0:
        return -exit_code
    if isinstance(exit_code, int) and 128 < exit_code <= 128 + 64:
        return exit_code - 128
    for line in reversed(lines[-20:]):
        if m := _SIGNAL_IN_LOG.search(line):
            return int(m[1] or m[2])
    return None


def failure(run: Run, lines: list[str]) -> OperationFailed:
    """The error of an evolve run that did not complete, from its record and its log ``lines``: killed
    by a signal (continue it with --resume), or the job's own error (a traceback's last line); never
    the progress lines, never a whole traceback (that stays in the log)."""
    import signal  # noqa: PLC0415

    logs = f"its log: `leafctl run logs {run.id}`"  # the hint's second half
    resume = f"continue it from its last checkpoint with `leafctl run evolve --resume {run.id}`"
    if run.status == "Canceled":
        return OperationFailed(f"evolve run {run.id} was canceled", f"{resume}; {logs}")
    if (sig := _signal_of(run.exit_code, lines)) is not None:
        try:
            name = f" ({signal.Signals(sig).name})"
        except ValueError:
            name = ""
        code = f", exit code {run.exit_code}" if run.exit_code is not None else ""
        return OperationFailed(f"evolve run {run.id} was killed by signal {sig}{name}{code}", f"{resume}; {logs}")
    text = [ln.rstrip() for ln in lines if ln.strip() and parse_progress(ln) is None]
    if any(ln.startswith("Traceback (most recent call last)") for ln in text):
        # The exception's own line: the last one that is not indented (a traceback's frames are).
        last = next((ln for ln in reversed(text) if not ln[:1].isspace()), text[-1])
        why = last.strip()
    else:
        why = text[-1].strip() if text else (run.error or "")
        why = why.removeprefix("error: ")
    why = why or (f"exit code {run.exit_code}" if run.exit_code is not None else "")
    crashed = any(ln.startswith("Traceback (most recent call last)") for ln in text)
    return OperationFailed(f"evolve run {run.id} {run.status.lower()}" + (f": {why}" if why else ""),
                           f"see `leafctl run logs {run.id}`" + (" for the whole traceback" if crashed else ""))


def result(run: Run, backend: Backend) -> dict[str, Any]:
    """The summary of a finished run, read through the backend (``download_run`` of ``result``):
    ``summary(run)`` plus ``hypervolume`` (the last generation's), ``front`` (rank-1 rows of pareto.csv) and
    ``knee`` ({id, objectives} of the candidate `--candidate knee` prescribes with); a constrained run adds
    ``feasible`` (how many of pareto.csv's candidates meet the constraints).
    A run that did not complete is OperationFailed (exit 1) with the end of its log."""
    if run.status != "Completed":
        try:
            lines = list(backend.run_logs(run.id))
        except Exception:
            lines = []
        raise failure(run, lines)
    from leafctl.esp.config import load_config

    with tempfile.TemporaryDirectory(prefix="leafctl-evolve-result-") as tmp:
        backend.download_run(run.id, Path(tmp), output=RESULT)
        rdir = Path(tmp) / RESULT
        cfg = load_config(rdir / "config.toml") if (rdir / "config.toml").exists() else None
        out = summary(run, cfg.device if cfg is not None else None)
        hv = None
        try:
            lines = (rdir / "progress.jsonl").read_text(encoding="utf-8").splitlines()
            hv = json.loads(lines[-1]).get("hypervolume") if lines else None
        except (OSError, ValueError):
            pass
        out["hypervolume"] = hv
        out["front"] = _front(rdir, cfg.objectives) if cfg is not None and (rdir / "pareto.csv").exists() else []
        out["knee"] = _knee(rdir, cfg.objectives) if cfg is not None and (rdir / "pareto.csv").exists() else None
        if (feasible := _feasible(rdir)) is not None:  # a constrained run: how many meet the constraints
            out["feasible"] = feasible
        out.update(_baseline_and_lineage(rdir))
        out["predictor"] = _predictor_summary(rdir)
    return out


def _predictor_summary(rdir: Path) -> dict[str, Any] | None:
    """``predictor``: {kind, rows, held_out: {outcome: {rmse, r2}}, warnings[, auto]} of a run's
    predictor_metrics.json (surrogate.py writes it); None when the run has none."""
    try:
        m = json.loads((rdir / "predictor_metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(m, dict):
        return None
    out = {"kind": m.get("predictor"), "rows": m.get("rows"), "held_out": m.get("held_out") or {},
           "warnings": list(m.get("warnings") or [])}
    if m.get("auto"):
        out["auto"] = m["auto"]
    return out


def _baseline_and_lineage(rdir: Path) -> dict[str, Any]:
    """``baseline`` (the historical policy's predicted objectives: "today", next to ``front``) and the
    lineage keys (``warm_started_from``, ``seeded_from``) of a run's outputs (seeding.py writes them)."""
    def read(name: str) -> Any:
        try:
            return json.loads((rdir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    base = read("baseline.json")
    lineage = read("lineage.json")
    out: dict[str, Any] = {"baseline": base if isinstance(base, dict) else None}
    if isinstance(lineage, dict):
        out.update({k: str(v) for k, v in lineage.items() if k in ("warm_started_from", "seeded_from")})
    return out
