"""ResizeLongestSide: the reference image resize and coordinate transforms, in numpy (torch optional)."""

from __future__ import annotations

from copy import deepcopy
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch


class ResizeLongestSide:
    """Resize images so the longest side is `target_length`, and map coordinates the same way."""

    def __init__(self, target_length: int) -> None:
        self.target_length = target_length

    @staticmethod
    def get_preprocess_shape(oldh: int, oldw: int, long_side_length: int) -> tuple[int, int]:
        """Target (h, w): scale in float64, rounded half up (not banker's rounding)."""
        scale = long_side_length * 1.0 / max(oldh, oldw)
        return int(oldh * scale + 0.5), int(oldw * scale + 0.5)

    def apply_image(self, image: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 -> hxwx3 uint8, Pillow bilinear (antialiased when shrinking), as the reference."""
        h, w = self.get_preprocess_shape(image.shape[0], image.shape[1], self.target_length)
        return np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR))

    def apply_coords(self, coords: np.ndarray, original_size: tuple[int, ...]) -> np.ndarray:
        """...x2 (x, y) pixels of the original image -> the resized frame, as float64."""
        old_h, old_w = original_size
        new_h, new_w = self.get_preprocess_shape(old_h, old_w, self.target_length)
        coords = deepcopy(coords).astype(float)
        coords[..., 0] = coords[..., 0] * (new_w / old_w)
        coords[..., 1] = coords[..., 1] * (new_h / old_h)
        return coords

    def apply_boxes(self, boxes: np.ndarray, original_size: tuple[int, ...]) -> np.ndarray:
        """...x4 XYXY boxes -> Kx4 in the resized frame."""
        return self.apply_coords(boxes.reshape(-1, 2, 2), original_size).reshape(-1, 4)

    def apply_image_torch(self, image: torch.Tensor) -> torch.Tensor:
        """BxCxHxW float tensor -> resized with antialiased bilinear (may differ slightly from apply_image)."""
        import torch.nn.functional as F

        target = self.get_preprocess_shape(image.shape[2], image.shape[3], self.target_length)
        return F.interpolate(image, target, mode="bilinear", align_corners=False, antialias=True)

    def apply_coords_torch(self, coords: torch.Tensor, original_size: tuple[int, ...]) -> torch.Tensor:
        """...x2 tensor (x, y) in the original frame -> float32 tensor in the resized frame."""
        import torch

        old_h, old_w = original_size
        new_h, new_w = self.get_preprocess_shape(old_h, old_w, self.target_length)
        coords = deepcopy(coords).to(torch.float)
        coords[..., 0] = coords[..., 0] * (new_w / old_w)
        coords[..., 1] = coords[..., 1] * (new_h / old_h)
        return coords

    def apply_boxes_torch(self, boxes: torch.Tensor, original_size: tuple[int, ...]) -> torch.Tensor:
        """...x4 XYXY tensor -> Kx4 in the resized frame."""
        return self.apply_coords_torch(boxes.reshape(-1, 2, 2), original_size).reshape(-1, 4)



def pad_to_square(images: np.ndarray, image_size: int, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bx3xhxw uint8 -> (Bx3xSxS zero-padded bottom/right, Bx2 int32 (h, w)): the encoder graph's inputs.

    `out` may be a preallocated (e.g. pinned) Bx3xSxS uint8 buffer to fill.
    """
    b, c, h, w = images.shape
    if out is None:
        out = np.zeros((b, c, image_size, image_size), np.uint8)
    else:
        out[:, :, h:, :] = 0
        out[:, :, :h, w:] = 0
    out[:, :, :h, :w] = images
    return out, np.tile(np.array([[h, w]], np.int32), (b, 1))
