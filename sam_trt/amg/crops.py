"""Crop boxes of the crop layers, and moving boxes, points and masks from a crop back to the image."""

from __future__ import annotations

import math

import numpy as np


def generate_crop_boxes(im_size: tuple[int, ...], n_layers: int,
                        overlap_ratio: float) -> tuple[list[list[int]], list[int]]:
    """(H, W) -> (XYXY int crop boxes, their layer indices): the whole image, then (2^i)^2 boxes for layer i.

    Boxes of a layer overlap by int(overlap_ratio * min(H, W) * 2 / n_per_side) pixels and are listed
    x0-major (all y0 for the first x0, then the next x0), as the reference.
    """
    im_h, im_w = int(im_size[0]), int(im_size[1])
    boxes, layers = [[0, 0, im_w, im_h]], [0]
    for layer in range(n_layers):
        n = 2 ** (layer + 1)
        overlap = int(overlap_ratio * min(im_h, im_w) * (2 / n))
        crop_w = int(math.ceil((overlap * (n - 1) + im_w) / n))
        crop_h = int(math.ceil((overlap * (n - 1) + im_h) / n))
        for x0 in (int((crop_w - overlap) * i) for i in range(n)):
            for y0 in (int((crop_h - overlap) * i) for i in range(n)):
                boxes.append([x0, y0, min(x0 + crop_w, im_w), min(y0 + crop_h, im_h)])
                layers.append(layer + 1)
    return boxes, layers


def uncrop_boxes(boxes: np.ndarray, crop_box: list[int]) -> np.ndarray:
    """...x4 XYXY boxes in the crop frame -> the image frame."""
    x0, y0 = crop_box[0], crop_box[1]
    return boxes + np.array([x0, y0, x0, y0], dtype=boxes.dtype)


def uncrop_points(points: np.ndarray, crop_box: list[int]) -> np.ndarray:
    """...x2 (x, y) points in the crop frame -> the image frame."""
    return points + np.array([crop_box[0], crop_box[1]], dtype=points.dtype)


def is_full_image(crop_box: list[int], orig_size: tuple[int, int]) -> bool:
    return list(crop_box) == [0, 0, orig_size[1], orig_size[0]]


def near_crop_edge(boxes: np.ndarray, crop_box: list[int], orig_size: tuple[int, int],
                   atol: float = 20.0) -> np.ndarray:
    """Nx4 inclusive XYXY boxes (crop frame) -> N bool: a side lies within atol px of a crop edge that is
    not also an image edge (such masks are likely cut by the crop)."""
    boxes = uncrop_boxes(boxes, crop_box).astype(np.float32)
    crop = np.asarray(crop_box, np.float32)[None]
    image = np.array([[0, 0, orig_size[1], orig_size[0]]], np.float32)
    near_crop = np.abs(boxes - crop) <= atol
    near_image = np.abs(boxes - image) <= atol
    return np.any(near_crop & ~near_image, axis=1)

