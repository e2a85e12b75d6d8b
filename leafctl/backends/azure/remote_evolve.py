"""`run evolve --remote`: LEAF-ESP as an Azure ML command job on a GPU cluster.

The job's code snapshot carries leafctl itself (the installed package's source, minus caches) and the
resolved config as ``config.toml``; the data goes up once, content-addressed, to the default datastore
under ``leafctl/evolve/<hash>/`` and is the job's ``data`` input; results land in the output ``result``.
The environment is a CUDA base image plus a conda file with CuPy. ``--dry-run`` builds the same job as
``az ml`` command-job YAML, offline: nothing is uploaded or submitted.

    python -m leafctl.esp.job config.toml ${{outputs.result}} --data ${{inputs.data}} --set device=gpu

Azure ML pastes the mounted paths into that line itself, unquoted, and runs it with a shell; so leafctl
pastes nothing in, and uploads the data under a name that is plain letters (``data.csv`` when the
user's file name is not), which keeps a hostile file name from becoming shell code on the cluster.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from leafctl.backends.base import JobSpec
from leafctl.errors import OperationFailed, UsageError

if TYPE_CHECKING:
    from leafctl.backends.base import Run
    from leafctl.profiles import Settings

RESULT = "result"
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04"
CONDA = {
    "name": "leafctl-esp-gpu",
    "channels": ["conda-forge"],
    "dependencies": [
        "python=3.11",
        "pip",
        {"pip": ["numpy>=1.26", "cupy-cuda12x", "typer>=0.24.1,<0.25", "click>=8.2.1", "rich>=13", "tomli-w>=1.0",
                 "pyyaml>=6", "jmespath>=1.0", "pyarrow>=14"]},  # pyarrow: the job reads the table
    ],
}
COMMAND = (f"python -m leafctl.esp.job config.toml ${{{{outputs.{RESULT}}}}} "
           f"--data ${{{{inputs.data}}}} --set device=gpu")
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", "*.egg-info")


def _config(config: Any, data_path: str | None) -> tuple[Any, str]:
    """(validated EvolveConfig, data path) from an EvolveConfig, a dict, or a TOML path."""
    from leafctl.esp.engine import EvolveConfig, config_from_dict, load_config

    if isinstance(config, EvolveConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = config_from_dict(config)
    else:
        cfg = load_config(config)
    if data_path:
        cfg = config_from_dict({"data": str(data_path)}, cfg)
    cfg = cfg.validate()
    if not cfg.data:
        raise UsageError("no data to evolve on", "give --data PATH or set data in the config")
    return cfg, cfg.data


def snapshot_dir(cfg: Any) -> Path:
    """The job's code folder, content-addressed under $LEAFCTL_HOME/cache/evolve/ (built once per content)."""
    import tempfile

    import tomli_w

    import leafctl
    from leafctl.profiles import data_home

    d = cfg.to_dict()
    d["data"] = "data.csv"  # the job passes the real path: --data ${{inputs.data}}
    d["device"] = "gpu"
    config_text = tomli_w.dumps(d)
    with tempfile.TemporaryDirectory(prefix="leafctl-snap-") as tmp:
        staged = Path(tmp) / "snap"
        shutil.copytree(Path(leafctl.__file__).parent, staged / "leafctl", ignore=SKIP)
        (staged / "config.toml").write_text(config_text, encoding="utf-8")
        from leafctl.backends.azure.jobs import tree_hash

        digest = tree_hash(staged)
        final = data_home() / "cache" / "evolve" / digest
        if not final.is_dir():
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.move(str(staged), str(final))
            except OSError:
                if not final.is_dir():
                    raise
    return final


def evolve_environment() -> Any:
    from azure.ai.ml.entities import Environment

    return Environment(image=IMAGE, conda_file=CONDA, description="leafctl LEAF-ESP on CUDA (CuPy)")


def build_evolve_job(config: Any, data_path: str | None, compute: str | None, experiment: str | None,
                     settings: Settings | None = None, display_name: str | None = None) -> tuple[JobSpec, str]:
    """The evolve job as a JobSpec (local code folder and data path) and as az ml command-job YAML."""
    import yaml

    cfg, data = _config(config, data_path)
    compute = compute or (settings.get("compute") if settings else None)
    if not compute:
        raise UsageError("a remote evolve run needs a GPU compute", "pass --compute NAME or `leafctl config set compute NAME`")
    experiment = experiment or (settings.get("experiment") if settings else None) or "leaf-esp"
    code = snapshot_dir(cfg)
    env_ref = settings.get("environment") if settings else None
    spec = JobSpec(command=COMMAND, code=str(code), inputs={"data": data}, outputs={RESULT: None},
                   environment=env_ref, compute=compute, experiment=experiment,
                   display_name=display_name or "evolve", tags={"leafctl.kind": "evolve"}, kind="evolve")
    doc: dict[str, Any] = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
        "type": "command",
        "display_name": spec.display_name,
        "experiment_name": experiment,
        "compute": f"azureml:{compute}",
        "code": str(code),
        "command": COMMAND,
        "inputs": {"data": {"type": "uri_file", "path": data}},
        "outputs": {RESULT: {"type": "uri_folder", "mode": "rw_mount"}},
        "environment": env_ref if env_ref else {"image": IMAGE, "conda_file": CONDA},
        "tags": dict(spec.tags),
    }
    if env_ref and not str(env_ref).startswith("azureml:"):
        doc["environment"] = f"azureml:{env_ref}"
    return spec, yaml.safe_dump(doc, sort_keys=False, width=1000)


def data_uri(backend: Any, data: str) -> str:
    """Upload the data file once (content-addressed) to the default datastore; its azureml:// URI."""
    if "://" in data or data.startswith("azureml:"):
        return data
    p = Path(data).expanduser()
    if not p.is_file():
        raise UsageError(f"data file {data!r} not found", "check --data or the config's data key")
    digest = hashlib.sha256(p.read_bytes()).hexdigest()[:32]
    ds = backend._default_datastore_name()
    # The mounted path ends in this name and Azure ML pastes it into the command raw: no shell characters.
    name = p.name if _PLAIN_NAME.match(p.name) else "data.csv"
    return backend.upload(p, f"leafctl/evolve/{digest}/{name}", datastore=ds).uri


def submit_remote_evolve(config: Any, compute: str | None = None, experiment: str | None = None,
                         display_name: str | None = None, settings: Settings | None = None, dry_run: bool = False,
                         wait: bool = True, backend: Any = None, data_path: str | None = None,
                         on_log: Callable[[str], None] | None = None) -> str | Run:
    """What the CLI calls. Dry run: the job YAML (no network). Else the submitted Run, waited for
    (logs streamed to ``on_log``, stderr by default) unless ``wait`` is False."""
    spec, text = build_evolve_job(config, data_path, compute, experiment, settings, display_name)
    if dry_run:
        return text
    if backend is None:
        raise UsageError("--remote needs the azure backend", "use a profile with backend = \"azure\"")
    from leafctl.backends.azure.errors import sdk_errors
    from leafctl.backends.azure.jobs import run_record

    with sdk_errors(getattr(backend, "auth_mode", "default")):
        spec.inputs = {"data": data_uri(backend, spec.inputs["data"])}
        env = None if spec.environment else evolve_environment()
        job = backend.build_command_job(spec, environment=env)
        run = run_record(backend.client.jobs.create_or_update(job))
    if not wait:
        return run
    print(f"submitted evolve run {run.id} on {run.compute}", file=sys.stderr, flush=True)
    log = on_log or (lambda line: print(line, file=sys.stderr, flush=True))
    run = backend.wait_run(run.id, on_log=log)
    if run.status != "Completed":
        raise OperationFailed(f"evolve run {run.id} {run.status.lower()}", f"see `leafctl run logs {run.id}`")
    return run
