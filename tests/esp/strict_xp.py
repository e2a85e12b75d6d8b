"""A stand-in for CuPy made of NumPy, strict where CuPy is: its arrays ("device arrays") refuse NumPy's
own functions, as a CuPy array does (``numpy.concatenate(cupy_array)`` raises), while operators,
indexing and array methods work. Code written against ``xp`` runs on it unchanged; code that calls a
``numpy.*`` function on an ``xp`` array fails here as it would on a GPU.

Only for tests: a GPU path that calls numpy-only functions is found without a GPU.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np


class DeviceArray(np.ndarray):
    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        raise TypeError(f"numpy.{func.__name__} called on a device array (use xp.{func.__name__})")


def _down(a: Any) -> Any:
    if isinstance(a, DeviceArray):
        return a.view(np.ndarray)
    if isinstance(a, (list, tuple)):
        return type(a)(_down(x) for x in a)
    return a


def _up(a: Any) -> Any:
    if isinstance(a, np.ndarray) and not isinstance(a, DeviceArray):
        return a.view(DeviceArray)
    if isinstance(a, tuple):
        return tuple(_up(x) for x in a)
    return a


def _wrap(fn: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return _up(fn(*_down(args), **{k: _down(v) for k, v in kwargs.items()}))
    return call


def module(base: types.ModuleType = np) -> types.ModuleType:
    m = types.ModuleType(f"strict_{base.__name__}")

    def __getattr__(name: str) -> Any:
        obj = getattr(base, name)
        if isinstance(obj, types.ModuleType):  # xp.linalg, as cupy.linalg
            return module(obj)
        return obj if isinstance(obj, (type, np.dtype)) or not callable(obj) else _wrap(obj)

    m.__getattr__ = __getattr__  # PEP 562: looked up in the module's namespace
    return m


def to_host(a: Any) -> np.ndarray:
    return np.asarray(_down(a))
