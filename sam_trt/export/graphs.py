"""The two exported graphs, as torch modules kept apart from the model (like the official SamOnnxModel)."""

from __future__ import annotations

import torch
from torch import nn

from ..modeling.sam import Sam

ENCODER_INPUTS = ("image", "input_size")
ENCODER_OUTPUTS = ("image_embeddings",)
DECODER_INPUTS = ("image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input")
DECODER_OUTPUTS = ("iou_predictions", "low_res_masks")


class EncoderGraph(nn.Module):
    """uint8 padded image + resized size -> image embedding, with normalisation inside the graph.

    A runtime uploads uint8 (4x less than float32) and the reference's normalise-then-zero-pad is
    reproduced exactly by zeroing the normalised padding.
    """

    def __init__(self, sam: Sam) -> None:
        super().__init__()
        self.image_encoder = sam.image_encoder
        self.register_buffer("pixel_mean", sam.pixel_mean.clone(), persistent=False)
        self.register_buffer("pixel_std", sam.pixel_std.clone(), persistent=False)
        self.image_size = sam.image_encoder.img_size

    def forward(self, image: torch.Tensor, input_size: torch.Tensor) -> torch.Tensor:
        """image: Bx3xSxS uint8 RGB, zero-padded bottom/right; input_size: Bx2 int32 (h, w) -> BxCxgxg."""
        x = (image.to(torch.float32) - self.pixel_mean) / self.pixel_std
        index = torch.arange(self.image_size, device=image.device, dtype=torch.int32)
        rows = index[None, :, None] < input_size[:, 0, None, None]
        cols = index[None, None, :] < input_size[:, 1, None, None]
        x = x * (rows & cols)[:, None].to(x.dtype)
        return self.image_encoder(x)


class DecoderGraph(nn.Module):
    """Prompt encoder + mask decoder in the decoder contract; the dense PE is a constant."""

    def __init__(self, sam: Sam) -> None:
        super().__init__()
        self.sam = sam
        with torch.no_grad():
            self.register_buffer("dense_pe", sam.prompt_encoder.get_dense_pe(), persistent=False)

    def forward(
        self,
        image_embeddings: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """1xCxgxg, BxNx2, BxN, Bx1xsxs, B -> iou_predictions BxT, low_res_masks BxTxsxs."""
        return self.sam.decode_prompts(
            image_embeddings, point_coords, point_labels, mask_input, has_mask_input, self.dense_pe
        )

