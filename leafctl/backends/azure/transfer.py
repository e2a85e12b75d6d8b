"""leafctl's own blob transfers (azure-storage-blob): parallel files, parallel blocks, MD5 skip, safe downloads.

- Many files go through a thread pool sharing one HTTP connection pool; a big file is cut into blocks
  uploaded in parallel (``max_concurrency``). Every upload sets Content-MD5 (block uploads do not compute
  it), so a re-upload compares the local MD5 with the blob's and skips unchanged files.
- Downloads check every blob name before writing anything (``../x``, absolute names and names reaching
  through a symlink in the destination are refused) and write each file atomically, never through a
  symlink (``common.open_dest``: the same rule as the local backend's downloads).
- Folder uploads leave symlinks out (``walk_files(links=...)``) unless asked to follow them.
- One pinned storage API version that both Azure and the Azurite emulator accept.
- A failure is one LeafctlError line that names the endpoint, never a credential.

Nothing here knows about Azure ML: storage.py resolves a datastore to a ``ContainerClient`` first.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from leafctl.backends.base import FileEntry, NullProgress, Progress
from leafctl.backends.common import dest_file, open_dest, walk_files
from leafctl.errors import AuthError, LeafctlError, NotFound, OperationFailed, UsageError

# Azurite 3.37 accepts up to 2026-06-06; azure-storage-blob 12.31 defaults to a newer one it rejects.
API_VERSION = "2025-11-05"
SINGLE_PUT = 64 << 20  # files up to this size are one Put Blob request (the SDK's own default)
SMALL = 8 << 20  # files up to this size are read whole and sent by any of the FILE_WORKERS
BLOCK = 8 << 20  # block size for bigger files
FILE_WORKERS = 16  # files in flight at once
BLOCK_WORKERS = 8  # blocks in flight for one big file
BIG_IN_FLIGHT = 4  # files over SMALL in flight at once (bounds memory: 4 x SINGLE_PUT)
READ = 1 << 20
RETRIES_ENV = "LEAFCTL_STORAGE_RETRIES"  # retries of a failed storage request (default 3; 0: none)
DEFAULT_RETRIES = 3


def storage_retries() -> int:
    """``LEAFCTL_STORAGE_RETRIES`` as a count; a value that is not a whole number >= 0 is a usage error (exit 2)."""
    raw = os.environ.get(RETRIES_ENV, "").strip()
    if not raw:
        return DEFAULT_RETRIES
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise UsageError(f"{RETRIES_ENV} must be a whole number of retries (0 or more), got {raw!r}",
                         f"unset it or e.g. {RETRIES_ENV}={DEFAULT_RETRIES}")
    return value


# --- clients ---------------------------------------------------------------------------------

def _session(pool: int) -> Any:
    import requests
    from requests.adapters import HTTPAdapter

    s = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool)
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    # requests re-reads the proxy variables from os.environ on every request (~0.5 ms each); without
    # proxy variables that work is pointless, so it is switched off. With them, proxies are honoured.
    if not any(k.lower().endswith("_proxy") for k in os.environ):
        s.trust_env = False
    return s


def container_client(account_url: str, container: str, credential: Any, pool: int = FILE_WORKERS + BLOCK_WORKERS) -> Any:
    """A ContainerClient with leafctl's transfer settings.

    ``credential``: an account key dict ``{"account_name", "account_key"}``, a SAS token string, a
    TokenCredential, or None (public container).
    """
    from azure.core.pipeline.transport import RequestsTransport
    from azure.storage.blob import ContainerClient, ExponentialRetry

    retries = storage_retries()
    return ContainerClient(
        account_url, container, credential=credential, api_version=API_VERSION,
        transport=RequestsTransport(session=_session(pool), session_owner=True),
        retry_policy=ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=retries, random_jitter_range=1),
        max_single_put_size=SINGLE_PUT, max_block_size=BLOCK, min_large_block_upload_threshold=1,
        max_single_get_size=SMALL, max_chunk_get_size=BLOCK,
        connection_timeout=20, read_timeout=120,
    )


def describe(cc: Any) -> str:
    """``account/container`` at the endpoint, for messages (the URL never carries a SAS here)."""
    return f"{cc.url.split('?', 1)[0]}"


def storage_error(e: BaseException, cc: Any, doing: str) -> LeafctlError:
    """One line for a storage failure; the credential never appears (only the endpoint does)."""
    from azure.core import exceptions as ce

    where = describe(cc)
    if isinstance(e, LeafctlError):
        return e
    if isinstance(e, ce.ClientAuthenticationError) or getattr(e, "status_code", None) in (401, 403):
        return AuthError(f"{doing}: storage at {where} refused the credential (HTTP {getattr(e, 'status_code', '?')})",
                         "check the datastore's credential and your role on the storage account")
    if isinstance(e, ce.ResourceNotFoundError):
        code = getattr(e, "error_code", None) or ""
        return NotFound(f"{doing}: {'container' if 'Container' in str(code) else 'blob'} not found at {where}",
                        "check the datastore and the path (`leafctl data ls`)")
    if isinstance(e, (ce.ServiceRequestError, ce.ServiceResponseError)):
        return OperationFailed(f"{doing}: lost the connection to storage at {where}",
                               "check that the storage endpoint is reachable, then re-run: files already transferred are skipped")
    if isinstance(e, ce.HttpResponseError):
        code = getattr(e, "error_code", None) or getattr(e, "status_code", "?")
        return OperationFailed(f"{doing}: storage at {where} answered {code}",
                               "re-run; files already transferred are skipped")
    if isinstance(e, OSError):
        return OperationFailed(f"{doing}: {e.strerror or e} ({e.filename or ''})".replace(" ()", ""), "check the local path")
    return OperationFailed(f"{doing}: {type(e).__name__}: {redact_url(' '.join(str(e).split()))[:300]}",
                           "rerun with --debug for details")


def redact_url(text: str) -> str:
    """Drop query strings (a SAS token is one) and signatures from text that may quote a URL."""
    text = re.sub(r"(https?://[^\s?'\"]+)\?[^\s'\"]*", r"\1", text)
    return re.sub(r"(?i)\b(sig|AccountKey)=[^&\s;'\"]+", r"\1=<redacted>", text)


# --- progress --------------------------------------------------------------------------------

class _SafeProgress:
    """Progress that many threads may advance."""

    def __init__(self, inner: Progress):
        self.inner, self.lock = inner, threading.Lock()

    def advance(self, n: int) -> None:
        if n:
            with self.lock:
                self.inner.advance(n)


# --- upload ----------------------------------------------------------------------------------

@dataclass
class Item:
    name: str  # blob name
    path: Path  # local file
    size: int


@dataclass
class Counts:
    files: int = 0
    skipped: int = 0
    bytes: int = 0


def md5_of(path: Path) -> bytes:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(READ):
            h.update(block)
    return h.digest()


def remote_index(cc: Any, prefix: str) -> dict[str, tuple[int, bytes | None]]:
    """blob name -> (size, Content-MD5) for every blob under ``prefix`` (one listing call per 5,000)."""
    out = {}
    for b in cc.list_blobs(name_starts_with=prefix or None):
        if b.name.endswith("/"):
            continue
        md5 = b.content_settings.content_md5 if b.content_settings else None
        out[b.name] = (b.size, bytes(md5) if md5 else None)
    return out


def is_folder(cc: Any, path: str) -> bool:
    """True when blobs exist under ``path/`` (a folder in the datastore)."""
    if not path:
        return True
    for _ in cc.list_blobs(name_starts_with=path.rstrip("/") + "/", results_per_page=1):
        return True
    return False


def plan_upload(src: Path, rel: str, dest_is_folder: Callable[[], bool], links: list[str] | None = None,
                follow_links: bool = False) -> tuple[str, list[Item]]:
    """(destination path, items): a folder's files go under ``rel`` (or the folder's name when ``rel`` is
    empty); a file goes to ``rel``, or into it when ``rel`` is empty, ends in '/' or is a folder.
    Symlinks inside a folder: as ``walk_files`` (left out and named in ``links``, or followed)."""
    if src.is_dir():
        rel = rel.rstrip("/") or src.name
        files = walk_files(src, links=links, follow_links=follow_links)
        return rel, [Item(f"{rel}/{name}", p, p.stat().st_size) for name, p in files]
    if not rel or rel.endswith("/") or dest_is_folder():
        rel = f"{rel.rstrip('/')}/{src.name}".lstrip("/")
    return rel, [Item(rel, src, src.stat().st_size)]


def _upload_one(cc: Any, item: Item, md5: bytes, progress: _SafeProgress, data: bytes | None = None) -> None:
    from azure.storage.blob import ContentSettings

    settings = ContentSettings(content_type=mimetypes.guess_type(item.name)[0] or "application/octet-stream",
                               content_md5=bytearray(md5))
    blob = cc.get_blob_client(item.name)
    if data is not None or item.size <= SINGLE_PUT:
        data = item.path.read_bytes() if data is None else data
        blob.upload_blob(data, length=len(data), overwrite=True, content_settings=settings, max_concurrency=1)
        progress.advance(len(data))
        return
    done = [0]

    def hook(current: int, total: int | None) -> None:
        progress.advance(current - done[0])
        done[0] = current

    with open(item.path, "rb") as f:
        blob.upload_blob(f, length=item.size, overwrite=True, content_settings=settings,
                         max_concurrency=BLOCK_WORKERS, progress_hook=hook)
    progress.advance(item.size - done[0])


def upload_items(cc: Any, items: list[Item], prefix: str, progress: Progress | None = None,
                 description: str = "upload", workers: int = FILE_WORKERS) -> Counts:
    """Upload ``items``, skipping those whose size and MD5 match the blob already there."""
    progress = progress or NullProgress()
    counts = Counts()
    lock = threading.Lock()
    safe = _SafeProgress(progress)
    progress.start(sum(i.size for i in items), description)
    try:
        existing = remote_index(cc, prefix)
    except Exception as e:
        if type(e).__name__ == "ResourceNotFoundError":
            raise NotFound(f"container not found at {describe(cc)}", "check the datastore (`leafctl data store show`)") from e
        raise storage_error(e, cc, "upload failed") from e

    big = threading.BoundedSemaphore(BIG_IN_FLIGHT)

    def one(item: Item) -> None:
        if item.size <= SMALL:
            return one_file(item)
        with big:
            return one_file(item)

    def one_file(item: Item) -> None:
        # A file up to SINGLE_PUT is read once: its MD5 and its upload come from the same bytes.
        data = item.path.read_bytes() if item.size <= SINGLE_PUT else None
        md5 = hashlib.md5(data, usedforsecurity=False).digest() if data is not None else md5_of(item.path)
        have = existing.get(item.name)
        if have is not None and have[0] == item.size and have[1] == md5:
            with lock:
                counts.skipped += 1
            safe.advance(item.size)
            return
        try:
            _upload_one(cc, item, md5, safe, data)
        except Exception as e:
            raise storage_error(e, cc, f"upload of {item.name} failed") from e
        with lock:
            counts.files += 1
            counts.bytes += item.size

    # Big files first: their blocks keep the pipe full while the small files trickle in beside them.
    ordered = sorted(items, key=lambda i: -i.size)
    _run_all(one, ordered, workers)
    progress.finish()
    return counts


def _run_all(fn: Callable[[Any], None], items: Iterable[Any], workers: int) -> None:
    """Run ``fn`` over ``items`` in a pool; the first error cancels what has not started and is raised."""
    items = list(items)
    if not items:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items))), thread_name_prefix="leafctl-xfer") as ex:
        futures = [ex.submit(fn, it) for it in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for f in pending:
            f.cancel()
        errors = [f.exception() for f in done if f.exception() is not None]
        if not errors:
            for f in futures:
                if not f.cancelled() and f.exception() is not None:
                    errors.append(f.exception())
    if errors:
        raise errors[0]


# --- download and ls -------------------------------------------------------------------------

def is_dir_marker(b: Any) -> bool:
    """ADLS Gen2 (hierarchical namespace) lists folders as empty blobs with ``hdi_isfolder=true``."""
    return b.name.endswith("/") or str((getattr(b, "metadata", None) or {}).get("hdi_isfolder", "")).lower() == "true"


def _files(cc: Any, prefix: str | None) -> list[Any]:
    return [b for b in cc.list_blobs(name_starts_with=prefix or None, include=["metadata"]) if not is_dir_marker(b)]


def list_under(cc: Any, path: str) -> tuple[list[Any], str]:
    """(blobs, base): the one blob named ``path``, or every blob under ``path/``; names relative to base.
    Folder markers (ADLS Gen2) are left out."""
    path = path.strip("/")
    if path:
        blobs = _files(cc, path)
        exact = [b for b in blobs if b.name == path]
        under = [b for b in blobs if b.name.startswith(path + "/")]
        if under:
            return under, path + "/"
        if exact:
            return exact, path.rpartition("/")[0] + "/" if "/" in path else ""
        return [], path + "/"
    return _files(cc, None), ""


def download_blobs(cc: Any, blobs: list[Any], base: str, dest: Path, progress: Progress | None = None,
                   description: str = "download", workers: int = FILE_WORKERS) -> Counts:
    """Download ``blobs`` into ``dest`` (names relative to ``base``); unchanged local files are skipped."""
    progress = progress or NullProgress()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    # Check every name before writing anything: one unsafe name and nothing is written.
    plan = [(b, b.name[len(base):], dest_file(dest, b.name[len(base):])) for b in blobs if not is_dir_marker(b)]
    counts = Counts()
    lock = threading.Lock()
    safe = _SafeProgress(progress)
    progress.start(sum(b.size for b, _, _ in plan), description)

    def one(job: tuple[Any, str, Path]) -> None:
        blob, name, target = job
        md5 = blob.content_settings.content_md5 if blob.content_settings else None
        if md5 and target.is_file() and target.stat().st_size == blob.size and md5_of(target) == bytes(md5):
            with lock:
                counts.skipped += 1
            safe.advance(blob.size)
            return
        try:
            with open_dest(dest, name) as f:
                done = [0]

                def hook(current: int, total: int | None) -> None:
                    safe.advance(current - done[0])
                    done[0] = current

                stream = cc.get_blob_client(blob.name).download_blob(
                    max_concurrency=BLOCK_WORKERS if blob.size > SMALL else 1, progress_hook=hook)
                stream.readinto(f)
                safe.advance(blob.size - done[0])
        except Exception as e:  # open_dest removed its temp file; a LeafctlError (a link refused) passes through
            raise storage_error(e, cc, f"download of {blob.name} failed") from e
        with lock:
            counts.files += 1
            counts.bytes += blob.size

    _run_all(one, plan, workers)
    progress.finish()
    return counts


def entries(blobs: Iterable[Any]) -> list[FileEntry]:
    out = []
    for b in blobs:
        md5 = b.content_settings.content_md5 if b.content_settings else None
        when = b.last_modified.astimezone(timezone.utc).isoformat(timespec="seconds") if b.last_modified else None
        out.append(FileEntry(path=b.name, size=b.size, md5=bytes(md5).hex() if md5 else None, modified_at=when))
    return out
