"""SamPredictor: the official API over any backend (torch model, ONNX Runtime, TensorRT)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ImageNotSetError, InputError
from .postprocess import select_masks, upscale_masks
from .prompts import check_image, check_mask_input, check_point_prompts, pack_prompts
from .runtime.base import SamBackend, to_numpy
from .transforms import ResizeLongestSide

if TYPE_CHECKING:
    import torch


def as_backend(model: Any) -> SamBackend:
    """A `SamBackend` as is, or a torch `Sam` wrapped in the torch backend."""
    if isinstance(model, SamBackend):
        return model
    from .modeling.sam import Sam

    if isinstance(model, Sam):
        from .runtime.torch_backend import TorchBackend

        return TorchBackend(model)
    raise InputError(f"expected a Sam model or a backend from load_backend, got {type(model).__name__}")


class SamPredictor:
    """Computes the image embedding once, then predicts masks for any number of prompts."""

    def __init__(self, sam_model: Any) -> None:
        self.backend = as_backend(sam_model)
        self.model = sam_model
        self.transform = ResizeLongestSide(self.backend.image_size)
        self.original_size: tuple[int, int] | None = None
        self.input_size: tuple[int, int] | None = None
        self.reset_image()

    @property
    def device(self) -> Any:
        return self.backend.device

    def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
        """Embed an HxWx3 uint8 image (RGB or BGR): resize, normalise, pad, encode."""
        image = check_image(image, image_format)
        if image_format != self.backend.image_format:
            image = image[..., ::-1]
        resized, input_size = self.backend.preprocess(image)
        self._set_resized_image(resized, image.shape[:2], input_size)

    def set_torch_image(self, transformed_image: torch.Tensor, original_image_size: tuple[int, ...]) -> None:
        """Embed a 1x3xhxw image already resized for the encoder (max(h, w) == encoder size).

        For every model but EfficientViT-SAM L* that is `predictor.transform.apply_image`'s output (1024); L*
        encoders take 512: `ResizeLongestSide(512).apply_image`.
        """
        shape = tuple(transformed_image.shape)
        size = self.backend.encoder_size
        if len(shape) != 4 or shape[1] != 3 or max(shape[2:]) != size:
            how = "predictor.transform.apply_image" if size == self.backend.image_size else \
                f"ResizeLongestSide({size}).apply_image"
            raise InputError(f"set_torch_image needs a Bx3xhxw image with max(h, w) == {size} "
                             f"(use {how} first), got shape {shape}")
        self._set_resized_image(transformed_image, original_image_size,
                                self.backend.input_size_of(original_image_size))

    def _set_resized_image(self, image: Any, original_size: tuple[int, ...], input_size: tuple[int, int]) -> None:
        self.reset_image()
        self.original_size = (int(original_size[0]), int(original_size[1]))
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.features = self.backend.encode(image)
        self.is_image_set = True

    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One prompt in original-image pixels -> masks CxHxW, iou (C,), low-res logits Cxsxs (numpy).

        point_coords Nx2 (x, y), point_labels N (1 fg, 0 bg), box XYXY, mask_input 1xsxs earlier logits.
        C = 3 with multimask_output, else 1.
        """
        self._require_image()
        coords, labels, boxes = check_point_prompts(point_coords, point_labels, box, self.original_size)
        if coords is not None:
            coords = self.transform.apply_coords(coords, self.original_size)[None]
            labels = labels[None]
        if boxes is not None:
            boxes = self.transform.apply_boxes(boxes, self.original_size)[None]
        if mask_input is not None:
            mask_input = check_mask_input(mask_input, self.backend.low_res_size, (1,))[None]
        masks, iou, low_res = self._predict(coords, labels, boxes, mask_input, multimask_output, return_logits)
        return to_numpy(masks[0]), to_numpy(iou[0]), to_numpy(low_res[0])

    def predict_torch(
        self,
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Batched prompts already in the resized frame: BxNx2 points, BxN labels, Bx4 boxes, Bx1xsxs masks.

        Returns torch tensors: masks BxCxHxW, iou BxC, low-res logits BxCxsxs.
        """
        import torch

        self._require_image()
        host = [None if t is None else to_numpy(t) for t in (point_coords, point_labels, boxes, mask_input)]
        coords, labels, boxes_np = check_point_prompts(host[0], host[1], host[2])
        if coords is not None and coords.ndim != 3:
            raise InputError(f"predict_torch needs point_coords BxNx2, got shape {coords.shape}")
        masks_np = host[3]
        if masks_np is not None:
            masks_np = check_mask_input(masks_np, self.backend.low_res_size, (masks_np.shape[0], 1))
        outputs = self._predict(coords, labels, boxes_np, masks_np, multimask_output, return_logits)
        device = self.device if isinstance(self.device, torch.device) else "cpu"
        return tuple(torch.as_tensor(o, device=device) for o in outputs)  # type: ignore[return-value]

    def _predict(
        self,
        coords: np.ndarray | None,
        labels: np.ndarray | None,
        boxes: np.ndarray | None,
        mask_input: np.ndarray | None,
        multimask_output: bool,
        return_logits: bool,
    ) -> tuple[Any, Any, Any]:
        prompts = pack_prompts(coords, labels, boxes, mask_input, self.backend.low_res_size)
        iou, low_res = self.backend.decode(
            self.features, prompts.point_coords, prompts.point_labels, prompts.mask_input, prompts.has_mask_input
        )
        iou, low_res = select_masks(iou, low_res, multimask_output)
        masks = upscale_masks(low_res, self.backend.image_size, self.input_size, self.original_size)
        if not return_logits:
            masks = masks > self.backend.mask_threshold
        return masks, iou, low_res

    def get_image_embedding(self) -> Any:
        """The current image's embedding, 1x256xgxg."""
        self._require_image()
        return self.features

    def _require_image(self) -> None:
        if not self.is_image_set:
            raise ImageNotSetError("An image must be set with .set_image(...) before mask prediction.")

    def reset_image(self) -> None:
        """Forget the current image (original_size/input_size are kept, as in the reference)."""
        self.is_image_set = False
        self.features = None
        self.orig_h = self.orig_w = self.input_h = self.input_w = None
