"""Mask selection and upscaling shared by every backend (torch tensors stay on their device)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

ArrayT = TypeVar("ArrayT", "np.ndarray", "torch.Tensor")

# cv2.resize handles at most this many channels in one call.
_CV_MAX_CHANNELS = 512


def select_masks(iou: ArrayT, low_res: ArrayT, multimask_output: bool) -> tuple[ArrayT, ArrayT]:
    """All-token outputs (iou BxT, low_res BxTxhxw) -> tokens 1..T-1 (multimask) or token 0."""
    sl = slice(1, None) if multimask_output else slice(0, 1)
    return iou[:, sl], low_res[:, sl]


def upscale_masks(
    masks: ArrayT, image_size: int, input_size: tuple[int, ...], original_size: tuple[int, ...]
) -> ArrayT:
    """BxCxhxw low-res logits -> BxCxHxW logits at the original image size.

    Bilinear (half-pixel centres, no antialias) to the padded SxS input, crop to the resized image
    (input_size), bilinear to original_size: the reference `Sam.postprocess_masks`.
    """
    input_h, input_w = int(input_size[0]), int(input_size[1])
    out_h, out_w = int(original_size[0]), int(original_size[1])
    if isinstance(masks, np.ndarray):
        return _upscale_numpy(masks, image_size, (input_h, input_w), (out_h, out_w))
    import torch.nn.functional as F

    masks = F.interpolate(masks, (image_size, image_size), mode="bilinear", align_corners=False)
    masks = masks[..., :input_h, :input_w]
    return F.interpolate(masks, (out_h, out_w), mode="bilinear", align_corners=False)


def _upscale_numpy(
    masks: np.ndarray, image_size: int, input_size: tuple[int, int], original_size: tuple[int, int]
) -> np.ndarray:
    b, c, h, w = masks.shape
    planes = np.ascontiguousarray(masks.reshape(b * c, h, w).transpose(1, 2, 0), dtype=np.float32)
    out = np.empty((original_size[0], original_size[1], b * c), np.float32)
    for start in range(0, b * c, _CV_MAX_CHANNELS):
        chunk = planes[..., start : start + _CV_MAX_CHANNELS]
        full = cv2.resize(chunk, (image_size, image_size), interpolation=cv2.INTER_LINEAR)
        full = full.reshape(image_size, image_size, -1)[: input_size[0], : input_size[1]]
        resized = cv2.resize(full, (original_size[1], original_size[0]), interpolation=cv2.INTER_LINEAR)
        out[..., start : start + chunk.shape[-1]] = resized.reshape(original_size[0], original_size[1], -1)
    return out.transpose(2, 0, 1).reshape(b, c, original_size[0], original_size[1])
