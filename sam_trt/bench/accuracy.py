"""`sam-trt bench accuracy`: GT-box, one-click and k-click mIoU per COCO area bucket for each backend, and
fidelity of each backend against a reference, image by image (systems interleaved, rotated per image)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from ..evaluation import ImageEval, PromptOutputs, evaluate_image
from ..metrics import bucket_means
from .dataset import CocoDataset
from .fidelity import FidelityStats, passes
from .timing import interleaved_order, summarize

HIST_BINS = [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0]  # per-mask fidelity IoU histogram edges (last: == 1)


@dataclass
class AccuracySettings:
    """clicks: K for the iterative protocol (1 = one click only); chunk: prompts per decoder call."""

    clicks: int = 1
    chunk: int = 16


class _Rows:
    """Per-object results of one system."""

    def __init__(self) -> None:
        self.box: list[np.ndarray] = []
        self.box_multi: list[np.ndarray] = []
        self.click: list[np.ndarray] = []
        self.refine: list[np.ndarray] = []
        self.score_error: list[np.ndarray] = []
        self.areas: list[np.ndarray] = []
        self.set_image_s: list[float] = []
        self.prompt_s: list[float] = []
        self.prompts = 0

    def add(self, ev: ImageEval, areas: np.ndarray) -> None:
        self.box.append(ev.box_single)
        self.box_multi.append(ev.box_multi)
        self.click.append(ev.click_best)
        self.refine.append(ev.refine_iou)
        self.score_error.append(ev.click_score_error)
        self.areas.append(areas)
        self.set_image_s.append(ev.set_image_s)
        self.prompt_s.append(ev.prompt_s)
        self.prompts += 2 * len(areas)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(getattr(self, k)) for k in ("box", "box_multi", "click", "refine", "score_error",
                                                              "areas")}


def _both(ev: ImageEval) -> PromptOutputs:
    return PromptOutputs(*(np.concatenate([getattr(ev.box, k), getattr(ev.click, k)]) for k in ("iou", "masks",
                                                                                               "low_res")))


def run_accuracy(dataset: CocoDataset, predictors: dict[str, Any], reference: str | None,
                 settings: AccuracySettings, progress: bool | None = None,
                 log: Callable[[str], object] = print) -> dict[str, Any]:
    """Evaluate every predictor on every image of `dataset`; fidelity of each against `reference` (a key of
    `predictors`) on the GT-box and one-click prompts. Returns the results dict (IoU in 0..1)."""
    labels = list(predictors)
    rows = {label: _Rows() for label in labels}
    fidelity = {label: FidelityStats() for label in labels if reference is not None and label != reference}
    bar = tqdm(dataset, total=len(dataset), desc="accuracy images", unit="image",
               disable=None if progress is None else not progress)
    for i, sample in enumerate(bar):
        evals = {}
        for label in interleaved_order(labels, i):
            evals[label] = evaluate_image(predictors[label], sample.image, sample.masks, settings.clicks,
                                          settings.chunk, keep_outputs=reference is not None)
            rows[label].add(evals[label], sample.areas)
        for label, stats in fidelity.items():
            stats.add(evals[label].embedding, evals[reference].embedding, _both(evals[label]),
                      _both(evals[reference]))
    if not any(r.box for r in rows.values()):
        from ..errors import InputError

        raise InputError(f"{dataset.path}: every mask decoded empty; nothing to evaluate")

    accuracy, per_object = {}, {}
    for label in labels:
        a = rows[label].arrays()
        accuracy[label] = {
            "objects": int(len(a["box"])),
            "box": bucket_means(a["box"], a["areas"]),
            "box_multi": bucket_means(a["box_multi"], a["areas"]),
            "click": bucket_means(a["click"], a["areas"]),
            "clicks_miou": [float(v) for v in a["refine"].mean(axis=0)],
            "click_score_abs_error": float(a["score_error"].mean()),
            "timing": {"set_image": summarize(rows[label].set_image_s),
                       "prompt_s_per_prompt": float(sum(rows[label].prompt_s) / max(rows[label].prompts, 1))},
        }
        per_object[label] = {"area": a["areas"].tolist(), "box": a["box"].tolist(),
                             "box_multi": a["box_multi"].tolist(), "click": a["click"].tolist(),
                             "clicks": a["refine"].tolist()}
    results_fidelity, fidelity_values = {}, {}
    for label, stats in fidelity.items():
        summary = stats.summary()
        values = fidelity_values[label] = np.asarray(summary.pop("mask_iou_values"))
        drops = {m: 100 * (accuracy[reference][m]["all"]["mean"] - accuracy[label][m]["all"]["mean"])
                 for m in ("box", "box_multi", "click")}
        worst = max(drops.values())
        results_fidelity[label] = {
            **summary, "reference": reference,
            "mask_iou_histogram": {"edges": HIST_BINS, "counts": _fidelity_histogram(values)},
            "miou_drop_points": drops,
            "gate": passes(summary, miou_drop_points=worst),
        }
    return {
        "dataset": dataset.describe(),
        "settings": asdict(settings),
        "systems": {label: predictors[label].backend.describe() for label in labels},
        "reference": reference,
        "accuracy": accuracy,
        "fidelity": results_fidelity,
        "per_object": per_object,
        "_fidelity_values": fidelity_values,  # per-mask IoU for the plot; not written to results.json
    }


def _fidelity_histogram(values: np.ndarray) -> list[int]:
    """counts[i]: IoU in [HIST_BINS[i], HIST_BINS[i+1]); the last count: IoU exactly 1."""
    counts = []
    for lo, hi in zip(HIST_BINS[:-1], HIST_BINS[1:]):
        counts.append(int(((values >= lo) & (values < hi)).sum()))
    counts.append(int((values == 1.0).sum()))
    return counts
