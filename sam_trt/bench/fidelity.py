"""Fidelity of one backend against a reference (another backend or precision): the accuracy gate.

Both systems see the same images and prompts; each uses its own embedding (what a user gets), and the
outputs of all mask tokens are compared: per-mask IoU of the thresholded masks at the original image size,
cosine similarity of the image embeddings, and the absolute error of the predicted IoU scores.

    from sam_trt.bench.fidelity import compare, passes
    result = compare(load_backend(export, backend="ort"), load_backend(ckpt, backend="torch"), images)
    assert passes(result)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..evaluation import PromptOutputs, decode_prompts
from ..metrics import cosine_similarity, distribution, farthest_from_boundary, mask_iou, mask_to_box
from ..predictor import SamPredictor
from ..runtime.base import to_numpy

# Gate defaults: per-mask IoU >= 0.999 mean (as Efficient-SAM2-TensorRT's gate against FP32 PyTorch) and
# >= 0.99 at the 1st percentile; embedding cosine >= 0.999 on every image; a metric (mIoU) drop of at most
# 0.1 point where the accuracy benchmark measured one.
GATE = {"mask_iou_mean": 0.999, "mask_iou_p1": 0.99, "embedding_cosine_min": 0.999, "miou_drop_points": 0.1}


@dataclass
class Prompt:
    """One prompt in original-image pixels: clicks Nx2 with labels N (1 fg, 0 bg), and/or an XYXY box."""

    point_coords: np.ndarray | None = None
    point_labels: np.ndarray | None = None
    box: np.ndarray | None = None

    @classmethod
    def coerce(cls, value: Prompt | dict[str, Any]) -> Prompt:
        if isinstance(value, Prompt):
            return value
        return cls(*(None if value.get(k) is None else np.asarray(value[k], dtype=np.float64)
                     for k in ("point_coords", "point_labels", "box")))

    def signature(self) -> tuple[int, bool]:
        return (0 if self.point_coords is None else len(self.point_coords), self.box is not None)


def gt_prompts(masks: np.ndarray) -> list[Prompt]:
    """For each GT mask (PxHxW bool, non-empty): its box, and one click farthest from its boundary."""
    prompts = []
    for mask in masks:
        x, y = farthest_from_boundary(mask)
        prompts.append(Prompt(box=mask_to_box(mask)))
        prompts.append(Prompt(np.array([[x + 0.5, y + 0.5]]), np.array([1.0])))
    return prompts


def grid_prompts(height: int, width: int, per_side: int = 4) -> list[Prompt]:
    """per_side x per_side single foreground clicks on a regular grid (cell centres)."""
    ys = (np.arange(per_side) + 0.5) * height / per_side
    xs = (np.arange(per_side) + 0.5) * width / per_side
    return [Prompt(np.array([[x, y]]), np.array([1.0])) for y in ys for x in xs]


def run_prompts(predictor: SamPredictor, prompts: Sequence[Prompt], chunk: int = 16) -> PromptOutputs:
    """All-token outputs for `prompts` on the predictor's current image, in prompt order; prompts with the
    same number of clicks and box / no box go through the decoder together."""
    groups: dict[tuple[int, bool], list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(p.signature(), []).append(i)
    parts: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for (points, has_box), idx in groups.items():
        sel = [prompts[i] for i in idx]
        out = decode_prompts(
            predictor,
            np.stack([p.point_coords for p in sel]) if points else None,
            np.stack([p.point_labels for p in sel]) if points else None,
            np.stack([p.box for p in sel]) if has_box else None,
            chunk=chunk,
        )
        for j, i in enumerate(idx):
            parts[i] = (out.iou[j], out.masks[j], out.low_res[j])
    ordered = [parts[i] for i in range(len(prompts))]
    return PromptOutputs(*(np.stack([o[k] for o in ordered]) for k in range(3)))


class FidelityStats:
    """Accumulates comparisons image by image; `summary()` gives the distributions."""

    def __init__(self) -> None:
        self.mask_ious: list[np.ndarray] = []
        self.cosines: list[float] = []
        self.max_abs: list[float] = []
        self.rel: list[float] = []
        self.score_errors: list[np.ndarray] = []
        self.images = 0
        self.prompts = 0

    def add(self, embedding: Any, ref_embedding: Any, outputs: PromptOutputs, ref_outputs: PromptOutputs) -> None:
        """One image: embeddings 1xCxgxg (any array type), outputs for the same P prompts (PxT)."""
        emb = to_numpy(embedding).astype(np.float64)
        ref = to_numpy(ref_embedding).astype(np.float64)
        self.cosines.append(cosine_similarity(emb, ref))
        diff = float(np.abs(emb - ref).max())
        self.max_abs.append(diff)
        self.rel.append(diff / max(float(np.abs(ref).max()), 1e-12))
        self.mask_ious.append(np.asarray(mask_iou(outputs.masks, ref_outputs.masks), dtype=np.float64).ravel())
        self.score_errors.append(np.abs(outputs.iou.astype(np.float64) - ref_outputs.iou.astype(np.float64)).ravel())
        self.images += 1
        self.prompts += len(outputs.iou)

    def summary(self) -> dict[str, Any]:
        ious = np.concatenate(self.mask_ious) if self.mask_ious else np.empty(0)
        errors = np.concatenate(self.score_errors) if self.score_errors else np.empty(0)
        return {
            "images": self.images,
            "prompts": self.prompts,
            "mask_iou": distribution(ious),
            "masks_identical_fraction": float((ious == 1.0).mean()) if ious.size else None,
            "embedding_cosine": distribution(self.cosines),
            "embedding_max_abs_error": max(self.max_abs) if self.max_abs else None,
            "embedding_max_rel_error": max(self.rel) if self.rel else None,
            "pred_iou_abs_error": distribution(errors),
            "mask_iou_values": ious.tolist(),
        }


def compare(backend: Any, reference: Any, images: Iterable[np.ndarray],
            prompts: Sequence[Sequence[Prompt | dict[str, Any]]] | None = None, chunk: int = 16) -> dict[str, Any]:
    """Fidelity of `backend` against `reference` (each a SamBackend, a torch Sam or a SamPredictor).

    images: HxWx3 RGB uint8; prompts: per image, a list of `Prompt` or dicts with point_coords (Nx2),
    point_labels (N), box (XYXY), in original pixels; default: a 4x4 grid of single clicks per image.
    Returns `FidelityStats.summary()`: images, prompts, mask_iou {count, mean, min, p1, p5, p50, max} over
    every token of every prompt, masks_identical_fraction, embedding_cosine {...}, embedding_max_abs_error,
    embedding_max_rel_error, pred_iou_abs_error {...}, mask_iou_values.
    """
    test = backend if isinstance(backend, SamPredictor) else SamPredictor(backend)
    ref = reference if isinstance(reference, SamPredictor) else SamPredictor(reference)
    stats = FidelityStats()
    for i, image in enumerate(images):
        chosen = [Prompt.coerce(p) for p in prompts[i]] if prompts is not None else grid_prompts(*image.shape[:2])
        test.set_image(image)
        ref.set_image(image)
        stats.add(test.features, ref.features, run_prompts(test, chosen, chunk), run_prompts(ref, chosen, chunk))
    return stats.summary()


def passes(summary: dict[str, Any], miou_drop_points: float | None = None,
           gate: dict[str, float] | None = None) -> dict[str, Any]:
    """Checks a `compare` summary (and, when given, the mIoU drop in points) against the gate thresholds.

    -> {"passed": bool, "checks": {name: {"value", "limit", "ok"}}}.
    """
    gate = {**GATE, **(gate or {})}
    checks = {
        "mask_iou_mean": (summary["mask_iou"]["mean"], gate["mask_iou_mean"], ">="),
        "mask_iou_p1": (summary["mask_iou"]["p1"], gate["mask_iou_p1"], ">="),
        "embedding_cosine_min": (summary["embedding_cosine"]["min"], gate["embedding_cosine_min"], ">="),
    }
    if miou_drop_points is not None:
        checks["miou_drop_points"] = (miou_drop_points, gate["miou_drop_points"], "<=")
    out = {}
    for name, (value, limit, op) in checks.items():
        ok = value is not None and (value >= limit if op == ">=" else value <= limit)
        out[name] = {"value": value, "limit": limit, "op": op, "ok": bool(ok)}
    return {"passed": all(c["ok"] for c in out.values()), "checks": out}
