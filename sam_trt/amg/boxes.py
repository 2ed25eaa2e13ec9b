"""Boxes of binary masks (inclusive pixel indices, as the reference) and box format conversion."""

from __future__ import annotations

import numpy as np


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """NxHxW bool -> Nx4 int64 XYXY with inclusive max indices (x1 = last column); [0,0,0,0] if empty."""
    n, h, w = masks.shape
    rows = masks.any(axis=2)  # NxH
    cols = masks.any(axis=1)  # NxW
    boxes = np.stack([cols.argmax(1), rows.argmax(1),
                      w - 1 - cols[:, ::-1].argmax(1), h - 1 - rows[:, ::-1].argmax(1)], axis=1).astype(np.int64)
    boxes[~rows.any(axis=1)] = 0
    return boxes


def box_xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """...x4 XYXY -> XYWH (w = x1 - x0)."""
    out = np.array(boxes, copy=True)
    out[..., 2:] -= out[..., :2]
    return out


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Nx4 XYXY -> N (x1 - x0) * (y1 - y0)."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
