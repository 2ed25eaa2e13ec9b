"""Greedy box non-maximum suppression in numpy, with torchvision.ops.nms semantics."""

from __future__ import annotations

import numpy as np

from .boxes import box_area


def box_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Nx4 XYXY boxes, N scores -> indices of the kept boxes, by score descending (ties: lower index first).

    As torchvision: boxes are visited by descending score; a box is dropped when its IoU with a kept box
    is > iou_threshold; IoU uses (x1 - x0) * (y1 - y0) areas and is computed in float32, then compared
    with the threshold in float64; degenerate pairs (0 / 0) never suppress.
    """
    n = len(boxes)
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    b = np.asarray(boxes, np.float32)[order]
    areas = box_area(b)
    alive = np.ones(n, bool)
    keep = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(n):
            if not alive[i]:
                continue
            keep.append(i)
            rest = np.flatnonzero(alive[i + 1 :]) + i + 1
            if len(rest) == 0:
                break
            iw = np.maximum(np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0]), np.float32(0))
            ih = np.maximum(np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1]), np.float32(0))
            inter = iw * ih
            iou = inter / (areas[i] + areas[rest] - inter)
            alive[rest[iou.astype(np.float64) > iou_threshold]] = False
    return order[np.asarray(keep, np.int64)]
