"""Prompt sampling for interactive training: boxes, clicks in masks, clicks in error regions."""

from __future__ import annotations

import torch

BOX_LABELS = (2.0, 3.0)


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """PxHxW bool -> Px4 XYXY boxes in pixel indices (x0, y0 = first, x1, y1 = last covered pixel)."""
    p, h, w = masks.shape
    rows, cols = masks.any(dim=2), masks.any(dim=1)
    ar_h = torch.arange(h, dtype=torch.float32)
    ar_w = torch.arange(w, dtype=torch.float32)
    big = 1e9
    y0 = torch.where(rows, ar_h, big).amin(dim=1)
    y1 = torch.where(rows, ar_h, -big).amax(dim=1)
    x0 = torch.where(cols, ar_w, big).amin(dim=1)
    x1 = torch.where(cols, ar_w, -big).amax(dim=1)
    return torch.stack([x0, y0, x1, y1], dim=1)


def jitter_boxes(boxes: torch.Tensor, size: int, generator: torch.Generator, frac: float = 0.1,
                 max_px: float = 20.0) -> torch.Tensor:
    """SAM's box noise: each coordinate moves by N(0, frac * side), clipped to +-max_px, kept in the image."""
    side = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], dim=1).repeat(1, 2) + 1
    noise = torch.randn(boxes.shape, generator=generator) * frac * side
    out = boxes + noise.clamp(-max_px, max_px)
    out = out.clamp(0, size - 1)
    x0, x1 = torch.minimum(out[:, 0], out[:, 2]), torch.maximum(out[:, 0], out[:, 2])
    y0, y1 = torch.minimum(out[:, 1], out[:, 3]), torch.maximum(out[:, 1], out[:, 3])
    return torch.stack([x0, y0, x1, y1], dim=1)


def sample_points(region: torch.Tensor, generator: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """PxHxW bool regions -> Px2 (x, y) points drawn uniformly from each region, times `scale` (+ jitter
    inside the cell when scale > 1). An empty region gives a uniform point over the whole map."""
    p, h, w = region.shape
    weights = region.reshape(p, -1).float()
    weights = torch.where(weights.sum(dim=1, keepdim=True) > 0, weights, torch.ones_like(weights))
    idx = torch.multinomial(weights, 1, generator=generator).squeeze(1)
    ys, xs = (idx // w).float(), (idx % w).float()
    pts = torch.stack([xs, ys], dim=1)
    if scale != 1.0:
        pts = (pts + torch.rand(pts.shape, generator=generator)) * scale - 0.5
    return pts


def error_clicks(pred_logits: torch.Tensor, target: torch.Tensor, generator: torch.Generator,
                 scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A corrective click per prompt, as SAM's simulated user: a point from the error region at low
    resolution; positive (1) on a missed object pixel, negative (0) on a false positive.

    pred_logits, target: Pxsxs (target soft in [0, 1]) -> (Px2 points in the image frame, P labels).
    """
    pred = pred_logits > 0
    gt = target > 0.5
    error = pred ^ gt
    pts_low = sample_points(error, generator)
    x, y = pts_low[:, 0].long(), pts_low[:, 1].long()
    labels = gt[torch.arange(gt.shape[0]), y, x].float()
    pts = (pts_low + torch.rand(pts_low.shape, generator=generator)) * scale - 0.5
    return pts, labels

