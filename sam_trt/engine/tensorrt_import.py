"""Lazy import of TensorRT (10.x / 11.x) or TensorRT-RTX, which share the builder/runtime API."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import BackendError

CANDIDATES = ("tensorrt", "tensorrt_rtx")
HOW_TO_GET = ("TensorRT is not installed: PyPI's 'tensorrt' downloads its libraries from NVIDIA's index "
              "(pip install tensorrt --extra-index-url https://pypi.nvidia.com), JetPack and NGC containers ship "
              "it, and 'pip install tensorrt-rtx' gives TensorRT for RTX GPUs")


def import_tensorrt(prefer: str | None = None) -> ModuleType:
    """The first TensorRT flavour that imports (or `prefer`, if named), with a how-to-get error."""
    names = (prefer,) if prefer else CANDIDATES
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
        except Exception as exc:  # e.g. the PyPI placeholder failing to find its libraries
            raise BackendError(f"{name} is installed but does not load ({' '.join(str(exc).split())[:120]}); "
                               f"{HOW_TO_GET}") from None
    raise BackendError(HOW_TO_GET)
