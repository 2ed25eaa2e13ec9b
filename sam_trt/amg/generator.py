"""SamAutomaticMaskGenerator: segment everything in an image with a grid of point prompts, on any backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..postprocess import select_masks, upscale_masks
from ..predictor import SamPredictor
from ..prompts import check_image, pack_prompts
from ..runtime.base import to_numpy
from .boxes import box_area, box_xyxy_to_xywh, masks_to_boxes
from .crops import generate_crop_boxes, is_full_image, near_crop_edge, uncrop_boxes, uncrop_points
from .grid import build_all_layer_point_grids
from .maskset import MaskSet
from .nms import box_nms
from .rle import area_from_rle, coco_encode_rles, masks_to_rle, rle_to_mask
from .small_regions import clean_mask
from .stability import stability_scores

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")
# Settings for the bundled demo model. The defaults are tuned for ViT-H; the small demo model predicts
# lower IoUs and softer logits (on 12 generated 256x256 scenes its good masks have median predicted IoU
# 0.52, stability 0.81), so the defaults keep almost nothing (recall at IoU 0.5: 0.015). These give 0.82
# with 18 masks a scene (the model's ceiling with every mask kept: 0.85); see README "Segment everything".
DEMO_AMG_SETTINGS = {"points_per_side": 16, "pred_iou_thresh": 0.4, "stability_score_thresh": 0.7}
# Masks upscaled at once: at most this many bytes of full-resolution float32 logits, and at most
# _CHUNK_MASKS masks.
_CHUNK_BYTES = 256 * 2**20
_CHUNK_MASKS = 128


class AmgSettingsError(InputError, AssertionError):
    """Invalid generator settings. An AssertionError too, as the official generator asserts them."""


class SamAutomaticMaskGenerator:
    """The official `SamAutomaticMaskGenerator` API: same parameters, defaults (tuned for ViT-H) and records.

    model: a torch `Sam` or any backend from `load_backend`. Each crop is encoded once; its grid points go
    to the decoder points_per_batch at a time, one click each, three masks per click. Masks are kept if
    their predicted IoU is > pred_iou_thresh and their stability score (on crop-resolution logits) is >=
    stability_score_thresh (a threshold <= 0 disables its filter), then de-duplicated by box NMS within a
    crop (box_nms_thresh) and across crops (crop_nms_thresh, smaller crops win).
    """

    def __init__(
        self,
        model: Any,
        points_per_side: int | None = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.88,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: list[np.ndarray] | None = None,
        min_mask_region_area: int = 0,
        output_mode: str = "binary_mask",
    ) -> None:
        _require((points_per_side is None) != (point_grids is None),
                 "Exactly one of points_per_side or point_grid must be provided.")
        if points_per_side is not None:
            _require(int(points_per_side) >= 1, f"points_per_side must be >= 1, got {points_per_side}")
            self.point_grids = build_all_layer_point_grids(points_per_side, crop_n_layers,
                                                           crop_n_points_downscale_factor)
        else:
            self.point_grids = [np.asarray(g, np.float64).reshape(-1, 2) for g in point_grids]
            _require(len(self.point_grids) >= crop_n_layers + 1,
                     f"point_grids has {len(self.point_grids)} grids but crop_n_layers={crop_n_layers} needs "
                     f"{crop_n_layers + 1} (one per crop layer)")
        _require(output_mode in OUTPUT_MODES, f"Unknown output_mode {output_mode}.")
        _require(int(points_per_batch) >= 1, f"points_per_batch must be >= 1, got {points_per_batch}")
        _require(int(crop_n_layers) >= 0, f"crop_n_layers must be >= 0, got {crop_n_layers}")
        if output_mode == "coco_rle":
            from pycocotools import mask as mask_utils  # noqa: F401  (fail at construction, as the reference)

        self.predictor = SamPredictor(model)
        self.points_per_batch = int(points_per_batch)
        self.pred_iou_thresh = pred_iou_thresh
        self.stability_score_thresh = stability_score_thresh
        self.stability_score_offset = stability_score_offset
        self.box_nms_thresh = box_nms_thresh
        self.crop_n_layers = int(crop_n_layers)
        self.crop_nms_thresh = crop_nms_thresh
        self.crop_overlap_ratio = crop_overlap_ratio
        self.crop_n_points_downscale_factor = crop_n_points_downscale_factor
        self.min_mask_region_area = min_mask_region_area
        self.output_mode = output_mode

    def generate(self, image: np.ndarray) -> list[dict[str, Any]]:
        """HxWx3 uint8 RGB image -> one record per mask: segmentation (HxW bool or RLE dict), area,
        bbox XYWH, predicted_iou, point_coords [[x, y]], stability_score, crop_box XYWH."""
        image = check_image(image, "RGB")
        data = self._generate_masks(image)
        if self.min_mask_region_area > 0:
            data = self.postprocess_small_regions(data, self.min_mask_region_area,
                                                  max(self.box_nms_thresh, self.crop_nms_thresh))
        return self._records(data)

    def _records(self, data: MaskSet) -> list[dict[str, Any]]:
        if self.output_mode == "coco_rle":
            segmentations: list[Any] = coco_encode_rles(data.rles)
        elif self.output_mode == "binary_mask":
            segmentations = [rle_to_mask(rle) for rle in data.rles]
        else:
            segmentations = data.rles
        bboxes = box_xyxy_to_xywh(data.boxes).tolist()
        crop_boxes = box_xyxy_to_xywh(data.crop_boxes).tolist()
        ious, stability, points = data.iou_preds.tolist(), data.stability.tolist(), data.points.tolist()
        return [{"segmentation": segmentations[i], "area": area_from_rle(data.rles[i]), "bbox": bboxes[i],
                 "predicted_iou": ious[i], "point_coords": [points[i]], "stability_score": stability[i],
                 "crop_box": crop_boxes[i]} for i in range(len(data))]

    def _generate_masks(self, image: np.ndarray) -> MaskSet:
        orig_size = (image.shape[0], image.shape[1])
        crop_boxes, layer_idxs = generate_crop_boxes(orig_size, self.crop_n_layers, self.crop_overlap_ratio)
        data = MaskSet.concat([self._process_crop(image, box, layer, orig_size)
                               for box, layer in zip(crop_boxes, layer_idxs)])
        if len(crop_boxes) > 1:  # duplicates between crops: prefer masks from smaller crops
            scores = np.float32(1.0) / box_area(data.crop_boxes).astype(np.float32)
            data = data.take(box_nms(data.boxes, scores, self.crop_nms_thresh))
        return data

    def _process_crop(self, image: np.ndarray, crop_box: list[int], layer: int,
                      orig_size: tuple[int, int]) -> MaskSet:
        x0, y0, x1, y1 = crop_box
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        crop_size = (crop.shape[0], crop.shape[1])
        self.predictor.set_image(crop)
        points = self.point_grids[layer] * np.array(crop_size, np.float64)[None, ::-1]
        batch = self.points_per_batch
        data = MaskSet.concat([self._process_batch(points[s : s + batch], crop_size, crop_box, orig_size)
                               for s in range(0, len(points), batch)])
        self.predictor.reset_image()
        data = data.take(box_nms(data.boxes, data.iou_preds, self.box_nms_thresh))
        data.boxes = uncrop_boxes(data.boxes, crop_box)
        data.points = uncrop_points(data.points, crop_box)
        data.crop_boxes = np.tile(np.asarray(crop_box, np.int64), (len(data), 1))
        return data

    def _process_batch(self, points: np.ndarray, crop_size: tuple[int, int], crop_box: list[int],
                       orig_size: tuple[int, int]) -> MaskSet:
        """Bx2 points (crop frame) -> the masks of their clicks that pass the filters (crop frame boxes)."""
        backend = self.predictor.backend
        coords = self.predictor.transform.apply_coords(points, crop_size)[:, None, :]
        prompts = pack_prompts(coords, np.ones((len(points), 1)), None, None, backend.low_res_size)
        iou, low_res = backend.decode(self.predictor.features, prompts.point_coords, prompts.point_labels,
                                      prompts.mask_input, prompts.has_mask_input)
        iou, low_res = select_masks(iou, low_res, multimask_output=True)
        per_point = iou.shape[1]
        iou = to_numpy(iou).reshape(-1).astype(np.float32, copy=False)
        low_res = low_res.reshape(-1, 1, *low_res.shape[-2:])
        points = np.repeat(points, per_point, axis=0)
        # The IoU filter before upscaling gives the same masks as the reference's filter after it.
        index = np.arange(len(iou)) if self.pred_iou_thresh <= 0.0 else np.flatnonzero(iou > self.pred_iou_thresh)
        chunk = int(np.clip(_CHUNK_BYTES // (4 * crop_size[0] * crop_size[1]), 1, _CHUNK_MASKS))
        parts = [self._filter_masks(_take(low_res, index[s : s + chunk]), index[s : s + chunk], iou, points,
                                    crop_size, crop_box, orig_size) for s in range(0, len(index), chunk)]
        return MaskSet.concat(parts)

    def _filter_masks(self, low_res: Any, index: np.ndarray, iou: np.ndarray, points: np.ndarray,
                      crop_size: tuple[int, int], crop_box: list[int], orig_size: tuple[int, int]) -> MaskSet:
        """Nx1xsxs low-res logits -> stability filter on crop-resolution logits, binarise, crop-edge filter,
        RLE in the image frame. index: the masks' positions in iou and points."""
        threshold = self.predictor.backend.mask_threshold
        logits = self._upscale(low_res, crop_size)
        stability = stability_scores(logits, threshold, self.stability_score_offset)
        keep = np.arange(len(index))
        if self.stability_score_thresh > 0.0:
            keep = np.flatnonzero(stability >= self.stability_score_thresh)
        masks = to_numpy(logits > threshold)  # every mask of the chunk: cheaper than gathering float logits
        boxes = masks_to_boxes(masks)[keep]
        if not is_full_image(crop_box, orig_size):
            inside = np.flatnonzero(~near_crop_edge(boxes, crop_box, orig_size))
            keep, boxes = keep[inside], boxes[inside]
        rles = masks_to_rle(masks, keep, (crop_box[0], crop_box[1]), orig_size)
        return MaskSet(rles, boxes, iou[index[keep]], points[index[keep]], stability[keep],
                       np.zeros((len(keep), 4), np.int64))

    def _upscale(self, low_res: Any, crop_size: tuple[int, int]) -> Any:
        """Nx1xsxs low-res logits -> NxHxW logits at crop resolution (numpy, or torch on its device)."""
        backend, input_size = self.predictor.backend, self.predictor.input_size
        return upscale_masks(low_res, backend.image_size, input_size, crop_size)[:, 0]

    @staticmethod
    def postprocess_small_regions(mask_data: MaskSet, min_area: int, nms_thresh: float) -> MaskSet:
        """Fill holes and remove islands smaller than min_area in every mask, then box NMS again with
        unchanged masks preferred (score 1) over changed ones (score 0)."""
        if len(mask_data) == 0:
            return mask_data
        boxes = np.zeros_like(mask_data.boxes)
        scores = np.ones(len(mask_data), np.float32)
        new_rles: dict[int, dict[str, Any]] = {}
        for i, rle in enumerate(mask_data.rles):
            mask, changed = clean_mask(rle_to_mask(rle), min_area)
            boxes[i] = masks_to_boxes(mask[None])[0]
            if changed:
                scores[i] = 0.0
                new_rles[i] = masks_to_rle(mask[None])[0]
        keep = box_nms(boxes, scores, nms_thresh)
        # Changed masks get their new RLE and box; the others keep theirs (as the reference).
        mask_data.rles = [new_rles.get(i, rle) for i, rle in enumerate(mask_data.rles)]
        mask_data.boxes = np.where((scores == 0.0)[:, None], boxes, mask_data.boxes)
        return mask_data.take(keep)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AmgSettingsError(message)


def _take(x: Any, index: np.ndarray) -> Any:
    """Rows `index` of a numpy array or torch tensor (kept on its device)."""
    if isinstance(x, np.ndarray):
        return x[index]
    import torch

    return x[torch.as_tensor(index, device=x.device)]
