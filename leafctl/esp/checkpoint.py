"""The run's checkpoint: what a killed run needs to continue exactly where it stopped.

``checkpoint.npz`` holds the population (theta), its objectives (F), the front archive's (archive_theta,
archive_F; archive.py) and a JSON ``meta``: generation,
the host RNG's bit-generator state, the history so far, the hypervolume reference, the config and the
data's sha256. It is replaced atomically after a generation, so a kill leaves the last good one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leafctl.errors import UsageError
from leafctl.esp.files import atomic_savez

FILE = "checkpoint.npz"
# What a resumed run may change; everything else in the config must match the checkpoint's.
# The data is compared by content (data_sha256), not path: a job's input mount moves between runs.
MAY_CHANGE = ("generations", "device", "checkpoint_every", "data",
              # Only generation 0 reads these (seeding.py); a resumed run never builds it again.
              "seed_policies", "seed_from", "warm_start")
# Keys added after checkpoints were first written, with the value older runs had.
_BEFORE = {"islands": 1, "migrate_every": 10, "migrants": 2,
           "integer": [], "action_range": {}, "simplex": [], "constraints": [], "risk": 0.0,
           # Mode esp's settings: older runs were leaf or nsga2, where they do nothing (so they take
           # today's defaults, and an old leaf or nsga2 run still resumes).
           "context_crossover": 1.0, "decision_prob": 1.0, "flip_prob": 0.0, "reset_prob": 0.0,
           "behaviour_contexts": 32, "history_prob": 0.5,
           # Runs before the front archive reported their final population alone.
           "archive": 0}


def as_started(config: Any, meta: dict[str, Any]) -> None:
    """Give ``config`` (to resume the run of checkpoint ``meta``) the value an older release ran with
    for each key of _BEFORE that the checkpoint's config lacks, where ``config`` holds today's default
    for it: a run written before a key existed continues as it started (an older run had no front
    archive, whatever today's default). Any other value is left for check_same_run to refuse."""
    from leafctl.esp.config import default_of  # noqa: PLC0415

    written = meta.get("config", {})
    for key, old in _BEFORE.items():
        if key not in written and getattr(config, key) == default_of(key):
            setattr(config, key, old)


# What a run settles when it starts and keeps when resumed, recorded in every checkpoint's meta:
# whether whole-number action columns were detected as integer actions (data._spec) and the CPU
# evaluation path ("fused": cpu_fused.py, "numpy"; the two round differently). A checkpoint without
# these keys was written by a release before either existed: no detection, NumPy.
OLDER_RELEASE = {"integer_detection": False, "cpu_evaluation": "numpy"}


def started_with(meta: dict[str, Any] | None) -> dict[str, Any]:
    """The settings of OLDER_RELEASE's keys that the run of checkpoint ``meta`` started with; for a
    fresh run (``meta`` None) integer detection on and the CPU path left to the Problem (None)."""
    if meta is None:
        return {"integer_detection": True, "cpu_evaluation": None}
    return {k: meta.get(k, v) for k, v in OLDER_RELEASE.items()}


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    d = {**_BEFORE, **config}
    # The predictor in its one spelling: older checkpoints wrote predictor = "mlp" and predictor_hidden.
    from leafctl.esp.config import canonical_predictor  # noqa: PLC0415

    d["predictor"] = canonical_predictor(d.get("predictor", "mlp"), d.pop("predictor_hidden", None))
    return {k: v for k, v in d.items() if k not in MAY_CHANGE}


def check_same_run(meta: dict[str, Any], config: dict[str, Any], data_hash: str, out: Path, data_name: str) -> None:
    """UsageError unless ``meta`` (a checkpoint's) belongs to a run of this config on this data."""
    if comparable(meta.get("config", {})) != comparable(config):
        raise UsageError(f"{out} holds a run with a different config",
                         "resume with the same config (only generations and device may change) "
                         "or use a new output folder")
    if meta.get("data_sha256") not in (None, data_hash):
        raise UsageError(f"{out} holds a run on different data than {data_name}",
                         "resume with the same data file or use a new output folder")


def save(path: Path, theta: Any, F: Any, meta: dict[str, Any], archive: tuple[Any, Any] | None = None) -> None:
    """Write the checkpoint; ``archive`` (genomes, objectives) is the front archive's (archive.py)."""
    import numpy as np  # noqa: PLC0415

    atomic_savez(path, theta=theta, F=F, meta=np.array(json.dumps(meta)), **archive_arrays(archive))


def load(path: Path) -> dict[str, Any]:
    """{"theta", "F", "meta", "archive"} of a checkpoint file (no pickles); "archive" is the front
    archive's (genomes, objectives), None in a run without one."""
    import numpy as np  # noqa: PLC0415

    with np.load(path, allow_pickle=False) as z:
        return {"theta": z["theta"], "F": z["F"], "meta": json.loads(str(z["meta"])), "archive": read_archive(z)}


def archive_arrays(archive: tuple[Any, Any] | None) -> dict[str, Any]:
    """The npz entries a checkpoint (this run's, or an island's: islands.py) keeps the front archive
    in; none without one."""
    return {} if archive is None else {"archive_theta": archive[0], "archive_F": archive[1]}


def read_archive(z: Any) -> tuple[Any, Any] | None:
    """The front archive (genomes, objectives) of an open checkpoint npz; None if it has none."""
    return (z["archive_theta"], z["archive_F"]) if "archive_theta" in z.files else None
