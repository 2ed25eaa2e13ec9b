"""Prompted-segmentation quality through any predictor: GT-box and one-click mIoU (SAM paper protocols)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .metrics import farthest_from_boundary, mask_iou, mask_to_box


def prompted_ious(
    predictor: object, scenes: Iterable[tuple[np.ndarray, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Per-object IoU for every (HxWx3 RGB image, KxHxW GT masks) scene.

    box: the GT box as prompt, single-mask output (token 0). click: the point farthest from the
    boundary, multimask, the mask with the highest predicted IoU. Also returns each object's area.
    """
    box_ious, click_ious, areas = [], [], []
    for image, masks in scenes:
        if len(masks) == 0:
            continue
        predictor.set_image(image)
        for gt in masks:
            pred, _, _ = predictor.predict(box=mask_to_box(gt), multimask_output=False)
            box_ious.append(float(mask_iou(pred[0], gt)))
            x, y = farthest_from_boundary(gt)
            preds, scores, _ = predictor.predict(point_coords=np.array([[x + 0.5, y + 0.5]]),
                                                 point_labels=np.array([1]))
            click_ious.append(float(mask_iou(preds[int(np.argmax(scores))], gt)))
            areas.append(int(gt.sum()))
    return {"box": np.array(box_ious), "click": np.array(click_ious), "area": np.array(areas)}
