"""Mask metrics in numpy: IoU, COCO area buckets, the SAM paper's one-click point, mask boxes."""

from __future__ import annotations

import cv2
import numpy as np

SMALL_AREA = 32 * 32  # COCO: small < 32^2 <= medium <= 96^2 < large
LARGE_AREA = 96 * 96


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-mask IoU of ...xHxW boolean stacks (broadcasting); 1.0 where both masks are empty."""
    inter = np.logical_and(pred, gt).sum(axis=(-2, -1))
    union = np.logical_or(pred, gt).sum(axis=(-2, -1))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def area_bucket(area: float) -> str:
    """'small', 'medium' or 'large' by COCO's pixel-area thresholds."""
    if area < SMALL_AREA:
        return "small"
    return "large" if area > LARGE_AREA else "medium"


def farthest_from_boundary(mask: np.ndarray) -> tuple[float, float]:
    """(x, y) of the mask pixel farthest from the mask's boundary (the image border counts as boundary).

    The first such pixel in row-major order, so ties resolve the same way everywhere.
    """
    if not mask.any():
        raise ValueError("farthest_from_boundary needs a non-empty mask")
    padded = np.pad(mask.astype(np.uint8), 1)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return float(x), float(y)


def mask_to_box(mask: np.ndarray) -> np.ndarray:
    """HxW bool -> XYXY box [x0, y0, x1 + 1, y1 + 1] covering the mask's pixels (COCO bbox as XYXY)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.zeros(4)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64)
