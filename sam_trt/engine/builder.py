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
    optimization_level: int | None = None,
    timing_cache: str | Path | None = None,
    progress: bool = False,
) -> bytes:
    """ONNX file -> serialized engine (strongly typed: the precision is the graph's).

    parse_from_file keeps external weights (<file>.data) working. optimization_level: the builder's 0-5
    (None: TensorRT's default, 3). timing_cache: a file read before and written back after the build (one per
    GPU and TensorRT version; a cache from elsewhere is ignored by TensorRT). progress: print build phases.
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
    if optimization_level is not None:
        config.builder_optimization_level = int(optimization_level)
    cache = None
    if timing_cache is not None and trt.__name__ != "tensorrt_rtx":  # RTX: timing caches are no-ops
        timing_cache = Path(timing_cache)
        cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
        config.set_timing_cache(cache, ignore_mismatch=True)
    monitor = _progress_monitor(trt, Path(onnx_path).name) if progress else None
    if monitor is not None:
        config.progress_monitor = monitor
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
    if cache is not None:
        from ..files import atomic_path

        with atomic_path(timing_cache) as tmp:
            tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    return bytes(plan)


def _progress_monitor(trt: ModuleType, label: str) -> object | None:
    """A TensorRT IProgressMonitor printing top-level phases (None where the flavour lacks the interface)."""
    if not hasattr(trt, "IProgressMonitor"):
        return None
    import sys
    import threading
    import time

    class Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.lock = threading.Lock()
            self.started: dict[str, float] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            with self.lock:
                self.started[phase_name] = time.perf_counter()
                if parent_phase is None:
                    print(f"  {label}: {phase_name} ({num_steps} steps)", file=sys.stderr, flush=True)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True

        def phase_finish(self, phase_name: str) -> None:
            with self.lock:
                self.started.pop(phase_name, None)

    return Monitor()
