"""Backend-independent helpers both backends share: names, URIs, checksums, safe paths, atomic
writes, version numbers and model selection.

Only the stdlib is imported: the CLI reaches this module on the start-up path.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator

from leafctl.backends.debris import sweep_once, temp_file_name, temp_file_prefix
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
    if not isinstance(name, str) or not _NAME.fullmatch(name):  # fullmatch: "$" would let "x\n" through
        raise UsageError(f"invalid {kind} name {name!r}",
                         "use letters, digits, '-' and '_', starting with a letter or digit")
    return name


_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_version(kind: str, version: str) -> str:
    """An explicit asset version (environment, data asset): it becomes part of a REST URL on Azure
    (``.../versions/<v>``) and a registry key locally, so "../2", spaces or non-ASCII are refused."""
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise UsageError(f"invalid version {version!r} for {kind}",
                         "use letters, digits, '.', '-' and '_', starting with a letter or digit, e.g. --version 3")
    return version


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


def inside(path: str | Path, root: str | Path, what: str) -> Path:
    """``path`` (absolute or relative to ``root``) resolved, refused unless it lies inside ``root``.

    For every path read back from a registry row or a stored record before it is read, written or
    deleted: a tampered or corrupt row must never make leafctl touch anything outside its workspace.
    Raises OperationFailed (exit 1) naming ``what``; returns the resolved path.
    """
    from leafctl.errors import OperationFailed

    base = Path(root).resolve()
    p = Path(path)
    resolved = (p if p.is_absolute() else base / p).resolve()
    if resolved == base or base not in resolved.parents:
        raise OperationFailed(f"refusing {what}: its recorded path {str(path)!r} lies outside {base}",
                              "the registry row is corrupt or was edited; fix or remove that entry")
    return resolved


# --- writing into a destination folder ---------------------------------------------------------
# One rule for every download into a local folder (data, model and run downloads, both backends): a name
# lands inside the folder or is refused, and no symlink found below the folder is followed or replaced,
# neither on the way down (DIR/sub -> /elsewhere) nor at the final name. The folder itself may be a link:
# the user named it. Refusals are UsageError (exit 2): the destination the user gave is the problem.

def _dest_parts(root: Path, name: str) -> list[str]:
    raw = str(name).replace("\\", "/")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if not parts or raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or ".." in parts:
        raise UsageError(f"refusing stored name {name!r}: it would land outside {root}",
                         "the source holds an unsafe path; fix or remove that entry")
    return parts


def _link_refused(root: Path, parts: list[str]) -> UsageError:
    return UsageError(f"refusing to write through {Path(root, *parts)}: it is a symlink inside the destination {root}",
                      "remove the symlink or choose another destination")


def dest_file(root: Path, name: str) -> Path:
    """``root / name`` checked for writing, without writing: refused (UsageError) when ``name`` is absolute
    or has '..', or when a symlink already sits on its way below ``root`` or at the name itself.

    Callers check every name of a transfer first, so one bad entry means nothing is written; ``open_dest``
    checks again as it writes, without following links, so a link made in between is refused too."""
    parts = _dest_parts(root, name)
    p = Path(root)
    for i, part in enumerate(parts):
        p = p / part
        try:
            is_link = p.is_symlink()
        except OSError:
            break
        if is_link:
            raise _link_refused(root, parts[: i + 1])
        if not p.is_dir():
            break  # missing (it will be made) or a file in the way (open_dest reports it)
    return Path(root, *parts)


def _in_the_way(root: Path, parts: list[str]) -> Exception:
    from leafctl.errors import Conflict

    return Conflict(f"cannot write {Path(root, *parts)}: a file or folder of that name is in the way",
                    "remove it or choose another destination")


def user_mode(bits: int = 0o666) -> int:
    """``bits`` less the process's umask: the mode ``open()`` would give a new file. A file the user asked
    for (actions.csv, metadata.json, downloads) is theirs to share as their umask says; only the config
    file (leafctl.profiles) and lock files are always 0600. mkstemp's temp files are 0600, so writers
    that rename one into place chmod it to this first."""
    try:  # Linux tells the umask without changing it (setting it is process-wide, not thread-safe)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return bits & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return bits & ~mask


@contextmanager
def open_dest(root: Path, name: str, mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary file to write ``root / name`` whole or not at all, never through a symlink.

    Each folder on the way is made and opened relative to its parent's descriptor with O_NOFOLLOW, so a
    link there is refused, not followed, even one that appeared after ``dest_file`` looked; the bytes go to
    a temp file (O_EXCL | O_NOFOLLOW) in the final folder and one rename puts them in place. A symlink at
    the final name is refused rather than replaced. ``mode``: the new file's permission bits (default:
    0666 less the umask, as for any file the user's tools write)."""
    mode = user_mode() if mode is None else mode
    parts = _dest_parts(root, name)
    Path(root).mkdir(parents=True, exist_ok=True)
    fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY)]
    tmp = None
    try:
        for i, part in enumerate(parts[:-1]):
            try:
                os.mkdir(part, dir_fd=fds[-1])
            except FileExistsError:
                pass
            st = os.stat(part, dir_fd=fds[-1], follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise _link_refused(root, parts[: i + 1])
            if not stat.S_ISDIR(st.st_mode):
                raise _in_the_way(root, parts[: i + 1])
            try:
                fds.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fds[-1]))
            except OSError as e:  # ELOOP / ENOTDIR: swapped for a link or a file since the stat
                raise _link_refused(root, parts[: i + 1]) if e.errno == errno.ELOOP else _in_the_way(root, parts[: i + 1])
        folder, final = fds[-1], parts[-1]
        try:
            st = os.stat(final, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISLNK(st.st_mode):
                raise _link_refused(root, parts)
            if stat.S_ISDIR(st.st_mode):
                raise _in_the_way(root, parts)
        # The temp name carries this process's token: if it is killed, the next write here removes it.
        sweep_once(folder)
        tmp = temp_file_name(final)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
                os.fchmod(f.fileno(), mode)  # the bits exactly, whatever the umask
            os.replace(tmp, final, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=folder)
            except FileNotFoundError:
                pass
            raise
    except OSError as e:
        named = _named_in_full(e, root, parts, tmp)
        if named is e:
            raise
        raise named from e
    finally:
        for fd in fds:
            os.close(fd)


def _named_in_full(e: OSError, root: Path, parts: list[str], tmp: str | None) -> OSError:
    """``e`` naming the whole path. A call relative to a folder's descriptor names only its last part, so
    "cannot write MLmodel: the file system is read-only" would not say where: name root/…/MLmodel (the
    user's name for a temp file). An error naming something else, or nothing, is left as it is."""
    name = e.filename2 or e.filename
    if not isinstance(name, str) or os.path.isabs(name):
        return e
    if name in parts:
        full = Path(root, *parts[: parts.index(name) + 1])
    elif name == tmp:
        full = Path(root, *parts)
    else:
        return e
    return type(e)(e.errno, e.strerror, str(Path(full).absolute()))


def copy_into(src: Path, root: Path, name: str, on_chunk: Callable[[int], None] | None = None) -> int:
    """Copy the file ``src`` to ``root / name`` through ``open_dest`` (same permission bits); bytes copied."""
    n = 0
    with open(src, "rb") as fin, open_dest(root, name, stat.S_IMODE(os.fstat(fin.fileno()).st_mode)) as fout:
        while block := fin.read(CHUNK):
            fout.write(block)
            n += len(block)
            if on_chunk:
                on_chunk(len(block))
    return n


def plan_tree(src: Path, dest: Path, prefix: str = "", within: Path | None = None) -> list[tuple[str, Path]]:
    """(destination name, source file) for copying the folder ``src`` (a registered model, a run's output)
    to ``dest / prefix``, every destination name checked by ``dest_file`` (UsageError) before anything is
    written. With ``within`` (the workspace), symlinks (to files or folders) are copied through while they
    stay inside it, and one that points outside is refused (OperationFailed): leafctl copies what its
    workspace holds, not a file elsewhere that a job linked to."""
    from leafctl.errors import OperationFailed

    plan = []
    for name, p in walk_files(src, follow_links=within is not None):
        rel = f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name
        if within is not None:
            try:
                inside(p, within, f"file {rel!r}")
            except OperationFailed:
                link = _first_link(src, name, within)
                if link is None:  # no link on the way: the folder itself lies outside (a corrupt row)
                    raise
                raise OperationFailed(
                    f"refusing to copy {rel!r}: {link!r} in {src} is a symlink pointing outside the workspace "
                    f"{Path(within).resolve()} (to {os.readlink(src / link)!r})",
                    "leafctl copies only what the workspace holds: replace the link with a copy of the file "
                    "(a job should write its outputs, not link to files elsewhere)") from None
        dest_file(dest, rel)
        plan.append((rel, p))
    return plan


def _first_link(root: Path, name: str, within: Path) -> str | None:
    """The first symlink on the way from ``root`` to ``root / name`` that leads outside ``within``
    (the one to name in an error)."""
    base, parts = Path(within).resolve(), name.split("/")
    for i in range(1, len(parts) + 1):
        p = root.joinpath(*parts[:i])
        if p.is_symlink() and base not in p.resolve().parents:
            return "/".join(parts[:i])
    return None


def copy_tree_into(src: Path, dest: Path, prefix: str = "", within: Path | None = None) -> int:
    """``plan_tree`` then copy each file through ``copy_into``; the number of files."""
    plan = plan_tree(src, dest, prefix, within)
    for rel, p in plan:
        copy_into(p, dest, rel)
    return len(plan)


def atomic_write(dest: Path, data: bytes | str, mode: int | None = None) -> None:
    """Write a whole file or nothing: readers never see a half-written file. ``mode``: its permission
    bits (default: 0666 less the umask, like any file the user writes; mkstemp alone would give 0600)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sweep_once(dest.parent)  # temp files of killed leafctl processes (see leafctl.backends.debris)
    fd, tmp = tempfile.mkstemp(prefix=temp_file_prefix(dest.name), suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            os.fchmod(f.fileno(), user_mode() if mode is None else mode)
        os.replace(tmp, dest)
    except BaseException:
        _unlink(tmp)
        raise


def atomic_copy(src: Path, dest: Path, on_chunk=None) -> int:
    """Copy one file via a temp file in the destination folder + os.replace; returns bytes copied."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sweep_once(dest.parent)  # temp files of killed leafctl processes (see leafctl.backends.debris)
    fd, tmp = tempfile.mkstemp(prefix=temp_file_prefix(dest.name), suffix=".tmp", dir=dest.parent)
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


def walk_files(root: Path, links: list[str] | None = None, follow_links: bool = False) -> list[tuple[str, Path]]:
    """(relative posix name, path) of every file under ``root``, sorted by name as a blob listing is;
    skips in-flight temp files.

    Symlinks below ``root`` (a user's folder may link to files it does not mean to share):
    - ``links`` given: no link is followed; each one's relative name is appended to ``links`` so the
      caller can say so (``data upload`` without ``--follow-links``, on both backends);
    - ``follow_links``: file links are read through and folder links descended, each real folder once,
      so a link back up ends there instead of looping; a dangling link is left out;
    - neither: file links are listed like files and folder links are not descended (trees leafctl wrote
      itself, and datastore listings whose callers check where each entry resolves).
    """
    out = []
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=follow_links):
        here = Path(dirpath)
        if follow_links:
            st = os.stat(here)
            if (st.st_dev, st.st_ino) in seen:
                dirnames[:] = []
                continue
            seen.add((st.st_dev, st.st_ino))
        if links is not None and not follow_links:
            for d in [d for d in dirnames if (here / d).is_symlink()]:
                dirnames.remove(d)
                links.append((here / d).relative_to(root).as_posix())
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.startswith(".") and fn.endswith(".tmp"):
                continue  # an in-flight atomic write of another process
            p = here / fn
            if p.is_symlink():
                if links is not None and not follow_links:
                    links.append(p.relative_to(root).as_posix())
                    continue
                if follow_links and not p.is_file():
                    continue  # dangling: nothing to read
            out.append((p.relative_to(root).as_posix(), p))
    if links is not None:
        links.sort()
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
    # Through open_dest: a symlink planted at DIR/metadata.json is refused, like any downloaded file.
    with open_dest(Path(dest), "metadata.json") as f:
        f.write((json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    return Path(dest) / "metadata.json"


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


def yaml_load(text: str) -> Any:
    """``yaml.safe_load`` through libyaml's C parser where PyYAML has it (about 30x faster: a 20 MB
    spec in seconds rather than minutes); the same safe constructor, so the same documents result."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader


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
        doc = yaml_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UsageError(f"{what} {p}: invalid YAML{where}: {getattr(e, 'problem', None) or e}", "fix the YAML syntax") from None
    if doc is None and empty_ok:
        doc = {}
    if not isinstance(doc, dict):
        raise UsageError(f"{what} {p} must be a YAML mapping", f"see what {flag} expects in `--help`")
    return text, doc
