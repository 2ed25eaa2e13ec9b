"""Mask metrics in numpy: IoU, COCO area buckets, the SAM paper's one-click point, corrective clicks,
mask boxes, and the summary statistics the benchmarks report."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

SMALL_AREA = 32 * 32  # COCO: small < 32^2 <= medium <= 96^2 < large
LARGE_AREA = 96 * 96
BUCKETS = ("all", "small", "medium", "large")


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


def boundary_distance(mask: np.ndarray) -> np.ndarray:
    """HxW bool -> HxW float32 Euclidean distance of each mask pixel to the nearest pixel outside the mask
    (0 outside); the image border counts as outside."""
    padded = np.pad(mask.astype(np.uint8), 1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]


def farthest_from_boundary(mask: np.ndarray) -> tuple[float, float]:
    """(x, y) of the mask pixel farthest from the mask's boundary (the image border counts as boundary).

    The first such pixel in row-major order, so ties resolve the same way everywhere.
    """
    if not mask.any():
        raise ValueError("farthest_from_boundary needs a non-empty mask")
    distance = boundary_distance(mask)
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return float(x), float(y)


def next_click(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float, int] | None:
    """The simulated user's corrective click for iterative refinement, or None when pred == gt.

    pred, gt: HxW bool. The error is split into missed object pixels (gt & ~pred) and false positives
    (pred & ~gt); the click goes to the pixel farthest from the boundary of its own error region, over both
    regions (a tie goes to the missed region). Returns (x, y, label) with pixel indices (add 0.5 for the
    pixel centre) and label 1 (positive: add the missed part) or 0 (negative: remove the false positive).
    """
    missed = np.logical_and(gt, np.logical_not(pred))
    extra = np.logical_and(pred, np.logical_not(gt))
    best: tuple[float, float, float, int] | None = None
    for region, label in ((missed, 1), (extra, 0)):
        if not region.any():
            continue
        distance = boundary_distance(region)
        flat = int(np.argmax(distance))
        if best is None or distance.flat[flat] > best[0]:
            y, x = np.unravel_index(flat, distance.shape)
            best = (float(distance.flat[flat]), float(x), float(y), label)
    return None if best is None else (best[1], best[2], best[3])


def mask_to_box(mask: np.ndarray) -> np.ndarray:
    """HxW bool -> XYXY box [x0, y0, x1 + 1, y1 + 1] covering the mask's pixels (COCO bbox as XYXY)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.zeros(4)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64)


def bucket_means(values: Sequence[float] | np.ndarray, areas: Sequence[float] | np.ndarray) -> dict[str, dict]:
    """Mean of per-object `values` over all objects and per COCO area bucket of `areas` (pixels).

    -> {"all" | "small" | "medium" | "large": {"mean": float or None (empty bucket), "count": int}}.
    """
    values = np.asarray(values, dtype=np.float64)
    names = np.array([area_bucket(a) for a in np.asarray(areas, dtype=np.float64)], dtype=object)
    out = {}
    for bucket in BUCKETS:
        sel = values if bucket == "all" else values[names == bucket]
        out[bucket] = {"mean": float(sel.mean()) if len(sel) else None, "count": int(len(sel))}
    return out


def distribution(values: Sequence[float] | np.ndarray) -> dict[str, float | int | None]:
    """count, mean, min, p1, p5, p50, max of a sample (None for an empty one; linear percentiles)."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        return {"count": 0, "mean": None, "min": None, "p1": None, "p5": None, "p50": None, "max": None}
    p1, p5, p50 = np.percentile(arr, [1, 5, 50])
    return {"count": int(arr.size), "mean": float(arr.mean()), "min": float(arr.min()), "p1": float(p1),
            "p5": float(p5), "p50": float(p50), "max": float(arr.max())}


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays flattened, in float64; exactly 1.0 for equal non-zero arrays."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    denom = np.sqrt(np.dot(a, a) * np.dot(b, b))  # sqrt(x * x) == x in IEEE arithmetic: equal inputs give 1
    if denom == 0:
        return 1.0 if not a.any() and not b.any() else 0.0
    return float(np.clip(np.dot(a, b) / denom, -1.0, 1.0))
