"""Upload benchmark against Azurite: leafctl's transfer vs a plain sequential azure-storage-blob loop.

    .venv/bin/python bench/upload_azurite.py [--repeats 3] [--files 1000] [--big-mb 200] [--write]

Two workloads, each uploaded to a fresh prefix per repeat (so nothing is skipped):
- a folder of ``--files`` small files (1-16 KiB, seeded sizes and random bytes);
- one ``--big-mb`` MB file.
The baseline is what a seed-004-style script does: ``ContainerClient.upload_blob(name, f)`` per file,
default client settings, one after another. leafctl's side is ``transfer.upload_items`` (thread pool,
parallel blocks, Content-MD5 set on every blob) - the code behind ``leafctl data upload``.
Medians of ``--repeats`` runs, the two methods alternating. ``--write`` puts the table into
bench/RESULTS.md under "## Azure upload (Azurite)" (only that section is touched).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "azure"))

from azurite import Azurite  # noqa: E402  (tests/azure/azurite.py: starts node_modules/.bin/azurite-blob)

SECTION = "## Azure upload (Azurite)"


def make_data(root: Path, files: int, big_mb: int) -> tuple[Path, Path]:
    rnd = random.Random(4)
    folder = root / "folder"
    for i in range(files):
        sub = folder / f"part{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:05d}.bin").write_bytes(os.urandom(rnd.randint(1024, 16 * 1024)))
    big = root / "big" / "big.bin"
    big.parent.mkdir(parents=True)
    with open(big, "wb") as f:
        for _ in range(big_mb):
            f.write(os.urandom(1 << 20))
    return folder, big


def files_of(src: Path) -> list[tuple[str, Path]]:
    if src.is_file():
        return [(src.name, src)]
    return sorted((p.relative_to(src).as_posix(), p) for p in src.rglob("*") if p.is_file())


def baseline(az: Azurite, container: str, src: Path) -> float:
    from azure.storage.blob import BlobServiceClient

    cc = BlobServiceClient.from_connection_string(az.connection_string).get_container_client(container)
    prefix = uuid.uuid4().hex
    items = files_of(src)
    t = time.perf_counter()
    for name, p in items:
        with open(p, "rb") as f:
            cc.upload_blob(f"{prefix}/{name}", f)
    return time.perf_counter() - t


def leafctl_upload(az: Azurite, container: str, src: Path) -> float:
    from leafctl.backends.azure import transfer

    t = time.perf_counter()
    cc = transfer.container_client(az.blob_endpoint, container, {"account_name": az.account, "account_key": az.key})
    prefix = uuid.uuid4().hex
    _, items = transfer.plan_upload(src, prefix + ("/" if src.is_file() else ""), lambda: True)
    counts = transfer.upload_items(cc, items, prefix + "/")
    assert counts.files == len(items), counts
    return time.perf_counter() - t


def machine() -> str:
    import azure.storage.blob

    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    azv = (ROOT / "node_modules" / "azurite" / "package.json").read_text()
    azv = re.search(r'"version":\s*"([^"]+)"', azv).group(1)
    load = os.getloadavg()[0]
    return (f"Machine: {os.cpu_count()} CPUs (`nproc` = {os.cpu_count()}), CPU model \"{cpu}\", Python {platform.python_version()}, "
            f"azure-storage-blob {azure.storage.blob.__version__}, Azurite {azv} on node {node} (same machine, "
            f"`--location` on local disk, `--skipApiVersionCheck`), 1-minute load average {load:.1f} at the end.")


def write_results(text: str) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{SECTION}\n\n{text.strip()}\n"
    if SECTION in old:
        start = old.index(SECTION)
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + block + (old[nxt:] if nxt >= 0 else "")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new)


def azurite_cpu(az: Azurite) -> float:
    """User + system CPU seconds the Azurite process has used so far."""
    f = open(f"/proc/{az.proc.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--big-mb", type=int, default=200)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="leafctl-bench-") as tmp:
        tmp = Path(tmp)
        folder, big = make_data(tmp / "data", args.files, args.big_mb)
        az = Azurite(tmp / "azurite")
        az.start()
        try:
            svc = az.service_client()
            results: dict[tuple[str, str], list[float]] = {}
            cpu: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for workload, src in (("folder", folder), ("big", big)):
                for r in range(args.repeats):
                    order = [("baseline", baseline), ("leafctl", leafctl_upload)]
                    if r % 2:
                        order.reverse()
                    for label, fn in order:
                        container = f"b{uuid.uuid4().hex[:16]}"
                        svc.create_container(container)
                        a0, p0 = azurite_cpu(az), time.process_time()
                        secs = fn(az, container, src)
                        used = (time.process_time() - p0, azurite_cpu(az) - a0)
                        results.setdefault((workload, label), []).append(secs)
                        cpu.setdefault((workload, label), []).append(used)
                        print(f"{workload:6} {label:8} {secs:7.2f} s  client CPU {used[0]:.2f} s  Azurite CPU {used[1]:.2f} s", flush=True)
                        svc.delete_container(container)  # keep Azurite's disk use bounded
        finally:
            az.stop()

    med = {k: statistics.median(v) for k, v in results.items()}
    rows = []
    cpu_rows = []
    for workload, what in (("folder", f"{args.files} small files (1-16 KiB)"), ("big", f"one {args.big_mb} MB file")):
        b, lf = med[(workload, "baseline")], med[(workload, "leafctl")]
        runs = lambda k: ", ".join(f"{x:.2f}" for x in results[(workload, k)])  # noqa: E731
        rows.append(f"| {what} | {b:.2f} ({runs('baseline')}) | {lf:.2f} ({runs('leafctl')}) | {b / lf:.2f}x |")
        for label in ("baseline", "leafctl"):
            c = cpu[(workload, label)]
            cpu_rows.append(f"| {what}, {label} | {statistics.median(x[0] for x in c):.2f} | {statistics.median(x[1] for x in c):.2f} |")
    table = "\n".join(["| workload | sequential `upload_blob` loop, s | leafctl transfer, s | speed-up |",
                       "|---|---|---|---|", *rows])
    text = f"""{machine()}

`bench/upload_azurite.py --repeats {args.repeats}`: medians (each run in brackets), fresh prefix per run, the two
methods alternating. Baseline: `ContainerClient.upload_blob(name, f)` per file, default settings, in
sequence. leafctl: `transfer.upload_items` as `leafctl data upload` runs it (16 files in flight; one Put Blob up to 64 MiB, else 8 MiB blocks x 8 in flight; Content-MD5 computed and set on every blob).

{table}

CPU seconds per run (medians; client = this Python process, Azurite = the emulator's process):

| run | client CPU s | Azurite CPU s |
|---|---|---|
{chr(10).join(cpu_rows)}

Targets: >= 3x on the folder, no slower on the single file. The single file is met. The folder is NOT
met on this machine (about 2x, 1.7-2.3x across runs): both methods send exactly one Put Blob per file, and
each costs about 2-2.7 ms of Azurite CPU (single-threaded node) plus 2-3 ms of client CPU (azure-core
pipeline, shared-key signing, requests, MD5); with two CPUs shared by both processes and, while these
ran, by other test runs (load average 2.5-4.5), the wall time is bound by that CPU, not by latency, so
overlapping requests (16 in flight on one connection pool) buys about 2x over the sequential loop. The
client-side savings left (reading each file once for its MD5 and its upload, no per-request proxy lookup)
are in; a 3x margin would need a multi-core machine where Azurite and the client do not share two CPUs.
For big files, Azurite's Put Block + Put Block List path costs about 4x the CPU of one Put Blob (the
baseline pays it too): files up to 64 MiB go as one Put Blob, bigger ones as 8 MiB blocks, 8 in flight
(what real Azure rewards).
"""
    print(text)
    if args.write:
        write_results(text)


if __name__ == "__main__":
    main()
