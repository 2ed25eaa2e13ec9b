"""Thin cuda-python helpers: checked calls, pinned host and device buffers, streams, event timing, graphs.

Every call goes through `check`, which names the failing call and CUDA's own explanation. Objects own one
CUDA resource each and free it in `close()` (idempotent).
"""

from __future__ import annotations

import ctypes
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import BackendError

NEEDS_CUDA_PYTHON = ("the trt backend needs cuda-python (cuda.bindings.runtime): pip install 'sam-trt[trt]' "
                     "(a CUDA driver is needed to run it)")


def import_cudart() -> ModuleType:
    """cuda.bindings.runtime, with a one-line error naming the package when it is missing."""
    try:
        from cuda.bindings import runtime
    except ImportError:
        raise BackendError(NEEDS_CUDA_PYTHON) from None
    return runtime


def check(call: str, result: Any) -> Any:
    """Unpack a cuda-python result tuple (err, *values); raise BackendError naming `call` unless success."""
    cudart = import_cudart()
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        raise BackendError(f"CUDA call {call} failed: {describe_error(err)}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def describe_error(err: Any) -> str:
    """"cudaErrorNoDevice (no CUDA-capable device is detected)" for a cudaError_t."""
    cudart = import_cudart()
    _, name = cudart.cudaGetErrorName(err)
    _, text = cudart.cudaGetErrorString(err)
    return f"{_text(name)} ({_text(text)})"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def require_device(device: int = 0) -> int:
    """Select CUDA device `device`; a one-line error when there is no driver or no such GPU."""
    cudart = import_cudart()
    err, count = cudart.cudaGetDeviceCount()
    if err != cudart.cudaError_t.cudaSuccess or count == 0:
        raise BackendError(f"no usable CUDA GPU: cudaGetDeviceCount failed with {describe_error(err)}; the trt "
                           "backend runs on an NVIDIA GPU with its driver (use backend='ort' elsewhere)")
    if not 0 <= device < count:
        raise BackendError(f"CUDA device {device} does not exist (this machine has {count}); "
                           f"pass device=0..{count - 1}")
    check("cudaSetDevice", cudart.cudaSetDevice(device))
    return device


class PinnedBuffer:
    """Page-locked host memory of `nbytes`, viewed as numpy arrays (async copies need pinned memory)."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = max(int(nbytes), 1)
        self.ptr = int(check("cudaMallocHost", import_cudart().cudaMallocHost(self.nbytes)))
        self._raw = np.ctypeslib.as_array(ctypes.cast(self.ptr, ctypes.POINTER(ctypes.c_uint8)), (self.nbytes,))

    def view(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A C-contiguous array of `shape` and `dtype` over the start of the buffer (no copy)."""
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        if count * dtype.itemsize > self.nbytes:
            raise BackendError(f"pinned buffer of {self.nbytes} bytes is too small for {shape} {dtype}")
        return self._raw[: count * dtype.itemsize].view(dtype).reshape(shape)

    def close(self) -> None:
        if self.ptr:
            self._raw = None
            check("cudaFreeHost", import_cudart().cudaFreeHost(self.ptr))
            self.ptr = 0


class DeviceBuffer:
    """`nbytes` of device memory at the integer address `ptr`."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = max(int(nbytes), 1)
        self.ptr = int(check("cudaMalloc", import_cudart().cudaMalloc(self.nbytes)))

    def close(self) -> None:
        if self.ptr:
            check("cudaFree", import_cudart().cudaFree(self.ptr))
            self.ptr = 0


class Stream:
    """A non-blocking stream (it never synchronises with the legacy default stream)."""

    def __init__(self) -> None:
        cudart = import_cudart()
        self.handle = check("cudaStreamCreateWithFlags", cudart.cudaStreamCreateWithFlags(cudart.cudaStreamNonBlocking))

    @property
    def ptr(self) -> int:
        """The cudaStream_t as an integer, as TensorRT's execute_async_v3 takes it."""
        return int(self.handle)

    def copy_to_device(self, dst: int, src: np.ndarray, nbytes: int | None = None) -> None:
        cudart = import_cudart()
        count = src.nbytes if nbytes is None else nbytes
        check("cudaMemcpyAsync(host to device)", cudart.cudaMemcpyAsync(
            dst, src.ctypes.data, count, cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self.handle))

    def copy_to_host(self, dst: np.ndarray, src: int, nbytes: int | None = None) -> None:
        cudart = import_cudart()
        count = dst.nbytes if nbytes is None else nbytes
        check("cudaMemcpyAsync(device to host)", cudart.cudaMemcpyAsync(
            dst.ctypes.data, src, count, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.handle))

    def copy_on_device(self, dst: int, src: int, nbytes: int) -> None:
        cudart = import_cudart()
        check("cudaMemcpyAsync(device to device)", cudart.cudaMemcpyAsync(
            dst, src, nbytes, cudart.cudaMemcpyKind.cudaMemcpyDeviceToDevice, self.handle))

    def wait(self, event: Event) -> None:
        """Later work on this stream waits for `event` (recorded on any stream)."""
        check("cudaStreamWaitEvent", import_cudart().cudaStreamWaitEvent(self.handle, event.handle, 0))

    def synchronize(self) -> None:
        check("cudaStreamSynchronize", import_cudart().cudaStreamSynchronize(self.handle))

    def close(self) -> None:
        if self.handle is not None:
            check("cudaStreamDestroy", import_cudart().cudaStreamDestroy(self.handle))
            self.handle = None


class Event:
    """A CUDA event for ordering streams and timing work between two records."""

    def __init__(self) -> None:
        self.handle = check("cudaEventCreate", import_cudart().cudaEventCreate())

    def record(self, stream: Stream) -> None:
        check("cudaEventRecord", import_cudart().cudaEventRecord(self.handle, stream.handle))

    def elapsed_ms(self, start: Event) -> float:
        """Milliseconds from `start` to this event (both recorded and complete)."""
        return float(check("cudaEventElapsedTime", import_cudart().cudaEventElapsedTime(start.handle, self.handle)))

    def close(self) -> None:
        if self.handle is not None:
            check("cudaEventDestroy", import_cudart().cudaEventDestroy(self.handle))
            self.handle = None


class StageTimer:
    """Events recorded between named stages on one stream; `timings_ms()` after the stream completes."""

    def __init__(self, stages: tuple[str, ...]) -> None:
        self.stages = stages
        self.events = [Event() for _ in range(len(stages) + 1)]

    def mark(self, index: int, stream: Stream) -> None:
        """Record boundary `index` (0 = before the first stage, len(stages) = after the last)."""
        self.events[index].record(stream)

    def timings_ms(self) -> dict[str, float]:
        return {s: self.events[i + 1].elapsed_ms(self.events[i]) for i, s in enumerate(self.stages)}

    def close(self) -> None:
        for event in self.events:
            event.close()


class Graph:
    """A CUDA graph captured from the work `issue()` enqueues on `stream`; launch() replays it.

    Raises BackendError when capture is refused (e.g. work that synchronises); the stream is left usable.
    """

    def __init__(self, stream: Stream, issue: Any) -> None:
        cudart = import_cudart()
        self.exec = None
        mode = cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        check("cudaStreamBeginCapture", cudart.cudaStreamBeginCapture(stream.handle, mode))
        try:
            issue()
        except Exception:
            cudart.cudaStreamEndCapture(stream.handle)  # end the broken capture; its error is the one raised
            raise
        graph = check("cudaStreamEndCapture", cudart.cudaStreamEndCapture(stream.handle))
        try:
            self.exec = check("cudaGraphInstantiate", cudart.cudaGraphInstantiate(graph, 0))
        finally:
            check("cudaGraphDestroy", cudart.cudaGraphDestroy(graph))

    def launch(self, stream: Stream) -> None:
        check("cudaGraphLaunch", import_cudart().cudaGraphLaunch(self.exec, stream.handle))

    def close(self) -> None:
        if self.exec is not None:
            check("cudaGraphExecDestroy", import_cudart().cudaGraphExecDestroy(self.exec))
            self.exec = None
