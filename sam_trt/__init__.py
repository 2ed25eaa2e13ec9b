"""sam-trt: Segment Anything with the official API, exportable to ONNX and TensorRT."""

from __future__ import annotations

from typing import Any

from .amg import SamAutomaticMaskGenerator
from .config import MODEL_CONFIGS, SamConfig
from .errors import BackendError, CheckpointError, ImageNotSetError, InputError, SamTrtError
from .predictor import SamPredictor
from .runtime.base import SamBackend
from .runtime.loader import load_backend  # light: the backends it loads import their libraries when called

__version__ = "0.1.0"

_TORCH_NAMES = {"build_sam", "build_sam_from_config", "build_sam_vit_b", "build_sam_vit_h", "build_sam_vit_l",
                "sam_model_registry", "Sam"}


def __getattr__(name: str) -> Any:
    # The torch model is imported on first use, so the ONNX Runtime / TensorRT path needs no torch.
    if name in _TORCH_NAMES:
        from . import modeling

        return getattr(modeling, name)
    raise AttributeError(f"module 'sam_trt' has no attribute {name!r}")


__all__ = [
    "MODEL_CONFIGS",
    "BackendError",
    "CheckpointError",
    "ImageNotSetError",
    "InputError",
    "SamBackend",
    "SamAutomaticMaskGenerator",
    "SamConfig",
    "SamPredictor",
    "SamTrtError",
    "__version__",
    "load_backend",
    *sorted(_TORCH_NAMES),
]
