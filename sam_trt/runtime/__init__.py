"""Backends behind one interface (base.SamBackend): torch, ONNX Runtime and TensorRT; load_backend picks one."""

from .base import SamBackend, to_numpy

__all__ = ["SamBackend", "to_numpy"]
