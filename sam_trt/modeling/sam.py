"""`Sam`: image encoder + prompt encoder + mask decoder, with the official pre/post-processing."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config import SamConfig
from .image_encoder import ImageEncoderViT
from .mask_decoder import MaskDecoder
from .prompt_encoder import PromptEncoder


class Sam(nn.Module):
    mask_threshold: float = 0.0
    image_format: str = "RGB"

    def __init__(
        self,
        image_encoder: ImageEncoderViT,
        prompt_encoder: PromptEncoder,
        mask_decoder: MaskDecoder,
        pixel_mean: tuple[float, float, float] = (123.675, 116.28, 103.53),
        pixel_std: tuple[float, float, float] = (58.395, 57.12, 57.375),
        config: SamConfig | None = None,
    ) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        self.config = config
        self._pixel_stats = (tuple(pixel_mean), tuple(pixel_std))
        self.reset_pixel_stats()

    def reset_derived_buffers(self) -> None:
        """Every module's buffers that checkpoints do not carry, (re)created on the CPU (after a meta build)."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_derived_buffers"):
                module.reset_derived_buffers()
        self.reset_pixel_stats()

    def reset_pixel_stats(self) -> None:
        """(Re)create the pixel mean/std buffers on the CPU, e.g. after building on the meta device.

        They are not persistent: the official checkpoints do not carry them.
        """
        mean, std = self._pixel_stats
        self.register_buffer("pixel_mean", torch.tensor(mean, device="cpu").view(-1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std, device="cpu").view(-1, 1, 1), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Bx3xhxw resized image (uint8 or float, 0-255) -> Bx3xSxS normalised, zero-padded bottom/right."""
        x = (x - self.pixel_mean) / self.pixel_std
        size = self.image_encoder.img_size
        h, w = x.shape[-2:]
        return torch.nn.functional.pad(x, (0, size - w, 0, size - h))

    def postprocess_masks(
        self, masks: torch.Tensor, input_size: tuple[int, ...], original_size: tuple[int, ...]
    ) -> torch.Tensor:
        """BxCxHmxWm low-res logits -> BxCxHxW logits at the original image size."""
        from ..postprocess import upscale_masks

        return upscale_masks(masks, self.prompt_frame_size, input_size, original_size)

    @property
    def prompt_frame_size(self) -> int:
        """Side of the square frame prompts and masks live in (1024; the encoder input may be smaller)."""
        return self.prompt_encoder.input_image_size[0]

    def decode_prompts(
        self,
        image_embeddings: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
        dense_pe: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The decoder contract (DESIGN.md decision 6), branch-free so it exports as one graph.

        image_embeddings 1xCxgxg (broadcast over prompts), point_coords BxNx2 (resized-image pixels),
        point_labels BxN in {-1,0,1,2,3}, mask_input Bx1xsxs, has_mask_input B
        -> iou predictions BxT and low-res logits BxTxsxs for all T mask tokens.
        """
        prompt_encoder = self.prompt_encoder
        sparse = prompt_encoder.embed_labeled_points(point_coords, point_labels)
        has_mask = has_mask_input.reshape(-1, 1, 1, 1).to(sparse.dtype)
        no_mask = prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        # has_mask is 0 or 1, so this equals the reference's either/or exactly.
        dense = has_mask * prompt_encoder.embed_masks(mask_input) + (1 - has_mask) * no_mask
        if dense_pe is None:
            dense_pe = prompt_encoder.get_dense_pe()
        low_res, iou = self.mask_decoder.predict_masks(image_embeddings, dense_pe, sparse, dense)
        return iou, low_res

    @torch.no_grad()
    def forward(self, batched_input: list[dict[str, Any]], multimask_output: bool) -> list[dict[str, torch.Tensor]]:
        """Official end-to-end batch path: a list of per-image dicts (see the official `Sam.forward`).

        Each "image" is resized for the encoder (longest side = image_encoder.img_size); prompts are in the
        prompt frame (longest side = prompt_frame_size), as in the official API. The two are equal except for
        EfficientViT-SAM L*.
        """
        from ..transforms import ResizeLongestSide

        images = torch.stack([self.preprocess(x["image"]) for x in batched_input], dim=0)
        image_embeddings = self.image_encoder(images)
        outputs = []
        for record, embedding in zip(batched_input, image_embeddings):
            points = (record["point_coords"], record["point_labels"]) if "point_coords" in record else None
            sparse, dense = self.prompt_encoder(
                points=points, boxes=record.get("boxes"), masks=record.get("mask_inputs")
            )
            low_res, iou = self.mask_decoder(
                embedding.unsqueeze(0), self.prompt_encoder.get_dense_pe(), sparse, dense, multimask_output
            )
            input_size = ResizeLongestSide.get_preprocess_shape(*record["original_size"], self.prompt_frame_size)
            masks = self.postprocess_masks(low_res, input_size, record["original_size"])
            outputs.append(
                {"masks": masks > self.mask_threshold, "iou_predictions": iou, "low_res_logits": low_res}
            )
        return outputs
