"""The edge variants' own reference code (MobileSAM, EfficientViT-SAM) with seeded random weights: parity oracles."""

from __future__ import annotations

import torch

from sam_trt.bench.official import build_edge_reference

from .official_reference import randomize_


def build_reference(model_type: str, seed: int = 0) -> torch.nn.Module:
    """The reference model of `model_type` (vit_t or efficientvit_*) in eval mode, every weight non-trivial.

    BatchNorm statistics and TinyViT's attention biases get O(1) values too, so a folded-BN or stale-bias
    bug cannot hide behind their zero/one initialisation.
    """
    torch.manual_seed(seed)
    model = build_edge_reference(model_type)
    randomize_(model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("attention_biases"):
                p.normal_(0.0, 1.0)
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.normal_(0.0, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    model.train()  # MobileSAM caches its attention biases in eval(): refresh them after changing the weights
    return model.eval()
