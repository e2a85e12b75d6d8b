"""Azurite, the Azure Storage emulator, as a pytest fixture.

The project installs it (``npm ci`` from the root ``package.json``); this module starts
``node_modules/.bin/azurite-blob`` on a free loopback port with a temporary ``--location``, waits until it
answers, and stops it when the session ends. Fault tests call ``stop()`` / ``start()`` (or ``kill()``) in
the middle of a test: the port and the data folder stay the same, so blobs survive a restart.

A missing ``node_modules`` is a FAILURE, not a skip: a suite that silently skipped every storage test
would pass without testing anything.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "node_modules" / ".bin" / "azurite-blob"

# The well-known development account of every Azure Storage emulator (public, documented by Microsoft).
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
API_VERSION = "2025-11-05"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Azurite:
    """One azurite-blob process on 127.0.0.1:<port>, data under ``location``."""

    account = ACCOUNT
    key = KEY

    def __init__(self, location: Path, port: int | None = None):
        self.location = Path(location)
        self.port = port or _free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.location / "azurite.log"

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint={self.blob_endpoint};")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        if self.running:
            return
        if not BIN.exists():
            raise RuntimeError(f"{BIN} is missing: run `npm ci --no-audit --no-fund` in {REPO} to install Azurite")
        self.location.mkdir(parents=True, exist_ok=True)
        cmd = [str(BIN), "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location", str(self.location),
               "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"azurite-blob exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(f"GET /{ACCOUNT}?comp=list HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                    if s.recv(16).startswith(b"HTTP/1."):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"azurite-blob did not answer on port {self.port} within {timeout:.0f}s")

    def _signal(self, sig: int) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)  # its own session: node and anything it spawned, nothing else
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def stop(self, timeout: float = 15.0) -> None:
        """Graceful stop: Azurite saves its metadata and logs "successfully closed", then lingers for a
        while with timers pending; it is killed as soon as that line appears."""
        if not self.running:
            self.proc = None
            return
        closed_before = self._closed_count()
        os.killpg(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self._closed_count() > closed_before:
                break
            time.sleep(0.02)
        self.kill()

    def _closed_count(self) -> int:
        try:
            return self.log.read_text(errors="replace").count("successfully closed")
        except FileNotFoundError:
            return 0

    def kill(self) -> None:
        """Abrupt stop, as a crash or a network cut looks to a client mid-transfer."""
        self._signal(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    # --- clients for tests --------------------------------------------------------------------

    def service_client(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string, api_version=API_VERSION)

    def new_container(self, prefix: str = "t") -> str:
        """A fresh, empty container; returns its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.service_client().create_container(name)
        return name


_INSTANCE: Azurite | None = None


def _shutdown() -> None:
    if _INSTANCE is not None:
        _INSTANCE.stop()
        shutil.rmtree(_INSTANCE.location, ignore_errors=True)


@pytest.fixture(scope="session")
def azurite():
    """The session's Azurite. Fails (does not skip) when the project's node_modules is missing.

    One process per pytest process, however many modules import this fixture (a fixture imported into
    several modules is instantiated once per module): it is stopped when the session's process exits.
    """
    global _INSTANCE
    if not BIN.exists():
        pytest.fail(f"Azurite is not installed ({BIN} is missing): run `npm ci --no-audit --no-fund` "
                    f"in {REPO} first (the CI script does)", pytrace=False)
    if _INSTANCE is None:
        _INSTANCE = Azurite(Path(tempfile.mkdtemp(prefix="leafctl-azurite-")))
        atexit.register(_shutdown)
    _INSTANCE.start()
    yield _INSTANCE


@pytest.fixture
def azurite_up(azurite):
    """The session's Azurite, guaranteed running at the start and restarted after a fault test."""
    azurite.start()
    yield azurite
    azurite.start()


# Containers of the fake workspace's datastores (tests/azure/fake_arm.py): workspaceblobstore, workspaceartifactstore.
FAKE_CONTAINERS = ("azureml-blobstore", "azureml")


@pytest.fixture
def az_backend(azurite_up, azure_profile, monkeypatch):
    """An AzureBackend on the fake control plane whose datastores' bytes live in Azurite.

    The profile points ``blob_endpoint`` at Azurite (through ``LEAFCTL_BLOB_ENDPOINT``); storage retries
    are off so fault tests stay fast.
    """
    from azure.core.exceptions import ResourceExistsError

    monkeypatch.setenv("LEAFCTL_BLOB_ENDPOINT", azurite_up.blob_endpoint)
    monkeypatch.setenv("LEAFCTL_STORAGE_RETRIES", "0")
    svc = azurite_up.service_client()
    for name in FAKE_CONTAINERS:
        try:
            svc.create_container(name)
        except ResourceExistsError:
            pass
    from leafctl.backends.azure import AzureBackend
    from leafctl.profiles import resolve

    return AzureBackend(resolve())
