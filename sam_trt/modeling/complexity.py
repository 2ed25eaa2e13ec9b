"""Parameter and FLOP counts of a model type, measured on the meta device (no weights, no compute)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from ..config import KNOWN_CONFIGS


@dataclass(frozen=True)
class ModelCost:
    """params: whole model; encoder_params: image encoder; encoder_gflops: one image, matmul + conv (2 x MACs)."""

    params: int
    encoder_params: int
    encoder_gflops: float


@functools.cache
def model_cost(model_type: str) -> ModelCost:
    """The cost of `model_type` (a KNOWN_CONFIGS key), counted by torch's FlopCounterMode on meta tensors."""
    from torch.utils.flop_counter import FlopCounterMode

    from .build import build_sam_from_config

    config = KNOWN_CONFIGS[model_type]
    with torch.device("meta"):
        sam = build_sam_from_config(config)
        image = torch.zeros(1, 3, config.encoder_size, config.encoder_size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        sam.image_encoder(image)
    count = sum(p.numel() for p in sam.parameters())
    encoder = sum(p.numel() for p in sam.image_encoder.parameters())
    return ModelCost(count, encoder, counter.get_total_flops() / 1e9)
