"""Shapes and textures for synthetic scenes, in object-local coordinates.

A shape is a list of closed contours in the unit frame [-1, 1]^2 (x right, y down): the first is the outer
boundary, the others are holes. Placing it (centre, scale, angle) and filling it gives an instance mask, so
the same shape renders in still images and in video frames as the object moves, turns and grows.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# The shape families each style draws from. "alt" keeps a few shared families so that generalisation is
# measured on new looks and new outlines, not on an entirely different task.
TRAIN_SHAPES: tuple[str, ...] = (
    "ellipse", "rectangle", "triangle", "polygon", "star", "blob", "bar", "ring",
)
ALT_SHAPES: tuple[str, ...] = ("cross", "crescent", "hexagon", "lshape", "rounded_rect", "ellipse", "star")
TRAIN_TEXTURES: tuple[str, ...] = ("solid", "gradient", "stripes", "noise", "checker", "dots")
ALT_TEXTURES: tuple[str, ...] = ("solid", "hatch", "rings", "speckle", "plaid")


@dataclass
class Shape:
    """Closed contours in the unit frame: `contours[0]` outer (Kx2 float), the rest holes."""

    name: str
    contours: list[np.ndarray]


def _circle(n: int = 64, rx: float = 1.0, ry: float = 1.0) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.stack([rx * np.cos(t), ry * np.sin(t)], axis=1)


def make_shape(name: str, rng: np.random.Generator) -> Shape:
    """Random shape of family `name`, fitting in the unit square."""
    if name == "ellipse":
        return Shape(name, [_circle(72, 1.0, rng.uniform(0.35, 1.0))])
    if name == "rectangle":
        return Shape(name, [np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * [1.0, rng.uniform(0.3, 1.0)]])
    if name == "triangle":
        pts = np.array([[rng.uniform(-1, 1), -1.0], [1.0, rng.uniform(0.3, 1)], [-1.0, rng.uniform(0.3, 1)]])
        return Shape(name, [pts])
    if name in ("polygon", "hexagon"):
        k = 6 if name == "hexagon" else int(rng.integers(4, 9))
        t = np.sort(rng.uniform(0, 2 * np.pi, k)) if name == "polygon" else np.arange(k) * 2 * np.pi / k
        r = rng.uniform(0.6, 1.0, k) if name == "polygon" else np.ones(k)
        return Shape(name, [np.stack([r * np.cos(t), r * np.sin(t)], axis=1)])
    if name == "star":
        k = int(rng.integers(4, 8))
        t = np.arange(2 * k) * np.pi / k
        r = np.where(np.arange(2 * k) % 2 == 0, 1.0, rng.uniform(0.35, 0.6))
        return Shape(name, [np.stack([r * np.cos(t), r * np.sin(t)], axis=1)])
    if name == "blob":
        t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        r = np.ones_like(t)
        for freq in range(1, 5):
            r += rng.uniform(0, 0.25 / freq) * np.cos(freq * t + rng.uniform(0, 2 * np.pi))
        r /= r.max()
        return Shape(name, [np.stack([r * np.cos(t), r * np.sin(t)], axis=1)])
    if name == "bar":  # thin shapes and lines
        w = rng.uniform(0.04, 0.18)
        return Shape(name, [np.array([[-1, -w], [1, -w], [1, w], [-1, w]], float)])
    if name == "ring":
        inner = rng.uniform(0.45, 0.8)
        ry = rng.uniform(0.6, 1.0)
        return Shape(name, [_circle(72, 1.0, ry), _circle(72, inner, inner * ry)])
    if name == "cross":
        w = rng.uniform(0.2, 0.4)
        pts = [[-w, -1], [w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1], [-w, 1], [-w, w], [-1, w], [-1, -w],
               [-w, -w]]
        return Shape(name, [np.array(pts, float)])
    if name == "crescent":
        t = np.linspace(-np.pi / 2, np.pi / 2, 36)
        bulge = rng.uniform(0.1, 0.6)
        outer = np.stack([np.cos(t), np.sin(t)], axis=1)
        inner = np.stack([bulge * np.cos(t[::-1]), np.sin(t[::-1])], axis=1)
        return Shape(name, [np.concatenate([outer, inner])])
    if name == "lshape":
        a, b = rng.uniform(-0.4, 0.4, 2)
        return Shape(name, [np.array([[-1, -1], [a, -1], [a, b], [1, b], [1, 1], [-1, 1]], float)])
    if name == "rounded_rect":
        r = rng.uniform(0.2, 0.5)
        corners = [(1 - r, 1 - r, 0.0), (-1 + r, 1 - r, 0.5), (-1 + r, -1 + r, 1.0), (1 - r, -1 + r, 1.5)]
        pts = [np.stack([cx + r * np.cos(np.pi * (s + np.linspace(0, 0.5, 10))),
                         cy + r * np.sin(np.pi * (s + np.linspace(0, 0.5, 10)))], axis=1) for cx, cy, s in corners]
        return Shape(name, [np.concatenate(pts) * [1.0, rng.uniform(0.4, 1.0)]])
    raise ValueError(f"unknown shape {name!r}")


def place(shape: Shape, center: tuple[float, float], scale: float, angle: float) -> list[np.ndarray]:
    """Unit-frame contours -> image-frame contours (Kx2 float): rotate by `angle` rad, scale, translate."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]]) * scale
    return [pts @ rot.T + np.asarray(center) for pts in shape.contours]


def rasterize(contours: list[np.ndarray], hw: tuple[int, int]) -> np.ndarray:
    """Image-frame contours -> HxW bool mask (outer filled, holes cut), with 1/16-pixel vertex precision."""
    mask = np.zeros(hw, np.uint8)
    shift = 4
    polys = [np.round(p * (1 << shift)).astype(np.int32).reshape(-1, 1, 2) for p in contours]
    cv2.fillPoly(mask, polys[:1], 1, lineType=cv2.LINE_8, shift=shift)
    if len(polys) > 1:
        cv2.fillPoly(mask, polys[1:], 0, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(bool)


def random_color(rng: np.random.Generator, style: str) -> np.ndarray:
    """One RGB colour (3 float, 0-255). "train": saturated HSV; "alt": pastel or muted earth tones."""
    if style == "alt":
        hue = rng.uniform(0, 180)
        sat, val = rng.uniform(20, 120), rng.uniform(90, 250)
    else:
        hue = rng.uniform(0, 180)
        sat, val = rng.uniform(60, 255), rng.uniform(40, 255)
        if rng.random() < 0.15:  # greys, blacks and whites too
            sat = rng.uniform(0, 30)
    hsv = np.array([[[hue, sat, val]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def texture(kind: str, size: int, rng: np.random.Generator, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """size x size x 3 float32 texture tile mixing colours `c1` and `c2` by pattern `kind`."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, np.pi)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    if kind == "solid":
        w = np.zeros_like(xx)
    elif kind == "gradient":
        w = u / max(u.max(), 1e-6)
    elif kind == "stripes":
        w = (np.sin(2 * np.pi * u * rng.uniform(3, 12)) > 0).astype(np.float32)
    elif kind == "noise":
        cells = int(rng.integers(3, 12))
        w = cv2.resize(rng.random((cells, cells), dtype=np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    elif kind == "checker":
        f = rng.uniform(3, 10)
        w = ((np.floor(xx * f) + np.floor(yy * f)) % 2).astype(np.float32)
    elif kind == "dots":
        f = rng.uniform(4, 12)
        w = (np.hypot((xx * f) % 1 - 0.5, (yy * f) % 1 - 0.5) < rng.uniform(0.15, 0.4)).astype(np.float32)
    elif kind == "hatch":
        f = rng.uniform(5, 15)
        v = -xx * np.sin(angle) + yy * np.cos(angle)
        w = (((u * f) % 1 < 0.2) | ((v * f) % 1 < 0.2)).astype(np.float32)
    elif kind == "rings":
        cx, cy = rng.uniform(0, 1, 2)
        w = 0.5 + 0.5 * np.sin(2 * np.pi * np.hypot(xx - cx, yy - cy) * rng.uniform(4, 12))
    elif kind == "speckle":
        w = (rng.random((size, size)) < rng.uniform(0.05, 0.3)).astype(np.float32)
    elif kind == "plaid":
        f = rng.uniform(2, 6)
        w = 0.5 * (np.sin(2 * np.pi * xx * f) > 0.3) + 0.5 * (np.sin(2 * np.pi * yy * f) > 0.3)
    else:
        raise ValueError(f"unknown texture {kind!r}")
    w = np.clip(w, 0.0, 1.0)[..., None]
    return (1 - w) * c1 + w * c2
