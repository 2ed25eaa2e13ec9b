"""The edge variants' own reference code (MobileSAM, EfficientViT-SAM) with seeded random weights: parity oracles."""

from __future__ import annotations

import torch

from sam_trt.bench.official import build_edge_reference, randomize_


def build_reference(model_type: str, seed: int = 0) -> torch.nn.Module:
    """The reference model of `model_type` (vit_t or efficientvit_*) in eval mode, every weight non-trivial."""
    torch.manual_seed(seed)
    model = build_edge_reference(model_type)
    randomize_(model)
    model.train()  # MobileSAM caches its attention biases in eval(): refresh them after changing the weights
    return model.eval()
