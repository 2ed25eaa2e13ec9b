"""PyTorch backend: the reference model on CPU or CUDA (fp32; fp16/bf16 autocast, resize on the device and
CUDA graphs of the decoder on CUDA)."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch

from ..errors import BackendError
from ..modeling.sam import Sam
from .base import SamBackend

_AUTOCAST_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


class TorchBackend(SamBackend):
    name = "torch"

    def __init__(self, sam: Sam, device: str | torch.device | None = None, precision: str = "fp32",
                 device_preprocess: bool | None = None, cuda_graphs: bool = False,
                 graph_batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16), log: Any = None) -> None:
        """device_preprocess: resize on the model's device (default: on CUDA only; the host path is
        Pillow-exact). cuda_graphs: replay the decoder from CUDA graphs per padded batch size (CUDA only)."""
        if sam.config is None:
            raise BackendError("this Sam has no config; build it with sam_model_registry or build_sam_from_config")
        super().__init__(sam.config)
        if precision not in ("fp32", *_AUTOCAST_DTYPES):
            raise BackendError(f"torch backend precision must be fp32, fp16 or bf16, got {precision!r}")
        if device is not None:
            sam.to(device)
        if precision != "fp32" and sam.device.type != "cuda":
            raise BackendError(f"torch backend precision {precision} needs a CUDA device (model is on "
                               f"{sam.device}); use precision='fp32' on the CPU")
        if cuda_graphs and sam.device.type != "cuda":
            raise BackendError(f"cuda_graphs needs a CUDA device (model is on {sam.device}); drop cuda_graphs=True")
        self.sam = sam
        self._precision = precision
        self._dense_pe: torch.Tensor | None = None
        self.device_preprocess = sam.device.type == "cuda" if device_preprocess is None else device_preprocess
        self.graphs = None
        if cuda_graphs:
            from .torch_cuda import DecoderGraphs

            self.graphs = DecoderGraphs(self._decode_tensors, graph_batch_sizes, log=log)

    @property
    def device(self) -> torch.device:
        return self.sam.device

    @property
    def precision(self) -> str:
        return self._precision

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self._precision == "fp32":
            return contextlib.nullcontext()
        # LayerNorm and softmax stay in fp32 under autocast, which is what keeps SAM's fp16 sane. No cast cache:
        # CUDA graph capture must not reuse casts made outside it (torch's CUDA graph notes).
        return torch.autocast(device_type="cuda", dtype=_AUTOCAST_DTYPES[self._precision],
                              cache_enabled=self.graphs is None)

    def _tensor(self, x: Any, dtype: torch.dtype | None = torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x,
                               device=self.device, dtype=dtype)

    def dense_pe(self) -> torch.Tensor:
        """Positional encoding of the embedding grid, 1x256xgxg (constant per device)."""
        if self._dense_pe is None or self._dense_pe.device != self.device:
            with torch.no_grad():
                self._dense_pe = self.sam.prompt_encoder.get_dense_pe()
        return self._dense_pe

    def preprocess(self, image: np.ndarray) -> tuple[Any, tuple[int, int]]:
        """Resize on the model's device when device_preprocess (1x3xhxw uint8 tensor), else the Pillow path."""
        if not self.device_preprocess:
            return super().preprocess(image)
        from .torch_cuda import resize_on_device

        resized, _ = resize_on_device(image, self.encoder_size, self.device)
        return resized, self.input_size_of(image.shape[:2])

    @torch.no_grad()
    def encode(self, images: Any) -> torch.Tensor:
        images = self._tensor(images, dtype=None)
        with self._autocast():
            return self.sam.image_encoder(self.sam.preprocess(images)).float()

    @torch.no_grad()
    def decode(
        self,
        embeddings: Any,
        point_coords: Any,
        point_labels: Any,
        mask_input: Any,
        has_mask_input: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = (self._tensor(embeddings), self._tensor(point_coords), self._tensor(point_labels),
                  self._tensor(mask_input), self._tensor(has_mask_input))
        return self.graphs(*inputs) if self.graphs is not None else self._decode_tensors(*inputs)

    def _decode_tensors(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Device tensors (embedding, coords, labels, mask_input, has_mask_input) -> fp32 (iou, low-res)."""
        with torch.no_grad(), self._autocast():
            iou, low_res = self.sam.decode_prompts(*inputs, self.dense_pe())
        return iou.float(), low_res.float()

