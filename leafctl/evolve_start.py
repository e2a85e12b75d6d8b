"""Where an evolve run's generation 0 comes from, resolved before the run is submitted.

``--seed-from REF`` seeds generation 0 with the first front of REF: an evolve run's id, a registered model
``NAME[:VERSION]`` or a local folder (a run's output folder or a model folder). ``--warm-start RUN_ID``
starts from that run's final population. Either way the genomes are fetched here, through the backend
(``get_run`` + ``download_run``, or ``get_model`` + ``download_model``), and written into the job's code
folder as ``seed.npz`` / ``warm.npz`` with the encoding they were evolved for, so the job reads them on
any backend (an Azure ML job cannot see this machine's files or the local registry). The staged config
names those files; the run's tags name what they came from (``leafctl.seeded_from``,
``leafctl.warm_started_from``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leafctl.errors import NotFound, UsageError

RESULT = "result"  # leafctl.evolve.RESULT: the evolve job's output folder
TAG = {"seed_from": "leafctl.seeded_from", "warm_start": "leafctl.warm_started_from"}
FLAG = {"seed_from": "--seed-from", "warm_start": "--warm-start"}


@dataclass
class Start:
    """Genomes resolved for one key (``seed_from`` or ``warm_start``) of a run about to be planned."""

    key: str
    ref: str  # what the user gave
    genomes: Any  # seeding.Genomes
    config: Any = None  # the earlier run's EvolveConfig (a run's genomes only)
    run: Any = None  # the earlier run's record (a run's genomes only)

    @property
    def file(self) -> str:
        from leafctl.esp.seeding import SEEDS_FILE, WARM_FILE  # noqa: PLC0415

        return SEEDS_FILE if self.key == "seed_from" else WARM_FILE


def _run_genomes(backend: Any, run_id: str, prior: Any, key: str, tmp: Path) -> Start:
    from leafctl.esp.config import load_config  # noqa: PLC0415
    from leafctl.esp.seeding import Genomes  # noqa: PLC0415

    flag = FLAG[key]
    if prior.kind != "evolve":
        raise UsageError(f"{flag} {run_id}: run {run_id} is not an evolve run (kind {prior.kind})",
                         "give the id of a `run evolve` run")
    if prior.status != "Completed":
        raise UsageError(f"{flag} {run_id}: run {run_id} is {prior.status}, it left no final population",
                         f"wait for it (leafctl run wait {run_id}), or continue it first: leafctl run evolve --resume {run_id}")
    dest = tmp / key
    try:
        backend.download_run(run_id, dest, output=RESULT)
    except NotFound:
        pass
    rdir = dest / RESULT
    if not (rdir / "population.npz").is_file() or not (rdir / "model").is_dir():
        raise UsageError(f"{flag} {run_id}: run {run_id} left no final population (population.npz and model/)",
                         "give a completed evolve run")
    cfg = load_config(rdir / "config.toml") if (rdir / "config.toml").is_file() else None
    g = Genomes.load(rdir, source=f"run {run_id}")
    g.extra = {"ref": run_id, "ref_kind": "run"}
    return Start(key, run_id, g, cfg, prior)


def _model_genomes(backend: Any, ref: str, key: str, tmp: Path) -> Start:
    from leafctl.backends.common import split_name_version  # noqa: PLC0415
    from leafctl.esp.seeding import Genomes  # noqa: PLC0415

    name, version = split_name_version(ref)
    m = backend.get_model(name, version)
    folder = backend.download_model(m.name, m.version, tmp / key)
    label = f"model {m.name}:{m.version}"
    try:
        g = Genomes.load(folder, source=label)
    except UsageError:  # it would name our temporary folder
        raise UsageError(f"{FLAG[key]} {ref}: {label} is not an ESP model (no prescriptors from `run evolve`)",
                         "give an evolve run's id or a model registered from one") from None
    g.extra = {"ref": f"{m.name}:{m.version}", "ref_kind": "model"}
    return Start(key, ref, g)


def resolve(backend: Any, key: str, ref: str, tmp: Path) -> Start:
    """The genomes ``ref`` names for ``key``: a local folder or genomes file, else (through the backend)
    an evolve run's id, else (``seed_from`` only) a registered model NAME[:VERSION]."""
    from leafctl.esp.seeding import Genomes  # noqa: PLC0415

    flag = FLAG[key]
    local = Path(ref).expanduser()
    if local.exists():
        g = Genomes.load(local)
        g.extra = {"ref": str(local.resolve()), "ref_kind": "path"}
        return Start(key, ref, g)
    if backend is None:
        raise UsageError(f"{flag} {ref} needs the backend the run or model lives on", f"drop --dry-run or {flag}")
    try:
        prior = backend.get_run(ref)
    except NotFound:
        prior = None
    if prior is not None:
        return _run_genomes(backend, ref, prior, key, tmp)
    if key == "warm_start":
        raise NotFound(f"{flag} {ref}: no evolve run {ref!r}", "see `leafctl run list`")
    try:
        return _model_genomes(backend, ref, key, tmp)
    except NotFound:
        raise NotFound(f"{flag} {ref}: no evolve run, registered model or folder named {ref!r}",
                       "see `leafctl run list` and `leafctl model list`") from None


def check_layout(starts: list[Start], ds: Any, hidden: int) -> None:
    """Exit 2 (naming what differs) unless every start's genomes fit this run's data and hidden width."""
    from leafctl.esp.prescriptor import Layout  # noqa: PLC0415

    layout = Layout(ds.Xc.shape[1], hidden, ds.actions)
    for s in starts:
        s.genomes.for_layout(layout, ds.context, f"{FLAG[s.key]}")


def stage(starts: list[Start], folder: Path) -> None:
    """Write each start's genomes into the job's code folder under the name the staged config gives."""
    for s in starts:
        s.genomes.save(folder / s.file)


def tags(starts: list[Start]) -> dict[str, str]:
    return {TAG[s.key]: str(s.genomes.extra.get("ref") or s.ref) for s in starts}
