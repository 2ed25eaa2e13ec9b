"""Write generated scenes as a COCO instance dataset and clips as frames + per-frame RLE JSON."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..metrics import mask_to_box
from .scenes import generate_scene, generate_video, rng_for

CATEGORY = {"id": 1, "name": "object", "supercategory": "shape"}


def encode_rle(mask: np.ndarray) -> dict:
    """HxW bool -> COCO compressed RLE {"size": [H, W], "counts": str}."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(x) for x in rle["size"]], "counts": rle["counts"].decode("ascii")}


def mask_bbox(mask: np.ndarray) -> list[float]:
    """HxW bool -> COCO bbox [x, y, w, h] (pixel-edge extents)."""
    x0, y0, x1, y1 = mask_to_box(mask)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def _write_image(path: Path, image: np.ndarray) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params):
        raise OSError(f"could not write {path}")


def write_coco(out_dir: str | Path, num_images: int, seed: int = 0, size: tuple[int, int] = (256, 256),
               style: str = "train", image_format: str = "png") -> Path:
    """Write `num_images` scenes (scene i from `rng_for(seed, i)`) to out_dir/images and annotations.json.

    Returns the annotations path. Segmentations are compressed RLE; every annotation has iscrowd 0, the
    single category "object", and an extra "shape" field naming the shape family.
    """
    if image_format not in ("png", "jpg"):
        raise ValueError(f"image_format must be png or jpg, got {image_format!r}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        scene = generate_scene(rng_for(seed, i), size=size, style=style)
        name = f"{i:06d}.{image_format}"
        _write_image(out / "images" / name, scene.image)
        images.append({"id": i + 1, "file_name": name, "height": size[0], "width": size[1]})
        for mask, shape in zip(scene.masks, scene.shapes):
            annotations.append({
                "id": len(annotations) + 1, "image_id": i + 1, "category_id": CATEGORY["id"],
                "segmentation": encode_rle(mask), "area": float(mask.sum()), "bbox": mask_bbox(mask),
                "iscrowd": 0, "shape": shape,
            })
    info = {"description": "sam-trt synthetic scenes", "seed": seed, "style": style, "size": list(size)}
    data = {"info": info, "images": images, "annotations": annotations, "categories": [CATEGORY]}
    path = out / "annotations.json"
    path.write_text(json.dumps(data))
    return path


def write_video(out_dir: str | Path, seed: int = 0, num_frames: int = 24, size: tuple[int, int] = (240, 320),
                style: str = "train", mp4: bool = True, fps: float = 12.0) -> Path:
    """Write one clip: out_dir/frames/NNNNNN.png (+ out_dir/video.mp4) and out_dir/annotations.json.

    The JSON holds {"frames": [{"frame_index", "file_name", "objects": [{"track_id", "segmentation" (RLE),
    "bbox" (XYWH), "area"}]}], "tracks": [{"track_id", "shape"}], ...}. Returns the JSON path.
    """
    out = Path(out_dir)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    video = generate_video(rng_for(seed), num_frames=num_frames, size=size, style=style)
    frames = []
    for t, (frame, masks) in enumerate(zip(video.frames, video.masks)):
        name = f"frames/{t:06d}.png"
        _write_image(out / name, frame)
        objects = [{"track_id": tid, "segmentation": encode_rle(m), "bbox": mask_bbox(m), "area": float(m.sum())}
                   for tid, m in sorted(masks.items())]
        frames.append({"frame_index": t, "file_name": name, "objects": objects})
    if mp4:
        writer = cv2.VideoWriter(str(out / "video.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size[1], size[0]))
        for frame in video.frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
    tracks = [{"track_id": tid, "shape": shape} for tid, shape in sorted(video.shapes.items())]
    data = {"seed": seed, "style": style, "size": list(size), "fps": fps, "frames": frames, "tracks": tracks}
    path = out / "annotations.json"
    path.write_text(json.dumps(data))
    return path
