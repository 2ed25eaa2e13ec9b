"""Multi-object mask tracking with SAM v1: every object is re-prompted on every frame from its own previous
result, and all objects of a frame go to the decoder in one prompt batch.

Per object and frame the prompt is the box of its previous mask (moved by its smoothed velocity, its size
change limited, enlarged a little), its previous low-res logits as `mask_input`, and a positive point at
the previous mask's interior (the pixel farthest from its boundary; an option, on by default). Where masks
overlap, a pixel goes to the object with the highest logit. A result with a (near-)empty mask, a low
predicted IoU, a sudden growth or most of its pixels taken by another object marks the object lost; a lost
object is searched for each frame with its last good box (no mask prior) and re-acquired when the answer
is confident and about the size it had. A keyframe prompt (from the user) restarts an object from that
prompt. Ids never change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..metrics import farthest_from_boundary, mask_to_box
from ..postprocess import upscale_masks
from ..runtime.base import SamBackend, to_numpy


@dataclass(frozen=True)
class Prompt:
    """A user prompt in original-frame pixels: points Nx2 with labels N (1 positive, 0 negative), box XYXY."""

    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    box: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", np.asarray(self.points, np.float32).reshape(-1, 2))
        object.__setattr__(self, "labels", np.asarray(self.labels, np.int64).reshape(-1))
        if self.box is not None:
            object.__setattr__(self, "box", np.asarray(self.box, np.float32).reshape(4))

    @property
    def empty(self) -> bool:
        return self.box is None and len(self.points) == 0

    def with_point(self, x: float, y: float, label: int) -> Prompt:
        return Prompt(np.vstack([self.points, [[x, y]]]), np.append(self.labels, label), self.box)


@dataclass
class TrackerOptions:
    """Re-prompting strategy (defaults measured on generated clips: benchmarks/results/video_tracking_tune.md).

    The prompt box is the previous mask's box, moved by the object's smoothed velocity, its size limited to
    change by `max_growth` per frame (a mask that leaks into a neighbour cannot drag the box along), then
    enlarged by `enlarge` (a fraction of its side) plus `enlarge_px` on each side. `clip_margin` (px, None:
    off) cuts the output mask to the prompt box grown by that much. mask_input: pass the previous low-res
    logits as the mask prior. interior_point: add a positive point at the previous mask's interior. The
    single-mask output (token 0) is used, except for a lone user click (best of the multimask outputs).
    Lost when the mask has < min_area px or predicted IoU < min_score (a user prompt is
    kept whatever its score); a lost object is searched for at its predicted box and re-acquired when
    predicted IoU >= reacquire_score and the area is within a factor `reacquire_area` of the last good one.
    exit_fraction (None: off): a mask cut by the frame's edge is taken as the visible part of an object of its
    usual size (the box is extended past that edge), so its box keeps moving as it leaves; once less than
    this fraction of that box is inside the frame, the object has left: it is marked lost, searched for where
    it left, and re-acquired only by a mask that touches the frame's edge (it comes back across the edge).
    """

    enlarge: float = 0.0
    enlarge_px: float = 2.0
    max_growth: float = 1.1
    velocity: float = 0.5
    smooth: float = 0.2
    clip_margin: float | None = 4.0
    mask_input: bool = True
    interior_point: bool = True
    min_area: int = 12
    min_score: float = 0.3
    reacquire_score: float = 0.6
    reacquire_area: float = 2.0
    exclusive: bool = True
    min_kept: float = 0.3
    max_area_jump: float = 2.0
    exit_fraction: float | None = None


@dataclass
class TrackResult:
    """One object on one frame: mask HxW bool (all False when lost), score (predicted IoU), box XYXY."""

    object_id: int
    mask: np.ndarray
    score: float
    box: np.ndarray
    lost: bool


@dataclass
class _Track:
    object_id: int
    prompt: Prompt  # the user's prompt until its first result, then the box of the last result
    user: bool = True  # `prompt` came from the user (no mask prior, no growth limit)
    logits: np.ndarray | None = None  # sxs low-res logits of the last good result
    mask: np.ndarray | None = None  # HxW bool of the last good result
    negatives: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    center: np.ndarray | None = None  # (x, y) and (w, h) of the last good box, smoothed velocity (dx, dy)
    size: np.ndarray | None = None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    last_area: float = 0.0
    ref_size: np.ndarray | None = None  # slow averages of the box size and area (growth limits)
    ref_area: float = 0.0
    lost: bool = False
    exited: bool = False  # lost by leaving the frame


class Tracker:
    """Tracks objects through the frames of one source with a SamBackend (any: torch, ort, trt).

    add(object_id, prompt) starts (or restarts, e.g. at a keyframe) an object on the next frame; step()
    decodes all objects of a frame in one prompt batch and returns one TrackResult per object, in id order.
    """

    def __init__(self, backend: SamBackend, options: TrackerOptions | None = None) -> None:
        self.backend = backend
        self.options = options or TrackerOptions()
        self.tracks: dict[int, _Track] = {}

    @property
    def object_ids(self) -> list[int]:
        return sorted(self.tracks)

    def add(self, object_id: int, prompt: Prompt) -> None:
        """Start object `object_id` from `prompt` on the next frame (restart it if it exists)."""
        if prompt.empty:
            raise ValueError(f"object {object_id}: a prompt needs a box or at least one point")
        old = self.tracks.get(object_id)
        negatives = prompt.points[prompt.labels == 0]
        self.tracks[object_id] = _Track(object_id, prompt, negatives=negatives,
                                        last_area=old.last_area if old else 0.0,
                                        velocity=old.velocity if old else np.zeros(2))

    def add_negative(self, object_id: int, x: float, y: float) -> None:
        """A background point that the object must not cover, kept on every later frame."""
        track = self.tracks[object_id]
        track.negatives = np.vstack([track.negatives, [[x, y]]]).astype(np.float32)
        track.prompt = track.prompt.with_point(x, y, 0)

    def remove(self, object_id: int) -> None:
        self.tracks.pop(object_id, None)

    def reset(self) -> None:
        self.tracks.clear()

    def step(self, embedding: Any, original_size: tuple[int, int], input_size: tuple[int, int]) -> list[TrackResult]:
        """Decode every object on one frame: embedding 1x256xgxg of the frame, sizes (H, W) and resized (h, w)."""
        if not self.tracks:
            return []
        ids = self.object_ids
        prompts = [self._frame_prompt(self.tracks[i], original_size) for i in ids]
        coords, labels, mask_in, has_mask = self._pack(prompts, original_size)
        iou, low_res = self.backend.decode(embedding, coords, labels, mask_in, has_mask)
        iou, low_res = to_numpy(iou), to_numpy(low_res)
        token = self._choose_tokens(ids, prompts, iou)
        chosen = low_res[np.arange(len(ids)), token][:, None]
        logits = upscale_masks(chosen, self.backend.image_size, input_size, original_size)[:, 0]
        if self.options.clip_margin is not None:  # nothing beyond the prompt box (+ margin) counts
            for k, (prompt, _) in enumerate(prompts):
                if prompt.box is not None:
                    logits[k][~self._box_region(prompt.box, original_size)] = -np.inf
        masks = logits > self.backend.mask_threshold
        areas = masks.sum(axis=(1, 2))
        if self.options.exclusive and len(ids) > 1:  # a pixel belongs to the object with the highest logit
            masks &= np.argmax(logits, axis=0)[None] == np.arange(len(ids))[:, None, None]
        kept = masks.sum(axis=(1, 2)) / np.maximum(areas, 1)
        scores = iou[np.arange(len(ids)), token]
        return [self._update(self.tracks[i], p, masks[k], chosen[k, 0], float(scores[k]), float(kept[k]))
                for k, (i, p) in enumerate(zip(ids, prompts))]

    # -- prompts ------------------------------------------------------------------------------------------

    def _frame_prompt(self, track: _Track, original_size: tuple[int, int]) -> tuple[Prompt, bool]:
        """(prompt, use mask prior) for this frame: the user's prompt, or the predicted box of the object."""
        if track.user:
            return track.prompt, False
        opt = self.options
        h, w = original_size
        cx, cy = track.center + track.velocity
        half = track.size / 2 * (1 + 2 * opt.enlarge) + opt.enlarge_px
        box = np.array([max(cx - half[0], 0), max(cy - half[1], 0), min(cx + half[0], w), min(cy + half[1], h)])
        points, labels = track.negatives, np.zeros(len(track.negatives), np.int64)
        if opt.interior_point and not track.lost:
            x, y = farthest_from_boundary(track.mask)
            points = np.vstack([[[x + 0.5 + track.velocity[0], y + 0.5 + track.velocity[1]]], points])
            labels = np.concatenate([[1], labels])
        return Prompt(points, labels, box), opt.mask_input and not track.lost

    def _pack(self, prompts: list[tuple[Prompt, bool]], original_size: tuple[int, int]) -> tuple[np.ndarray, ...]:
        """Prompts -> decoder inputs (B = objects; points padded with label -1 to one N; box = labels 2, 3)."""
        scale = self.backend.image_size / max(original_size)
        rows = []
        for prompt, _ in prompts:
            pts, lab = list(prompt.points), [float(v) for v in prompt.labels]
            if prompt.box is not None:
                pts += [prompt.box[:2], prompt.box[2:]]
                lab += [2.0, 3.0]
            rows.append((pts, lab))
        n = max(len(lab) for _, lab in rows)
        if all(prompt.box is None for prompt, _ in prompts):
            n += 1  # the reference adds one padding point when there is no box
        b, s = len(prompts), self.backend.low_res_size
        coords = np.zeros((b, n, 2), np.float32)
        labels = np.full((b, n), -1.0, np.float32)
        for k, (pts, lab) in enumerate(rows):
            if pts:
                coords[k, : len(pts)] = np.asarray(pts, np.float32) * scale
                labels[k, : len(lab)] = lab
        mask_in = np.zeros((b, 1, s, s), np.float32)
        has_mask = np.zeros(b, np.float32)
        for k, (track_id, (_, use_prior)) in enumerate(zip(self.object_ids, prompts)):
            if use_prior:
                mask_in[k, 0] = self.tracks[track_id].logits
                has_mask[k] = 1.0
        return coords, labels, mask_in, has_mask

    def _box_region(self, box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """HxW bool: the XYXY box grown by `clip_margin` px."""
        x0, y0, x1, y1 = box
        m = self.options.clip_margin
        region = np.zeros(size, bool)
        region[max(int(y0 - m), 0): int(np.ceil(y1 + m)), max(int(x0 - m), 0): int(np.ceil(x1 + m))] = True
        return region

    def _leaving(self, track: _Track, size: tuple[int, int]) -> bool:
        """Whether the object's predicted box (last box moved by its velocity) is mostly outside the frame."""
        if self.options.exit_fraction is None or track.center is None:
            return False
        lo, hi = track.center + track.velocity - track.size / 2, track.center + track.velocity + track.size / 2
        inside = np.clip(np.minimum(hi, (size[1], size[0])) - np.maximum(lo, 0), 0, None).prod()
        return bool(inside < self.options.exit_fraction * max(float(np.prod(track.size)), 1.0))

    def _choose_tokens(self, ids: list[int], prompts: list[tuple[Prompt, bool]], iou: np.ndarray) -> np.ndarray:
        """Token per object: the best predicted of the three multimask outputs for a lone user click (it is
        ambiguous), token 0 (the single-mask output) for everything else."""
        token = np.zeros(len(ids), np.int64)
        for k, (i, (prompt, _)) in enumerate(zip(ids, prompts)):
            if self.tracks[i].user and prompt.box is None and prompt.labels.tolist() == [1]:
                token[k] = 1 + int(np.argmax(iou[k, 1:]))
        return token

    # -- state --------------------------------------------------------------------------------------------

    def _update(self, track: _Track, used: tuple[Prompt, bool], mask: np.ndarray, logits: np.ndarray,
                score: float, kept: float) -> TrackResult:
        opt = self.options
        area = float(mask.sum())
        exits = not track.user and not track.lost and self._leaving(track, mask.shape)
        if track.user:
            ok = area >= opt.min_area
        elif exits:
            ok = False
        elif track.lost:
            ratio = area / track.last_area if track.last_area else 1.0  # never seen: any size
            ok = (area >= opt.min_area and score >= opt.reacquire_score and kept >= opt.min_kept
                  and 1 / opt.reacquire_area <= ratio <= opt.reacquire_area
                  and (not track.exited or _touches_edge(mask)))
        else:
            ok = (area >= opt.min_area and score >= opt.min_score and kept >= opt.min_kept
                  and area <= opt.max_area_jump * track.ref_area)
        if not ok:
            if track.user:  # the user's prompt found nothing: search at its box (or points) from now on
                track.center, track.size = _prompt_box(used[0])
                track.user = False
            elif exits:  # search where it left: its predicted box, clipped to the frame
                track.exited = True
                track.center, track.size = _inside_box(track.center + track.velocity, track.size, mask.shape)
            elif track.lost and not track.exited:
                track.center = track.center + track.velocity
            track.lost = True
            return TrackResult(track.object_id, np.zeros_like(mask), score, np.zeros(4), True)
        box = mask_to_box(mask)
        center, size = (box[:2] + box[2:]) / 2, box[2:] - box[:2]
        if opt.exit_fraction is not None and track.ref_size is not None and not track.user and not track.lost:
            center, size = _extend_past_edges(box, track.ref_size, mask.shape)
        if track.ref_size is None or track.user:
            track.ref_size, track.ref_area = size, area
        if not track.user and not track.lost:
            size = np.clip(size, track.ref_size / opt.max_growth, track.ref_size * opt.max_growth)
            track.velocity = (1 - opt.velocity) * track.velocity + opt.velocity * (center - track.center)
        track.ref_size = (1 - opt.smooth) * track.ref_size + opt.smooth * size
        track.ref_area = (1 - opt.smooth) * track.ref_area + opt.smooth * area
        track.center, track.size = center, size
        track.lost, track.user, track.exited = False, False, False
        track.mask, track.logits, track.last_area = mask, logits, area
        return TrackResult(track.object_id, mask, score, box, False)


def _prompt_box(prompt: Prompt) -> tuple[np.ndarray, np.ndarray]:
    """(center, size) of a prompt's box, or of its points' extent (at least 16 px) when it has no box."""
    if prompt.box is not None:
        return (prompt.box[:2] + prompt.box[2:]) / 2, prompt.box[2:] - prompt.box[:2]
    pts = prompt.points[prompt.labels == 1] if (prompt.labels == 1).any() else prompt.points
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (lo + hi) / 2, np.maximum(hi - lo, 16.0)


def _extend_past_edges(box: np.ndarray, ref_size: np.ndarray, frame: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(center, size) of an XYXY mask box, extended to `ref_size` past the frame edges it touches (the mask is
    the visible part of an object partly outside the frame)."""
    lo, hi = box[:2].astype(float).copy(), box[2:].astype(float).copy()
    limit = np.array([frame[1], frame[0]], float)
    for axis in (0, 1):
        if hi[axis] - lo[axis] < ref_size[axis]:
            if lo[axis] <= 1:
                lo[axis] = hi[axis] - ref_size[axis]
            elif hi[axis] >= limit[axis] - 1:
                hi[axis] = lo[axis] + ref_size[axis]
    return (lo + hi) / 2, hi - lo


def _inside_box(center: np.ndarray, size: np.ndarray, frame: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(center, size) of the box clipped to the HxW frame (at least 8 px a side, against the nearest edge)."""
    h, w = frame
    lo = np.clip(center - size / 2, 0, (w - 8, h - 8))
    hi = np.clip(center + size / 2, lo + 8, (w, h))
    return (lo + hi) / 2, hi - lo


def _touches_edge(mask: np.ndarray, margin: int = 2) -> bool:
    """Whether an HxW mask has pixels within `margin` px of the frame's edge."""
    return bool(mask[:margin].any() or mask[-margin:].any() or mask[:, :margin].any() or mask[:, -margin:].any())
