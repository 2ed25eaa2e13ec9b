"""COCO-format instance datasets for the accuracy benchmark (pycocotools: polygons, RLE, uncompressed RLE),
and the default: a generated synthetic dataset written once to a cache folder."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..files import read_image_rgb

SYNTHETIC_SEED = 1234  # written datasets use scene stream 0: never a training scene (see `rng_for`)


@dataclass
class Sample:
    """One image and its objects: image HxWx3 RGB uint8, masks PxHxW bool (non-empty), areas P (COCO
    `area`, else mask pixels; used for the small / medium / large buckets), annotation ids P."""

    image_id: int
    file_name: str
    image: np.ndarray
    masks: np.ndarray
    areas: np.ndarray
    annotation_ids: list[int]


def find_annotations(path: str | Path) -> Path:
    """A COCO json file, or a folder holding annotations.json (or exactly one .json, also under annotations/)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"dataset not found: {path} (give a COCO annotations .json or a folder with "
                         "annotations.json)")
    if path.is_file():
        return path
    if (path / "annotations.json").is_file():
        return path / "annotations.json"
    found = sorted(path.glob("*.json")) or sorted((path / "annotations").glob("*.json"))
    if len(found) == 1:
        return found[0]
    what = "no .json file" if not found else f"{len(found)} .json files ({', '.join(p.name for p in found[:3])})"
    raise InputError(f"{path} has {what}; pass the annotations file itself as --dataset")


class CocoDataset:
    """The images of a COCO instance file that have at least one usable object, read lazily.

    Crowd annotations (iscrowd 1) and annotations without a segmentation are skipped; masks that decode
    empty are skipped as they are met. images: the image folder (default: images/ beside the json if it
    exists, else the json's folder). max_images: the first N usable images by id.
    """

    def __init__(self, annotations: str | Path, images: str | Path | None = None, max_images: int | None = None,
                 max_objects: int | None = None) -> None:
        from pycocotools.coco import COCO

        self.path = find_annotations(annotations)
        data = _read_json(self.path)
        self.image_dir = Path(images) if images is not None else (
            self.path.parent / "images" if (self.path.parent / "images").is_dir() else self.path.parent)
        if not self.image_dir.is_dir():
            raise InputError(f"image folder not found: {self.image_dir}; pass --images DIR")
        self.coco = COCO()
        self.coco.dataset = data
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
            self.coco.createIndex()
        usable = [a for a in data["annotations"] if not a.get("iscrowd", 0) and a.get("segmentation")]
        self.crowd_skipped = sum(1 for a in data["annotations"] if a.get("iscrowd", 0))
        by_image: dict[int, list[dict]] = {}
        for ann in usable:
            if ann.get("image_id") not in self.coco.imgs:
                raise InputError(f"{self.path}: annotation {ann.get('id')} refers to image_id {ann.get('image_id')}, "
                                 "which is not in 'images'")
            by_image.setdefault(ann["image_id"], []).append(ann)
        if not by_image:
            raise InputError(f"{self.path} has no objects to evaluate ({len(data['images'])} images, "
                             f"{len(data['annotations'])} annotations, {self.crowd_skipped} of them crowd); "
                             "it needs non-crowd annotations with a segmentation")
        self.image_ids = sorted(by_image)[:max_images] if max_images else sorted(by_image)
        self.max_objects = max_objects
        self._annotations = {i: sorted(by_image[i], key=lambda a: a.get("id", 0)) for i in self.image_ids}
        self.empty_skipped = 0
        missing = [self.coco.imgs[i]["file_name"] for i in self.image_ids
                   if not (self.image_dir / self.coco.imgs[i]["file_name"]).is_file()]
        if missing:
            raise InputError(f"{len(missing)} of {len(self.image_ids)} images not found in {self.image_dir}, "
                             f"e.g. {missing[0]}; pass the image folder as --images DIR")

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def num_objects(self) -> int:
        """Objects to evaluate (before empty masks are dropped), after max_objects per image."""
        return sum(min(len(a), self.max_objects or len(a)) for a in self._annotations.values())

    def __iter__(self) -> Iterator[Sample]:
        from pycocotools import mask as mask_utils

        for image_id in self.image_ids:
            info = self.coco.imgs[image_id]
            image = read_image_rgb(self.image_dir / info["file_name"])
            if (info.get("height"), info.get("width")) != image.shape[:2]:
                raise InputError(f"{info['file_name']} is {image.shape[0]}x{image.shape[1]} but its annotation "
                                 f"says {info.get('height')}x{info.get('width')}")
            masks, areas, ids = [], [], []
            for ann in self._annotations[image_id][: self.max_objects]:
                try:
                    with warnings.catch_warnings():  # pycocotools' numpy-2 copy= deprecation, not ours
                        warnings.simplefilter("ignore", DeprecationWarning)
                        mask = mask_utils.decode(self.coco.annToRLE(ann)).astype(bool)
                except Exception as exc:  # pycocotools raises TypeError/ValueError/IndexError on bad input
                    raise InputError(f"{self.path}: annotation {ann.get('id')} has an unreadable segmentation "
                                     f"({type(exc).__name__}: {exc}); expected polygons or RLE") from None
                if mask.ndim == 3:
                    mask = mask.any(axis=2)
                if not mask.any():
                    self.empty_skipped += 1
                    continue
                area = ann.get("area")
                masks.append(mask)
                areas.append(float(area) if isinstance(area, (int, float)) and area > 0 else float(mask.sum()))
                ids.append(ann.get("id"))
            if masks:
                yield Sample(image_id, info["file_name"], image, np.stack(masks), np.array(areas), ids)

    def describe(self) -> dict[str, Any]:
        return {"annotations": str(self.path), "images_dir": str(self.image_dir), "images": len(self),
                "objects": self.num_objects, "crowd_skipped": self.crowd_skipped,
                "empty_masks_skipped": self.empty_skipped, "max_objects_per_image": self.max_objects}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a readable COCO annotations file ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:120]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise InputError(f"{path} is not a COCO instances file: it needs 'images' and 'annotations' lists")
    for entry in data["images"]:
        if not isinstance(entry, dict) or not {"id", "file_name", "height", "width"} <= set(entry):
            raise InputError(f"{path}: every image needs id, file_name, height and width (got {entry!r:.80})")
    return data


def cache_root() -> Path:
    """$SAM_TRT_CACHE, else $XDG_CACHE_HOME/sam-trt, else ~/.cache/sam-trt."""
    if os.environ.get("SAM_TRT_CACHE"):
        return Path(os.environ["SAM_TRT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sam-trt"


def synthetic_dataset(scenes: int = 24, size: tuple[int, int] = (512, 512), seed: int = SYNTHETIC_SEED,
                      style: str = "train", cache_dir: str | Path | None = None,
                      log: Any = print) -> Path:
    """Annotations path of a generated dataset (`sam_trt.data.write_coco`), written once per settings into
    the cache folder (whole or not at all: written beside it, then renamed)."""
    from ..data import write_coco

    root = Path(cache_dir) if cache_dir is not None else cache_root()
    folder = root / f"bench-synthetic-{style}-seed{seed}-{scenes}x{size[0]}x{size[1]}"
    if (folder / "annotations.json").is_file():
        return folder / "annotations.json"
    root.mkdir(parents=True, exist_ok=True)
    log(f"writing the synthetic dataset ({scenes} scenes {size[0]}x{size[1]}, style {style}, seed {seed}) "
        f"to {folder}")
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=root))
    try:
        write_coco(tmp, scenes, seed=seed, size=size, style=style)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process wrote it first
            if not (folder / "annotations.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / "annotations.json"
