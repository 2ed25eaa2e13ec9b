"""Drawing masks, boxes and points over images for people to look at."""

from __future__ import annotations

import cv2
import numpy as np


def palette(index: int) -> tuple[int, int, int]:
    """A distinct, stable RGB colour for object `index` (golden-ratio hue steps)."""
    hue = int((index * 0.618033988749895 % 1.0) * 179)
    hsv = np.uint8([[[hue, 200, 255]]])
    r, g, b = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


def overlay_masks(
    image: np.ndarray,
    masks: np.ndarray,
    alpha: float = 0.5,
    labels: list[str] | None = None,
) -> np.ndarray:
    """HxWx3 uint8 RGB image + KxHxW bool masks -> RGB image with coloured masks and outlines."""
    out = image.astype(np.float32)
    for k, mask in enumerate(masks):
        colour = np.array(palette(k), np.float32)
        out[mask] = (1 - alpha) * out[mask] + alpha * colour
    out = out.clip(0, 255).astype(np.uint8)
    for k, mask in enumerate(masks):
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, palette(k), 2)
        if labels and mask.any():
            ys, xs = np.nonzero(mask)
            cv2.putText(out, labels[k], (int(xs.min()), max(int(ys.min()) - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.5, palette(k), 1, cv2.LINE_AA)
    return out


def draw_prompts(
    image: np.ndarray, points: np.ndarray | None, labels: np.ndarray | None, box: np.ndarray | None
) -> np.ndarray:
    """Draw clicks (green = positive, red = negative) and an XYXY box on an RGB image (copy)."""
    out = image.copy()
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 255), 2)
    if points is not None:
        for (x, y), label in zip(points, labels):
            colour = (0, 220, 0) if label == 1 else (230, 30, 30)
            cv2.circle(out, (int(round(x)), int(round(y))), 6, colour, -1)
            cv2.circle(out, (int(round(x)), int(round(y))), 6, (255, 255, 255), 1)
    return out
