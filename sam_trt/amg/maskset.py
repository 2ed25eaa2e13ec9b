"""MaskSet: the masks of one image in flight (RLEs plus per-mask arrays), filtered and joined as a whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class MaskSet:
    """N masks: rles (uncompressed, image frame), boxes Nx4 int64 inclusive XYXY, iou_preds N float32,
    points Nx2 float64 (x, y), stability N float32, crop_boxes Nx4 int64 XYXY."""

    rles: list[dict[str, Any]] = field(default_factory=list)
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    iou_preds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float64))
    stability: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    crop_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))

    def __len__(self) -> int:
        return len(self.rles)

    def take(self, index: np.ndarray) -> MaskSet:
        """The masks at integer positions `index`, in that order."""
        index = np.asarray(index, np.int64)
        return MaskSet([self.rles[i] for i in index.tolist()], self.boxes[index], self.iou_preds[index],
                       self.points[index], self.stability[index], self.crop_boxes[index])

    @staticmethod
    def concat(parts: list[MaskSet]) -> MaskSet:
        if not parts:
            return MaskSet()
        return MaskSet([r for p in parts for r in p.rles], np.concatenate([p.boxes for p in parts]),
                       np.concatenate([p.iou_preds for p in parts]), np.concatenate([p.points for p in parts]),
                       np.concatenate([p.stability for p in parts]),
                       np.concatenate([p.crop_boxes for p in parts]))
