"""Checks on exported ONNX files: standard ops only, and the I/O names, types and shapes we promise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import BackendError

STANDARD_DOMAINS = {"", "ai.onnx"}


def _load(path: Path) -> Any:
    import onnx

    return onnx.load(str(path), load_external_data=False)


def check_standard_ops(path: Path) -> None:
    """No vendor-only (com.microsoft, custom) ops in a file TensorRT will read."""
    model = _load(path)
    foreign = sorted({f"{n.domain}::{n.op_type}" for n in model.graph.node if n.domain not in STANDARD_DOMAINS})
    if foreign:
        raise BackendError(f"{path.name} contains non-standard ops {foreign}; TensorRT cannot parse them")


def describe_io(path: Path) -> dict[str, list[dict[str, Any]]]:
    """{"inputs": [{name, dtype, shape}], "outputs": [...]} with symbolic dims as their names."""
    import onnx

    model = _load(path)

    def describe(values: Any) -> list[dict[str, Any]]:
        out = []
        for value in values:
            tensor = value.type.tensor_type
            dims = [d.dim_param if d.dim_param else d.dim_value for d in tensor.shape.dim]
            dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
            out.append({"name": value.name, "dtype": dtype, "shape": dims})
        return out

    return {"inputs": describe(model.graph.input), "outputs": describe(model.graph.output)}


def check_graph_io(
    path: Path,
    inputs: dict[str, tuple[str, list[Any] | None]],
    outputs: dict[str, tuple[str, list[Any] | None]],
) -> None:
    """Compare the file's I/O with the contract; a dim given as a str must be symbolic (dynamic)."""
    io = describe_io(path)
    for kind, expected in (("inputs", inputs), ("outputs", outputs)):
        found = {v["name"]: v for v in io[kind]}
        if list(found) != list(expected):
            raise BackendError(f"{path.name} {kind} are {list(found)}, expected {list(expected)}")
        for name, (dtype, shape) in expected.items():
            got = found[name]
            ok_shape = shape is None or (len(shape) == len(got["shape"]) and all(
                isinstance(g, str) and g != "" if isinstance(s, str) else g == s
                for s, g in zip(shape, got["shape"])))
            if got["dtype"] != dtype or not ok_shape:
                raise BackendError(f"{path.name} {name} is {got['dtype']} {got['shape']}, expected {dtype} {shape}")
