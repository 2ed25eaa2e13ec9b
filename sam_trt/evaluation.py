"""Prompted-segmentation quality through any predictor: GT-box, one-click and k-click mIoU (SAM paper
and EfficientViT-SAM / NanoSAM protocols), one image at a time, prompts batched through the backend."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .metrics import farthest_from_boundary, mask_iou, mask_to_box, next_click
from .postprocess import select_masks, upscale_masks
from .prompts import pack_prompts
from .runtime.base import to_numpy


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


@dataclass
class PromptOutputs:
    """Outputs for P prompts of one image: predicted IoU PxC, masks PxCxHxW bool at the original size,
    low-res logits PxCxsxs (numpy). C = 4 (all tokens), 3 (multimask) or 1 (single)."""

    iou: np.ndarray
    masks: np.ndarray
    low_res: np.ndarray


def decode_prompts(
    predictor: Any,
    point_coords: np.ndarray | None = None,
    point_labels: np.ndarray | None = None,
    boxes: np.ndarray | None = None,
    mask_input: np.ndarray | None = None,
    tokens: str = "all",
    chunk: int = 16,
) -> PromptOutputs:
    """P prompts in original-image pixels on the predictor's current image, `chunk` prompts per decoder call.

    point_coords PxNx2 with point_labels PxN, boxes Px4 XYXY, mask_input Px1xsxs earlier logits (any may be
    None). tokens: "all" (tokens 0..3), "multi" (1..3) or "single" (0). Packing, decoding, selection and
    upscaling are the predictor's own (`SamPredictor._predict` without the per-call checks), so the
    numbers are what `predict` returns, on the backend's own device and array type until the end.
    """
    backend = predictor.backend
    size = predictor.original_size
    coords = None if point_coords is None else predictor.transform.apply_coords(point_coords, size)
    box_t = None if boxes is None else predictor.transform.apply_boxes(np.asarray(boxes), size)
    count = next(len(a) for a in (point_coords, boxes, mask_input) if a is not None)
    ious, masks, lows = [], [], []
    for start in range(0, count, chunk):
        part = slice(start, start + chunk)
        prompts = pack_prompts(None if coords is None else coords[part],
                               None if point_labels is None else np.asarray(point_labels)[part],
                               None if box_t is None else box_t[part],
                               None if mask_input is None else np.asarray(mask_input)[part],
                               backend.low_res_size)
        iou, low_res = backend.decode(predictor.features, prompts.point_coords, prompts.point_labels,
                                      prompts.mask_input, prompts.has_mask_input)
        if tokens != "all":
            iou, low_res = select_masks(iou, low_res, multimask_output=tokens == "multi")
        up = upscale_masks(low_res, backend.image_size, predictor.input_size, size)
        masks.append(to_numpy(up > backend.mask_threshold))
        ious.append(to_numpy(iou))
        lows.append(to_numpy(low_res))
    return PromptOutputs(np.concatenate(ious), np.concatenate(masks), np.concatenate(lows))


@dataclass
class ImageEval:
    """One image through one predictor; P objects, T = 4 tokens, K clicks.

    box / click: all-token outputs for the GT box and the farthest-from-boundary click (kept for fidelity
    only when asked; else their masks are dropped). *_iou: PxT IoU of each token against the GT.
    refine_iou: PxK IoU after click k = 1..K (click 1: multimask, best predicted; later clicks: token 0 with
    the previous logits as mask_input). Timings in seconds (host clock): set_image, and box + click decoding
    with upscaling to the original size (`prompt_s`, for 2P prompts).
    """

    box_iou: np.ndarray
    click_iou: np.ndarray
    refine_iou: np.ndarray
    box: PromptOutputs
    click: PromptOutputs
    embedding: np.ndarray | None
    set_image_s: float
    prompt_s: float

    @property
    def box_single(self) -> np.ndarray:
        """P: token 0 (multimask_output=False), the official advice for an unambiguous box."""
        return self.box_iou[:, 0]

    @property
    def box_multi(self) -> np.ndarray:
        """P: the multimask output with the highest predicted IoU (EfficientViT-SAM / NanoSAM protocol)."""
        return _best_predicted(self.box.iou, self.box_iou)

    @property
    def click_best(self) -> np.ndarray:
        """P: one click, multimask, the mask with the highest predicted IoU (SAM paper 1-click)."""
        return _best_predicted(self.click.iou, self.click_iou)

    @property
    def click_score_error(self) -> np.ndarray:
        """P: |predicted - true IoU| of the chosen one-click mask."""
        chosen = 1 + np.argmax(self.click.iou[:, 1:], axis=1)
        rows = np.arange(len(chosen))
        return np.abs(self.click.iou[rows, chosen] - self.click_iou[rows, chosen])


def synchronize(device: Any) -> None:
    """Wait for queued GPU work when `device` is a CUDA torch device, so host clocks see all of it."""
    if getattr(device, "type", None) == "cuda":
        import torch

        torch.cuda.synchronize(device)


def _best_predicted(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    chosen = 1 + np.argmax(predicted[:, 1:], axis=1)
    return true[np.arange(len(chosen)), chosen]


def evaluate_image(
    predictor: Any, image: np.ndarray, gt_masks: np.ndarray, clicks: int = 1, chunk: int = 16,
    keep_outputs: bool = False,
) -> ImageEval:
    """Embed `image` (HxWx3 RGB uint8) and prompt every object of `gt_masks` (PxHxW bool, non-empty).

    Clicks are at pixel centres (index + 0.5). With clicks > 1, each further click is `next_click` on the
    previous mask, all earlier clicks are kept, and the previous low-res logits go in as mask_input.
    Objects whose mask is already perfect keep their IoU. keep_outputs keeps the masks and embedding.
    """
    gt = np.asarray(gt_masks, dtype=bool)
    start = time.perf_counter()
    predictor.set_image(image)
    synchronize(predictor.device)
    set_image_s = time.perf_counter() - start
    boxes = np.stack([mask_to_box(m) for m in gt])
    first = np.array([farthest_from_boundary(m) for m in gt]) + 0.5
    start = time.perf_counter()
    box = decode_prompts(predictor, boxes=boxes, chunk=chunk)
    click = decode_prompts(predictor, first[:, None], np.ones((len(gt), 1)), chunk=chunk)
    prompt_s = time.perf_counter() - start
    box_iou = mask_iou(box.masks, gt[:, None])
    click_iou = mask_iou(click.masks, gt[:, None])
    refine = _refine(predictor, gt, first, click, click_iou, clicks, chunk)
    embedding = to_numpy(predictor.features).astype(np.float32) if keep_outputs else None
    if not keep_outputs:  # the masks are the bulk of the memory; only fidelity needs them
        box = PromptOutputs(box.iou, np.empty((0,), bool), np.empty((0,), np.float32))
        click = PromptOutputs(click.iou, np.empty((0,), bool), np.empty((0,), np.float32))
    return ImageEval(box_iou, click_iou, refine, box, click, embedding, set_image_s, prompt_s)


def _refine(predictor: Any, gt: np.ndarray, first: np.ndarray, click: PromptOutputs, click_iou: np.ndarray,
            clicks: int, chunk: int) -> np.ndarray:
    """PxK IoU after each click of the iterative protocol (column 0: the one-click result)."""
    count = len(gt)
    rows = np.arange(count)
    chosen = 1 + np.argmax(click.iou[:, 1:], axis=1)
    result = np.empty((count, clicks))
    result[:, 0] = click_iou[rows, chosen]
    points = first[:, None, :].copy()  # P x k x 2, pixel centres
    labels = np.ones((count, 1))
    current = click.masks[rows, chosen]  # P x H x W
    logits = click.low_res[rows, chosen][:, None]  # P x 1 x s x s
    active = np.ones(count, bool)
    for k in range(1, clicks):
        new_xy = np.zeros((count, 2))
        new_label = np.zeros(count)
        for i in np.flatnonzero(active):
            corrective = next_click(current[i], gt[i])
            if corrective is None:
                active[i] = False
            else:
                new_xy[i] = (corrective[0] + 0.5, corrective[1] + 0.5)
                new_label[i] = corrective[2]
        result[:, k] = result[:, k - 1]
        points = np.concatenate([points, new_xy[:, None]], axis=1)
        labels = np.concatenate([labels, new_label[:, None]], axis=1)
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            continue
        out = decode_prompts(predictor, points[idx], labels[idx], mask_input=logits[idx], tokens="single",
                             chunk=chunk)
        current[idx] = out.masks[:, 0]
        logits[idx] = out.low_res[:, :1]
        result[idx, k] = mask_iou(out.masks[:, 0], gt[idx])
    return result
