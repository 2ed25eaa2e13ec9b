"""One interactive training step: encode images once, then decode many prompts per image in two rounds.

Round 1: per object a jittered GT box (token 0 supervised, tokens 1..3 at half weight through their best)
and a single positive click (ambiguous: the best of tokens 1..3, token 0 at half weight).
Round 2: each round-1 prompt gets a corrective click sampled from its error region and, usually, its
previous low-res logits as mask input (SAM's refinement); token 0 supervised. The IoU head regresses the
true low-res IoU of every token (MSE).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..data import generate_scene, rng_for
from ..modeling import Sam
from .losses import low_res_targets, mask_iou, mask_loss
from .prompts import error_clicks, jitter_boxes, mask_boxes, sample_points

TRAIN_STREAM = 1  # training scenes come from their own stream (see `rng_for`)


@dataclass
class Batch:
    """images: Bx3xSxS float 0-255; masks: PxSxS bool (one per prompted object); image_index: P long."""

    images: torch.Tensor
    masks: torch.Tensor
    image_index: torch.Tensor


def make_batch(seed: int, step: int, num_images: int, size: int, max_objects: int) -> Batch:
    """The scenes of training step `step` (scenes step*num_images + j of `seed`, training stream)."""
    images, masks, index = [], [], []
    for j in range(num_images):
        rng = rng_for(seed, step * num_images + j, stream=TRAIN_STREAM)
        scene = generate_scene(rng, size=(size, size))
        keep = np.arange(len(scene.masks))
        if len(keep) > max_objects:
            keep = np.sort(rng.choice(keep, max_objects, replace=False))
        images.append(torch.from_numpy(scene.image).permute(2, 0, 1))
        masks.extend(torch.from_numpy(scene.masks[k]) for k in keep)
        index.extend([j] * len(keep))
    return Batch(torch.stack(images).float(), torch.stack(masks), torch.tensor(index, dtype=torch.long))


def _decode(sam: Sam, embeddings: torch.Tensor, coords: torch.Tensor, labels: torch.Tensor,
            mask_input: torch.Tensor | None = None, use_mask: torch.Tensor | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """PxCxgxg embeddings, PxNx2 coords, PxN labels, optional Px1xsxs logits -> (PxTxsxs logits, PxT iou)."""
    pe = sam.prompt_encoder
    sparse = pe.embed_labeled_points(coords, labels)
    p, _, g, _ = embeddings.shape
    dense = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(p, -1, g, g)
    if mask_input is not None:
        masked = pe.embed_masks(mask_input)
        dense = torch.where(use_mask.reshape(-1, 1, 1, 1), masked, dense) if use_mask is not None else masked
    return sam.mask_decoder.predict_masks(embeddings, pe.get_dense_pe(), sparse, dense)


def _weighted(losses: torch.Tensor, w0: torch.Tensor, w_multi: torch.Tensor) -> torch.Tensor:
    """PxT per-token losses -> scalar: w0 * token 0 + w_multi * best of tokens 1..T-1."""
    return (w0 * losses[:, 0] + w_multi * losses[:, 1:].amin(dim=1)).mean()


def train_losses(sam: Sam, batch: Batch, generator: torch.Generator, dice_weight: float = 1.0,
                 bce_balance: float = 0.0, iou_weight: float = 1.0, mask_prob: float = 0.8,
                 refine: bool = True) -> dict[str, torch.Tensor]:
    """Forward both rounds and return the losses ("loss" is the total to minimise) and diagnostics."""
    device = sam.device
    size = sam.image_encoder.img_size
    low = sam.prompt_encoder.mask_input_size[0]
    scale = size / low
    embeddings = sam.image_encoder(sam.preprocess(batch.images.to(device)))
    gt = batch.masks
    p = gt.shape[0]
    target = low_res_targets(gt, low).to(device)
    boxes = jitter_boxes(mask_boxes(gt), size, generator).to(device)
    clicks = sample_points(gt, generator).to(device)
    emb = embeddings[torch.cat([batch.image_index, batch.image_index]).to(device)]
    target2 = torch.cat([target, target])

    # Round 1: P box prompts then P single-click prompts, both N=2 tokens (the reference layouts).
    coords1 = torch.cat([boxes.reshape(p, 2, 2), torch.stack([clicks, torch.zeros_like(clicks)], dim=1)])
    labels1 = torch.cat([torch.tensor([[2.0, 3.0]]).expand(p, 2), torch.tensor([[1.0, -1.0]]).expand(p, 2)])
    logits1, iou1 = _decode(sam, emb, coords1, labels1.to(device))
    ones, halves = torch.ones(p, device=device), torch.full((p,), 0.5, device=device)
    losses1 = mask_loss(logits1, target2, dice_weight, bce_balance)
    loss_mask = _weighted(losses1, torch.cat([ones, halves]), torch.cat([halves, ones]))
    true_iou1 = mask_iou(logits1.detach(), target2)
    loss_iou = F.mse_loss(iou1, true_iou1)
    out = {"mask1": loss_mask.detach(), "iou_box": true_iou1[:p, 0].mean(),
           "iou_click": true_iou1[p:, 1:].amax(dim=1).mean()}

    if refine:
        # Round 2: what the user saw (token 0 for boxes, the top-scored multimask for clicks) + a new click.
        rows = torch.arange(2 * p, device=device)
        pick = torch.cat([torch.zeros(p, dtype=torch.long, device=device), 1 + iou1[p:, 1:].argmax(dim=1)])
        prev = logits1.detach()[rows, pick]
        new_pts, new_labels = error_clicks(prev.cpu(), target2.cpu(), generator, scale)
        new_pts, new_labels = new_pts.to(device), new_labels.to(device)
        pad = torch.zeros_like(clicks)[:, None]
        coords2 = torch.cat([torch.cat([new_pts[:p, None], boxes.reshape(p, 2, 2)], dim=1),
                             torch.cat([clicks[:, None], new_pts[p:, None], pad], dim=1)])
        labels2 = torch.cat([torch.stack([new_labels[:p], torch.full_like(ones, 2.0), torch.full_like(ones, 3.0)], 1),
                             torch.stack([ones, new_labels[p:], -ones], 1)])
        use_mask = (torch.rand(2 * p, generator=generator) < mask_prob).to(device)
        logits2, iou2 = _decode(sam, emb, coords2, labels2, prev[:, None], use_mask)
        losses2 = mask_loss(logits2, target2, dice_weight, bce_balance)
        loss_mask2 = _weighted(losses2, torch.ones(2 * p, device=device), torch.full((2 * p,), 0.5, device=device))
        true_iou2 = mask_iou(logits2.detach(), target2)
        loss_mask = loss_mask + loss_mask2
        loss_iou = loss_iou + F.mse_loss(iou2, true_iou2)
        out.update(mask2=loss_mask2.detach(), iou_refine=true_iou2[:, 0].mean())
    out["iou_loss"] = loss_iou.detach()
    out["loss"] = loss_mask + iou_weight * loss_iou
    return out
