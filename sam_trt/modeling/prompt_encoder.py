"""Prompt encoder: points, boxes and low-res masks -> sparse and dense embeddings."""

from __future__ import annotations

import math

import torch
from torch import nn

from .common import LayerNorm2d

# Point labels: -1 padding ("not a point"), 0 negative click, 1 positive click,
# 2 box top-left corner, 3 box bottom-right corner (the official ONNX convention).
NUM_POINT_EMBEDDINGS = 4


class PromptEncoder(nn.Module):
    def __init__(
        self,
        embed_dim: int,
        image_embedding_size: tuple[int, int],
        input_image_size: tuple[int, int],
        mask_in_chans: int,
        activation: type[nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.input_image_size = input_image_size
        self.image_embedding_size = image_embedding_size
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(NUM_POINT_EMBEDDINGS))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_input_size = (4 * image_embedding_size[0], 4 * image_embedding_size[1])
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            activation(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            activation(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def get_dense_pe(self) -> torch.Tensor:
        """Positional encoding of the embedding grid: 1 x C x h x w."""
        return self.pe_layer(self.image_embedding_size).unsqueeze(0)

    def embed_labeled_points(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """BxNx2 coords (input-image pixels) with BxN labels in {-1,0,1,2,3} -> BxNxC tokens.

        Branch-free: label -1 gives `not_a_point_embed` alone; label i in 0..3 gives PE +
        `point_embeddings[i]`. Box corners are points with labels 2 and 3.
        """
        pe = self.pe_layer.forward_with_coords(coords + 0.5, self.input_image_size)
        labels = labels[..., None]
        pe = pe * (labels != -1).to(pe.dtype)
        pe = pe + self.not_a_point_embed.weight * (labels == -1).to(pe.dtype)
        for i, embedding in enumerate(self.point_embeddings):
            pe = pe + embedding.weight * (labels == i).to(pe.dtype)
        return pe

    def embed_masks(self, masks: torch.Tensor) -> torch.Tensor:
        """Bx1xHmxWm low-res mask logits -> BxCxhxw dense embedding."""
        return self.mask_downscaling(masks)

    def forward(
        self,
        points: tuple[torch.Tensor, torch.Tensor] | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Official signature: (BxNx2, BxN) points, Bx4 boxes, Bx1xHmxWm masks -> sparse BxKxC, dense BxCxhxw."""
        bs = _batch_size(points, boxes, masks)
        parts = []
        if points is not None:
            coords, labels = points
            if boxes is None:  # pad with a "not a point" so the decoder sees no box slot as empty
                coords = torch.cat([coords, torch.zeros_like(coords[:, :1])], dim=1)
                labels = torch.cat([labels, -torch.ones_like(labels[:, :1])], dim=1)
            # Labels 2/3 get no learned embedding in the official point path; clear them to match.
            labels = torch.where(labels >= 2, torch.full_like(labels, NUM_POINT_EMBEDDINGS), labels)
            parts.append(self.embed_labeled_points(coords, labels))
        if boxes is not None:
            corners = boxes.reshape(-1, 2, 2)
            corner_labels = torch.tensor([2, 3], device=corners.device).expand(corners.shape[0], 2)
            parts.append(self.embed_labeled_points(corners, corner_labels))
        weight = self.no_mask_embed.weight
        sparse = torch.cat(parts, dim=1) if parts else torch.empty(bs, 0, self.embed_dim, device=weight.device)
        if masks is not None:
            dense = self.embed_masks(masks)
        else:
            h, w = self.image_embedding_size
            dense = weight.reshape(1, -1, 1, 1).expand(bs, -1, h, w)
        return sparse, dense


def _batch_size(
    points: tuple[torch.Tensor, torch.Tensor] | None, boxes: torch.Tensor | None, masks: torch.Tensor | None
) -> int:
    if points is not None:
        return points[0].shape[0]
    if boxes is not None:
        return boxes.shape[0]
    if masks is not None:
        return masks.shape[0]
    return 1


class PositionEmbeddingRandom(nn.Module):
    """Random Fourier features of normalised (x, y) coordinates: [sin(2*pi*c@G), cos(2*pi*c@G)]."""

    def __init__(self, num_pos_feats: int = 64, scale: float | None = None) -> None:
        super().__init__()
        scale = 1.0 if scale is None or scale <= 0.0 else scale
        self.register_buffer("positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats)))

    def _pe_encoding(self, coords: torch.Tensor) -> torch.Tensor:
        """...x2 coords in [0,1] -> ...x(2*num_pos_feats)."""
        coords = 2 * coords - 1
        coords = coords @ self.positional_encoding_gaussian_matrix
        coords = 2 * math.pi * coords
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)

    def forward(self, size: tuple[int, int]) -> torch.Tensor:
        """Encoding of an h x w grid of cell centres: C x h x w."""
        h, w = size
        device = self.positional_encoding_gaussian_matrix.device
        y = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
        x = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
        grid = torch.stack([x[None, :].expand(h, w), y[:, None].expand(h, w)], dim=-1)
        return self._pe_encoding(grid).permute(2, 0, 1)

    def forward_with_coords(self, coords: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        """BxNx2 pixel coordinates (x, y) in an image of `image_size` (h, w) -> BxNxC."""
        size_xy = torch.tensor([float(image_size[1]), float(image_size[0])], device=coords.device)
        return self._pe_encoding(coords.to(torch.float32) / size_xy)
