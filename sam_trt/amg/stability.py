"""Stability score: IoU of a mask's logits thresholded at threshold + offset and threshold - offset."""

from __future__ import annotations

from typing import Any

import numpy as np


def _count_above(logits: Any, value: float) -> Any:
    """...xHxW logits -> ... counts of logits > value: int16 sums per row, then int32, as the reference."""
    above = logits > value
    if isinstance(above, np.ndarray):
        return above.sum(-1, dtype=np.int16).sum(-1, dtype=np.int32)
    import torch

    return above.sum(-1, dtype=torch.int16).sum(-1, dtype=torch.int32)


def stability_scores(logits: Any, mask_threshold: float, offset: float) -> np.ndarray:
    """NxHxW logits (numpy or torch) -> N float32 scores; NaN where nothing is above threshold - offset.

    The high-threshold mask is inside the low-threshold one, so their IoU is a ratio of pixel counts.
    """
    from ..runtime.base import to_numpy

    inter = to_numpy(_count_above(logits, mask_threshold + offset)).astype(np.float32)
    union = to_numpy(_count_above(logits, mask_threshold - offset)).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union
