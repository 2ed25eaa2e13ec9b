"""Parse an ONNX file with TensorRT's parser and build a serialized plan for given profiles."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from ..errors import BackendError
from .profiles import Shape
from .tensorrt_import import import_tensorrt


def build_plan(
    onnx_path: str | Path,
    profile: dict[str, tuple[Shape, Shape, Shape]],
    trt: ModuleType | None = None,
    workspace_bytes: int | None = None,
) -> bytes:
    """ONNX file -> serialized engine (strongly typed: the precision is the graph's).

    parse_from_file keeps external weights (<file>.data) working.
    """
    trt = trt or import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i).desc()) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT could not parse {onnx_path}: {errors[:300]}")
    config = builder.create_builder_config()
    if workspace_bytes is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    optimization_profile = builder.create_optimization_profile()
    dynamic = {network.get_input(i).name for i in range(network.num_inputs) if -1 in network.get_input(i).shape}
    if set(profile) != dynamic:
        raise BackendError(f"profile covers {sorted(profile)} but the dynamic inputs of {onnx_path} are "
                           f"{sorted(dynamic)}")
    for name, (lo, opt, hi) in profile.items():
        optimization_profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(optimization_profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise BackendError(f"TensorRT failed to build an engine from {onnx_path}; see the log above")
    return bytes(plan)
