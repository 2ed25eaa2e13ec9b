"""Seeded synthetic scenes and videos: textured backgrounds, occluding textured objects, instance masks.

Everything is drawn from one `numpy.random.Generator`, so a seed fixes a scene bit for bit. Two styles:
"train" (the training distribution) and "alt" (other shape families, textures and palettes, for judging
generalisation). Masks are the visible part of each object after occlusion by the objects drawn above it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .shapes import (
    ALT_SHAPES,
    ALT_TEXTURES,
    TRAIN_SHAPES,
    TRAIN_TEXTURES,
    Shape,
    make_shape,
    place,
    random_color,
    rasterize,
    texture,
)

STYLES = ("train", "alt")
TILE = 64  # side of an object's texture tile (object-local frame)
MIN_AREA = 12  # visible pixels below which an object is dropped from the annotations


@dataclass
class SceneObject:
    """One object: a shape placed at `center` (x, y px) with half-extent `scale` px and `angle` rad.

    `tile` is its TILExTILEx3 float texture in the object frame; `velocity` (dx, dy, dangle, dscale-factor)
    per frame is used by videos only.
    """

    shape: Shape
    center: tuple[float, float]
    scale: float
    angle: float
    tile: np.ndarray
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    outline: np.ndarray | None = None

    def moved(self) -> SceneObject:
        dx, dy, da, ds = self.velocity
        return SceneObject(self.shape, (self.center[0] + dx, self.center[1] + dy), self.scale * ds,
                           self.angle + da, self.tile, self.velocity, self.outline)


@dataclass
class Scene:
    """image: HxWx3 uint8 RGB; masks: NxHxW bool (visible parts, drawing order); shapes: N family names."""

    image: np.ndarray
    masks: np.ndarray
    shapes: list[str] = field(default_factory=list)


@dataclass
class Video:
    """frames: TxHxWx3 uint8 RGB; masks[t] maps track id -> HxW bool (visible, non-empty only);
    shapes maps track id -> family name."""

    frames: np.ndarray
    masks: list[dict[int, np.ndarray]]
    shapes: dict[int, str]


def rng_for(seed: int, index: int = 0, stream: int = 0) -> np.random.Generator:
    """The generator for scene `index` of `seed` (independent of any other scene).

    `stream` separates uses: 0 for written datasets and evaluation, 1 for training (`sam_trt.train`), so a
    dataset written with any seed never repeats a training scene.
    """
    key = [int(seed), int(index)] if stream == 0 else [int(seed), int(index), int(stream)]
    return np.random.default_rng(key)


def _palette(style: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    return (ALT_SHAPES, ALT_TEXTURES) if style == "alt" else (TRAIN_SHAPES, TRAIN_TEXTURES)


def make_background(hw: tuple[int, int], rng: np.random.Generator, style: str) -> np.ndarray:
    """HxWx3 float32 background: a linear ("train") or radial ("alt") gradient under a faint texture."""
    h, w = hw
    _, textures = _palette(style)
    c1, c2 = random_color(rng, style), random_color(rng, style)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if style == "alt":
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        g = np.hypot(xx - cx, yy - cy) / np.hypot(h, w)
    else:
        a = rng.uniform(0, 2 * np.pi)
        g = xx * np.cos(a) + yy * np.sin(a)
        g = (g - g.min()) / max(float(g.max() - g.min()), 1e-6)
    bg = (1 - g[..., None]) * c1 + g[..., None] * c2
    kind = textures[int(rng.integers(len(textures)))]
    side = max(h, w)
    tex = texture(kind, side, rng, random_color(rng, style), random_color(rng, style))[:h, :w]
    mix = rng.uniform(0.0, 0.5)
    return (1 - mix) * bg + mix * tex


def random_object(hw: tuple[int, int], rng: np.random.Generator, style: str) -> SceneObject:
    """A random object inside (or partly across) an HxW frame, with a random texture."""
    h, w = hw
    shapes, textures = _palette(style)
    name = shapes[int(rng.integers(len(shapes)))]
    shape = make_shape(name, rng)
    side = min(h, w)
    lo, hi = (0.10, 0.45) if name == "bar" else (0.025, 0.30)
    scale = float(np.exp(rng.uniform(np.log(lo * side), np.log(hi * side))))
    center = (float(rng.uniform(0.05 * w, 0.95 * w)), float(rng.uniform(0.05 * h, 0.95 * h)))
    kind = textures[int(rng.integers(len(textures)))]
    c1 = random_color(rng, style)
    c2 = c1 if kind == "solid" else random_color(rng, style)
    tile = texture(kind, TILE, rng, c1, c2)
    outline = random_color(rng, style) if rng.random() < 0.2 else None
    return SceneObject(shape, center, scale, float(rng.uniform(0, 2 * np.pi)), tile, outline=outline)


def _recolor_for_contrast(obj: SceneObject, canvas: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
                          style: str) -> None:
    """Re-draw a solid-looking object's colours (up to 4 tries) until it stands out from what is under it."""
    under = canvas[mask].mean(axis=0)
    for _ in range(4):
        if np.abs(obj.tile.reshape(-1, 3).mean(axis=0) - under).sum() >= 60:
            return
        shift = random_color(rng, style) - obj.tile.reshape(-1, 3).mean(axis=0)
        obj.tile = np.clip(obj.tile + shift, 0, 255)


def render_object(obj: SceneObject, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """-> (HxW bool mask, HxWx3 float32 texture warped with the object's pose)."""
    h, w = hw
    mask = rasterize(place(obj.shape, obj.center, obj.scale, obj.angle), hw)
    c, s = np.cos(obj.angle), np.sin(obj.angle)
    rot = np.array([[c, -s], [s, c]]) * obj.scale
    # tile pixel q -> unit u = 2q/TILE - 1 -> image p = center + rot @ u
    m = np.concatenate([rot * (2.0 / TILE), (np.asarray(obj.center) - rot @ np.ones(2))[:, None]], axis=1)
    layer = cv2.warpAffine(obj.tile, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if obj.outline is not None and mask.any():
        edge = mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        layer[edge] = obj.outline
    return mask, layer


def compose(objects: list[SceneObject], background: np.ndarray, rng: np.random.Generator, style: str,
            fix_contrast: bool = True) -> tuple[np.ndarray, list[np.ndarray]]:
    """Paint objects in order over the background -> (HxWx3 float32 canvas, full masks in drawing order)."""
    canvas = background.copy()
    hw = canvas.shape[:2]
    full = []
    for obj in objects:
        mask, layer = render_object(obj, hw)
        if fix_contrast and mask.any():
            _recolor_for_contrast(obj, canvas, mask, rng, style)
            mask, layer = render_object(obj, hw)
        canvas[mask] = layer[mask]
        full.append(mask)
    return canvas, full


def visible_masks(full: list[np.ndarray]) -> list[np.ndarray]:
    """Full masks in drawing order -> the part of each not covered by any later mask."""
    out = []
    cover = np.zeros_like(full[0]) if full else None
    for mask in reversed(full):
        out.append(mask & ~cover)
        cover = cover | mask
    return out[::-1]


def finish_image(canvas: np.ndarray, rng: np.random.Generator, noise: float | None = None,
                 blur: bool | None = None) -> np.ndarray:
    """Float canvas -> uint8 image, with optional slight blur (soft edges) and Gaussian sensor noise."""
    if blur if blur is not None else rng.random() < 0.4:
        canvas = cv2.GaussianBlur(canvas, (3, 3), 0.6)
    sigma = rng.uniform(0.0, 8.0) if noise is None else noise
    if sigma > 0:
        canvas = canvas + rng.normal(0.0, sigma, canvas.shape).astype(np.float32)
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)


def generate_scene(rng: np.random.Generator | int, size: tuple[int, int] = (256, 256), style: str = "train",
                   num_objects: tuple[int, int] = (3, 9), min_area: int = MIN_AREA) -> Scene:
    """One random scene of `size` (H, W) with between num_objects[0] and num_objects[1] objects."""
    rng = rng_for(rng) if isinstance(rng, (int, np.integer)) else rng
    _palette(style)
    background = make_background(size, rng, style)
    n = int(rng.integers(num_objects[0], num_objects[1] + 1))
    objects = [random_object(size, rng, style) for _ in range(n)]
    canvas, full = compose(objects, background, rng, style)
    image = finish_image(canvas, rng)
    keep = [(m, o.shape.name) for m, o in zip(visible_masks(full), objects) if m.sum() >= min_area]
    masks = np.stack([m for m, _ in keep]) if keep else np.zeros((0, *size), bool)
    return Scene(image, masks, [name for _, name in keep])


def generate_video(rng: np.random.Generator | int, num_frames: int = 24, size: tuple[int, int] = (240, 320),
                   style: str = "train", num_objects: tuple[int, int] = (3, 6),
                   min_area: int = MIN_AREA) -> Video:
    """A short clip: a static background, objects translating, turning, scaling, crossing, leaving.

    Track ids are 1..N in drawing order and never change; a track is absent from frames where less than
    `min_area` pixels of it are visible.
    """
    rng = rng_for(rng) if isinstance(rng, (int, np.integer)) else rng
    h, w = size
    background = make_background(size, rng, style)
    n = int(rng.integers(num_objects[0], num_objects[1] + 1))
    objects = []
    for i in range(n):
        obj = random_object(size, rng, style)
        obj.scale = float(np.clip(obj.scale, 0.06 * min(h, w), 0.25 * min(h, w)))
        speed = rng.uniform(0.5, 4.0)
        if i == 0:  # one object leaves the frame
            direction = rng.uniform(0, 2 * np.pi)
            speed = 1.2 * max(h, w) / num_frames
        elif i == 1 and n > 2:  # one object crosses another
            tx, ty = objects[0].center
            direction = np.arctan2(ty - obj.center[1], tx - obj.center[0])
            speed = np.hypot(tx - obj.center[0], ty - obj.center[1]) / max(num_frames * 0.5, 1)
        else:
            direction = rng.uniform(0, 2 * np.pi)
        obj.velocity = (float(speed * np.cos(direction)), float(speed * np.sin(direction)),
                        float(rng.uniform(-0.08, 0.08)), float(np.exp(rng.uniform(-0.02, 0.02))))
        objects.append(obj)
    _, _ = compose(objects, background, rng, style)  # fixes colours for contrast at the first pose
    frames, masks = [], []
    for _ in range(num_frames):
        canvas, full = compose(objects, background, rng, style, fix_contrast=False)
        frames.append(finish_image(canvas, rng, noise=2.0, blur=False))
        masks.append({i + 1: m for i, m in enumerate(visible_masks(full)) if m.sum() >= min_area})
        objects = [o.moved() for o in objects]
    shapes = {i + 1: o.shape.name for i, o in enumerate(objects)}
    return Video(np.stack(frames), masks, shapes)
