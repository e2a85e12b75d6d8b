"""Backend-independent helpers both backends share: names, URIs, checksums, safe paths, atomic
writes, version numbers and model selection.

Only the stdlib is imported: the CLI reaches this module on the start-up path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Iterable

from leafctl.errors import NotFound, UsageError

if TYPE_CHECKING:
    from leafctl.backends.base import Compute, Model

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
_URI = re.compile(r"^azureml://datastores/(?P<ds>[^/]+)/paths/?(?P<path>.*)$")
CHUNK = 1 << 20


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_name(kind: str, name: str) -> str:
    """Names become folder names and Azure resource names: letters, digits, '-' and '_' only."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(f"invalid {kind} name {name!r}",
                         "use letters, digits, '-' and '_', starting with a letter or digit")
    return name


# --- azureml:// URIs -------------------------------------------------------------------------

def format_uri(datastore: str, path: str) -> str:
    return f"azureml://datastores/{datastore}/paths/{path.lstrip('/')}"


def parse_uri(uri: str) -> tuple[str, str] | None:
    """``azureml://datastores/<ds>/paths/<p>`` -> (ds, p); None for anything else."""
    m = _URI.match(uri)
    return (m.group("ds"), m.group("path")) if m else None


def clean_store_path(path: str) -> str:
    """A datastore path in canonical form: forward slashes, no leading '/', no '.', no '..'.

    Datastore paths are relative to the datastore root; an absolute or escaping one is a usage
    error rather than something silently re-rooted, so a typo never reads or writes elsewhere.
    """
    raw = (path or "").replace("\\", "/")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise UsageError(f"datastore path {path!r} is absolute", "give a path relative to the datastore root, e.g. data/train.csv")
    parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".")]
    if ".." in parts:
        raise UsageError(f"datastore path {path!r} leaves the datastore", "remove the '..' components")
    return "/".join(parts)


def credential_kind(spec: Any) -> str:
    """A DatastoreSpec's kind of credential. Secrets must be env:NAME references (UsageError otherwise);
    only the kind is ever stored or printed."""
    from leafctl.profiles import is_reference

    for field in ("account_key", "sas_token", "client_secret"):
        value = getattr(spec, field)
        if value is not None and not is_reference(value):
            raise UsageError(f"{field} must be a reference to an environment variable, not a literal secret",
                             f"export it and pass env:NAME, e.g. --{field.replace('_', '-')} env:STORAGE_KEY")
    if spec.account_key:
        return "account_key"
    if spec.sas_token:
        return "sas"
    if spec.client_secret:
        return "service_principal"
    return "none"


# --- files -----------------------------------------------------------------------------------

def md5_file(path: Path, chunk: int = CHUNK) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def safe_join(root: Path, name: str) -> Path:
    """``root / name``, refusing a stored name that would land outside ``root``.

    Names come from storage listings (blob names, folder walks) that leafctl does not control: an
    absolute name, a '..' component or a symlink on the way out of ``root`` is refused (UsageError),
    never followed.
    """
    raw = name.replace("\\", "/")
    if not raw or raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or ".." in PurePosixPath(raw).parts:
        raise UsageError(f"refusing stored name {name!r}: it would land outside {root}",
                         "the source holds an unsafe path; fix or remove that entry")
    target = Path(root) / raw
    base = Path(root).resolve()
    resolved = target.resolve()  # follows symlinks already present on the way
    if resolved != base and base not in resolved.parents:
        raise UsageError(f"refusing stored name {name!r}: it resolves outside {root} (through a symlink)",
                         "remove the symlink or choose another destination")
    return target


def atomic_write(dest: Path, data: bytes | str) -> None:
    """Write a whole file or nothing: readers never see a half-written file."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, dest)
    except BaseException:
        _unlink(tmp)
        raise


def atomic_copy(src: Path, dest: Path, on_chunk=None) -> int:
    """Copy one file via a temp file in the destination folder + os.replace; returns bytes copied."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    n = 0
    try:
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            while block := fin.read(CHUNK):
                fout.write(block)
                n += len(block)
                if on_chunk:
                    on_chunk(len(block))
        shutil.copymode(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        _unlink(tmp)
        raise
    return n


def _unlink(p: str | Path) -> None:
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def walk_files(root: Path) -> list[tuple[str, Path]]:
    """(relative posix name, path) of every file under ``root``, sorted by name as a blob listing is;
    skips in-flight temp files."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.startswith(".") and fn.endswith(".tmp"):
                continue  # an in-flight atomic write of another process
            p = Path(dirpath) / fn
            out.append((p.relative_to(root).as_posix(), p))
    return sorted(out)


# --- versions --------------------------------------------------------------------------------

def next_version(existing: Iterable[str]) -> str:
    """Versions are strings "1", "2", ...: one more than the highest numeric one."""
    nums = [int(v) for v in existing if str(v).isdigit()]
    return str(max(nums, default=0) + 1)


def version_key(v: str) -> tuple[int, int, str]:
    """Sort numeric versions numerically, then any others by text."""
    return (0, int(v), "") if str(v).isdigit() else (1, 0, str(v))


def split_name_version(ref: str) -> tuple[str, str | None]:
    """``NAME[:VERSION]`` (also ``azureml:NAME:VERSION`` and ``NAME@latest``) -> (name, version|None)."""
    if ref.startswith("azureml:"):
        ref = ref[len("azureml:"):]
    if ref.endswith("@latest"):
        return ref[: -len("@latest")], None
    name, sep, version = ref.partition(":")
    return name, (version or None) if sep else None


# --- compute ---------------------------------------------------------------------------------

COMPUTE_TYPES = ("cluster", "instance")
TIERS = ("dedicated", "low_priority")


# A representative slice of Azure ML VM sizes: (name, vcpus, memory_gb, gpus, gpu_type).
SIZES: list[tuple[str, int, float, int, str | None]] = [
    ("Standard_DS2_v2", 2, 7, 0, None),
    ("Standard_DS3_v2", 4, 14, 0, None),
    ("Standard_DS4_v2", 8, 28, 0, None),
    ("Standard_DS5_v2", 16, 56, 0, None),
    ("Standard_D4s_v3", 4, 16, 0, None),
    ("Standard_D8s_v3", 8, 32, 0, None),
    ("Standard_D16s_v3", 16, 64, 0, None),
    ("Standard_E4s_v3", 4, 32, 0, None),
    ("Standard_E16s_v3", 16, 128, 0, None),
    ("Standard_F16s_v2", 16, 32, 0, None),
    ("Standard_F72s_v2", 72, 144, 0, None),
    ("Standard_NC6s_v3", 6, 112, 1, "V100"),
    ("Standard_NC12s_v3", 12, 224, 2, "V100"),
    ("Standard_NC24s_v3", 24, 448, 4, "V100"),
    ("Standard_NC4as_T4_v3", 4, 28, 1, "T4"),
    ("Standard_NC16as_T4_v3", 16, 110, 1, "T4"),
    ("Standard_NC64as_T4_v3", 64, 440, 4, "T4"),
    ("Standard_NC24ads_A100_v4", 24, 220, 1, "A100"),
    ("Standard_NC48ads_A100_v4", 48, 440, 2, "A100"),
    ("Standard_NC96ads_A100_v4", 96, 880, 4, "A100"),
    ("Standard_ND96asr_v4", 96, 900, 8, "A100"),
    ("Standard_ND96amsr_A100_v4", 96, 1900, 8, "A100 80GB"),
    ("Standard_NC40ads_H100_v5", 40, 320, 1, "H100 NVL"),
    ("Standard_NC80adis_H100_v5", 80, 640, 2, "H100 NVL"),
    ("Standard_ND96isr_H100_v5", 96, 1900, 8, "H100"),
]
DEFAULT_SIZE = "Standard_DS3_v2"
MAX_COUNT = 2**31 - 1  # Azure's node counts and durations are 32-bit; SQLite's INTEGER is 64-bit


def validate_compute(c: Compute) -> Compute:
    """Check a compute spec; raises UsageError (exit 2) naming the field and the fix."""
    check_name("compute", c.name)
    if c.type not in COMPUTE_TYPES:
        raise UsageError(f"compute type must be one of {', '.join(COMPUTE_TYPES)}, got {c.type!r}", "e.g. --type cluster")
    if c.tier not in TIERS:
        raise UsageError(f"tier must be one of {', '.join(TIERS)}, got {c.tier!r}", "e.g. --tier dedicated")
    for field in ("min_nodes", "max_nodes", "idle_seconds"):
        if not isinstance(getattr(c, field), int) or isinstance(getattr(c, field), bool):
            raise UsageError(f"{field} must be a whole number, got {getattr(c, field)!r}", f"e.g. --{field.replace('_', '-')} 2")
        if getattr(c, field) > MAX_COUNT:
            raise UsageError(f"{field} {getattr(c, field)} is too large", f"use at most {MAX_COUNT}")
    if c.max_nodes < 1:
        raise UsageError(f"max_nodes must be at least 1, got {c.max_nodes}", "e.g. --max-nodes 2")
    if c.min_nodes < 0:
        raise UsageError(f"min_nodes must be 0 or more, got {c.min_nodes}", "e.g. --min-nodes 0")
    if c.min_nodes > c.max_nodes:
        raise UsageError(f"min_nodes ({c.min_nodes}) is greater than max_nodes ({c.max_nodes})", "lower --min-nodes or raise --max-nodes")
    if c.idle_seconds < 0:
        raise UsageError(f"idle_seconds must be 0 or more, got {c.idle_seconds}", "e.g. --idle-seconds 120")
    if c.type == "instance" and c.max_nodes != 1:
        raise UsageError(f"a compute instance has exactly one node, got max_nodes {c.max_nodes}", "use --type cluster for more nodes")
    if not c.size or not isinstance(c.size, str) or not c.size.replace("_", "").isalnum():
        raise UsageError(f"invalid VM size {c.size!r}", "see `leafctl compute list-sizes`, e.g. --size Standard_DS3_v2")
    # Known sizes are stored in Azure's spelling, so the same size typed twice compares equal.
    known = {s[0].lower(): s[0] for s in SIZES}
    c.size = known.get(c.size.lower(), c.size)
    return c


# --- models ----------------------------------------------------------------------------------

def _number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def pick_best(models: list[Model], tag: str, lowest: bool = False) -> Model:
    """The model whose ``tag`` is highest (or lowest); versions without a numeric value are skipped."""
    usable = [(n, m) for m in models if (n := _number(m.tags.get(tag))) is not None]
    if not usable:
        name = models[0].name if models else "the model"
        raise NotFound(f"no version of {name} has a numeric {tag!r} tag",
                       f"tag versions when registering: --tag {tag}=0.93, or pick one with --version")
    # Ties go to the newest version: the latest retrained model usually is what people want.
    key = (lambda nm: (-nm[0] if lowest else nm[0], version_key(nm[1].version)))
    return max(usable, key=key)[1]


def write_metadata(dest: Path, model: Model) -> Path:
    """``metadata.json`` beside downloaded model files, as seed 004's fetch-model.py wrote it."""
    metrics = {k: n for k, v in model.tags.items() if (n := _number(v)) is not None}
    doc = {
        "name": model.name,
        "version": model.version,
        "type": model.type,
        "tags": dict(model.tags),
        "metrics": metrics,
        "description": model.description,
        "run_id": model.run_id,
        "created_at": model.created_at,
    }
    path = Path(dest) / "metadata.json"
    atomic_write(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path


# --- runs ------------------------------------------------------------------------------------


def wait_for_run(backend: Any, run_id: str, timeout: float | None, on_log: Any, poll: float,
                 read_logs: Any) -> Any:
    """``wait_run`` for both backends: follow the logs to ``on_log`` (if given), then poll the run
    until it ends or ``timeout`` seconds pass (OperationFailed, exit 1, naming how to go on)."""
    import time

    from leafctl.errors import OperationFailed

    deadline = None if timeout is None else time.monotonic() + timeout
    if on_log is not None:
        for line in read_logs(run_id, True, deadline):
            on_log(line)
    while True:
        run = backend.get_run(run_id)
        if run.done:
            return run
        if deadline is not None and time.monotonic() >= deadline:
            raise OperationFailed(f"run {run_id} is still {run.status} after {timeout:g} s",
                                  f"wait again with `leafctl run wait {run_id}`, or cancel it")
        time.sleep(poll)


# --- YAML files ------------------------------------------------------------------------------


def read_yaml_mapping(path: str | Path, what: str, flag: str, empty_ok: bool = True) -> tuple[str, dict[str, Any]]:
    """(text, mapping) of a YAML file given to ``flag``: exit 3 when it is missing, 2 when it is not
    UTF-8, not YAML, or not a mapping (an empty file is ``{}`` when ``empty_ok``)."""
    import yaml

    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{what} {p} not found", f"check the path given to {flag}") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise UsageError(f"{what} {p} is not a UTF-8 YAML file", f"give a .yml file to {flag}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UsageError(f"{what} {p}: invalid YAML{where}: {getattr(e, 'problem', None) or e}", "fix the YAML syntax") from None
    if doc is None and empty_ok:
        doc = {}
    if not isinstance(doc, dict):
        raise UsageError(f"{what} {p} must be a YAML mapping", f"see what {flag} expects in `--help`")
    return text, doc
