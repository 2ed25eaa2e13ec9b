"""PyTorch backend: the reference model on CPU or CUDA (fp32; fp16/bf16 autocast on CUDA)."""

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

    def __init__(self, sam: Sam, device: str | torch.device | None = None, precision: str = "fp32") -> None:
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
        self.sam = sam
        self._precision = precision
        self._dense_pe: torch.Tensor | None = None

    @property
    def device(self) -> torch.device:
        return self.sam.device

    @property
    def precision(self) -> str:
        return self._precision

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self._precision == "fp32":
            return contextlib.nullcontext()
        # LayerNorm and softmax stay in fp32 under autocast, which is what keeps SAM's fp16 sane.
        return torch.autocast(device_type="cuda", dtype=_AUTOCAST_DTYPES[self._precision])

    def _tensor(self, x: Any, dtype: torch.dtype | None = torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x,
                               device=self.device, dtype=dtype)

    def dense_pe(self) -> torch.Tensor:
        """Positional encoding of the embedding grid, 1x256xgxg (constant per device)."""
        if self._dense_pe is None or self._dense_pe.device != self.device:
            with torch.no_grad():
                self._dense_pe = self.sam.prompt_encoder.get_dense_pe()
        return self._dense_pe

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
        with self._autocast():
            iou, low_res = self.sam.decode_prompts(
                self._tensor(embeddings), self._tensor(point_coords), self._tensor(point_labels),
                self._tensor(mask_input), self._tensor(has_mask_input), self.dense_pe(),
            )
        return iou.float(), low_res.float()

