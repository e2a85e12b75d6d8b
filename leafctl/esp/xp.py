"""One array-module switch: every numeric routine takes ``xp`` (numpy or cupy) and is written once.

CuPy is imported lazily and only here, so a machine without CUDA never pays for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from leafctl.errors import UsageError

DEVICES = ("auto", "cpu", "gpu")


def _cupy_or_none() -> Any:
    try:
        import cupy  # noqa: PLC0415 - lazy on purpose

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
        return cupy
    except Exception:  # ImportError, CUDARuntimeError, missing driver: all mean "no GPU here"
        return None


def get_xp(device: str = "auto") -> Any:
    """numpy for ``cpu``; cupy for ``gpu`` (error if unusable); ``auto`` prefers cupy, falls back."""
    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}", "use one of: auto, cpu, gpu")
    if device == "cpu":
        return np
    cp = _cupy_or_none()
    if cp is not None:
        return cp
    if device == "gpu":
        raise UsageError("device 'gpu' requested but CuPy or a CUDA device is not available",
                         "install CuPy for CUDA 12 (pip install 'leafctl[gpu]', i.e. cupy-cuda12x) or use --device cpu")
    return np


def is_gpu(xp: Any) -> bool:
    return xp is not np


def to_numpy(a: Any) -> np.ndarray:
    """Host copy of an array from either module (no copy for numpy input)."""
    if isinstance(a, np.ndarray):
        return a
    get = getattr(a, "get", None)
    return get() if get is not None else np.asarray(a)


class DeviceRandom:
    """Random draws on the array's own device, reproducible from one host ``numpy.random.Generator``.

    The host generator is the only state a checkpoint needs (its bit-generator state is plain JSON).
    On CPU draws come straight from it. On GPU, each ``for_step()`` seeds a fresh CuPy generator from
    the host generator, so a resumed run replays exactly the same device draws.
    """

    def __init__(self, xp: Any, host: np.random.Generator):
        self.xp = xp
        self.host = host
        self._dev = None

    def for_step(self) -> "DeviceRandom":
        if is_gpu(self.xp):
            self._dev = self.xp.random.RandomState(int(self.host.integers(0, 2**31 - 1)))
        return self

    def random(self, shape: tuple[int, ...]) -> Any:
        if self._dev is not None:
            return self._dev.random_sample(shape, dtype=self.xp.float32)
        return self.host.random(shape, dtype=np.float32)

    def normal(self, shape: tuple[int, ...]) -> Any:
        if self._dev is not None:
            return self._dev.standard_normal(shape, dtype=self.xp.float32)
        return self.host.standard_normal(shape, dtype=np.float32)

    def integers(self, high: int, shape: tuple[int, ...]) -> Any:
        if self._dev is not None:
            return self._dev.randint(0, high, size=shape)
        return self.host.integers(0, high, size=shape)
