"""Held-out evaluation: GT-box mIoU and 1-click mIoU on generated scenes, at full image resolution."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..data import Scene, generate_scene, rng_for
from ..metrics import farthest_from_boundary
from ..modeling import Sam
from .prompts import mask_boxes

EVAL_SEED = 9_000_017  # held-out scene stream, never used for training (training uses the run's seed)
SMALL_AREA = 32 * 32


def eval_scenes(num: int, size: int, style: str = "train", seed: int = EVAL_SEED) -> list[Scene]:
    """The fixed held-out set: `num` scenes of size x size from `seed`."""
    return [generate_scene(rng_for(seed, i), size=(size, size), style=style) for i in range(num)]


def _decode(sam: Sam, embedding: torch.Tensor, coords: torch.Tensor, labels: torch.Tensor,
            chunk: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """1xCxgxg embedding, PxNx2 coords, PxN labels -> (PxTxSxS logits at the input size, PxT iou)."""
    pe = sam.prompt_encoder
    size = sam.image_encoder.img_size
    outs, ious = [], []
    for i in range(0, coords.shape[0], chunk):
        c, lab = coords[i:i + chunk], labels[i:i + chunk]
        sparse = pe.embed_labeled_points(c, lab)
        g = pe.image_embedding_size[0]
        dense = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(c.shape[0], -1, g, g)
        low, iou = sam.mask_decoder.predict_masks(embedding, pe.get_dense_pe(), sparse, dense)
        outs.append(F.interpolate(low, (size, size), mode="bilinear", align_corners=False))
        ious.append(iou)
    return torch.cat(outs), torch.cat(ious)


def _iou(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """PxTxHxW bool, PxHxW bool -> PxT."""
    gt = gt[:, None]
    inter = (pred & gt).sum(dim=(2, 3)).float()
    union = (pred | gt).sum(dim=(2, 3)).float()
    return inter / union.clamp(min=1)


@torch.no_grad()
def evaluate(sam: Sam, scenes: list[Scene]) -> dict[str, float]:
    """mIoU over every object of `scenes` (square, image_size side), prompted one object at a time.

    box: GT box (XYXY pixel indices), token 0 (multimask_output=False); box_multi: best predicted of 1..3;
    click: point farthest from the boundary, multimask, the mask with the highest predicted IoU;
    click_oracle: the best of tokens 1..3 by true IoU; iou_mae: |predicted - true IoU| of the chosen masks.
    """
    sam.eval()
    device = sam.device
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("box", "box_multi", "click", "click_oracle",
                                                          "click_single", "area", "iou_err")}
    for scene in scenes:
        if len(scene.masks) == 0:
            continue
        image = torch.as_tensor(scene.image, device=device).permute(2, 0, 1)[None].float()
        embedding = sam.image_encoder(sam.preprocess(image))
        gt = torch.as_tensor(scene.masks, device=device)
        h, w = gt.shape[-2:]
        p = gt.shape[0]
        boxes = mask_boxes(gt.cpu()).to(device)
        box_labels = torch.tensor([[2.0, 3.0]], device=device).expand(p, 2)
        logits, iou = _decode(sam, embedding, boxes.reshape(p, 2, 2), box_labels)
        ious = _iou(logits[..., :h, :w] > 0, gt)
        rows["box"].append(ious[:, 0].cpu().numpy())
        best = iou[:, 1:].argmax(dim=1)
        rows["box_multi"].append(ious[:, 1:].gather(1, best[:, None])[:, 0].cpu().numpy())
        clicks = torch.tensor([farthest_from_boundary(m) for m in scene.masks], device=device, dtype=torch.float32)
        coords = torch.stack([clicks, torch.zeros_like(clicks)], dim=1)
        labels = torch.tensor([[1.0, -1.0]], device=device).expand(p, 2)
        logits, iou = _decode(sam, embedding, coords, labels)
        ious = _iou(logits[..., :h, :w] > 0, gt)
        best = iou[:, 1:].argmax(dim=1)
        chosen = ious[:, 1:].gather(1, best[:, None])[:, 0]
        rows["click"].append(chosen.cpu().numpy())
        rows["click_oracle"].append(ious[:, 1:].amax(dim=1).cpu().numpy())
        rows["click_single"].append(ious[:, 0].cpu().numpy())
        rows["iou_err"].append((iou[:, 1:].gather(1, best[:, None])[:, 0] - chosen).abs().cpu().numpy())
        rows["area"].append(scene.masks.sum(axis=(1, 2)))
    cat = {k: np.concatenate(v) for k, v in rows.items()}
    small = cat["area"] < SMALL_AREA
    out = {f"{k}_miou": float(cat[k].mean()) for k in ("box", "box_multi", "click", "click_oracle", "click_single")}
    out["iou_mae"] = float(cat["iou_err"].mean())
    out["box_miou_small"] = float(cat["box"][small].mean()) if small.any() else float("nan")
    out["click_miou_small"] = float(cat["click"][small].mean()) if small.any() else float("nan")
    out["num_objects"] = int(len(cat["box"]))
    return out
