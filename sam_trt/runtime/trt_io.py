"""Engine I/O descriptions -> buffer sizes and numpy dtypes (pure Python; no GPU needed).

A `TensorIO` is what a runtime must know to pre-allocate a tensor: name, direction, element type and the
largest shape the optimization profile allows. `io_from_engine` reads them from a deserialised engine;
`io_from_network` derives the same from a parsed INetworkDefinition plus our profile shapes, so the sizing
logic is testable on a CPU with tensorrt-rtx.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BackendError

Shape = tuple[int, ...]

# TensorRT DataType name -> numpy storage dtype. bf16 / fp8 have no numpy type: stored as raw bits.
DTYPES = {"FLOAT": np.float32, "HALF": np.float16, "BF16": np.uint16, "INT8": np.int8, "UINT8": np.uint8,
          "INT32": np.int32, "INT64": np.int64, "BOOL": np.bool_, "FP8": np.uint8}


@dataclass(frozen=True)
class TensorIO:
    """One engine I/O tensor; max_shape has no -1 (the profile maximum for dynamic dims)."""

    name: str
    is_input: bool
    dtype: np.dtype
    max_shape: Shape

    @property
    def max_bytes(self) -> int:
        """Bytes of the largest tensor the profile allows: the size of its pre-allocated buffers."""
        return int(np.prod(self.max_shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def nbytes(self, shape: Sequence[int]) -> int:
        """Bytes of an actual `shape`, checked against the maximum."""
        if len(shape) != len(self.max_shape) or any(s > m or s < 0 for s, m in zip(shape, self.max_shape)):
            raise BackendError(f"{self.name}: shape {tuple(shape)} is outside the engine's profile (max "
                               f"{self.max_shape}); rebuild with larger profiles (sam-trt build --prompts / --points "
                               "/ --encoder-batch MIN,OPT,MAX)")
        return int(np.prod(shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def numpy_dtype(datatype: Any) -> np.dtype:
    """A TensorRT DataType (or its name) -> numpy dtype of the same size."""
    name = str(datatype).rsplit(".", 1)[-1].upper()
    if name not in DTYPES:
        raise BackendError(f"TensorRT data type {name} has no buffer mapping here; supported: {', '.join(DTYPES)}")
    return np.dtype(DTYPES[name])


def io_from_engine(engine: Any, context: Any, trt: Any, profile: int = 0) -> list[TensorIO]:
    """Read every I/O tensor of `engine` (name-based API). Inputs: the profile's max shape; outputs: the shape
    the engine reports on `context` once every dynamic input is set to its maximum (context shapes change)."""
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    maxima: dict[str, Shape] = {}
    for name in inputs:
        shape = tuple(engine.get_tensor_shape(name))
        if -1 in shape:
            shape = tuple(engine.get_tensor_profile_shape(name, profile)[2])
            if not context.set_input_shape(name, shape):
                raise BackendError(f"TensorRT refused input shape {shape} for {name}; the engine file is inconsistent")
        maxima[name] = shape
    for name in names:
        if name not in maxima:
            maxima[name] = tuple(context.get_tensor_shape(name))
            if -1 in maxima[name]:
                raise BackendError(f"engine output {name} has no static maximum shape {maxima[name]} "
                                   "(data-dependent outputs are not supported)")
    return [TensorIO(n, n in inputs, numpy_dtype(engine.get_tensor_dtype(n)), maxima[n]) for n in names]


def io_from_network(network: Any, profile: Mapping[str, tuple[Shape, Shape, Shape]],
                    output_dims: Mapping[str, Sequence[int | str]]) -> list[TensorIO]:
    """The I/O a plan built from `network` with `profile` will have.

    Dynamic input dims take the profile maximum; each dynamic output dim is resolved through its symbolic
    name in `output_dims` (the ONNX dim_param, e.g. "num_prompts", as the export manifest records it), which
    the parser also gives to the input dims it names.
    """
    tensors, symbols = [], {}
    for i in range(network.num_inputs):
        t = network.get_input(i)
        shape = tuple(t.shape)
        if -1 in shape:
            if t.name not in profile:
                raise BackendError(f"dynamic input {t.name} has no profile entry")
            shape = tuple(profile[t.name][2])
            for d in range(len(shape)):
                if t.get_dimension_name(d):
                    symbols[t.get_dimension_name(d)] = max(symbols.get(t.get_dimension_name(d), 0), shape[d])
        tensors.append(TensorIO(t.name, True, numpy_dtype(t.dtype), shape))
    for i in range(network.num_outputs):
        t = network.get_output(i)
        dims = list(output_dims.get(t.name, t.shape))
        shape = []
        for d, size in enumerate(t.shape):
            if size != -1:
                shape.append(int(size))
            elif isinstance(dims[d], str) and dims[d] in symbols:
                shape.append(symbols[dims[d]])
            else:
                raise BackendError(f"output {t.name} dim {d} ({dims[d]!r}) is not tied to a named input dim")
        tensors.append(TensorIO(t.name, False, numpy_dtype(t.dtype), tuple(shape)))
    return tensors


def manifest_output_dims(graph_entry: Mapping[str, Any]) -> dict[str, list[int | str]]:
    """{output name: shape with symbolic dims} from an export manifest's graph entry."""
    return {o["name"]: list(o["shape"]) for o in graph_entry["outputs"]}


def by_name(tensors: Sequence[TensorIO]) -> dict[str, TensorIO]:
    return {t.name: t for t in tensors}


def max_prompts(tensors: Sequence[TensorIO], batch_input: str = "point_coords") -> int:
    """Largest prompt batch one decoder run takes (dim 0 of `batch_input`)."""
    return by_name(tensors)[batch_input].max_shape[0]
