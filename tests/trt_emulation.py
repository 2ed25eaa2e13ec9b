"""A host-memory stand-in for cuda-python's runtime and TensorRT's runtime, so TrtBackend's data flow (staging,
shapes, tensor addresses, embedding slots, chunking, CUDA-graph capture and replay) runs on a CPU.

"Device" memory is host memory; copies happen at once (or are recorded while a stream captures); an engine
runs its ONNX file with onnxruntime on the bytes at its tensor addresses. Only the API surface TrtBackend
uses is emulated, with the same call signatures and (err, value) result tuples as cuda.bindings.runtime.
"""

from __future__ import annotations

import ctypes
import enum
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

OK = 0
REFUSED = 900  # what cudaStreamBeginCapture answers when refuse_capture is set


class FakeCudart:
    """cudaMalloc / cudaMemcpyAsync / streams / events / graphs over host memory."""

    def __init__(self, refuse_capture: bool = False) -> None:
        self.cudaError_t = SimpleNamespace(cudaSuccess=OK)
        self.cudaStreamNonBlocking = 1
        self.cudaMemcpyKind = SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2,
                                              cudaMemcpyDeviceToDevice=3)
        self.cudaStreamCaptureMode = SimpleNamespace(cudaStreamCaptureModeThreadLocal=1)
        self.refuse_capture = refuse_capture
        self.memory: dict[int, Any] = {}
        self.capturing: dict[int, list] = {}
        self.events: dict[int, float] = {}
        self.launches = 0
        self._ids = iter(range(1, 1 << 30))

    def _alloc(self, size: int) -> tuple[int, int]:
        buffer = ctypes.create_string_buffer(size)
        self.memory[ctypes.addressof(buffer)] = buffer
        return OK, ctypes.addressof(buffer)

    cudaMalloc = cudaMallocHost = _alloc

    def _free(self, ptr: int) -> tuple[int]:
        del self.memory[ptr]
        return (OK,)

    cudaFree = cudaFreeHost = _free

    def run_or_capture(self, stream: int, op: Any) -> None:
        if stream in self.capturing:
            self.capturing[stream].append(op)
        else:
            op()

    def cudaMemcpyAsync(self, dst: int, src: int, count: int, kind: int, stream: int) -> tuple[int]:
        self.run_or_capture(stream, lambda: ctypes.memmove(dst, src, count))
        return (OK,)

    def cudaStreamCreateWithFlags(self, flags: int) -> tuple[int, int]:
        return OK, next(self._ids)

    def cudaEventCreate(self) -> tuple[int, int]:
        return OK, next(self._ids)

    def cudaEventRecord(self, event: int, stream: int) -> tuple[int]:
        self.events[event] = time.perf_counter()
        return (OK,)

    def cudaEventElapsedTime(self, start: int, end: int) -> tuple[int, float]:
        return OK, (self.events[end] - self.events[start]) * 1000

    def cudaStreamBeginCapture(self, stream: int, mode: int) -> tuple[int]:
        if self.refuse_capture:
            return (REFUSED,)
        self.capturing[stream] = []
        return (OK,)

    def cudaStreamEndCapture(self, stream: int) -> tuple[int, list]:
        return OK, self.capturing.pop(stream)

    def cudaGraphInstantiate(self, graph: list, flags: int) -> tuple[int, list]:
        return OK, list(graph)

    def cudaGraphLaunch(self, graph: list, stream: int) -> tuple[int]:
        self.launches += 1
        for op in graph:
            op()
        return (OK,)

    def cudaGetDeviceCount(self) -> tuple[int, int]:
        return OK, 1

    def cudaGetErrorName(self, err: int) -> tuple[int, bytes]:
        return OK, b"cudaErrorStreamCaptureUnsupported" if err == REFUSED else b"cudaErrorUnknown"

    def cudaGetErrorString(self, err: int) -> tuple[int, bytes]:
        return OK, b"operation not permitted when stream is capturing"

    def _ok(self, *args: Any) -> tuple[int]:
        return (OK,)

    cudaSetDevice = cudaStreamSynchronize = cudaStreamDestroy = cudaStreamWaitEvent = cudaEventDestroy = _ok
    cudaGraphDestroy = cudaGraphExecDestroy = _ok


class DataType(enum.Enum):
    FLOAT = "tensor(float)"
    UINT8 = "tensor(uint8)"
    INT32 = "tensor(int32)"


class TensorIOMode(enum.Enum):
    INPUT = 0
    OUTPUT = 1


def make_fake_trt(cudart: FakeCudart) -> SimpleNamespace:
    """A `tensorrt` module whose plans are JSON {"onnx": path, "profile": {name: [min, opt, max]}}."""

    class Logger:
        WARNING = 2

        def __init__(self, level: int) -> None:
            self.level = level

    class Runtime:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, data: bytes) -> Engine | None:
            try:
                return Engine(json.loads(data))
            except ValueError:
                return None

    STATE.cudart = cudart  # where contexts enqueue their work (run now, or record while capturing)
    return SimpleNamespace(__name__="tensorrt", __version__="10.99", Logger=Logger, Runtime=Runtime,
                           DataType=DataType, TensorIOMode=TensorIOMode)


class Engine:
    def __init__(self, plan: dict[str, Any]) -> None:
        import onnxruntime

        self.session = onnxruntime.InferenceSession(plan["onnx"], providers=["CPUExecutionProvider"])
        self.profile = {k: [tuple(s) for s in v] for k, v in plan["profile"].items()}
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.tensors = {**self.inputs, **{o.name: o for o in self.session.get_outputs()}}
        self.num_io_tensors = len(self.tensors)
        self.num_optimization_profiles = 1
        self.contexts: list[Context] = []

    def get_tensor_name(self, index: int) -> str:
        return list(self.tensors)[index]

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        return TensorIOMode.INPUT if name in self.inputs else TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> DataType:
        return DataType(self.tensors[name].type)

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return tuple(d if isinstance(d, int) else -1 for d in self.tensors[name].shape)

    def get_tensor_profile_shape(self, name: str, profile: int) -> list[tuple[int, ...]]:
        return self.profile[name]

    def create_execution_context(self) -> Context:
        self.contexts.append(Context(self))
        return self.contexts[-1]


class Context:
    def __init__(self, engine: Engine) -> None:
        self.engine, self.shapes, self.addresses, self.shape_calls, self.runs = engine, {}, {}, [], 0

    def set_optimization_profile_async(self, index: int, stream: int) -> bool:
        return index == 0

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        self.shape_calls.append((name, tuple(shape)))
        self.shapes[name] = tuple(shape)
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        if name in self.engine.inputs:  # static inputs report their engine shape
            return self.shapes.get(name, self.engine.get_tensor_shape(name))
        symbols = {}
        for input_name, info in self.engine.inputs.items():
            for dim, size in zip(info.shape, self.shapes.get(input_name, ())):
                if isinstance(dim, str):
                    symbols[dim] = size
        return tuple(d if isinstance(d, int) else symbols[d] for d in self.engine.tensors[name].shape)

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self.addresses[name] = ptr
        return True

    def _array(self, name: str) -> np.ndarray:
        shape = self.get_tensor_shape(name)
        dtype = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(int32)": np.int32}[
            self.engine.tensors[name].type]
        count = int(np.prod(shape)) * np.dtype(dtype).itemsize
        raw = np.ctypeslib.as_array(ctypes.cast(self.addresses[name], ctypes.POINTER(ctypes.c_uint8)), (count,))
        return raw.view(dtype).reshape(shape)

    def execute_async_v3(self, stream: int) -> bool:
        def run() -> None:
            self.runs += 1
            feeds = {n: self._array(n).copy() for n in self.engine.inputs}
            names = [o.name for o in self.engine.session.get_outputs()]
            for name, value in zip(names, self.engine.session.run(names, feeds)):
                self._array(name)[...] = value

        STATE.cudart.run_or_capture(stream, run)
        return True


STATE = SimpleNamespace(cudart=None)


def write_plans(folder: Path, export: Path, ranges: Any, config: Any, target: Any, precision: str = "fp32",
                model_type: str = "demo") -> Path:
    """<folder>/<target>/<model_type>-<precision>-{encoder,decoder}.plan (JSON plans) with sam-trt build sidecars."""
    from sam_trt.engine.cache import make_sidecar, sidecar_path
    from sam_trt.engine.profiles import profile_shapes

    out = folder / target.folder_name()
    out.mkdir(parents=True, exist_ok=True)
    for graph in ("encoder", "decoder"):
        shapes = profile_shapes(config, graph, ranges)
        data = json.dumps({"onnx": str(export / f"{graph}.onnx"), "profile": shapes}).encode()
        plan = out / f"{model_type}-{precision}-{graph}.plan"
        plan.write_bytes(data)
        sidecar = make_sidecar(plan=plan, plan_bytes=data, onnx_path=export / f"{graph}.onnx", onnx_sha256="0" * 64,
                               precision=precision, graph=graph, target=target, profiles=shapes, build_options={},
                               gate={}, build_seconds=0.1, rebuild_command="sam-trt build", model_type=model_type)
        sidecar_path(plan).write_text(json.dumps(sidecar))
    return folder
