"""Prompt validation and packing into the decoder contract (numpy, shared by every backend)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError

VALID_LABELS = (-1, 0, 1, 2, 3)


@dataclass
class DecoderPrompts:
    """B prompts in the decoder ONNX contract (DESIGN.md decision 6)."""

    point_coords: np.ndarray  # BxNx2 float32, resized-image frame
    point_labels: np.ndarray  # BxN float32: -1 pad, 0 neg, 1 pos, 2/3 box corners
    mask_input: np.ndarray  # Bx1xsxs float32 low-res logits (zeros where unused)
    has_mask_input: np.ndarray  # B float32, 1.0 where mask_input is used

    @property
    def batch_size(self) -> int:
        return self.point_coords.shape[0]


def check_image(image: object, image_format: str) -> np.ndarray:
    """Validate an HxWx3 uint8 image and its colour order."""
    if image_format not in ("RGB", "BGR"):
        raise InputError(f"image_format must be 'RGB' or 'BGR', got {image_format!r}")
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a numpy HxWx3 uint8 array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or 0 in image.shape:
        raise InputError(f"image must be an HxWx3 uint8 array, got shape {image.shape} dtype {image.dtype}; "
                         "convert with cv2.cvtColor or np.stack([gray] * 3, -1) and .astype(np.uint8)")
    return image


def check_point_prompts(
    point_coords: object | None,
    point_labels: object | None,
    box: object | None,
    image_size: tuple[int, int] | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Validate ...xNx2 points, ...xN labels and ...x4 XYXY boxes; coordinates within the image if given.

    image_size: (H, W) of the frame the coordinates are in, or None to skip the range check.
    """
    coords = labels = boxes = None
    if point_coords is not None:
        if point_labels is None:
            raise InputError("point_labels must be supplied with point_coords (1 = foreground, 0 = background)")
        coords = _float_array(point_coords, "point_coords")
        labels = np.asarray(point_labels)
        if coords.ndim < 2 or coords.shape[-1] != 2:
            raise InputError(f"point_coords must be Nx2 (x, y) pixels, got shape {coords.shape}")
        if labels.shape != coords.shape[:-1]:
            raise InputError(f"point_labels must have one label per point: {coords.shape[:-1]} expected, "
                             f"got shape {labels.shape}")
        bad = ~np.isin(labels, VALID_LABELS)
        if bad.any():
            raise InputError(f"point label {labels[bad].flat[0]} is not one of {VALID_LABELS} "
                             "(1 foreground, 0 background, -1 padding, 2/3 box corners)")
        check_in_image(coords, image_size, "point")
    elif point_labels is not None:
        raise InputError("point_labels given without point_coords; pass both or neither")
    if box is not None:
        boxes = check_boxes(box)
        check_in_image(boxes.reshape(-1, 2), image_size, "box corner")
    return coords, labels, boxes


def check_boxes(box: object) -> np.ndarray:
    """Validate ...x4 XYXY boxes (finite, x0 <= x1, y0 <= y1) -> float64 array; one-line InputError otherwise."""
    boxes = _float_array(box, "box")
    if boxes.shape[-1] != 4:
        raise InputError(f"box must be XYXY (4 numbers) per prompt, got shape {boxes.shape}")
    flat = boxes.reshape(-1, 4)
    wrong = (flat[:, 2] < flat[:, 0]) | (flat[:, 3] < flat[:, 1])
    if wrong.any():
        raise InputError(f"box {flat[wrong][0].tolist()} has x1 < x0 or y1 < y0; boxes are XYXY "
                         "(left, top, right, bottom)")
    return boxes


def _float_array(x: object, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric, got {type(x).__name__}") from None
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or infinite values; pass finite pixel coordinates")
    return arr


def check_in_image(xy: np.ndarray, image_size: tuple[int, int] | None, what: str, where: str = "image") -> None:
    """One-line InputError naming `what` when a ...x2 (x, y) point lies outside an HxW `where` (image/frame)."""
    if image_size is None:
        return
    h, w = image_size
    flat = xy.reshape(-1, 2)
    outside = (flat[:, 0] < 0) | (flat[:, 0] > w) | (flat[:, 1] < 0) | (flat[:, 1] > h)
    if outside.any():
        x, y = flat[outside][0]
        raise InputError(f"{what} ({x:g}, {y:g}) is outside the {w}x{h} {where}; coordinates are (x, y) "
                         f"pixels of the original {where} with 0 <= x <= {w} and 0 <= y <= {h}")


def check_mask_input(mask_input: object, low_res_size: int, leading: tuple[int, ...]) -> np.ndarray:
    """Validate low-res logits of shape leading + (s, s)."""
    mask = np.asarray(mask_input, dtype=np.float32)
    expected = (*leading, low_res_size, low_res_size)
    if mask.shape != expected:
        want = "x".join(str(d) for d in expected)
        raise InputError(f"mask_input must be {want} low-res logits (the low_res output of an earlier predict), "
                         f"got shape {mask.shape}")
    return mask


def pack_prompts(
    coords: np.ndarray | None,
    labels: np.ndarray | None,
    boxes: np.ndarray | None,
    mask_input: np.ndarray | None,
    low_res_size: int,
) -> DecoderPrompts:
    """Transformed BxNx2 points, BxN labels, Bx4 boxes, Bx1xsxs masks -> the decoder contract.

    The reference token order: clicks, then a padding point (0, 0, label -1) only when there is no box,
    then the box corners (labels 2, 3). A mask batch of 1 is broadcast over the prompts.
    """
    if boxes is not None:
        boxes = boxes.reshape(-1, 4)
    first = next((a for a in (coords, boxes, mask_input) if a is not None), None)
    batch = 1 if first is None else first.shape[0]
    if boxes is not None and boxes.shape[0] != batch:
        raise InputError(f"{batch} point prompts but {boxes.shape[0]} boxes; give one box per prompt")
    if mask_input is not None and mask_input.shape[0] not in (1, batch):
        raise InputError(f"{batch} prompts but {mask_input.shape[0]} mask inputs; give one per prompt (or one)")
    parts_xy: list[np.ndarray] = []
    parts_label: list[np.ndarray] = []
    if coords is not None:
        parts_xy.append(coords)
        parts_label.append(labels)
        if boxes is None:
            parts_xy.append(np.zeros((batch, 1, 2)))
            parts_label.append(-np.ones((batch, 1)))
    if boxes is not None:
        parts_xy.append(boxes.reshape(batch, 2, 2))
        parts_label.append(np.broadcast_to(np.array([2.0, 3.0]), (batch, 2)))
    if parts_xy:
        point_coords = np.concatenate(parts_xy, axis=1).astype(np.float32)
        point_labels = np.concatenate(parts_label, axis=1).astype(np.float32)
    else:
        point_coords = np.zeros((batch, 0, 2), np.float32)
        point_labels = np.zeros((batch, 0), np.float32)
    if mask_input is None:
        masks = np.zeros((batch, 1, low_res_size, low_res_size), np.float32)
        has_mask = np.zeros(batch, np.float32)
    else:
        masks = np.array(np.broadcast_to(mask_input, (batch, 1, low_res_size, low_res_size)), np.float32)
        has_mask = np.ones(batch, np.float32)
    return DecoderPrompts(point_coords, point_labels, masks, has_mask)
