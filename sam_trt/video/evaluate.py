"""Tracking quality on generated clips with ground truth (sam_trt.data.generate_video): boxes on frame 0,
tracker over every frame, IoU per frame and object."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics import mask_iou, mask_to_box
from ..runtime.base import SamBackend
from .tracker import Prompt, Tracker, TrackerOptions, TrackResult


def track_clip(backend: SamBackend, frames: np.ndarray, first_masks: dict[int, np.ndarray],
               options: TrackerOptions | None = None, embeddings: list[Any] | None = None) -> list[list[TrackResult]]:
    """Track the objects of `first_masks` ({id: HxW bool} on frame 0, prompted with their boxes) through
    frames TxHxWx3 uint8 RGB; `embeddings` (list of (embedding, input_size)) skips the encoder."""
    tracker = Tracker(backend, options)
    for object_id, mask in sorted(first_masks.items()):
        tracker.add(object_id, Prompt(box=mask_to_box(mask)))
    embeddings = embeddings if embeddings is not None else encode_clip(backend, frames)
    return [tracker.step(embedding, frame.shape[:2], input_size)
            for frame, (embedding, input_size) in zip(frames, embeddings)]


def encode_clip(backend: SamBackend, frames: np.ndarray) -> list[tuple[Any, tuple[int, int]]]:
    """TxHxWx3 uint8 RGB frames -> [(embedding 1xCxgxg, resized (h, w))] per frame, to reuse across runs."""
    out = []
    for frame in frames:
        image, input_size = backend.preprocess(frame)
        out.append((backend.encode(image), input_size))
    return out


def tracking_ious(results: list[list[TrackResult]], truth: list[dict[int, np.ndarray]]) -> dict[int, list[float]]:
    """{object id: IoU per frame} over the frames where the object is in the ground truth or the tracker
    reports a mask (a mask where there is no object scores 0; no object and no mask is not counted)."""
    out: dict[int, list[float]] = {}
    for frame_results, gt in zip(results, truth):
        for r in frame_results:
            target = gt.get(r.object_id)
            if target is None and not r.mask.any():
                continue
            if target is None:
                target = np.zeros_like(r.mask)
            out.setdefault(r.object_id, []).append(float(mask_iou(r.mask, target)))
    return out


def tracking_miou(results: list[list[TrackResult]], truth: list[dict[int, np.ndarray]]) -> float:
    """Mean IoU over every counted (frame, object) pair of `tracking_ious`."""
    values = [v for ious in tracking_ious(results, truth).values() for v in ious]
    return float(np.mean(values)) if values else 0.0


def oracle_miou(backend: SamBackend, frames: np.ndarray, truth: list[dict[int, np.ndarray]],
                embeddings: list[Any] | None = None) -> float:
    """The decoder's ceiling on a clip: every frame prompted afresh with each object's true box (no tracking);
    mean IoU over every (frame, visible object)."""
    ious = []
    embeddings = embeddings if embeddings is not None else encode_clip(backend, frames)
    for t, (frame, (embedding, input_size)) in enumerate(zip(frames, embeddings)):
        tracker = Tracker(backend)
        for object_id, mask in truth[t].items():
            tracker.add(object_id, Prompt(box=mask_to_box(mask)))
        ious += [float(mask_iou(r.mask, truth[t][r.object_id])) for r in tracker.step(embedding, frame.shape[:2],
                                                                                         input_size)]
    return float(np.mean(ious)) if ious else 0.0
