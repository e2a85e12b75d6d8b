"""`run evolve` on Azure ML, kept as the names earlier releases offered; the work is ``leafctl.evolve``'s.

An azure profile's ``run evolve`` (``--remote`` is a synonym) plans the job with ``leafctl.evolve.plan``:
the code snapshot carries leafctl itself and the resolved config as ``config.toml``; the data goes up
once, content-addressed, to the default datastore under ``leafctl/evolve/<hash>/`` and is the job's
``data`` input; results land in the output ``result``; the environment is a CUDA 12 Azure ML image plus a
conda file with cupy-cuda12x. ``--dry-run`` builds the same job as az ml command-job YAML, offline.

    python -m leafctl.esp.job config.toml ${{outputs.result}} --data ${{inputs.data}} --set device=gpu

Azure ML pastes the mounted paths into that line itself, unquoted, and runs it with a shell; so leafctl
pastes nothing in, and uploads the data under a name that is plain letters (``data.csv`` when the
user's file name is not), which keeps a hostile file name from becoming shell code on the cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from leafctl import evolve as _service
from leafctl.errors import UsageError

if TYPE_CHECKING:
    from leafctl.backends.base import JobSpec, Run
    from leafctl.profiles import Settings

RESULT = _service.RESULT
IMAGE = _service.IMAGE
CONDA = _service.conda_file(mpi=False)
COMMAND = _service.COMMAND


def _cfg(config: Any, data_path: str | None) -> Any:
    from leafctl.esp.config import config_from_dict

    cfg = _service._as_config(config)
    if data_path:
        cfg = config_from_dict({"data": str(data_path)}, cfg)
    if not cfg.data:
        raise UsageError("no data to evolve on", "give --data PATH or set data in the config")
    return _service.config(flags=cfg.to_dict())


def build_evolve_job(config: Any, data_path: str | None, compute: str | None, experiment: str | None,
                     settings: Settings | None = None, display_name: str | None = None) -> tuple[JobSpec, str]:
    """The evolve job as a JobSpec (local code folder and data path) and as az ml command-job YAML."""
    p = _service.plan(_cfg(config, data_path), "azure", settings=settings, compute=compute, experiment=experiment,
                      name=display_name)
    return p.spec, p.yaml()


def submit_remote_evolve(config: Any, compute: str | None = None, experiment: str | None = None,
                         display_name: str | None = None, settings: Settings | None = None, dry_run: bool = False,
                         wait: bool = True, backend: Any = None, data_path: str | None = None,
                         on_log: Callable[[str], None] | None = None) -> str | Run:
    """Dry run: the job YAML (no network). Else the submitted Run, waited for (log lines to ``on_log``)
    unless ``wait`` is False; a waited-for run that did not complete is OperationFailed."""
    from leafctl.errors import OperationFailed

    if dry_run:
        return build_evolve_job(config, data_path, compute, experiment, settings, display_name)[1]
    if backend is None:
        raise UsageError("--remote needs the azure backend", "use a profile with backend = \"azure\"")
    p = _service.plan(_cfg(config, data_path), backend, settings=settings, compute=compute, experiment=experiment,
                      name=display_name)
    run = _service.submit(p)
    if not wait:
        return run
    run = _service.follow(run, backend, on_log=on_log)
    if run.status != "Completed":
        raise OperationFailed(f"evolve run {run.id} {run.status.lower()}", f"see `leafctl run logs {run.id}`")
    return run
