"""Write generator records: the official PNG-folder layout or an SA-1B style JSON, whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from ..files import atomic_path, current_umask
from ..visualize import overlay_masks

METADATA_HEADER = ("id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,"
                   "stability_score,crop_box_x0,crop_box_y0,crop_box_w,crop_box_h")


def metadata_rows(records: list[dict[str, Any]]) -> list[str]:
    """One metadata.csv line per record, as the official scripts/amg.py writes them."""
    rows = []
    for i, r in enumerate(records):
        values = [i, r["area"], *r["bbox"], *r["point_coords"][0], r["predicted_iou"], r["stability_score"],
                  *r["crop_box"]]
        rows.append(",".join(str(v) for v in values))
    return rows


def write_mask_folder(folder: str | Path, records: list[dict[str, Any]], overwrite: bool = False) -> None:
    """folder/{i}.png (0/255, record order) and folder/metadata.csv; records hold binary masks.

    Written into a hidden temporary folder beside `folder`, then renamed onto it, so a crash never
    leaves a half-written folder; an existing folder is replaced only with `overwrite`.
    """
    with _atomic_folder(Path(folder), overwrite) as tmp:
        for i, r in enumerate(records):
            if not cv2.imwrite(str(tmp / f"{i}.png"), np.asarray(r["segmentation"], np.uint8) * 255):
                raise InputError(f"could not write masks into {folder}; choose a writable --output folder")
        (tmp / "metadata.csv").write_text("\n".join([METADATA_HEADER, *metadata_rows(records)]))


def write_sa1b_json(path: str | Path, records: list[dict[str, Any]], image: dict[str, Any],
                    overwrite: bool = False) -> None:
    """{"image": {...}, "annotations": records} (COCO RLE segmentations), the SA-1B per-image layout."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite to replace it")
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"image": image, "annotations": records}))


def records_overlay(image: np.ndarray, records: list[dict[str, Any]]) -> np.ndarray:
    """HxWx3 uint8 RGB + generator records (binary masks or COCO RLE) -> RGB picture of every mask, coloured,
    largest first so small masks stay visible on top."""
    from pycocotools import mask as mask_utils

    if not records:
        return image.copy()
    masks = np.stack([mask_utils.decode(r["segmentation"]).astype(bool) if isinstance(r["segmentation"], dict)
                      else np.asarray(r["segmentation"], bool) for r in records])
    order = np.argsort([-int(r["area"]) for r in records], kind="stable")
    return overlay_masks(image, masks[order], alpha=0.45)


@contextlib.contextmanager
def _atomic_folder(folder: Path, overwrite: bool) -> Iterator[Path]:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; give the folder the usual mode
    try:
        yield tmp
        if folder.exists() or folder.is_symlink():
            if not overwrite:
                raise InputError(f"{folder} already exists; pass --overwrite to replace it")
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
            os.replace(folder, old / folder.name)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
