"""Calibration data: images (a folder, or generated scenes by default) and the graph inputs they give.

Encoder feeds are what `OrtBackend.encode` feeds (uint8 1x3xSxS, padded, + input_size). Decoder feeds are
sampled like real use on each image's FP32 embedding: GT (or random) boxes, 1-3 clicks with some
negatives, and refinement prompts whose mask_input is the FP32 decoder's own earlier logits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..metrics import farthest_from_boundary, mask_to_box
from ..prompts import pack_prompts
from ..transforms import ResizeLongestSide, pad_to_square

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
# Generated calibration scenes: a seed apart from the demo's check scenes (4242) and the gate's (5151).
CALIB_SEED = 3131
DEFAULT_CALIB_IMAGES = 64
MAX_PROMPTS = 8  # prompts per decoder calibration step


@dataclass
class CalibImage:
    """An HxWx3 RGB uint8 image and, for generated scenes, its KxHxW GT masks (None for a folder)."""

    image: np.ndarray
    masks: np.ndarray | None = None


def calibration_images(folder: str | Path | None, count: int = DEFAULT_CALIB_IMAGES,
                       size: tuple[int, int] = (256, 256), seed: int = CALIB_SEED) -> list[CalibImage]:
    """Up to `count` images from `folder` (sorted by name), or `count` generated scenes when folder is None."""
    if folder is None:
        from ..data import generate_scene, rng_for

        scenes = [generate_scene(rng_for(seed, i), size=size) for i in range(count)]
        return [CalibImage(s.image, np.asarray(s.masks, bool)) for s in scenes]
    from ..files import read_image_rgb

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"calibration folder not found: {folder}; pass --calib with a folder of images "
                         "(>= 500 recommended) or leave it out to calibrate on generated scenes")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in calibration folder {folder}")
    return [CalibImage(read_image_rgb(p)) for p in files[:count]]


def encoder_feed(image: np.ndarray, image_size: int) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """HxWx3 RGB uint8 -> ({image: 1x3xSxS uint8, input_size: 1x2 int32}, original (H, W)); S = encoder size."""
    resized = ResizeLongestSide(image_size).apply_image(image)
    padded, input_size = pad_to_square(np.ascontiguousarray(resized.transpose(2, 0, 1))[None], image_size)
    return {"image": padded, "input_size": input_size}, image.shape[:2]


def _prompt_points(item: CalibImage, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """count boxes (XYXY) and count object clicks (x, y) in original pixels: from GT masks, else random."""
    h, w = item.image.shape[:2]
    if item.masks is not None and len(item.masks):
        idx = rng.choice(len(item.masks), size=count, replace=len(item.masks) < count)
        boxes = np.stack([mask_to_box(item.masks[i]) for i in idx]).astype(np.float64)
        jitter = rng.normal(0, 0.05, boxes.shape) * np.repeat(boxes[:, 2:] - boxes[:, :2] + 1, 2, axis=0).reshape(
            boxes.shape)
        boxes = boxes + jitter
        clicks = []
        for i in idx:
            ys, xs = np.nonzero(item.masks[i])
            j = rng.integers(len(xs))
            clicks.append((xs[j] + 0.5, ys[j] + 0.5) if rng.random() < 0.7 else
                          tuple(np.array(farthest_from_boundary(item.masks[i])) + 0.5))
        clicks = np.array(clicks)
    else:
        centre = rng.uniform(0, 1, (count, 2)) * (w, h)
        half = rng.uniform(0.05, 0.4, (count, 2)) * (w, h)
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        clicks = rng.uniform(0, 1, (count, 2)) * (w, h)
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w - 1)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h - 1)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    return boxes, clicks


def decoder_feeds(embedding: np.ndarray, item: CalibImage, original_size: tuple[int, int], image_size: int,
                  low_res_size: int, rng: np.random.Generator, decoder_session: object | None = None
                  ) -> Iterator[dict[str, np.ndarray]]:
    """Decoder inputs for one image: a batch of boxes, a batch of 1-3 clicks (some negative), and (with the FP32
    `decoder_session`) a refinement batch: the click batch's best logits as mask_input plus a second click."""
    transform = ResizeLongestSide(image_size)
    count = int(rng.integers(1, MAX_PROMPTS + 1))
    boxes, clicks = _prompt_points(item, rng, count)
    emb = np.ascontiguousarray(embedding, np.float32)

    def feed(coords: np.ndarray | None, labels: np.ndarray | None, box: np.ndarray | None,
             mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        p = pack_prompts(None if coords is None else transform.apply_coords(coords, original_size),
                         labels, None if box is None else transform.apply_boxes(box, original_size), mask,
                         low_res_size)
        return {"image_embeddings": emb, "point_coords": p.point_coords.astype(np.float32),
                "point_labels": p.point_labels.astype(np.float32), "mask_input": p.mask_input.astype(np.float32),
                "has_mask_input": p.has_mask_input.astype(np.float32)}

    yield feed(None, None, boxes)
    points = int(rng.integers(1, 4))
    h, w = original_size
    extra = rng.uniform(0, 1, (count, points - 1, 2)) * (w, h)
    coords = np.concatenate([clicks[:, None], extra], axis=1)
    labels = np.concatenate([np.ones((count, 1)), (rng.random((count, points - 1)) < 0.5).astype(float)], axis=1)
    clicks_feed = feed(coords, labels, None)
    yield clicks_feed
    if decoder_session is not None:
        iou, low_res = decoder_session.run(None, clicks_feed)
        best = 1 + np.argmax(iou[:, 1:], axis=1)
        mask = low_res[np.arange(count), best][:, None]
        second = np.concatenate([coords[:, :1], rng.uniform(0, 1, (count, 1, 2)) * (w, h)], axis=1)
        yield feed(second, np.concatenate([np.ones((count, 1)), rng.integers(0, 2, (count, 1))], axis=1), None, mask)
