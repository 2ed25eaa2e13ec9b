"""Prompt cases and comparison helpers shared by the parity tests (official, torch, ONNX Runtime)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sam_trt.runtime.base import to_numpy

from .conftest import mask_iou


def prompt_matrix(h: int, w: int) -> dict[str, dict]:
    """The prompt cases of the parity checklist, in pixels of an HxW image."""
    def pt(fx: float, fy: float) -> list[float]:
        return [fx * (w - 1), fy * (h - 1)]

    box = np.array([*pt(0.2, 0.25), *pt(0.7, 0.8)])
    return {
        "one_point_multimask": dict(point_coords=np.array([pt(0.5, 0.5)]), point_labels=np.array([1])),
        "one_point_single": dict(point_coords=np.array([pt(0.4, 0.6)]), point_labels=np.array([1]),
                                 multimask_output=False),
        "points_with_negatives": dict(point_coords=np.array([pt(0.3, 0.3), pt(0.6, 0.4), pt(0.8, 0.9)]),
                                      point_labels=np.array([1, 0, 1]), multimask_output=False),
        "box": dict(box=box, multimask_output=False),
        "box_multimask": dict(box=box),
        "box_and_point": dict(box=box, point_coords=np.array([pt(0.45, 0.5)]), point_labels=np.array([0]),
                              multimask_output=False),
        "logits": dict(point_coords=np.array([pt(0.5, 0.5)]), point_labels=np.array([1]), return_logits=True),
    }


def assert_same_outputs(official_out, our_out, return_logits: bool = False) -> None:
    (m1, s1, l1), (m2, s2, l2) = official_out, our_out
    assert m1.shape == m2.shape and s1.shape == s2.shape and l1.shape == l2.shape
    assert np.abs(s1 - s2).max() <= 1e-3
    assert np.abs(l1 - l2).max() <= 1e-3 * max(1.0, float(np.abs(l1).max()))
    if return_logits:
        m1, m2 = m1 > 0, m2 > 0
    ious = mask_iou(m1, m2)
    assert ious.mean() >= 0.999 and ious.min() >= 0.99, ious


def relative_error(a: Any, b: Any) -> float:
    """||a - b|| / ||b|| for numpy arrays or torch tensors."""
    a, b = to_numpy(a).astype(np.float64), to_numpy(b).astype(np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def check_prompt_matrix(reference: Any, predictor: Any, size: tuple[int, int]) -> None:
    """Every prompt case, then a refinement round with the best low-res logits as mask_input."""
    for kwargs in prompt_matrix(*size).values():
        expected = reference.predict(**kwargs)
        logits = kwargs.get("return_logits", False)
        assert_same_outputs(expected, predictor.predict(**kwargs), logits)
        best = int(np.argmax(expected[1]))
        kwargs = {**kwargs, "mask_input": expected[2][best : best + 1]}
        assert_same_outputs(reference.predict(**kwargs), predictor.predict(**kwargs), logits)
