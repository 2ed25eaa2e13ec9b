"""Prompt batches vs fixed engine limits: split B prompts into runs of at most max_batch, pad a run up to a
captured CUDA-graph size, and merge the outputs back (numpy or torch; torch is only touched for torch input).

Rows of the decoder are independent, so chunking and padding (by repeating the last prompt) are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import BackendError


def chunk_slices(batch: int, max_batch: int) -> list[slice]:
    """[0:max), [max:2max), ... covering `batch` rows; one empty slice for batch == 0."""
    if max_batch < 1:
        raise BackendError(f"max_batch must be >= 1, got {max_batch}")
    if batch == 0:
        return [slice(0, 0)]
    return [slice(start, min(start + max_batch, batch)) for start in range(0, batch, max_batch)]


def padded_size(batch: int, sizes: Sequence[int]) -> int | None:
    """Smallest of `sizes` >= batch (the CUDA graph to run it with), None when batch exceeds them all."""
    fits = [s for s in sizes if s >= batch]
    return min(fits) if fits else None


def pad_rows(arrays: Sequence[Any], size: int) -> list[Any]:
    """Each Bx... numpy array or torch tensor -> size x ... by repeating its last row (size >= B >= 1)."""
    out = []
    for a in arrays:
        extra = size - a.shape[0]
        if extra == 0:
            out.append(a)
            continue
        tail = np.repeat(a[-1:], extra, axis=0) if isinstance(a, np.ndarray) else a[-1:].expand(extra, *a.shape[1:])
        out.append(concat([a, tail]))
    return out


def concat(parts: Sequence[Any]) -> Any:
    """Concatenate along dim 0: numpy arrays, or torch tensors (torch imported only then)."""
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts, axis=0)
    import torch

    return torch.cat(list(parts), dim=0)


def decode_in_chunks(
    decode: Callable[..., tuple[Any, Any]],
    embedding: Any,
    point_coords: Any,
    point_labels: Any,
    mask_input: Any,
    has_mask_input: Any,
    max_batch: int,
) -> tuple[Any, Any]:
    """Run `decode(embedding, coords, labels, mask, has_mask)` on runs of at most max_batch prompts and merge
    (iou BxT, low-res BxTxsxs) in prompt order."""
    batch = point_coords.shape[0]
    if batch <= max_batch:
        return decode(embedding, point_coords, point_labels, mask_input, has_mask_input)
    ious, masks = [], []
    for rows in chunk_slices(batch, max_batch):
        iou, low_res = decode(embedding, point_coords[rows], point_labels[rows], mask_input[rows],
                              has_mask_input[rows])
        ious.append(iou)
        masks.append(low_res)
    return concat(ious), concat(masks)
