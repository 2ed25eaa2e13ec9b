"""TensorRT backend: runs the plans of `sam-trt build` with cuda-python (no torch on this path).

Per graph: one execution context on its own non-blocking stream, device buffers pre-allocated from the
profile maxima, pinned host staging, async copies, events around each stage (`last_timings`, ms), and
`set_input_shape` only when a shape changes. The image embedding never leaves the GPU: `encode` writes it
into one of `embedding_slots` device buffers and returns a `TrtEmbedding` handle; `decode` copies it
device-to-device into the decoder's input. Prompt batches above the profile maximum are split and merged;
with cuda_graphs=True each padded decoder batch size (graph_batch_sizes) is captured after a warm-up and
replayed, falling back to eager execution for a shape whose capture is refused.

Preprocessing stays the reference Pillow resize on the host (bit-exact masks), run by the frame pipeline's
preprocess thread while the GPU encodes the previous frame; only the uint8 frame is uploaded (4x fewer bytes
than float) and normalisation + padding run on the GPU inside the encoder graph (export/graphs.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.cache import check_compatible, machine_target
from ..engine.tensorrt_import import import_tensorrt
from ..errors import BackendError
from ..transforms import pad_to_square
from . import cuda
from .base import SamBackend, to_numpy
from .chunking import decode_in_chunks, pad_rows, padded_size
from .trt_io import TensorIO, by_name, io_from_engine
from .trt_plans import config_of, find_plans, read_sidecars

ENCODER_INPUTS = ("image", "input_size")
EMBEDDING = "image_embeddings"
PROMPT_INPUTS = ("point_coords", "point_labels", "mask_input", "has_mask_input")
DECODER_OUTPUTS = ("iou_predictions", "low_res_masks")


class TrtEmbedding:
    """An image embedding (Bx256xgxg) held in a device slot of the backend that encoded it."""

    def __init__(self, backend: TrtBackend, slot: int, generation: int, shape: tuple[int, ...],
                 dtype: np.dtype) -> None:
        self.backend, self.slot, self.generation, self.shape, self.dtype = backend, slot, generation, shape, dtype

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """Download to the host (for to_numpy / np.asarray)."""
        array = self.backend.download_embedding(self)
        return array if dtype is None else array.astype(dtype)


class _Runner:
    """One engine + execution context + stream, with its device and pinned buffers (name-based I/O)."""

    def __init__(self, trt: Any, runtime: Any, plan: Path, external: Sequence[str] = ()) -> None:
        self.label = plan.name
        engine = runtime.deserialize_cuda_engine(plan.read_bytes())
        if engine is None:
            raise BackendError(f"TensorRT could not deserialise {plan} (see its log above); rebuild it here with "
                               "sam-trt build")
        self.engine, self.context = engine, engine.create_execution_context()
        if self.context is None:
            raise BackendError(f"TensorRT could not create an execution context for {plan} (out of GPU memory?)")
        self.stream = cuda.Stream()
        if engine.num_optimization_profiles > 0 and not self.context.set_optimization_profile_async(0, self.stream.ptr):
            raise BackendError(f"TensorRT refused optimization profile 0 of {plan}; rebuild it with sam-trt build")
        self.io: dict[str, TensorIO] = by_name(io_from_engine(engine, self.context, trt))
        self.shapes = {n: t.max_shape for n, t in self.io.items() if t.is_input}  # io_from_engine set these
        self.device = {n: cuda.DeviceBuffer(t.max_bytes) for n, t in self.io.items() if n not in external}
        self.host = {n: cuda.PinnedBuffer(t.max_bytes) for n, t in self.io.items() if n not in external}
        for name, buffer in self.device.items():
            self.set_address(name, buffer.ptr)
        self.staged: dict[str, np.ndarray] = {}
        self.timer = cuda.StageTimer(("upload", "compute", "download"))

    def require(self, names: Sequence[str]) -> None:
        missing = [n for n in names if n not in self.io]
        if missing:
            raise BackendError(f"{self.label} has no tensor {missing[0]} (it has {', '.join(self.io)}); it was not "
                               "built from a sam-trt export: rebuild with sam-trt build")

    def set_address(self, name: str, ptr: int) -> None:
        if not self.context.set_tensor_address(name, ptr):
            raise BackendError(f"TensorRT refused the device address of {name} in {self.label}")

    def set_shape(self, name: str, shape: tuple[int, ...]) -> None:
        if self.shapes.get(name) != shape:
            self.io[name].nbytes(shape)  # inside the profile, else a one-line error
            if not self.context.set_input_shape(name, shape):
                raise BackendError(f"TensorRT refused shape {shape} for {name} in {self.label}")
            self.shapes[name] = shape

    def stage(self, name: str, array: np.ndarray) -> np.ndarray:
        """Copy `array` into the pinned staging buffer of input `name` (cast to the engine's dtype)."""
        view = self.host[name].view(array.shape, self.io[name].dtype)
        view[...] = array
        self.set_shape(name, tuple(array.shape))
        self.staged[name] = view
        return view

    def output(self, name: str) -> np.ndarray:
        """The pinned host view of output `name` at its current shape."""
        return self.host[name].view(tuple(self.context.get_tensor_shape(name)), self.io[name].dtype)

    def execute(self) -> None:
        if not self.context.execute_async_v3(self.stream.ptr):
            raise BackendError(f"TensorRT execute_async_v3 failed for {self.label}; see the TensorRT log above")

    def enqueue(self, inputs: Sequence[str], outputs: Sequence[str], timed: bool = True) -> None:
        """Upload the staged inputs, run, download the outputs: all async on this runner's stream."""
        timer = self.timer if timed else None
        for step, names in enumerate((inputs, None, outputs)):
            if timer is not None:
                timer.mark(step, self.stream)
            if names is None:
                self.execute()
                continue
            for name in names:
                if step == 0:
                    self.stream.copy_to_device(self.device[name].ptr, self.staged[name])
                else:
                    self.stream.copy_to_host(self.output(name), self.device[name].ptr)
        if timer is not None:
            timer.mark(3, self.stream)

    def close(self) -> None:
        for buffer in (*self.device.values(), *self.host.values()):
            buffer.close()
        self.timer.close()
        self.context = self.engine = None
        self.stream.close()


class TrtBackend(SamBackend):
    """Runs <model>-<precision>-{encoder,decoder}.plan from an engines folder on CUDA device `device`."""

    name = "trt"

    def __init__(self, engines: str | Path, precision: str | None = None, model_type: str | None = None,
                 device: int = 0, cuda_graphs: bool = False, graph_batch_sizes: Sequence[int] = (1, 2, 4, 8, 16),
                 graph_warmup: int = 1, embedding_slots: int = 4, log: Callable[[str], None] | None = None) -> None:
        cuda.import_cudart()
        plans = find_plans(engines, precision, model_type, machine_target().folder_name())
        sidecars = read_sidecars(plans)
        flavour = sidecars["encoder"]["tensorrt"]["flavour"]
        running = machine_target(flavour)
        for graph, plan in plans.items():  # before anything is deserialised
            check_compatible(sidecars[graph], running, plan)
        trt = import_tensorrt(flavour)
        super().__init__(config_of(sidecars["encoder"], plans["encoder"]))
        self.plans, self.sidecars, self._device = plans, sidecars, cuda.require_device(device)
        self._log = log or (lambda message: None)
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.encoder = _Runner(trt, self.runtime, plans["encoder"], external=(EMBEDDING,))
        self.decoder = _Runner(trt, self.runtime, plans["decoder"])
        self.encoder.require((*ENCODER_INPUTS, EMBEDDING))
        self.decoder.require((EMBEDDING, *PROMPT_INPUTS, *DECODER_OUTPUTS))
        out, inp = self.encoder.io[EMBEDDING], self.decoder.io[EMBEDDING]
        if out.dtype != inp.dtype or out.max_shape[1:] != inp.max_shape[1:]:
            raise BackendError(f"{plans['encoder'].name} gives {EMBEDDING} {out.max_shape} {out.dtype} but "
                               f"{plans['decoder'].name} takes {inp.max_shape} {inp.dtype}; rebuild both together")
        self.slots = [cuda.DeviceBuffer(out.max_bytes) for _ in range(max(int(embedding_slots), 1))]
        self._generation = [0] * len(self.slots)
        self._next_slot, self._staged_embedding = 0, None
        self._lock = threading.Lock()
        self.max_prompts = self.decoder.io["point_coords"].max_shape[0]
        self.max_points = self.decoder.io["point_coords"].max_shape[1]
        self.cuda_graphs = cuda_graphs
        self.graph_batch_sizes = tuple(sorted(s for s in graph_batch_sizes if s <= self.max_prompts))
        self.graph_warmup = graph_warmup
        self._graphs: dict[tuple[int, int], Any] = {}  # (padded B, N) -> cuda.Graph, or None when refused
        self._runs: dict[tuple[int, int], int] = {}
        self.last_timings: dict[str, float] = {}

    @property
    def device(self) -> str:
        return f"cuda:{self._device}"

    @property
    def precision(self) -> str:
        return str(self.sidecars["encoder"].get("precision", "fp32"))

    def describe(self) -> dict[str, str]:
        flavour = self.sidecars["encoder"]["tensorrt"]
        return {**super().describe(), "tensorrt": f"{flavour['flavour']} {flavour['version']}",
                "plans": str(self.plans["encoder"].parent), "cuda_graphs": str(self.cuda_graphs)}

    def encode(self, images: Any) -> TrtEmbedding:
        """Bx3xhxw uint8 (float is rounded) -> TrtEmbedding on the GPU; B <= the encoder profile maximum."""
        images = np.asarray(to_numpy(images))
        if images.dtype != np.uint8:
            images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
        b, _, h, w = images.shape
        s, run = self.encoder_size, self.encoder
        with self._lock:
            slot = self._next_slot
            self._next_slot = (slot + 1) % len(self.slots)
            self._generation[slot] += 1
            generation = self._generation[slot]
        image = run.host["image"].view((b, 3, s, s), run.io["image"].dtype)
        run.set_shape("image", image.shape)
        _, sizes = pad_to_square(images, s, out=image)
        run.staged["image"] = image
        run.stage("input_size", sizes)
        run.set_address(EMBEDDING, self.slots[slot].ptr)
        run.enqueue(ENCODER_INPUTS, ())
        run.stream.synchronize()
        times = run.timer.timings_ms()
        self.last_timings.update(encode_upload=times["upload"], encode_compute=times["compute"])
        shape = tuple(run.context.get_tensor_shape(EMBEDDING))
        return TrtEmbedding(self, slot, generation, shape, run.io[EMBEDDING].dtype)

    def download_embedding(self, embedding: TrtEmbedding) -> np.ndarray:
        self._check_current(embedding)
        out = np.empty(embedding.shape, embedding.dtype)
        stream = self.decoder.stream
        host = self.decoder.host[EMBEDDING].view(embedding.shape, embedding.dtype)
        stream.copy_to_host(host, self.slots[embedding.slot].ptr)
        stream.synchronize()
        out[...] = host
        return out

    def _check_current(self, embedding: TrtEmbedding) -> None:
        if embedding.backend is not self:
            raise BackendError("this embedding was made by another TrtBackend; decode it with the one that encoded it")
        if self._generation[embedding.slot] != embedding.generation:
            raise BackendError(f"this embedding was overwritten: only the last {len(self.slots)} encodes stay on the "
                               "GPU; decode sooner or pass a larger embedding_slots=")

    def _stage_embedding(self, embedding: Any) -> None:
        run = self.decoder
        if isinstance(embedding, TrtEmbedding):
            self._check_current(embedding)
            if embedding.shape[0] != 1:
                raise BackendError(f"decode takes one image's embedding (1x...), got {embedding.shape}")
            key = (embedding.slot, embedding.generation)
            if key != self._staged_embedding:  # one device-to-device copy per image, not per decode
                run.stream.copy_on_device(run.device[EMBEDDING].ptr, self.slots[embedding.slot].ptr,
                                          run.io[EMBEDDING].nbytes(embedding.shape))
                self._staged_embedding = key
            return
        view = run.stage(EMBEDDING, np.asarray(to_numpy(embedding)))  # a host array, e.g. from another backend
        run.stream.copy_to_device(run.device[EMBEDDING].ptr, view)
        self._staged_embedding = None

    def decode(self, embeddings: Any, point_coords: np.ndarray, point_labels: np.ndarray, mask_input: np.ndarray,
               has_mask_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if point_coords.shape[1] > self.max_points:
            raise BackendError(f"{point_coords.shape[1]} points per prompt exceed the engine's profile maximum "
                               f"{self.max_points}; rebuild with sam-trt build --points 1,3,{point_coords.shape[1]}")
        self._stage_embedding(embeddings)
        self.last_timings.update(decode_upload=0.0, decode_compute=0.0, decode_download=0.0, decode_graph=0.0)
        return decode_in_chunks(self._decode_chunk, None, to_numpy(point_coords), to_numpy(point_labels),
                                to_numpy(mask_input), to_numpy(has_mask_input), self.max_prompts)

    def _decode_chunk(self, _: Any, *prompts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        run, batch = self.decoder, prompts[0].shape[0]
        size = padded_size(batch, self.graph_batch_sizes) if self.cuda_graphs and batch else None
        if size is not None:
            prompts = tuple(pad_rows(prompts, size))
        for name, array in zip(PROMPT_INPUTS, prompts):
            run.stage(name, array)
        graph = self._graph(size, prompts[0].shape[1]) if size is not None else None
        if graph is not None:
            run.timer.mark(0, run.stream)
            graph.launch(run.stream)
            run.timer.mark(1, run.stream)
            run.stream.synchronize()
            self.last_timings["decode_graph"] += run.timer.events[1].elapsed_ms(run.timer.events[0])
        else:
            run.enqueue(PROMPT_INPUTS, DECODER_OUTPUTS)
            run.stream.synchronize()
            for stage, ms in run.timer.timings_ms().items():
                self.last_timings[f"decode_{stage}"] += ms
        iou, low_res = (run.output(name)[:batch].copy() for name in DECODER_OUTPUTS)
        return iou, low_res

    def _graph(self, size: int, points: int) -> cuda.Graph | None:
        """The captured graph for this padded shape: None while warming up, after a refusal, or on failure."""
        key = (size, points)
        if key in self._graphs:
            return self._graphs[key]
        self._runs[key] = self._runs.get(key, 0) + 1
        if self._runs[key] <= self.graph_warmup:
            return None
        run = self.decoder
        # One eager run with exactly these shapes first: TensorRT finishes shape-dependent set-up outside capture.
        run.enqueue(PROMPT_INPUTS, DECODER_OUTPUTS, timed=False)
        run.stream.synchronize()
        try:
            self._graphs[key] = cuda.Graph(run.stream, lambda: run.enqueue(PROMPT_INPUTS, DECODER_OUTPUTS, False))
        except BackendError as exc:
            self._graphs[key] = None
            self._log(f"CUDA graph capture refused for decoder batch {size} x {points} points ({exc}); running eagerly")
        return self._graphs[key]

    def close(self) -> None:
        """Free every GPU resource (idempotent)."""
        for graph in self._graphs.values():
            if graph is not None:
                graph.close()
        self._graphs.clear()
        for buffer in self.slots:
            buffer.close()
        for run in (getattr(self, "encoder", None), getattr(self, "decoder", None)):
            if run is not None:
                run.close()

    def __enter__(self) -> TrtBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
