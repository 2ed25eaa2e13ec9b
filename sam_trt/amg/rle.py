"""Uncompressed RLE (pycocotools layout: column-major, counts start with a run of zeros) and COCO RLE."""

from __future__ import annotations

from typing import Any

import numpy as np


def masks_to_rle(masks: np.ndarray, index: np.ndarray | None = None, offset: tuple[int, int] = (0, 0),
                 frame: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """NxhxW bool -> uncompressed RLEs {"size": [H, W], "counts": [zeros, ones, zeros, ...]}.

    index: the masks to encode (default all); offset (x0, y0) and frame (H, W): place each mask there in
    a larger all-zero frame first (a crop's masks in the image frame). Default: the masks' own size.
    """
    h, w = masks.shape[1:]
    fh, fw = frame if frame is not None else (h, w)
    # Column-major (Fortran) order per mask: gather, transpose and pad in one copy.
    columns = masks.transpose(0, 2, 1) if index is None else masks.transpose(0, 2, 1)[index]
    if (fh, fw) != (h, w):
        placed = np.zeros((len(columns), fw, fh), bool)
        placed[:, offset[0] : offset[0] + w, offset[1] : offset[1] + h] = columns
        columns = placed
    n = len(columns)
    if n == 0:
        return []
    flat = np.ascontiguousarray(columns).reshape(n, fh * fw)
    changes = np.flatnonzero(flat[:, 1:] != flat[:, :-1])
    rows, cols = np.divmod(changes, fh * fw - 1)
    per_mask = np.bincount(rows, minlength=n)
    # Run boundaries of mask i: 0, every change position + 1, h*w; their differences are the run lengths.
    starts = np.concatenate([[0], np.cumsum(per_mask)])[:-1]
    bounds = np.insert(cols + 1, starts + per_mask, fh * fw)  # h*w after each mask's changes
    bounds = np.insert(bounds, starts + np.arange(n), 0)  # 0 before each mask's changes
    runs = np.diff(bounds)
    ends = np.cumsum(per_mask + 2)  # mask i's bounds are bounds[ends[i] - per_mask[i] - 2 : ends[i]]
    first_set = flat[:, 0]
    out = []
    for i in range(n):
        counts = runs[ends[i] - per_mask[i] - 2 : ends[i] - 1].tolist()
        out.append({"size": [fh, fw], "counts": [0, *counts] if first_set[i] else counts})
    return out


def rle_to_mask(rle: dict[str, Any]) -> np.ndarray:
    """Uncompressed RLE -> HxW bool."""
    h, w = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    values = (np.arange(len(counts)) % 2).astype(bool)
    return np.ascontiguousarray(np.repeat(values, counts).reshape(w, h).T)


def area_from_rle(rle: dict[str, Any]) -> int:
    return int(sum(rle["counts"][1::2]))


def coco_encode_rles(rles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Uncompressed RLEs -> COCO compressed RLEs {"size": [H, W], "counts": str} (JSON-serialisable)."""
    from pycocotools import mask as mask_utils

    out = []
    for rle in rles:
        h, w = rle["size"]
        coco = mask_utils.frPyObjects(rle, h, w)
        out.append({"size": [int(s) for s in coco["size"]], "counts": coco["counts"].decode("utf-8")})
    return out
