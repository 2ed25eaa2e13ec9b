"""Mask losses and IoU at the decoder's low resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def low_res_targets(masks: torch.Tensor, size: int) -> torch.Tensor:
    """PxHxW bool (H, W a multiple of `size`) -> Pxsizexsize soft targets: the covered fraction per cell."""
    return F.adaptive_avg_pool2d(masks[:, None].float(), size)[:, 0]


def mask_loss(logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0,
              balance: float = 0.0) -> torch.Tensor:
    """Per-mask BCE + dice. logits PxTxsxs, target Pxsxs soft -> PxT losses.

    `balance` in [0, 1] blends the plain pixel-mean BCE (0) with a class-balanced BCE (1: the object's and
    the background's pixels each weigh half), which keeps "everything background" from being the cheap
    early optimum when objects cover a few percent of the image.
    """
    t = target[:, None].expand_as(logits)
    pos = -F.logsigmoid(logits) * t
    neg = -F.logsigmoid(-logits) * (1 - t)
    plain = (pos + neg).mean(dim=(2, 3))
    bce = plain
    if balance > 0:
        area = t.sum(dim=(2, 3))
        balanced = 0.5 * pos.sum(dim=(2, 3)) / area.clamp(min=1.0) + \
            0.5 * neg.sum(dim=(2, 3)) / (t[0, 0].numel() - area).clamp(min=1.0)
        bce = (1 - balance) * plain + balance * balanced
    prob = logits.sigmoid()
    inter = (prob * t).sum(dim=(2, 3))
    dice = 1 - (2 * inter + 1) / (prob.sum(dim=(2, 3)) + t.sum(dim=(2, 3)) + 1)
    return bce + dice_weight * dice


def mask_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of (logits > 0) with (target > 0.5). logits PxTxsxs, target Pxsxs -> PxT."""
    pred = logits > 0
    gt = (target > 0.5)[:, None]
    inter = (pred & gt).sum(dim=(2, 3)).float()
    union = (pred | gt).sum(dim=(2, 3)).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))
