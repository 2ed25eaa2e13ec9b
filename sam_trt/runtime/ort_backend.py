"""ONNX Runtime backend: runs an export folder (CPU everywhere; CUDA/TensorRT EPs with onnxruntime-gpu)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError
from ..export.manifest import read_manifest
from ..transforms import pad_to_square
from .base import SamBackend, to_numpy

# Execution providers tried in this order when the user names none (those not installed are skipped).
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


class OrtBackend(SamBackend):
    """Runs encoder.onnx and decoder.onnx of an export folder with onnxruntime sessions.

    threads: intra-op threads per session (None = onnxruntime's default, one per physical core, which
    measured fastest on a 2-core machine; see benchmarks/). graph_optimization: "all", "extended",
    "basic" or "disable". spinning=False stops idle intra-op threads from spinning after each run
    (lower latency for other work sharing a small CPU, e.g. torch in the same process; see benchmarks/).
    """

    name = "ort"

    def __init__(
        self,
        export_dir: str | Path,
        providers: list[str] | None = None,
        threads: int | None = None,
        graph_optimization: str = "all",
        verify_checksums: bool = False,
        spinning: bool = True,
    ) -> None:
        ort = _import_onnxruntime()
        manifest = read_manifest(export_dir)
        if verify_checksums:
            manifest.verify_checksums()
        super().__init__(manifest.config)
        self.manifest = manifest
        available = ort.get_available_providers()
        if providers is None:
            providers = [p for p in PREFERRED_PROVIDERS if p in available]
        missing = [p for p in providers if p not in available]
        if missing:
            raise BackendError(f"onnxruntime has no {missing[0]} here (available: {', '.join(available)}); "
                               "install onnxruntime-gpu for CUDA/TensorRT, or drop the providers option")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        levels = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
                  "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                  "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                  "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}
        if graph_optimization not in levels:
            raise BackendError(f"graph_optimization must be one of {list(levels)}, got {graph_optimization!r}")
        options.graph_optimization_level = levels[graph_optimization]
        if not spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._providers = providers
        self.encoder = self._session(ort, "encoder", options, providers)
        self.decoder = self._session(ort, "decoder", options, providers)

    def _session(self, ort: Any, graph: str, options: Any, providers: list[str]) -> Any:
        path = self.manifest.graph_path(graph)
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own types for invalid files
            reason = " ".join(str(exc).split())[:160]
            raise BackendError(f"{path} could not be loaded by onnxruntime ({reason}); the file is damaged or "
                               "not a sam-trt export: re-run sam-trt export") from None
        expected = [i["name"] for i in self.manifest.graph(graph)["inputs"]]
        found = [i.name for i in session.get_inputs()]
        if found != expected:
            raise BackendError(f"{path} has inputs {found}, but its manifest promises {expected}; "
                               "the folder mixes files from different exports: re-run sam-trt export")
        return session

    @property
    def device(self) -> str:
        return "cuda" if self._providers[0] != "CPUExecutionProvider" else "cpu"

    @property
    def precision(self) -> str:
        return self.manifest.data.get("precision", "fp32")

    def encode(self, images: Any) -> np.ndarray:
        images = to_numpy(images)
        if images.dtype != np.uint8:  # float images from set_torch_image: the graph takes uint8
            images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
        padded, input_size = pad_to_square(images, self.encoder_size)
        (embedding,) = self.encoder.run(None, {"image": padded, "input_size": input_size})
        return embedding

    def decode(
        self,
        embeddings: Any,
        point_coords: np.ndarray,
        point_labels: np.ndarray,
        mask_input: np.ndarray,
        has_mask_input: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        feeds = {
            "image_embeddings": np.ascontiguousarray(to_numpy(embeddings), np.float32),
            "point_coords": np.ascontiguousarray(point_coords, np.float32),
            "point_labels": np.ascontiguousarray(point_labels, np.float32),
            "mask_input": np.ascontiguousarray(mask_input, np.float32),
            "has_mask_input": np.ascontiguousarray(has_mask_input, np.float32),
        }
        iou, low_res = self.decoder.run(None, feeds)
        return iou, low_res


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise BackendError("the ort backend needs onnxruntime: pip install 'sam-trt[onnx]' "
                           "(or onnxruntime-gpu for CUDA)") from None
    return onnxruntime
