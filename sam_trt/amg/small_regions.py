"""Small-region post-processing: fill small holes, drop small islands (cv2 connected components)."""

from __future__ import annotations

import cv2
import numpy as np


def remove_small_regions(mask: np.ndarray, area_thresh: float, mode: str) -> tuple[np.ndarray, bool]:
    """HxW bool -> (mask, changed). mode "holes": fill background components smaller than area_thresh;
    "islands": drop foreground components smaller than area_thresh (all small: keep the largest)."""
    if mode not in ("holes", "islands"):
        raise ValueError(f"mode must be 'holes' or 'islands', got {mode!r}")
    holes = mode == "holes"
    working = (mask != holes).astype(np.uint8)  # the background for holes, the mask for islands
    n_labels, labels, stats, _ = cv2.connectedComponentsWithStats(working, connectivity=8)
    sizes = stats[1:, cv2.CC_STAT_AREA]
    small = sizes < area_thresh
    if not small.any():
        return mask, False
    keep = np.zeros(n_labels, bool)  # labels that end up in the mask
    if holes:
        keep[0] = True  # label 0 of the inverted mask: the mask itself
        keep[1:][small] = True
    else:
        keep[1:][~small] = True
        if not keep.any():
            keep[int(np.argmax(sizes)) + 1] = True
    return keep[labels], True


def clean_mask(mask: np.ndarray, min_area: int) -> tuple[np.ndarray, bool]:
    """Holes, then islands -> (mask, changed by either pass)."""
    mask, changed_holes = remove_small_regions(mask, min_area, "holes")
    mask, changed_islands = remove_small_regions(mask, min_area, "islands")
    return mask, changed_holes or changed_islands
