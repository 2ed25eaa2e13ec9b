"""Backends behind one interface: torch now; ONNX Runtime and TensorRT build on the same contract."""

from .base import SamBackend, to_numpy

__all__ = ["SamBackend", "to_numpy"]
