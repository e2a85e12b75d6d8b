"""LEAFCTL_REQUIRE_GPU=1 (set by bench/gpu_check.sh on a GPU machine): the GPU tests' skips become
failures, so a run that was meant to exercise CuPy, nvcc and the device cannot pass by skipping them."""

from __future__ import annotations

import os
from typing import Any

import pytest


def required() -> bool:
    return os.environ.get("LEAFCTL_REQUIRE_GPU", "") == "1"


def skip_unless(missing: bool, reason: str) -> pytest.MarkDecorator:
    """skipif(missing), except under LEAFCTL_REQUIRE_GPU=1, where the test runs (and fails) instead."""
    return pytest.mark.skipif(missing and not required(), reason=reason)


class Missing:
    """Stands in for a module that failed to load: any use fails the test, naming why."""

    def __init__(self, reason: str):
        self._reason = reason

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "pytestmark":  # pytest's own probes while collecting
            raise AttributeError(name)
        pytest.fail(f"LEAFCTL_REQUIRE_GPU=1 but {self._reason}")


def cupy_on_a_device() -> tuple[Any, pytest.MarkDecorator]:
    """(cupy, the skip mark for tests that need it): cupy when it imports and sees a CUDA device; else
    None and a skip — or, under LEAFCTL_REQUIRE_GPU=1, a ``Missing`` that fails the test that uses it."""
    cp = None
    try:
        import cupy  # noqa: PLC0415

        if cupy.cuda.runtime.getDeviceCount() > 0:
            cp = cupy
    except Exception:
        pass
    reason = "CuPy with a CUDA device is not available"
    mark = skip_unless(cp is None, reason=reason)
    return (Missing(reason) if cp is None and required() else cp), mark
